"""agents' call-backs (click-to-call audit), voicemail plays/answers/deletions, call direction

Revision ID: 0009_voice_callbacks
Revises: 0008_feedback_message
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "0009_voice_callbacks"
down_revision: str | Sequence[str] | None = "0008_feedback_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("direction", sa.String(length=16), nullable=False, server_default="inbound"))
    op.create_table(
        "voice_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("work_order_number", sa.String(length=32), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_voice_callbacks_conversation_id", "voice_callbacks", ["conversation_id"])
    op.create_index("ix_voice_callbacks_work_order_number", "voice_callbacks", ["work_order_number"])
    op.create_index("ix_voice_callbacks_agent_requested", "voice_callbacks", ["agent_id", "requested_at"])
    op.create_table(
        "voicemail_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_voicemail_actions_message_id", "voicemail_actions", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_voicemail_actions_message_id", table_name="voicemail_actions")
    op.drop_table("voicemail_actions")
    op.drop_index("ix_voice_callbacks_agent_requested", table_name="voice_callbacks")
    op.drop_index("ix_voice_callbacks_work_order_number", table_name="voice_callbacks")
    op.drop_index("ix_voice_callbacks_conversation_id", table_name="voice_callbacks")
    op.drop_table("voice_callbacks")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("direction")
