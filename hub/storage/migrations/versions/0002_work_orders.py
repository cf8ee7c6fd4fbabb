"""work-order lifecycle: deadlines, flags, extensions, instructions, holiday calendar

Revision ID: 0002_work_orders
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_work_orders"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", TS, nullable=True))
        batch_op.add_column(sa.Column("signed_at", TS, nullable=True))
        batch_op.add_column(sa.Column("due_at", TS, nullable=True))
        batch_op.add_column(sa.Column("replied_at", TS, nullable=True))
        batch_op.add_column(sa.Column("closed_at", TS, nullable=True))
        batch_op.add_column(sa.Column("result", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("supervised", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("return_locked", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("returns", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("rehandles", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("warned_at", TS, nullable=True))
        batch_op.add_column(sa.Column("reminded_at", TS, nullable=True))
        batch_op.add_column(sa.Column("satisfaction", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_work_orders_due_at"), ["due_at"], unique=False)
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=True))
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    op.create_table(
        "work_order_extensions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name=op.f("fk_work_order_extensions_work_order_id_work_orders")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_work_order_extensions_requested_by_users")
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_work_order_extensions_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_extensions")),
    )
    op.create_index(
        op.f("ix_work_order_extensions_work_order_id"), "work_order_extensions", ["work_order_id"], unique=False
    )
    op.create_table(
        "work_order_instructions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_work_order_instructions_author_id_users")),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name=op.f("fk_work_order_instructions_work_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_instructions")),
    )
    op.create_index(
        op.f("ix_work_order_instructions_work_order_id"), "work_order_instructions", ["work_order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("work_order_instructions")
    op.drop_table("work_order_extensions")
    op.drop_table("calendar_days")
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.drop_column("data")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_orders_due_at"))
        for column in (
            "satisfaction",
            "reminded_at",
            "warned_at",
            "rehandles",
            "returns",
            "return_locked",
            "supervised",
            "result",
            "closed_at",
            "replied_at",
            "due_at",
            "signed_at",
            "dispatched_at",
        ):
            batch_op.drop_column(column)
