"""The routing package's tables: agents' presence and routing profile, and the append-only queue event log."""

from __future__ import annotations

import sqlalchemy as sa

from hub.storage.schema import TS, metadata

agent_presence = sa.Table(
    "agent_presence",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("presence", sa.String(16), nullable=False),  # offline | available | break
    sa.Column("reason", sa.String(32), nullable=True),  # the break reason code
    sa.Column("since", TS, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # the city's date the counters belong to (YYYY-MM-DD)
    sa.Column("handled_today", sa.Integer, nullable=False, server_default="0"),
    sa.Column("talk_time_today", sa.Float, nullable=False, server_default="0"),
)

agent_profiles = sa.Table(
    "agent_profiles",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("queues", sa.JSON, nullable=True),  # queue codes the agent serves; null: every queue
    sa.Column("skills", sa.JSON, nullable=False),  # skill code -> level
    sa.Column("capacity", sa.Integer, nullable=True),  # slots; null: the policy's
    sa.Column("text_weight", sa.JSON, nullable=False),  # channel -> slots, overriding the policy's
    sa.Column("updated_at", TS, nullable=False),
)

queue_log = sa.Table(
    "queue_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("event", sa.String(24), nullable=False),  # see routing.queue_log.QueueEvent
    sa.Column("queue", sa.String(64), nullable=True),
    sa.Column("item_id", sa.String(80), nullable=True),
    sa.Column("conversation_id", sa.String(36), nullable=True),
    sa.Column("channel", sa.String(32), nullable=True),
    sa.Column("agent_id", sa.Integer, nullable=True),
    sa.Column("wait_s", sa.Float, nullable=True),
    sa.Column("talk_s", sa.Float, nullable=True),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Index("ix_queue_log_at", "at"),
    sa.Index("ix_queue_log_queue_at", "queue", "at"),
    sa.Index("ix_queue_log_agent_at", "agent_id", "at"),
)
