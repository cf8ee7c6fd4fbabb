"""district gazetteer: aliases and streets (roads, towns, villages, compounds) per district, so an address without
the district prefix still finds its district

Revision ID: 0013_district_gazetteer
Revises: 0012_quick_replies
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_district_gazetteer"
down_revision: str | Sequence[str] | None = "0012_quick_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("districts") as batch:
        batch.add_column(sa.Column("aliases", sa.JSON, nullable=True))
        batch.add_column(sa.Column("streets", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("districts") as batch:
        batch.drop_column("streets")
        batch.drop_column("aliases")
