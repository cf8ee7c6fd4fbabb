"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("telegram_id", sa.String(length=64), nullable=True),
        sa.Column("vip", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("blacklisted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "districts",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_districts")),
    )
    op.create_table(
        "industries",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_industries")),
    )
    op.create_table(
        "request_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_request_types")),
    )
    op.create_table(
        "units",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["parent"], ["units.code"], name=op.f("fk_units_parent_units")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
    )
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["industry"], ["industries.code"], name=op.f("fk_categories_industry_industries")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_categories")),
    )
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_categories_industry"), ["industry"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_users_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("similar_questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("spoken_answer", sa.Text(), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_articles_category_categories")),
        sa.ForeignKeyConstraint(["industry"], ["industries.code"], name=op.f("fk_articles_industry_industries")),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_articles_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=16), server_default="zh-CN", nullable=False),
        sa.Column("dialogue_state", sa.JSON(), nullable=False),
        sa.Column("handoff_reason", sa.String(length=64), nullable=True),
        sa.Column("delivered_id", sa.Integer(), nullable=True),
        sa.Column("request_type", sa.String(length=32), nullable=True),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_conversations_assignee_id_users")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_conversations_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_channel_ref", ["channel", "external_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_status"), ["status"], unique=False)

    op.create_table(
        "dispatch_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_dispatch_rules_category_categories")),
        sa.ForeignKeyConstraint(["district"], ["districts.code"], name=op.f("fk_dispatch_rules_district_districts")),
        sa.ForeignKeyConstraint(["industry"], ["industries.code"], name=op.f("fk_dispatch_rules_industry_industries")),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_dispatch_rules_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_rules")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("sender_kind", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("nlu", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_messages_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("conversation_id", "external_id", name="uq_messages_conversation_external"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_conversation_id_id", ["conversation_id", "id"], unique=False)

    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("request_type", sa.String(length=32), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_work_orders_category_categories")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_work_orders_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_work_orders_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(["district"], ["districts.code"], name=op.f("fk_work_orders_district_districts")),
        sa.ForeignKeyConstraint(["industry"], ["industries.code"], name=op.f("fk_work_orders_industry_industries")),
        sa.ForeignKeyConstraint(
            ["request_type"], ["request_types.code"], name=op.f("fk_work_orders_request_type_request_types")
        ),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_work_orders_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_work_orders_number")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_orders_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_unit"), ["unit"], unique=False)

    op.create_table(
        "work_order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_work_order_events_actor_id_users")),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_work_order_events_unit_units")),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name=op.f("fk_work_order_events_work_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_events")),
    )
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_order_events_work_order_id"), ["work_order_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_order_events_work_order_id"))

    op.drop_table("work_order_events")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_orders_unit"))
        batch_op.drop_index(batch_op.f("ix_work_orders_state"))
        batch_op.drop_index(batch_op.f("ix_work_orders_contact_id"))

    op.drop_table("work_orders")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_id_id")

    op.drop_table("messages")
    op.drop_table("sessions")
    op.drop_table("dispatch_rules")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_status"))
        batch_op.drop_index(batch_op.f("ix_conversations_contact_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_assignee_id"))

    op.drop_table("conversations")
    op.drop_table("articles")
    op.drop_table("users")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categories_industry"))

    op.drop_table("categories")
    op.drop_table("units")
    op.drop_table("request_types")
    op.drop_table("industries")
    op.drop_table("districts")
    op.drop_table("counters")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_telegram_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_phone"))
        batch_op.drop_index(batch_op.f("ix_contacts_email"))

    op.drop_table("contacts")
