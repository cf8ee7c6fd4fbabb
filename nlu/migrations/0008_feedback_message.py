"""the message an agent's label correction is about

Revision ID: 0008_feedback_message
Revises: 0007_desk
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_feedback_message"
down_revision: str | Sequence[str] | None = "0007_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # ALTER cannot add a constraint there; inline REFERENCES can
        op.execute("ALTER TABLE nlu_feedback ADD COLUMN message_id INTEGER REFERENCES messages (id)")
    else:
        op.add_column("nlu_feedback", sa.Column("message_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_nlu_feedback_message_id_messages", "nlu_feedback", "messages", ["message_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("nlu_feedback") as batch:
        batch.drop_constraint("fk_nlu_feedback_message_id_messages", type_="foreignkey")
        batch.drop_column("message_id")
