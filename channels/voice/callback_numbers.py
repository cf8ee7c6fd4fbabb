"""Which numbers an agent may call back: only the ones a conversation or a work order already holds.

A conversation's numbers: its contact's phone, the caller ID of its calls, phone numbers written in its messages
(the citizen's text, a voicemail transcript) and the phones of its work orders. An order's numbers: its phone and
its contact's phone. Numbers are compared in one form (digits only, mainland mobiles without +86).
"""

from __future__ import annotations

import re

from aiohttp import web

from hub.models import Conversation, WorkOrder
from hub.web.context import CTX

_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d(?:[- ]?\d{4}){2}|0\d{2,3}-?\d{7,8})(?!\d)")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise(value: object) -> str | None:
    """A phone number in the form numbers are compared in (None: not a phone number)."""
    if not isinstance(value, str | int):
        return None
    digits = re.sub(r"[\s()\-]", "", str(value))
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit():
        return None
    if len(digits) == 13 and digits.startswith("86") and _MOBILE.match(digits[2:]):
        digits = digits[2:]
    return digits if 3 <= len(digits) <= 20 else None


def is_mobile(number: str) -> bool:
    """A mainland mobile number (SMS reaches it)."""
    value = normalise(number)
    return value is not None and bool(_MOBILE.match(value))


def numbers_in(text: str) -> set[str]:
    """Phone numbers written in ``text``."""
    found = {normalise(m.group(1)) for m in _IN_TEXT.finditer(text or "")}
    return {n for n in found if n}


async def allowed_for_conversation(app: web.Application, conversation: Conversation) -> set[str]:
    """The numbers of a conversation (see the module docstring)."""
    from .web import STATE

    ctx = app[CTX]
    numbers: set[str | None] = set()
    if conversation.contact_id is not None:
        contact = await ctx.conversations.get_contact(conversation.contact_id)
        numbers.add(normalise(contact.phone) if contact else None)
    for record in await app[STATE].calls.for_conversation(conversation.id):
        numbers.add(normalise(record.called if record.direction == "outbound" else record.caller))
    for message in await ctx.conversations.messages(conversation.id):
        if message.sender_kind.value == "citizen":
            numbers |= set(numbers_in(message.text))
    for order in await ctx.work_orders.list_for_conversation(conversation.id):
        numbers.add(normalise(order.phone))
    return {n for n in numbers if n}


async def allowed_for_order(app: web.Application, order: WorkOrder) -> set[str]:
    """The numbers of a work order: its phone and its contact's phone."""
    ctx = app[CTX]
    numbers = {normalise(order.phone)}
    if order.contact_id is not None:
        contact = await ctx.conversations.get_contact(order.contact_id)
        numbers.add(normalise(contact.phone) if contact else None)
    return {n for n in numbers if n}
