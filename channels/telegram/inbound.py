"""Normalising a Telegram message into what the hub stores: text, attachments, a shared phone number."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from telegram import Message as TgMessage

from hub.dialogue.slots import is_valid_phone

PHOTO_TEXT = "[图片]"


@dataclass(frozen=True, slots=True)
class Inbound:
    """A citizen message as the hub will store it."""

    text: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    phone: str | None = None  # the citizen's own number (a shared contact of the sender)
    run_bot: bool = True  # False: stored for agents only (a photo without caption)


def normalise_tg_phone(raw: str) -> str | None:
    """A Telegram contact number (``+8613812345678``) as the hub stores phones (``13812345678``)."""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if is_valid_phone(digits) else None


def to_inbound(message: TgMessage) -> Inbound | None:
    """What to store for ``message``; None for kinds the hub does not take (stickers, voice, ...)."""
    if message.contact is not None:
        contact = message.contact
        phone = normalise_tg_phone(contact.phone_number)
        if phone is None:
            return Inbound(text=contact.phone_number.strip() or "[联系人]")
        own = message.from_user is not None and contact.user_id == message.from_user.id
        return Inbound(text=phone, phone=phone if own else None)
    if message.location is not None:
        loc = message.location
        return Inbound(text=f"位置：{loc.latitude},{loc.longitude}")
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        attachment = {
            "kind": "photo",
            "source": "telegram",
            "file_id": largest.file_id,
            "file_unique_id": largest.file_unique_id,
            "width": largest.width,
            "height": largest.height,
            "file_size": largest.file_size,
            "download": "pending",  # channels/telegram/photos.py fetches it after the update is acknowledged
        }
        caption = (message.caption or "").strip()
        return Inbound(text=caption or PHOTO_TEXT, attachments=[attachment], run_bot=bool(caption))
    if message.text is not None:
        return Inbound(text=message.text)
    return None
