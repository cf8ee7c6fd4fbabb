"""voice: call records (CDR) and versioned IVR flow documents

Revision ID: 0005_voice
Revises: 0004_outbox
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_voice"
down_revision: str | Sequence[str] | None = "0004_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("caller", sa.String(length=64), nullable=True),
        sa.Column("called", sa.String(length=64), nullable=True),
        sa.Column("routing", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ivr_path", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("queue_entered_at", TS, nullable=True),
        sa.Column("queue_left_at", TS, nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("hangup_cause", sa.String(length=32), nullable=True),
        sa.Column("ivr_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("total_s", sa.Float(), nullable=True),
        sa.Column("recordings", sa.JSON(), nullable=False),
        sa.Column("voicemail_path", sa.String(length=500), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_calls_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_calls_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("sip_call_id", name=op.f("uq_calls_sip_call_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_arrived_at"), ["arrived_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_conversation_id"), ["conversation_id"], unique=False)

    op.create_table(
        "ivr_flows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("activated_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_ivr_flows_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_flows")),
        sa.UniqueConstraint("name", "version", name="uq_ivr_flows_name_version"),
    )


def downgrade() -> None:
    op.drop_table("ivr_flows")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_calls_contact_id"))
        batch_op.drop_index(batch_op.f("ix_calls_arrived_at"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_id"))
    op.drop_table("calls")
