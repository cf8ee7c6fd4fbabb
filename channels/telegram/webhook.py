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

from aiohttp import web
from telegram import Bot, Update

from channels.telegram.ingest import ingest_update
from hub.web.context import CTX

log = logging.getLogger(__name__)

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
    outcome = await ingest_update(request.app[CTX], update)
    if outcome.status == "invalid":
        return _error(400, outcome.code, outcome.detail)
    if outcome.status == "ignored":
        return web.json_response({"ok": True, "ignored": outcome.detail})
    return web.json_response({"ok": True})
