"""routing: agents' presence and routing profiles, the append-only queue event log

Revision ID: 0011_routing
Revises: 0010_order_tabs
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "0011_routing"
down_revision: str | Sequence[str] | None = "0010_order_tabs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("since", TS, nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("handled_today", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("talk_time_today", sa.Float(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_agent_presence_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_agent_presence"),
    )
    op.create_table(
        "agent_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("text_weight", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_agent_profiles_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_agent_profiles"),
    )
    op.create_table(
        "queue_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("item_id", sa.String(length=80), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_queue_log"),
    )
    op.create_index("ix_queue_log_at", "queue_log", ["at"])
    op.create_index("ix_queue_log_queue_at", "queue_log", ["queue", "at"])
    op.create_index("ix_queue_log_agent_at", "queue_log", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_table("queue_log")
    op.drop_table("agent_profiles")
    op.drop_table("agent_presence")
