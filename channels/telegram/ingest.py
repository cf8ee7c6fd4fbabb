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
from hub.intake import ContactHints, Inbound
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
    hints = ContactHints(
        phone=inbound.phone,  # only the sender's own shared contact
        telegram_id=chat_id if message.chat.type == "private" else None,  # a private chat reaches the citizen
        name=_name(message.from_user),
    )
    try:
        stored = await ctx.service.receive(
            Inbound(
                CHANNEL_TELEGRAM,
                inbound.text,
                ref=chat_id,
                external_id=f"tg:{update.update_id}",
                attachments=tuple(inbound.attachments),
                hints=hints,
                for_bot=inbound.run_bot,
            )
        )
    except InvalidMessage as exc:
        return Outcome("invalid", str(exc), code="invalid_message")
    return Outcome("stored", conversation_id=stored.conversation.id)


def _name(user: Any) -> str | None:
    return None if user is None else (user.full_name or None)
