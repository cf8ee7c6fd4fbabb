"""The Telegram channel: a Bot API webhook on the hub's app in, ``sendMessage`` through the outbox out."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import Bot
from telegram.request import HTTPXRequest

from channels.telegram import photo_route
from channels.telegram.ingest import CHANNEL_TELEGRAM
from channels.telegram.photos import PhotoDownloader
from channels.telegram.polling import TelegramPoller
from channels.telegram.sender import TelegramSender
from channels.telegram.webhook import ROUTE, WEBHOOK, WebhookConfig, telegram_webhook, webhook_path
from hub.file_store import ContentStore
from hub.i18n import register_domain
from hub.outbox import Outbox, RetryPolicy
from hub.web.context import CTX

__all__ = ["CHANNEL_TELEGRAM", "setup", "webhook_path"]

log = logging.getLogger(__name__)
register_domain("telegram", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what the Bot API accepts as secret_token


def _file_url(base_url: str) -> str:
    """``http://host/bot`` → ``http://host/file/bot`` (the Bot API's layout)."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url


def setup(
    app: web.Application,
    outbox: Outbox,
    *,
    data_dir: Path,
    token: str | None,
    secret: str | None,
    base_url: str | None = None,
    base_file_url: str | None = None,
    polling: bool = False,
    retry: tuple[float, float] = (1.0, 60.0),
) -> Bot | None:
    """Mount the webhook (or start polling) and register the outbox sender when a token is given; report health.

    Photos go to ``<data_dir>/attachments/telegram`` (downloaded after the update is stored, ``photos.py``); the
    route showing them to the inbox is mounted even with the channel off, for photos of earlier runs.

    Raises:
        ValueError: a token without a valid secret in webhook mode (the webhook would accept anyone's updates).
    """
    ctx = app[CTX]
    files = ContentStore(data_dir / "attachments" / "telegram")
    photo_route.setup(app, files)
    if not token:

        async def disabled() -> dict[str, Any]:
            return {"status": "ok", "enabled": False, "mode": "disabled"}

        ctx.channel_health[CHANNEL_TELEGRAM] = disabled
        return None
    if not polling and (not secret or not _SECRET.fullmatch(secret)):
        raise ValueError("the Telegram channel needs --telegram-secret (1-256 of A-Z a-z 0-9 _ -)")
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs["base_file_url"] = base_file_url or _file_url(base_url)
    elif base_file_url:
        kwargs["base_file_url"] = base_file_url
    # Requests are closed explicitly: Bot.shutdown() does nothing for a Bot that was never initialize()d.
    send_request = HTTPXRequest(connect_timeout=5.0, read_timeout=10.0)
    bot = Bot(token, request=send_request, get_updates_request=send_request, **kwargs)
    outbox.register(CHANNEL_TELEGRAM, TelegramSender(bot, token, ctx.outbound_files), close=send_request.shutdown)
    photos = PhotoDownloader(bot, ctx.service, files, token=token, retry=RetryPolicy(*retry))

    async def start_photos(_app: web.Application) -> None:
        photos.start()

    async def stop_photos(_app: web.Application) -> None:
        await photos.stop()

    app.on_startup.append(start_photos)
    app.on_cleanup.insert(0, stop_photos)
    if polling:
        poll_request = HTTPXRequest(connect_timeout=5.0, read_timeout=40.0)
        poll_bot = Bot(token, request=poll_request, get_updates_request=poll_request, **kwargs)
        poller = TelegramPoller(poll_bot, ctx, retry_base_s=retry[0], retry_max_s=retry[1])

        async def start(_app: web.Application) -> None:
            poller.start()

        async def stop(_app: web.Application) -> None:
            await poller.stop()
            await poll_request.shutdown()

        app.on_startup.append(start)
        app.on_cleanup.insert(0, stop)

        async def polling_health() -> dict[str, Any]:
            sending, receiving = await outbox.health(CHANNEL_TELEGRAM), await poller.health()
            degraded = "degraded" in (sending["status"], receiving["status"])
            return {**sending, **receiving, **(await photos.health()), "status": "degraded" if degraded else "ok",
                    "enabled": True, "mode": "polling"}  # fmt: skip

        ctx.channel_health[CHANNEL_TELEGRAM] = polling_health
        log.info("telegram: polling getUpdates (development mode)")
        return bot
    assert secret is not None
    app[WEBHOOK] = WebhookConfig(path=webhook_path(token), secret=secret, bot=bot)
    app.router.add_post(ROUTE, telegram_webhook)

    async def health() -> dict[str, Any]:
        return {
            **(await outbox.health(CHANNEL_TELEGRAM)),
            **(await photos.health()),
            "enabled": True,
            "mode": "webhook",
        }

    ctx.channel_health[CHANNEL_TELEGRAM] = health
    log.info("telegram webhook mounted at %s", ROUTE.format(secret_path=webhook_path(token)))
    return bot
