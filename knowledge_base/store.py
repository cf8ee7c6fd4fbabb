"""Knowledge-base curation storage: article heads, immutable version snapshots, workflow events, agents'
suggestions and announcements (信息公告). Migration ``0002_knowledge_base``.

An article row (``articles``) holds the *head*: the newest content and the workflow state of that content
(draft → in_review → published → archived). Every content change appends an immutable snapshot to
``kb_versions``. ``published_version`` names the snapshot citizens get, so a published article keeps answering
while its next revision is drafted and reviewed. Rows loaded before curation existed (demo data) have no snapshot
until their first edit; :meth:`KnowledgeStore.save` records their content as version 1 first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, conversations, messages, metadata, users

# The article heads (created by the hub's first migration, 0001, before the knowledge base had its own;
# the curation columns came with 0002_knowledge_base).
articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("similar_questions", sa.JSON, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("spoken_answer", sa.Text, nullable=False),
    sa.Column("industry", sa.String(64), sa.ForeignKey("industries.code"), nullable=True),
    sa.Column("category", sa.String(100), sa.ForeignKey("categories.code"), nullable=True),
    sa.Column("unit", sa.String(100), sa.ForeignKey("units.code"), nullable=True),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", TS, nullable=False),
    # curation (migration 0002_knowledge_base)
    sa.Column("commitments", sa.Text, nullable=True),
    sa.Column("fees", sa.Text, nullable=True),
    sa.Column("links", sa.JSON, nullable=True),
    sa.Column("effective_from", TS, nullable=True),
    sa.Column("expires_at", TS, nullable=True),
    sa.Column("published_version", sa.Integer, nullable=True),
)

kb_versions = sa.Table(
    "kb_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),  # create | edit | import | rollback | baseline
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("article_id", "version", name="uq_kb_versions_article_version"),
)

kb_events = sa.Table(
    "kb_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # submit | publish | reject | archive | ...
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", TS, nullable=False),
)

kb_suggestions = sa.Table(
    "kb_suggestions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("articles.id"), nullable=True, index=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | accepted | dismissed
    sa.Column("created_at", TS, nullable=False),
    sa.Column("resolved_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("resolved_at", TS, nullable=True),
)

kb_announcements = sa.Table(
    "kb_announcements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("industry", sa.String(64), sa.ForeignKey("industries.code"), nullable=True),
    sa.Column("district", sa.String(64), sa.ForeignKey("districts.code"), nullable=True),
    sa.Column("starts_at", TS, nullable=False),
    sa.Column("ends_at", TS, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", TS, nullable=False),
)

#: The curated fields of an article, in display order (what a version snapshot holds).
CONTENT_FIELDS = (
    "question",
    "similar_questions",
    "answer",
    "spoken_answer",
    "industry",
    "category",
    "unit",
    "commitments",
    "fees",
    "links",
    "effective_from",
    "expires_at",
    "tags",
)
_NOT_QUESTIONS = frozenset({"greet", "thank", "goodbye", "human_handoff", "inform", "affirm", "deny"})
LIST_FIELDS = frozenset({"similar_questions", "links", "tags"})
TIME_FIELDS = frozenset({"effective_from", "expires_at"})


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value)))


def normalise_content(content: dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe content snapshot with every field of :data:`CONTENT_FIELDS` (times as ISO strings)."""
    out: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = content.get(name)
        if name in LIST_FIELDS:
            out[name] = [str(v) for v in (value or []) if str(v).strip()]
        elif name in TIME_FIELDS:
            out[name] = _iso(_parse_time(value))
        elif name in ("question", "answer", "spoken_answer"):
            out[name] = str(value or "")
        else:
            out[name] = str(value) if value not in (None, "") else None
    return out


def _row_values(content: dict[str, Any]) -> dict[str, Any]:
    """Column values of ``articles`` for a normalised content snapshot."""
    values = {name: content[name] for name in CONTENT_FIELDS if name not in TIME_FIELDS}
    values["effective_from"] = _parse_time(content["effective_from"])
    values["expires_at"] = _parse_time(content["expires_at"])
    return values


@dataclass(frozen=True, slots=True)
class Article:
    """The head of an article: its newest content and the workflow state of that content."""

    id: str
    content: dict[str, Any]
    status: str
    version: int
    published_version: int | None
    updated_at: datetime

    @property
    def question(self) -> str:
        return str(self.content["question"])

    @property
    def industry(self) -> str | None:
        return self.content.get("industry")

    def __getitem__(self, name: str) -> Any:
        return self.content[name]


