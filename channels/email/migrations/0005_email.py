"""email channel: Message-IDs seen and sent, per-conversation threading

Revision ID: 0005_email
Revises: 0004_outbox
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_email"
down_revision: str | Sequence[str] | None = "0004_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("hub_message_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_email_messages_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(
            ["hub_message_id"], ["messages.id"], name=op.f("fk_email_messages_hub_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("message_key", name=op.f("uq_email_messages_message_key")),
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_messages_conversation_id"), ["conversation_id"], unique=False)
    op.create_table(
        "email_threads",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("reference_ids", sa.Text(), nullable=False),
        sa.Column("last_message_id", sa.String(length=500), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_email_threads_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_email_threads")),
    )


def downgrade() -> None:
    op.drop_table("email_threads")
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_messages_conversation_id"))
    op.drop_table("email_messages")
