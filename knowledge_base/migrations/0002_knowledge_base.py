"""knowledge-base curation: article fields, versions, workflow events, suggestions, announcements

Revision ID: 0002_knowledge_base
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_knowledge_base"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commitments", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fees", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("links", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("effective_from", TS, nullable=True))
        batch_op.add_column(sa.Column("expires_at", TS, nullable=True))
        batch_op.add_column(sa.Column("published_version", sa.Integer(), nullable=True))
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_kb_versions_article_id_articles")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_kb_versions_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint("article_id", "version", name="uq_kb_versions_article_version"),
    )
    op.create_table(
        "kb_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_kb_events_article_id_articles")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_kb_events_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_events")),
    )
    op.create_index(op.f("ix_kb_events_article_id"), "kb_events", ["article_id"], unique=False)
    op.create_table(
        "kb_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_kb_suggestions_article_id_articles")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_kb_suggestions_author_id_users")),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_kb_suggestions_resolved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_suggestions")),
    )
    op.create_index(op.f("ix_kb_suggestions_article_id"), "kb_suggestions", ["article_id"], unique=False)
    op.create_table(
        "kb_announcements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["industry"], ["industries.code"], name=op.f("fk_kb_announcements_industry_industries")
        ),
        sa.ForeignKeyConstraint(["district"], ["districts.code"], name=op.f("fk_kb_announcements_district_districts")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_kb_announcements_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_announcements")),
    )


def downgrade() -> None:
    op.drop_table("kb_announcements")
    op.drop_index(op.f("ix_kb_suggestions_article_id"), table_name="kb_suggestions")
    op.drop_table("kb_suggestions")
    op.drop_index(op.f("ix_kb_events_article_id"), table_name="kb_events")
    op.drop_table("kb_events")
    op.drop_table("kb_versions")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("published_version")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("effective_from")
        batch_op.drop_column("links")
        batch_op.drop_column("fees")
        batch_op.drop_column("commitments")
