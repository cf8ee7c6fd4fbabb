"""NLU feedback: agents' corrections of request type and industry as candidate training examples

Revision ID: 0002_nlu_feedback
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_nlu_feedback"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nlu_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted_type", sa.String(length=32), nullable=True),
        sa.Column("predicted_industry", sa.String(length=64), nullable=True),
        sa.Column("request_type", sa.String(length=32), nullable=True),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_nlu_feedback_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_nlu_feedback_created_by_users")),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"], name=op.f("fk_nlu_feedback_reviewed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_feedback")),
    )
    op.create_index(op.f("ix_nlu_feedback_conversation_id"), "nlu_feedback", ["conversation_id"], unique=False)
    op.create_index(op.f("ix_nlu_feedback_status"), "nlu_feedback", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_nlu_feedback_status"), table_name="nlu_feedback")
    op.drop_index(op.f("ix_nlu_feedback_conversation_id"), table_name="nlu_feedback")
    op.drop_table("nlu_feedback")
