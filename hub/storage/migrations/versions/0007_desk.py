"""the agent's desk: order sources and registrars, unit alerts, read markers, private notes, canned replies, API tokens

Revision ID: 0007_desk
Revises: 0006_merge_channels
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_desk"
down_revision: str | Sequence[str] | None = "0006_merge_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _add_reference(table: str, column: str, target: str, name: str) -> None:
    """Add a nullable integer column referencing ``target.id`` (SQLite: inline, as ALTER cannot add constraints)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, target, [column], ["id"])


def upgrade() -> None:
    op.add_column("units", sa.Column("alert_channel", sa.String(length=16), nullable=True))
    op.add_column("units", sa.Column("alert_address", sa.String(length=200), nullable=True))
    op.add_column("units", sa.Column("emergency_sign_minutes", sa.Integer(), nullable=True))
    op.add_column("conversations", sa.Column("outcome", sa.String(length=32), nullable=True))
    # Plain ALTER TABLE ADD COLUMN: a batch copy of work_orders would break the foreign keys that point at it
    op.add_column("work_orders", sa.Column("source", sa.String(length=32), nullable=True))
    _add_reference("work_orders", "created_by", "users", "fk_work_orders_created_by_users")
    op.add_column("work_orders", sa.Column("citizen_name", sa.String(length=100), nullable=True))
    op.add_column("work_orders", sa.Column("forward_text", sa.Text(), nullable=True))
    op.add_column("work_orders", sa.Column("escalated_at", TS, nullable=True))
    for column in ("source", "created_at", "phone", "industry", "category"):
        op.create_index(f"ix_work_orders_{column}", "work_orders", [column])
    # Orders registered before sources existed: the channel of their conversation, else Open311 (the only other way)
    orders = sa.table("work_orders", sa.column("conversation_id"), sa.column("source"))
    conversations = sa.table("conversations", sa.column("id"), sa.column("channel"))
    channel = sa.select(conversations.c.channel).where(conversations.c.id == orders.c.conversation_id)
    op.execute(orders.update().values({"source": sa.func.coalesce(channel.scalar_subquery(), "open311")}))
    op.create_table(
        "conversation_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("last_read_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_conversation_reads_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name="fk_conversation_reads_conversation_id_conversations"
        ),
        sa.PrimaryKeyConstraint("user_id", "conversation_id", name="pk_conversation_reads"),
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name="fk_conversation_notes_conversation_id_conversations"
        ),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_conversation_notes_author_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_notes"),
    )
    op.create_index("ix_conversation_notes_conversation_id", "conversation_notes", ["conversation_id"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_canned_replies_owner_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_canned_replies"),
    )
    op.create_index("ix_canned_replies_owner_id", "canned_replies", ["owner_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("canned_replies")
    op.drop_table("conversation_notes")
    op.drop_table("conversation_reads")
    with op.batch_alter_table("work_orders") as batch:
        for index in ("category", "industry", "phone", "created_at", "source"):
            batch.drop_index(f"ix_work_orders_{index}")
        batch.drop_constraint("fk_work_orders_created_by_users", type_="foreignkey")
        for column in ("escalated_at", "forward_text", "citizen_name", "created_by", "source"):
            batch.drop_column(column)
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("outcome")
    with op.batch_alter_table("units") as batch:
        for column in ("emergency_sign_minutes", "alert_address", "alert_channel"):
            batch.drop_column(column)