@dataclass(frozen=True, slots=True)
class Version:
    """One immutable content snapshot."""

    article_id: str
    version: int
    content: dict[str, Any]
    author_id: int | None
    author: str | None
    action: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """A workflow step (submit, publish, reject, archive ...)."""

    article_id: str
    version: int
    action: str
    actor: str | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An agent's proposed change to an article (or a new article when ``article_id`` is None)."""

    id: int
    article_id: str | None
    author: str
    text: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Announcement:
    """A time-limited notice for an industry and/or a district."""

    id: int
    title: str
    body: str
    industry: str | None
    district: str | None
    starts_at: datetime
    ends_at: datetime
    active: bool

    def current(self, now: datetime) -> bool:
        return self.active and self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class UnansweredMessage:
    """A citizen message the bot could not answer."""

    conversation_id: str
    text: str
    reason: str
    created_at: datetime


def _effective_published(row: Any) -> int | None:
    if row.published_version is not None:
        return int(row.published_version)
    return int(row.version) if row.status == "published" else None


def _article(row: Any) -> Article:
    content = normalise_content(
        {name: getattr(row, name) for name in CONTENT_FIELDS} | {"links": row.links or [], "tags": row.tags or []}
    )
    return Article(row.id, content, row.status, row.version, _effective_published(row), as_utc(row.updated_at))


def _announcement(row: Any) -> Announcement:
    return Announcement(
        row.id,
        row.title,
        row.body,
        row.industry,
        row.district,
        as_utc(row.starts_at),
        as_utc(row.ends_at),
        bool(row.active),
    )


class ArticleExists(Exception):
    """An article with this id already exists."""


