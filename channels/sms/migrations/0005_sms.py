"""SMS channel: inbound parts and dedupe keys, submitted segments with receipts, opt-outs, bulk jobs

Revision ID: 0005_sms
Revises: 0004_outbox
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sms"
down_revision: str | Sequence[str] | None = "0004_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sms_inbound_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound_parts")),
        sa.UniqueConstraint("source", "ref", "total", "seq", name="uq_sms_inbound_parts_key"),
    )
    op.create_table(
        "sms_inbound_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sms_inbound_keys")),
    )
    op.create_table(
        "sms_submits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("smsc_message_id", sa.String(length=65), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stat", sa.String(length=16), nullable=True),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_submits")),
    )
    with op.batch_alter_table("sms_submits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_submits_smsc_message_id"), ["smsc_message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_submits_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_submits_recipient_id"), ["recipient_id"], unique=False)
    op.create_table(
        "sms_optouts",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("opted_out_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_optouts")),
    )
    op.create_table(
        "sms_bulk_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_bulk_jobs")),
    )
    op.create_table(
        "sms_bulk_recipients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["sms_bulk_jobs.id"], name=op.f("fk_sms_bulk_recipients_job_id_sms_bulk_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_bulk_recipients")),
        sa.UniqueConstraint("job_id", "phone", name="uq_sms_bulk_recipients_job_id"),
    )
    with op.batch_alter_table("sms_bulk_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_sms_bulk_recipients_job_status", ["job_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_bulk_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_bulk_recipients_job_status")
    op.drop_table("sms_bulk_recipients")
    op.drop_table("sms_bulk_jobs")
    op.drop_table("sms_optouts")
    with op.batch_alter_table("sms_submits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_submits_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_sms_submits_message_id"))
        batch_op.drop_index(batch_op.f("ix_sms_submits_smsc_message_id"))
    op.drop_table("sms_submits")
    op.drop_table("sms_inbound_keys")
    op.drop_table("sms_inbound_parts")
