"""The agents' inbox as server-side queries: views, search, filters, counts, waiting times and unread markers.

Views: ``mine`` (assigned to the user), ``unassigned`` (queued), ``all`` (every open conversation) and ``closed``.
Every view takes the same filters (:class:`InboxFilter`). An item waits since it was queued, or, when an agent
holds it, since the citizen's first message after the agent's last reply. Unread counts are per user: citizen
messages after the user's read marker (``conversation_reads``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.models import Conversation, ConversationStatus
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import contacts, conversation_reads, conversations, messages, users

VIEWS = ("mine", "unassigned", "all", "closed")
MAX_QUERY_CHARS = 100

c = conversations.c
_CITIZEN = "citizen"
_AGENT = "agent"


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What narrows a view; None/empty means no restriction."""

    q: str | None = None  # words in any message, the contact's name, phone or e-mail, the channel address
    channel: str | None = None
    industry: str | None = None
    status: str | None = None  # bot | queued | assigned | closed
    waiting_min: int | None = None  # only items waiting longer than this many minutes


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One row of an inbox view."""

    conversation: Conversation
    contact_name: str | None
    contact_phone: str | None
    assignee_name: str | None
    last_text: str
    last_sender: str | None
    last_at: datetime | None
    waiting_since: datetime | None
    unread: int
    unanswered: bool


def _last_agent_id(conversation_id: Any = c.id) -> Any:
    m = messages.alias("m_agent")
    query = sa.select(sa.func.max(m.c.id)).where(m.c.conversation_id == conversation_id, m.c.sender_kind == _AGENT)
    return query.scalar_subquery()


def _first_unanswered_at() -> Any:
    m = messages.alias("m_wait")
    return (
        sa.select(sa.func.min(m.c.created_at))
        .where(
            m.c.conversation_id == c.id,
            m.c.sender_kind == _CITIZEN,
            m.c.id > sa.func.coalesce(_last_agent_id(m.c.conversation_id), 0),  # correlated to m_wait
        )
        .scalar_subquery()
    )


def _last_citizen_id() -> Any:
    m = messages.alias("m_citizen")
    return (
        sa.select(sa.func.max(m.c.id)).where(m.c.conversation_id == c.id, m.c.sender_kind == _CITIZEN).scalar_subquery()
    )


def _waiting_since() -> Any:
    return sa.case(
        (c.status == ConversationStatus.QUEUED.value, c.queued_at),
        (c.status == ConversationStatus.ASSIGNED.value, _first_unanswered_at()),
        else_=sa.null(),
    )


def _unread(user_id: int) -> Any:
    m = messages.alias("m_unread")
    marker = (
        sa.select(conversation_reads.c.last_read_id)
        .where(conversation_reads.c.user_id == user_id, conversation_reads.c.conversation_id == m.c.conversation_id)
        .scalar_subquery()
    )
    return (
        sa.select(sa.func.count())
        .select_from(m)
        .where(m.c.conversation_id == c.id, m.c.sender_kind == _CITIZEN, m.c.id > sa.func.coalesce(marker, 0))
        .scalar_subquery()
    )


def _view_condition(view: str, user_id: int) -> Any:
    if view == "mine":
        return sa.and_(c.status == ConversationStatus.ASSIGNED.value, c.assignee_id == user_id)
    if view == "unassigned":
        return c.status == ConversationStatus.QUEUED.value
    if view == "all":
        return c.status != ConversationStatus.CLOSED.value
    if view == "closed":
        return c.status == ConversationStatus.CLOSED.value
    raise ValueError(f"unknown inbox view {view!r}")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter_conditions(filters: InboxFilter, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    if filters.channel:
        conditions.append(c.channel == filters.channel)
    if filters.industry:
        conditions.append(c.industry == filters.industry)
    if filters.status:
        conditions.append(c.status == filters.status)
    if filters.waiting_min is not None:
        conditions.append(_waiting_since() <= now - timedelta(minutes=filters.waiting_min))
    q = (filters.q or "").strip()[:MAX_QUERY_CHARS]
    if q:
        pattern = _like(q)
        digits = "".join(ch for ch in q if ch.isdigit())
        found = messages.alias("m_search")
        in_text = sa.exists(
            sa.select(found.c.id).where(found.c.conversation_id == c.id, found.c.text.ilike(pattern, escape="\\"))
        )
        who = contacts.alias("ct_search")  # the item query joins contacts already: search an alias
        matches = [who.c.name.ilike(pattern, escape="\\"), who.c.phone.ilike(pattern, escape="\\")]
        matches.append(who.c.email.ilike(pattern, escape="\\"))
        if len(digits) >= 4 and digits != q:  # a phone written with spaces or dashes
            matches.append(who.c.phone.like(_like(digits), escape="\\"))
        about_contact = sa.exists(sa.select(who.c.id).where(who.c.id == c.contact_id, sa.or_(*matches)))
        conditions.append(sa.or_(in_text, about_contact, c.external_ref.ilike(pattern, escape="\\")))
    return conditions


def _order(view: str) -> list[Any]:
    if view == "unassigned":
        return [c.queued_at, c.id]
    if view == "closed":
        return [c.closed_at.desc(), c.id]
    return [c.updated_at.desc(), c.id]


class InboxQueries:
    """Reads for the inbox views and the per-user read markers."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def _select(self, user_id: int) -> Any:
        last = messages.alias("m_last")
        last_id = sa.select(sa.func.max(messages.c.id)).where(messages.c.conversation_id == c.id).scalar_subquery()
        assignee = users.alias("assignee")
        return (
            sa.select(
                conversations,
                contacts.c.name.label("contact_name"),
                contacts.c.phone.label("contact_phone"),
                assignee.c.display_name.label("assignee_name"),
                last.c.text.label("last_text"),
                last.c.sender_kind.label("last_sender"),
                last.c.created_at.label("last_at"),
                _waiting_since().label("waiting_since"),
                _unread(user_id).label("unread"),
                (sa.func.coalesce(_last_citizen_id(), 0) > sa.func.coalesce(_last_agent_id(), 0)).label("unanswered"),
            )
            .select_from(conversations)
            .outerjoin(contacts, contacts.c.id == c.contact_id)
            .outerjoin(assignee, assignee.c.id == c.assignee_id)
            .outerjoin(last, last.c.id == last_id)
        )

    @staticmethod
    def _item(row: Any) -> InboxItem:
        m = row._mapping
        since = m["waiting_since"]
        if isinstance(since, str):  # SQLite returns a CASE over dates as text
            since = datetime.fromisoformat(since)
        return InboxItem(
            conversation=rows.conversation(row),
            contact_name=m["contact_name"],
            contact_phone=m["contact_phone"],
            assignee_name=m["assignee_name"],
            last_text=m["last_text"] or "",
            last_sender=m["last_sender"],
            last_at=None if m["last_at"] is None else as_utc(m["last_at"]),
            waiting_since=None if since is None else as_utc(since),
            unread=int(m["unread"] or 0),
            unanswered=bool(m["unanswered"]),
        )

    async def items(
        self, view: str, user_id: int, filters: InboxFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[InboxItem], int]:
        """One page of a view and the view's total.

        Raises:
            ValueError: an unknown view.
        """
        filters = filters or InboxFilter()
        where = [_view_condition(view, user_id), *_filter_conditions(filters, self._clock())]
        query = self._select(user_id).where(*where).order_by(*_order(view)).limit(limit).offset(offset)
        total_query = sa.select(sa.func.count()).select_from(conversations).where(*where)
        async with self._engine.connect() as conn:
            found = [self._item(r) for r in await conn.execute(query)]
            total = int(await conn.scalar(total_query) or 0)
        return found, total

    async def item(self, conversation_id: str, user_id: int) -> InboxItem | None:
        """One conversation as an inbox row (None if there is none)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(self._select(user_id).where(c.id == conversation_id))).first()
        return None if row is None else self._item(row)

    async def counts(self, user_id: int, filters: InboxFilter | None = None) -> dict[str, int]:
        """How many conversations each view holds with these filters."""
        conditions = _filter_conditions(filters or InboxFilter(), self._clock())
        columns = [
            sa.func.coalesce(sa.func.sum(sa.case((_view_condition(view, user_id), 1), else_=0)), 0).label(view)
            for view in VIEWS
        ]
        query = sa.select(*columns).select_from(conversations)
        if conditions:
            query = query.where(*conditions)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return {view: int(row._mapping[view]) for view in VIEWS}

    async def unread_total(self, user_id: int) -> int:
        """Unread citizen messages in the user's own conversations and in the queue (the title badge)."""
        where = sa.or_(_view_condition("mine", user_id), _view_condition("unassigned", user_id))
        query = sa.select(sa.func.coalesce(sa.func.sum(_unread(user_id)), 0)).select_from(conversations).where(where)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def last_message_id(self, conversation_id: str) -> int:
        """The newest message id of a conversation (0 if it has none)."""
        query = sa.select(sa.func.max(messages.c.id)).where(messages.c.conversation_id == conversation_id)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def mark_read(self, user_id: int, conversation_id: str, last_read_id: int) -> None:
        """Move the user's read marker of a conversation forward to ``last_read_id`` (never backwards)."""
        r = conversation_reads.c
        mine = sa.and_(r.user_id == user_id, r.conversation_id == conversation_id)
        forward = (
            conversation_reads.update().where(mine, r.last_read_id < last_read_id).values(last_read_id=last_read_id)
        )
        for _attempt in range(2):
            async with begin(self._engine) as conn:
                if (await conn.execute(forward)).rowcount:
                    return
                if (await conn.execute(sa.select(r.last_read_id).where(mine))).first() is not None:
                    return  # already at or past it
            try:
                async with begin(self._engine) as conn:
                    await conn.execute(
                        conversation_reads.insert().values(
                            user_id=user_id, conversation_id=conversation_id, last_read_id=last_read_id
                        )
                    )
                return
            except IntegrityError:
                continue  # another request inserted the marker meanwhile: move it forward

    async def read_marker(self, user_id: int, conversation_id: str) -> int:
        """The user's read marker of a conversation (0: nothing read)."""
        r = conversation_reads.c
        query = sa.select(r.last_read_id).where(r.user_id == user_id, r.conversation_id == conversation_id)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)
