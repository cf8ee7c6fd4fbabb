"""quick replies: the choices a bot message offers (是/否, 修改地址 ...), shown by each channel as it can

Revision ID: 0012_quick_replies
Revises: 0011_routing
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_quick_replies"
down_revision: str | Sequence[str] | None = "0011_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("choices", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("choices")
