"""Storing one Telegram ``Update``: shared by the webhook and the polling loop.

Store, then acknowledge: the caller tells Telegram an update is handled (a 200 to the webhook call, or the next
``getUpdates`` offset) only after :func:`ingest_update` returned. Updates are deduplicated by ``tg:<update_id>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update

from channels.telegram.inbound import to_inbound
from hub.conversation_service import InvalidMessage
from hub.web.context import HubContext

log = logging.getLogger(__name__)

CHANNEL_TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one update: ``stored``, ``ignored`` (kinds the hub does not take) or ``invalid``."""

    status: str
    detail: str = ""
    conversation_id: str | None = None
    code: str = ""  # for ``invalid``: invalid_update (unusable update) or invalid_message (text refused)


async def ingest_update(ctx: HubContext, update: Update) -> Outcome:
    """Store the message of ``update`` in its chat's conversation and schedule the bot turn.

    Raises:
        Exception: whatever the store raises (the update must then not be acknowledged).
    """
    message = update.message
    if message is None:
        return Outcome("ignored", "not a new message")
    try:
        inbound = to_inbound(message)
    except Exception as exc:  # a field of an unusual shape: not worth a crash
        log.info("rejected a malformed Telegram message: %s", type(exc).__name__)
        return Outcome("invalid", "not a Telegram message", code="invalid_update")
    if inbound is None:
        return Outcome("ignored", "unsupported message kind")
    chat_id = str(message.chat.id)
    client_id = f"tg:{update.update_id}"
    try:
        async with ctx.service.sender_lock(CHANNEL_TELEGRAM, chat_id):
            conversation = await ctx.conversations.get_or_create_by_ref(CHANNEL_TELEGRAM, chat_id)
            if inbound.phone is not None:
                contact = await ctx.conversations.ensure_contact_by_phone(inbound.phone, _name(message.from_user))
                if message.chat.type == "private" and contact.telegram_id != chat_id:
                    # the chat reaches this citizen: work-order notices may go here (hub/notices.py)
                    contact = await ctx.conversations.update_contact(contact.id, telegram_id=chat_id)
                if conversation.contact_id != contact.id:
                    conversation = await ctx.conversations.update(conversation.id, contact_id=contact.id)
            await ctx.service.accept(
                conversation, inbound.text, client_id, attachments=inbound.attachments or None, for_bot=inbound.run_bot
            )
    except InvalidMessage as exc:
        return Outcome("invalid", str(exc), code="invalid_message")
    ctx.service.schedule_turn(conversation.id)
    return Outcome("stored", conversation_id=conversation.id)


def _name(user: Any) -> str | None:
    return None if user is None else (user.full_name or None)