class KnowledgeStore:
    """Persistence of the knowledge base's curation data (SQLite and PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def now(self) -> datetime:
        """The store's current time (injected clock)."""
        return self._clock()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    # -- articles ----------------------------------------------------------------------------------

    async def get(self, article_id: str) -> Article | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(articles).where(articles.c.id == article_id))).first()
        return None if row is None else _article(row)

    async def list_articles(
        self, status: str | None = None, industry: str | None = None, text: str | None = None, limit: int = 500
    ) -> list[Article]:
        """Article heads, newest change first, filtered by status, industry and a substring of the question."""
        query = sa.select(articles).order_by(articles.c.updated_at.desc(), articles.c.id).limit(limit)
        if status:
            query = query.where(articles.c.status == status)
        if industry:
            query = query.where(articles.c.industry == industry)
        if text:
            pattern = f"%{text.replace('%', '').replace('_', '')}%"
            query = query.where(sa.or_(articles.c.question.like(pattern), articles.c.answer.like(pattern)))
        async with self._engine.connect() as conn:
            return [_article(r) for r in (await conn.execute(query)).all()]

    async def create(
        self, article_id: str, content: dict[str, Any], author_id: int | None, action: str = "create"
    ) -> Article:
        """Insert a new draft article and its version 1."""
        content = normalise_content(content)
        now = self._clock()
        async with begin(self._engine) as conn:
            exists = (await conn.execute(sa.select(articles.c.id).where(articles.c.id == article_id))).first()
            if exists is not None:
                raise ArticleExists(article_id)
            await conn.execute(
                articles.insert().values(
                    id=article_id, status="draft", version=1, updated_at=now, **_row_values(content)
                )
            )
            await self._insert_version(conn, article_id, 1, content, author_id, action, None, now)
        article = await self.get(article_id)
        assert article is not None
        return article

    async def save(
        self,
        article_id: str,
        content: dict[str, Any],
        author_id: int | None,
        *,
        status: str,
        action: str = "edit",
        note: str | None = None,
        base_version: int | None = None,
    ) -> Article | None:
        """Store new content as the next version with ``status``; None if ``base_version`` is stale.

        Raises:
            KeyError: Unknown article.
        """
        content = normalise_content(content)
        now = self._clock()
        async with begin(self._engine) as conn:
            row = await self._head_for_update(conn, article_id)
            if base_version is not None and row.version != base_version:
                return None
            await self._ensure_baseline(conn, row)
            number = row.version + 1
            await conn.execute(
                articles.update()
                .where(articles.c.id == article_id)
                .values(
                    status=status,
                    version=number,
                    updated_at=now,
                    published_version=_effective_published(row),
                    **_row_values(content),
                )
            )
            await self._insert_version(conn, article_id, number, content, author_id, action, note, now)
        return await self.get(article_id)

    async def set_status(
        self,
        article_id: str,
        status: str,
        actor_id: int | None,
        action: str,
        note: str | None = None,
        *,
        expect_status: tuple[str, ...] | None = None,
    ) -> Article | None:
        """Move the head to ``status`` (publishing also makes it the published version) and log the step.

        Returns None when the head is no longer in one of ``expect_status`` (a concurrent change).
        """
        now = self._clock()
        async with begin(self._engine) as conn:
            row = await self._head_for_update(conn, article_id)
            if expect_status is not None and row.status not in expect_status:
                return None
            await self._ensure_baseline(conn, row)
            published = row.version if status == "published" else _effective_published(row)
            await conn.execute(
                articles.update()
                .where(articles.c.id == article_id)
                .values(status=status, updated_at=now, published_version=published)
            )
            await conn.execute(
                kb_events.insert().values(
                    article_id=article_id, version=row.version, action=action, actor_id=actor_id, note=note,
                    created_at=now,
                )
            )  # fmt: skip
        return await self.get(article_id)

    async def _head_for_update(self, conn: AsyncConnection, article_id: str) -> Any:
        row = (await conn.execute(sa.select(articles).where(articles.c.id == article_id).with_for_update())).first()
        if row is None:
            raise KeyError(article_id)
        return row

    async def _ensure_baseline(self, conn: AsyncConnection, row: Any) -> None:
        """Record the head's content as a snapshot if it has none (rows loaded before curation existed)."""
        found = (
            await conn.execute(
                sa.select(kb_versions.c.id).where(
                    kb_versions.c.article_id == row.id, kb_versions.c.version == row.version
                )
            )
        ).first()
        if found is None:
            await self._insert_version(
                conn, row.id, row.version, _article(row).content, None, "baseline", None, as_utc(row.updated_at)
            )

    @staticmethod
    async def _insert_version(
        conn: AsyncConnection,
        article_id: str,
        number: int,
        content: dict[str, Any],
        author_id: int | None,
        action: str,
        note: str | None,
        now: datetime,
    ) -> None:
        await conn.execute(
            kb_versions.insert().values(
                article_id=article_id, version=number, content=content, author_id=author_id, action=action,
                note=note, created_at=now,
            )
        )  # fmt: skip

    async def versions(self, article_id: str) -> list[Version]:
        """Every snapshot of an article, oldest first (the head of a never-edited row as version 1)."""
        query = (
            sa.select(kb_versions, users.c.display_name)
            .select_from(kb_versions.outerjoin(users, users.c.id == kb_versions.c.author_id))
            .where(kb_versions.c.article_id == article_id)
            .order_by(kb_versions.c.version)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found = [
            Version(
                r.article_id, r.version, normalise_content(r.content), r.author_id, r.display_name, r.action, r.note,
                as_utc(r.created_at),
            )
            for r in rows
        ]  # fmt: skip
        head = await self.get(article_id)
        if head is not None and not any(v.version == head.version for v in found):
            found.append(Version(head.id, head.version, head.content, None, None, "baseline", None, head.updated_at))
        return found

    async def version(self, article_id: str, number: int) -> Version | None:
        return next((v for v in await self.versions(article_id) if v.version == number), None)

    async def authors_since(self, article_id: str, version: int | None) -> set[int]:
        """Ids of the users who authored versions newer than ``version`` (all versions when None)."""
        query = sa.select(kb_versions.c.author_id).where(kb_versions.c.article_id == article_id)
        if version is not None:
            query = query.where(kb_versions.c.version > version)
        async with self._engine.connect() as conn:
            return {r.author_id for r in (await conn.execute(query)).all() if r.author_id is not None}

    async def events(self, article_id: str) -> list[Event]:
        query = (
            sa.select(kb_events, users.c.display_name)
            .select_from(kb_events.outerjoin(users, users.c.id == kb_events.c.actor_id))
            .where(kb_events.c.article_id == article_id)
            .order_by(kb_events.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Event(r.article_id, r.version, r.action, r.display_name, r.note, as_utc(r.created_at)) for r in rows]

    async def live_contents(self) -> list[tuple[str, dict[str, Any]]]:
        """(id, published content) of every article that is published and not archived (dates not applied)."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(articles).where(articles.c.status != "archived"))).all()
            wanted = {(r.id, p) for r in rows if (p := _effective_published(r)) is not None and p != r.version}
            snapshots: dict[tuple[str, int], dict[str, Any]] = {}
            if wanted:
                ids = sorted({a for a, _ in wanted})
                for chunk in range(0, len(ids), 500):
                    found = await conn.execute(
                        sa.select(kb_versions.c.article_id, kb_versions.c.version, kb_versions.c.content).where(
                            kb_versions.c.article_id.in_(ids[chunk : chunk + 500])
                        )
                    )
                    for v in found.all():
                        if (v.article_id, v.version) in wanted:
                            snapshots[(v.article_id, v.version)] = normalise_content(v.content)
        out: list[tuple[str, dict[str, Any]]] = []
        for r in rows:
            published = _effective_published(r)
            if published is None:
                continue
            if published == r.version:
                out.append((r.id, _article(r).content))
            elif (r.id, published) in snapshots:
                out.append((r.id, snapshots[(r.id, published)]))
        return out

    # -- suggestions -------------------------------------------------------------------------------

    async def add_suggestion(self, article_id: str | None, author_id: int, text: str) -> int:
        async with begin(self._engine) as conn:
            result = await conn.execute(
                kb_suggestions.insert().values(
                    article_id=article_id, author_id=author_id, text=text, status="open", created_at=self._clock()
                )
            )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def suggestions(self, status: str | None = "open", article_id: str | None = None) -> list[Suggestion]:
        query = (
            sa.select(kb_suggestions, users.c.display_name)
            .select_from(kb_suggestions.join(users, users.c.id == kb_suggestions.c.author_id))
            .order_by(kb_suggestions.c.id.desc())
        )
        if status:
            query = query.where(kb_suggestions.c.status == status)
        if article_id:
            query = query.where(kb_suggestions.c.article_id == article_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Suggestion(r.id, r.article_id, r.display_name, r.text, r.status, as_utc(r.created_at)) for r in rows]

    async def resolve_suggestion(self, suggestion_id: int, status: str, actor_id: int) -> bool:
        async with begin(self._engine) as conn:
            result = await conn.execute(
                kb_suggestions.update()
                .where(kb_suggestions.c.id == suggestion_id, kb_suggestions.c.status == "open")
                .values(status=status, resolved_by=actor_id, resolved_at=self._clock())
            )
        return bool(result.rowcount)

    # -- announcements -----------------------------------------------------------------------------

    async def add_announcement(
        self,
        title: str,
        body: str,
        industry: str | None,
        district: str | None,
        starts_at: datetime,
        ends_at: datetime,
        author_id: int | None,
    ) -> int:
        async with begin(self._engine) as conn:
            result = await conn.execute(
                kb_announcements.insert().values(
                    title=title, body=body, industry=industry, district=district, starts_at=starts_at,
                    ends_at=ends_at, active=True, author_id=author_id, created_at=self._clock(),
                )
            )  # fmt: skip
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def set_announcement_active(self, announcement_id: int, active: bool) -> bool:
        async with begin(self._engine) as conn:
            result = await conn.execute(
                kb_announcements.update().where(kb_announcements.c.id == announcement_id).values(active=active)
            )
        return bool(result.rowcount)

    async def announcements(self, include_ended: bool = True) -> list[Announcement]:
        query = sa.select(kb_announcements).order_by(kb_announcements.c.starts_at.desc(), kb_announcements.c.id)
        if not include_ended:
            query = query.where(kb_announcements.c.active.is_(True), kb_announcements.c.ends_at > self._clock())
        async with self._engine.connect() as conn:
            return [_announcement(r) for r in (await conn.execute(query)).all()]

    # -- gap mining --------------------------------------------------------------------------------

    async def unanswered(self, since: datetime | None = None, limit: int = 5000) -> list[UnansweredMessage]:
        """Citizen messages of conversations handed off as not understood, and messages the KB could not answer.

        Citizen messages (not greetings, thanks or slot answers) of conversations handed off with reason
        ``low_confidence`` or ``misunderstood``, plus every citizen message whose stored NLU result is marked
        ``kb_miss``. Newest first.
        """
        query = (
            sa.select(
                messages.c.conversation_id,
                messages.c.text,
                messages.c.nlu,
                messages.c.created_at,
                conversations.c.handoff_reason,
            )
            .select_from(messages.join(conversations, conversations.c.id == messages.c.conversation_id))
            .where(messages.c.direction == "in", messages.c.sender_kind == "citizen")
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(messages.c.created_at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out: list[UnansweredMessage] = []
        for r in rows:
            nlu = r.nlu if isinstance(r.nlu, dict) else {}
            intent = (nlu.get("intent") or {}).get("name")
            if nlu.get("kb_miss"):
                out.append(UnansweredMessage(r.conversation_id, r.text, "kb_miss", as_utc(r.created_at)))
            elif r.handoff_reason in ("low_confidence", "misunderstood") and intent not in _NOT_QUESTIONS:
                out.append(UnansweredMessage(r.conversation_id, r.text, r.handoff_reason, as_utc(r.created_at)))
        return out
