"""Reading citizens (contacts) for the centre: search by phone, e-mail, name or Telegram id, and one citizen's
conversations on every channel and every work order.

Read-only queries; contacts are written by the conversation store (:mod:`hub.storage.conversations`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Contact, Conversation, Message, WorkOrder
from hub.storage import rows
from hub.storage.schema import contacts, conversations, messages, work_orders

MAX_RESULTS = 50
MAX_CONVERSATIONS = 100
MAX_MESSAGES = 3000  # over all of a citizen's conversations (the newest conversations first)
MAX_ORDERS = 200
_DIGITS = re.compile(r"^\+?\d[\d\s-]{2,30}$")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, slots=True)
class ContactHit:
    """A search result: the citizen and how much history they have."""

    contact: Contact
    conversations: int
    orders: int


@dataclass(frozen=True, slots=True)
class ContactProfile:
    """Everything the centre knows about one citizen."""

    contact: Contact
    phones: list[str]  # the contact's phone first, then other numbers given on their orders
    conversations: list[Conversation]
    messages: dict[str, list[Message]] = field(default_factory=dict)  # conversation id -> messages, oldest first
    orders: list[WorkOrder] = field(default_factory=list)


def search_condition(q: str) -> Any:
    """Contacts matching ``q``: a phone (digits, prefix or full), an e-mail, a name or a Telegram id."""
    text = q.strip()
    c = contacts.c
    options: list[Any] = [
        c.name.like(_like(text), escape="\\"),
        sa.func.lower(c.email).like(_like(text.lower()), escape="\\"),
    ]
    if _DIGITS.match(text):
        digits = re.sub(r"[\s-]", "", text)
        options += [c.phone.like(_like(digits), escape="\\"), c.telegram_id == digits.lstrip("+")]
        # a citizen known only from orders' phone numbers
        options.append(c.id.in_(sa.select(work_orders.c.contact_id).where(work_orders.c.phone == digits)))
    else:
        options.append(c.telegram_id == text.lstrip("@"))
    return sa.or_(*options)


async def search_contacts(engine: AsyncEngine, q: str, limit: int = MAX_RESULTS) -> list[ContactHit]:
    """Citizens matching ``q`` (see :func:`search_condition`), most recently known first; empty ``q``: none."""
    if not q.strip():
        return []
    n_conversations = (
        sa.select(sa.func.count())
        .select_from(conversations)
        .where(conversations.c.contact_id == contacts.c.id)
        .scalar_subquery()
    )
    n_orders = (
        sa.select(sa.func.count())
        .select_from(work_orders)
        .where(work_orders.c.contact_id == contacts.c.id)
        .scalar_subquery()
    )
    query = (
        sa.select(contacts, n_conversations.label("n_conversations"), n_orders.label("n_orders"))
        .where(search_condition(q))
        .order_by(contacts.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    return [ContactHit(rows.contact(r), int(r.n_conversations), int(r.n_orders)) for r in found]


async def contact_profile(engine: AsyncEngine, contact_id: int) -> ContactProfile | None:
    """The citizen ``contact_id`` with their conversations (every channel, newest first) and their messages, and
    their work orders (registered for the contact, or under the contact's phone number), newest first."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(contacts).where(contacts.c.id == contact_id))).first()
        if row is None:
            return None
        contact = rows.contact(row)
        found = await conn.execute(
            sa.select(conversations)
            .where(conversations.c.contact_id == contact_id)
            .order_by(conversations.c.created_at.desc(), conversations.c.id)
            .limit(MAX_CONVERSATIONS)
        )
        threads = [rows.conversation(r) for r in found]
        by_thread: dict[str, list[Message]] = {t.id: [] for t in threads}
        if threads:
            found = await conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id.in_(list(by_thread)))
                .order_by(messages.c.id.desc())
                .limit(MAX_MESSAGES)
            )
            for r in found:
                by_thread[r.conversation_id].append(rows.message(r))
            for listed in by_thread.values():
                listed.reverse()
        mine = work_orders.c.contact_id == contact_id
        if contact.phone:
            mine = sa.or_(mine, work_orders.c.phone == contact.phone)
        found = await conn.execute(
            sa.select(work_orders).where(mine).order_by(work_orders.c.id.desc()).limit(MAX_ORDERS)
        )
        orders = [rows.work_order(r) for r in found]
    phones = [contact.phone] if contact.phone else []
    for order in orders:
        if order.phone and order.phone not in phones:
            phones.append(order.phone)
    return ContactProfile(contact, phones, threads, by_thread, orders)
