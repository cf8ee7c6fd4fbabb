"""The Telegram webhook (``POST /webhooks/telegram/{secret_path}``) on the hub's aiohttp app.

Store, then acknowledge: a message is stored (deduplicated by ``tg:<update_id>``) before the 200 that tells
Telegram not to redeliver it; the bot turn runs afterwards. Anything unusable is answered 400 (invalid JSON or
update) or 200 (kinds the hub does not take), never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Bot, Update

from channels.telegram.inbound import to_inbound
from hub.conversation_service import InvalidMessage
from hub.web.context import CTX

log = logging.getLogger(__name__)

CHANNEL_TELEGRAM = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ROUTE = "/webhooks/telegram/{secret_path}"


def webhook_path(token: str) -> str:
    """The unguessable last path segment of the webhook URL (derived from the bot token)."""
    return hashlib.sha256(f"rexian-telegram:{token}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class WebhookConfig:
    """What the webhook handler checks and uses."""

    path: str
    secret: str
    bot: Bot


WEBHOOK: web.AppKey[WebhookConfig] = web.AppKey("telegram_webhook", WebhookConfig)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": code, "message": message}, status=status)


async def telegram_webhook(request: web.Request) -> web.StreamResponse:
    """Receive one Bot API ``Update``."""
    config = request.app[WEBHOOK]
    if not hmac.compare_digest(request.match_info["secret_path"].encode(), config.path.encode()):
        raise web.HTTPNotFound()
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), config.secret.encode()):
        return _error(401, "unauthorized", "missing or wrong secret token")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid_json", "body must be JSON")
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int) or isinstance(body["update_id"], bool):
        return _error(400, "invalid_update", "not a Telegram update")
    try:
        update = Update.de_json(body, config.bot)
    except Exception as exc:  # de_json raises whatever a malformed field provokes
        log.info("rejected a malformed Telegram update: %s", type(exc).__name__)
        return _error(400, "invalid_update", "not a Telegram update")
    message = update.message
    if message is None:
        return web.json_response({"ok": True, "ignored": "not a new message"})
    try:
        inbound = to_inbound(message)
    except Exception as exc:
        log.info("rejected a malformed Telegram message: %s", type(exc).__name__)
        return _error(400, "invalid_update", "not a Telegram message")
    if inbound is None:
        return web.json_response({"ok": True, "ignored": "unsupported message kind"})
    ctx = request.app[CTX]
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
        return _error(400, "invalid_message", str(exc))
    ctx.service.schedule_turn(conversation.id)
    return web.json_response({"ok": True})


def _name(user: Any) -> str | None:
    return None if user is None else (user.full_name or None)
