"""Read-only list queries of the staff API that the stores do not offer: conversations and contacts by filters.

Each returns one page and the number of all matches. Text search is a substring match (LIKE, escaped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Contact, Conversation
from hub.storage import rows
from hub.storage.schema import contacts, conversation_reads, conversations, messages
from hub.web.api_v1.common import Page

_DIGITS = re.compile(r"^\+?[\d\s-]{5,32}$")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def contact_condition(text: str) -> Any:
    """Contacts whose name, phone, e-mail or Telegram id contains ``text``."""
    pattern = _like(text.strip())
    options = [
        contacts.c.name.like(pattern, escape="\\"),
        contacts.c.email.like(pattern.lower(), escape="\\"),
        contacts.c.telegram_id.like(pattern, escape="\\"),
        contacts.c.phone.like(pattern, escape="\\"),
    ]
    if _DIGITS.match(text.strip()):
        options.append(contacts.c.phone.like(_like(re.sub(r"[\s+-]", "", text)), escape="\\"))
    return sa.or_(*options)


async def _page(
    engine: AsyncEngine, table: sa.Table, where: list[Any], order: list[Any], page: Page
) -> tuple[Any, int]:
    query = sa.select(table).where(*where).order_by(*order).limit(page.per_page).offset(page.offset)
    count = sa.select(sa.func.count()).select_from(table).where(*where)
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
        total = (await conn.execute(count)).scalar_one()
    return found, int(total)


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """What to find among conversations; ``None``/empty: any."""

    statuses: tuple[str, ...] = ()
    channel: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    contact_id: int | None = None
    q: str = ""


def conversation_conditions(wanted: ConversationFilter) -> list[Any]:
    """The SQL conditions of ``wanted``.

    ``q`` matches the conversation id, the contact (name, phone, e-mail, Telegram id) or a message's text.
    """
    c = conversations.c
    where: list[Any] = []
    if wanted.statuses:
        where.append(c.status.in_(wanted.statuses))
    if wanted.channel:
        where.append(c.channel == wanted.channel)
    if wanted.assignee_id is not None:
        where.append(c.assignee_id == wanted.assignee_id)
    if wanted.unassigned:
        where.append(c.assignee_id.is_(None))
    if wanted.contact_id is not None:
        where.append(c.contact_id == wanted.contact_id)
    text = wanted.q.strip()
    if text:
        said = sa.select(messages.c.id).where(
            messages.c.conversation_id == c.id, messages.c.text.like(_like(text), escape="\\")
        )
        where.append(
            sa.or_(
                c.id == text,
                c.contact_id.in_(sa.select(contacts.c.id).where(contact_condition(text))),
                sa.exists(said),
            )
        )
    return where


async def find_conversations(
    engine: AsyncEngine, wanted: ConversationFilter, page: Page
) -> tuple[list[Conversation], int]:
    """One page of the matching conversations, most recently active first, and how many match."""
    order = [conversations.c.updated_at.desc(), conversations.c.id]
    found, total = await _page(engine, conversations, conversation_conditions(wanted), order, page)
    return [rows.conversation(r) for r in found], total


async def find_contacts(engine: AsyncEngine, q: str, page: Page) -> tuple[list[Contact], int]:
    """One page of the contacts matching ``q`` (every contact when empty), newest first, and how many match."""
    where = [contact_condition(q)] if q.strip() else []
    found, total = await _page(engine, contacts, where, [contacts.c.id.desc()], page)
    return [rows.contact(r) for r in found], total


async def count_messages(engine: AsyncEngine, conversation_id: str, after_id: int = 0) -> int:
    """How many messages a conversation has after ``after_id``."""
    async with engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.id > after_id)
        )
    return int(total or 0)


async def unread_counts(engine: AsyncEngine, user_id: int, conversation_ids: list[str]) -> dict[str, int]:
    """The user's unread citizen messages per conversation (after their read marker, as the inbox counts them)."""
    if not conversation_ids:
        return {}
    m, r = messages.c, conversation_reads.c
    query = (
        sa.select(m.conversation_id, sa.func.count())
        .select_from(
            messages.outerjoin(
                conversation_reads, sa.and_(r.conversation_id == m.conversation_id, r.user_id == user_id)
            )
        )
        .where(
            m.conversation_id.in_(conversation_ids),
            m.sender_kind == "citizen",
            m.id > sa.func.coalesce(r.last_read_id, 0),
        )
        .group_by(m.conversation_id)
    )
    async with engine.connect() as conn:
        found = {row[0]: int(row[1]) for row in await conn.execute(query)}
    return {cid: found.get(cid, 0) for cid in conversation_ids}
