"""Outbound Telegram: the outbox's :class:`hub.outbox.Sender` for the ``telegram`` channel (``sendMessage``).

A bot message offering quick replies carries them as an inline keyboard (:func:`choice_keyboard`); a press comes
back as a ``callback_query`` (:mod:`channels.telegram.ingest`).

A message carrying photos sent to the citizen (a department's reply, :mod:`hub.work_orders.reply_photos`) is sent as
its text, then one ``sendPhoto`` per photo.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError

from hub.file_store import ContentStore
from hub.models import Conversation, Message
from hub.outbox import PermanentFailure
from hub.work_orders.reply_photos import photo_path

MAX_TEXT = 4096  # Bot API limit of one text message
MAX_CALLBACK_DATA = 64  # Bot API limit of a button's callback_data, in bytes


class DeliveryError(RuntimeError):
    """A transient failure (network, Bot API 5xx, flood control): the outbox retries it."""


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters (Telegram counts UTF-16 units; CJK is one each)."""
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


def choice_keyboard(choices: list[dict[str, str]]) -> InlineKeyboardMarkup | None:
    """A bot message's quick replies as an inline keyboard, one button a row (None: no choices).

    A button's ``callback_data`` is the choice's value (sent back as the citizen's message when pressed); a value
    over the Bot API's 64 bytes is sent as the choice's 1-based number, which the bot takes as well.
    """
    rows = []
    for number, choice in enumerate(choices, start=1):
        label = str(choice.get("label") or choice.get("value") or "").strip()
        value = str(choice.get("value") or label).strip()
        if not label:
            continue
        data = value if len(value.encode("utf-8")) <= MAX_CALLBACK_DATA else str(number)
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramSender:
    """Sends a hub message to the conversation's chat (its ``external_ref`` is the chat id)."""

    def __init__(self, bot: Bot, token: str, photos: ContentStore | None = None) -> None:
        self.bot = bot
        self._token = token
        self.photos = photos  # the hub's outbound files (photos sent to citizens)

    def _redact(self, error: object) -> str:
        return str(error).replace(self._token, "<token>")

    async def send(self, conversation: Conversation, message: Message) -> None:
        """Deliver ``message``; raises :class:`PermanentFailure` (blocked, unknown chat) or :class:`DeliveryError`."""
        ref = conversation.external_ref
        if ref is None or not ref.lstrip("-").isdigit():
            raise PermanentFailure(f"conversation {conversation.id} has no Telegram chat id")
        keyboard = choice_keyboard(message.choices)
        try:
            parts = split_text(message.text)
            for i, part in enumerate(parts):  # the quick replies go with the last part
                markup = keyboard if i == len(parts) - 1 else None
                await self.bot.send_message(chat_id=int(ref), text=part, reply_markup=markup)
            for record in message.attachments:
                path = photo_path(self.photos, record)
                if path is not None:
                    data = await asyncio.get_running_loop().run_in_executor(None, Path.read_bytes, path)
                    await self.bot.send_photo(chat_id=int(ref), photo=data, filename=str(record.get("name") or "photo"))
        except (Forbidden, BadRequest) as exc:
            raise PermanentFailure(f"{type(exc).__name__}: {self._redact(exc)}") from None
        except TelegramError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {self._redact(exc)}") from None
