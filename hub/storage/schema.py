"""SQLAlchemy Core table definitions for the hub.

Times are stored as timezone-aware UTC datetimes. Identifiers for taxonomy rows and units are the
human-readable codes of the demo data (``water``, ``water.outage``, ``gas_company``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only ever stores UTC and always reads back aware UTC.

    SQLite keeps no zone: an aware local time would be stored as its wall-clock digits and read back as UTC.
    Aware values are converted to UTC here; naive values are refused (their zone is unknown).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: attach its zone first")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

districts = sa.Table(
    "districts",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(100), nullable=False),
    sa.Column("aliases", sa.JSON, nullable=True),  # other names: 城东, 高新技术产业开发区
    sa.Column("streets", sa.JSON, nullable=True),  # roads, towns, villages, compounds in the district
)

request_types = sa.Table(
    "request_types",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name_zh", sa.String(50), nullable=False),
    sa.Column("name_en", sa.String(100), nullable=False),
    sa.Column("deadline_days", sa.Integer, nullable=False),
)

industries = sa.Table(
    "industries",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name_zh", sa.String(50), nullable=False),
    sa.Column("name_en", sa.String(100), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("code", sa.String(100), primary_key=True),
    sa.Column("industry", sa.String(64), sa.ForeignKey("industries.code"), nullable=False, index=True),
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deadline_days", sa.Integer, nullable=True),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("code", sa.String(100), primary_key=True),
    sa.Column("name_zh", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("parent", sa.String(100), sa.ForeignKey("units.code"), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    # migration 0007_desk: how the unit is alerted of new and urgent orders, and the 抢险 signing limit
    sa.Column("alert_channel", sa.String(16), nullable=True),  # None | "sms" | "email"
    sa.Column("alert_address", sa.String(200), nullable=True),  # the mobile number or e-mail address alerted
    sa.Column("emergency_sign_minutes", sa.Integer, nullable=True),  # urgent orders escalate when unsigned this long
)

dispatch_rules = sa.Table(
    "dispatch_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("industry", sa.String(64), sa.ForeignKey("industries.code"), nullable=False),
    sa.Column("category", sa.String(100), sa.ForeignKey("categories.code"), nullable=True),
    sa.Column("district", sa.String(64), sa.ForeignKey("districts.code"), nullable=True),
    sa.Column("unit", sa.String(100), sa.ForeignKey("units.code"), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("unit", sa.String(100), sa.ForeignKey("units.code"), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", TS, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=True),
    sa.Column("phone", sa.String(32), nullable=True, index=True),
    sa.Column("email", sa.String(200), nullable=True, index=True),
    sa.Column("telegram_id", sa.String(64), nullable=True, index=True),
    sa.Column("vip", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("blacklisted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    # Where work-order notices and callbacks go (sms/email/telegram/...); NULL: decided per notice (hub/notices.py)
    sa.Column("preferred_channel", sa.String(16), nullable=True),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("external_ref", sa.String(200), nullable=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("assignee_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("locale", sa.String(16), nullable=False, server_default="zh-CN"),
    sa.Column("dialogue_state", sa.JSON, nullable=False),
    sa.Column("handoff_reason", sa.String(64), nullable=True),
    sa.Column("delivered_id", sa.Integer, nullable=True),  # last outbound message a pull channel got
    sa.Column("request_type", sa.String(32), nullable=True),
    sa.Column("industry", sa.String(64), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("queued_at", TS, nullable=True),
    sa.Column("assigned_at", TS, nullable=True),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),  # migration 0007_desk: why the agent closed it
    sa.Index("ix_conversations_channel_ref", "channel", "external_ref"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("direction", sa.String(3), nullable=False),  # "in" | "out"
    sa.Column("sender_kind", sa.String(16), nullable=False),  # citizen | bot | agent | system
    sa.Column("sender_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("attachments", sa.JSON, nullable=False),
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.Column("nlu", sa.JSON, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("processed_at", TS, nullable=True),
    # quick replies offered with a bot message: [{"label": "确认", "value": "1"}, ...] (None: none)
    sa.Column("choices", sa.JSON, nullable=True),
    sa.UniqueConstraint("conversation_id", "external_id", name="uq_messages_conversation_external"),
    sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
)

work_orders = sa.Table(
    "work_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(32), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=True, index=True),
    sa.Column("request_type", sa.String(32), sa.ForeignKey("request_types.code"), nullable=False),
    sa.Column("industry", sa.String(64), sa.ForeignKey("industries.code"), nullable=True),
    sa.Column("category", sa.String(100), sa.ForeignKey("categories.code"), nullable=True),
    sa.Column("district", sa.String(64), sa.ForeignKey("districts.code"), nullable=True),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("unit", sa.String(100), sa.ForeignKey("units.code"), nullable=True, index=True),
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    # lifecycle (migration 0002_work_orders)
    sa.Column("dispatched_at", TS, nullable=True),
    sa.Column("signed_at", TS, nullable=True),
    sa.Column("due_at", TS, nullable=True, index=True),
    sa.Column("replied_at", TS, nullable=True),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("supervised", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("return_locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("returns", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rehandles", sa.Integer, nullable=False, server_default="0"),
    sa.Column("warned_at", TS, nullable=True),
    sa.Column("reminded_at", TS, nullable=True),
    sa.Column("satisfaction", sa.String(16), nullable=True),
    # the agent's desk (migration 0007_desk)
    sa.Column("source", sa.String(32), nullable=True, index=True),  # hub.work_orders.sources: 来电, 来人, web_chat ...
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),  # the agent who registered it
    sa.Column("citizen_name", sa.String(100), nullable=True),
    sa.Column("forward_text", sa.Text, nullable=True),  # what the centre forwards to the department beyond the fields
    sa.Column("escalated_at", TS, nullable=True),  # an urgent (抢险) order not signed in time was escalated
    sa.Index("ix_work_orders_created_at", "created_at"),
    sa.Index("ix_work_orders_phone", "phone"),
    sa.Index("ix_work_orders_industry", "industry"),
    sa.Index("ix_work_orders_category", "category"),
    sa.Index("ix_work_orders_state_due_at", "state", "due_at"),  # migration 0010_order_tabs: overdue/due-soon tabs
)

work_order_events = sa.Table(
    "work_order_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("work_order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=True),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("unit", sa.String(100), sa.ForeignKey("units.code"), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("data", sa.JSON, nullable=True),  # migration 0002_work_orders: reason codes, days, attachments ...
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)

# -- work-order lifecycle (migration 0002_work_orders) ------------------------------------------------------

calendar_days = sa.Table(
    "calendar_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "holiday" | "workday" (调休 working weekend day)
    sa.Column("name", sa.String(100), nullable=True),
)

work_order_extensions = sa.Table(
    "work_order_extensions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("work_order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | refused
    sa.Column("requested_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("requested_at", TS, nullable=False),
    sa.Column("decided_at", TS, nullable=True),
)

work_order_instructions = sa.Table(
    "work_order_instructions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("work_order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# -- the agent's desk (migration 0007_desk) -------------------------------------------------------------------

conversation_reads = sa.Table(
    "conversation_reads",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("last_read_id", sa.Integer, nullable=False),  # the last message this user has seen
)

conversation_notes = sa.Table(
    "conversation_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False, index=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

canned_replies = sa.Table(
    "canned_replies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True),
    sa.Column("shortcut", sa.String(32), nullable=False),  # typed after "/" in the composer
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("text", sa.Text, nullable=False),  # may hold variables: {name}, {order_number} ...
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex; the token itself is never kept
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_used_at", TS, nullable=True),
    sa.Column("revoked_at", TS, nullable=True),
)
