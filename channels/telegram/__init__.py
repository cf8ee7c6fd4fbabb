"""The Telegram channel: a Bot API webhook on the hub's app in, ``sendMessage`` through the outbox out."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web
from telegram import Bot
from telegram.request import HTTPXRequest

from channels.telegram.sender import TelegramSender
from channels.telegram.webhook import CHANNEL_TELEGRAM, ROUTE, WEBHOOK, WebhookConfig, telegram_webhook, webhook_path
from hub.outbox import Outbox
from hub.web.context import CTX

__all__ = ["CHANNEL_TELEGRAM", "setup", "webhook_path"]

log = logging.getLogger(__name__)

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what the Bot API accepts as secret_token


def _file_url(base_url: str) -> str:
    """``http://host/bot`` → ``http://host/file/bot`` (the Bot API's layout)."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url


def setup(
    app: web.Application,
    outbox: Outbox,
    *,
    token: str | None,
    secret: str | None,
    base_url: str | None = None,
    base_file_url: str | None = None,
) -> Bot | None:
    """Mount the webhook and register the outbox sender when a token is given; report health either way.

    Raises:
        ValueError: a token without a valid secret (the webhook would accept anyone's updates).
    """
    ctx = app[CTX]
    if not token:

        async def disabled() -> dict[str, Any]:
            return {"status": "ok", "enabled": False, "mode": "disabled"}

        ctx.channel_health[CHANNEL_TELEGRAM] = disabled
        return None
    if not secret or not _SECRET.fullmatch(secret):
        raise ValueError("the Telegram channel needs --telegram-secret (1-256 of A-Z a-z 0-9 _ -)")
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs["base_file_url"] = base_file_url or _file_url(base_url)
    elif base_file_url:
        kwargs["base_file_url"] = base_file_url
    bot = Bot(token, request=HTTPXRequest(connect_timeout=5.0, read_timeout=10.0), **kwargs)
    app[WEBHOOK] = WebhookConfig(path=webhook_path(token), secret=secret, bot=bot)
    app.router.add_post(ROUTE, telegram_webhook)
    outbox.register(CHANNEL_TELEGRAM, TelegramSender(bot, token), close=bot.shutdown)

    async def health() -> dict[str, Any]:
        return {**(await outbox.health(CHANNEL_TELEGRAM)), "enabled": True, "mode": "webhook"}

    ctx.channel_health[CHANNEL_TELEGRAM] = health
    log.info("telegram webhook mounted at %s", ROUTE.format(secret_path=webhook_path(token)))
    return bot
