"""Storing one Telegram ``Update``: shared by the webhook and the polling loop.

Store, then acknowledge: the caller tells Telegram an update is handled (a 200 to the webhook call, or the next
``getUpdates`` offset) only after :func:`ingest_update` returned. Updates are deduplicated by ``tg:<update_id>``.

A press on a quick-reply button (a ``callback_query``, :func:`channels.telegram.sender.choice_keyboard`) is the
citizen's message carrying the button's data (the choice's value, or its number); it is stored, deduplicated by
``tgcb:<callback query id>``, before ``answerCallbackQuery`` stops the button's spinner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Update
from telegram.error import TelegramError

from channels.telegram.inbound import to_inbound
from hub.conversation_service import InvalidMessage
from hub.intake import ContactHints, Inbound
from hub.web.context import HubContext

log = logging.getLogger(__name__)

CHANNEL_TELEGRAM = "telegram"
ALLOWED_UPDATES = ["message", "callback_query"]  # what ingest_update takes; Telegram sends nothing else then


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
    if update.callback_query is not None:
        return await _ingest_press(ctx, update.callback_query)
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


async def _ingest_press(ctx: HubContext, query: CallbackQuery) -> Outcome:
    """A quick-reply button pressed: store its data as the citizen's message, then answer the query."""
    chat = query.message.chat if query.message is not None else None
    data = (query.data or "").strip()
    if not data:
        await _answer(query)  # a game's button: nothing the bot asked for
        return Outcome("ignored", "not a quick reply")
    private = chat is None or chat.type == "private"
    chat_id = str(chat.id if chat is not None else query.from_user.id)  # a private chat's id is the user's
    hints = ContactHints(telegram_id=chat_id if private else None, name=_name(query.from_user))
    try:
        stored = await ctx.service.receive(
            Inbound(CHANNEL_TELEGRAM, data, ref=chat_id, external_id=f"tgcb:{query.id}", hints=hints)
        )
    except InvalidMessage as exc:
        await _answer(query)
        return Outcome("invalid", str(exc), code="invalid_message")
    await _answer(query)  # stored first: a lost answer only leaves the spinner until Telegram's timeout
    return Outcome("stored", conversation_id=stored.conversation.id)


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except TelegramError as exc:  # too old, or the Bot API is down: the press is handled all the same
        log.info("answerCallbackQuery failed: %s", type(exc).__name__)


def _name(user: Any) -> str | None:
    return None if user is None else (user.full_name or None)
