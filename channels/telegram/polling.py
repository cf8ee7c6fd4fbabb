"""Telegram by long polling (``getUpdates``), for development machines that Telegram cannot reach by webhook.

The loop removes any webhook (the Bot API refuses ``getUpdates`` while one is set), then asks for updates after
the last stored one. An update is acknowledged — by asking for the next offset — only after it was stored, so a
crash or a database error makes Telegram deliver it again, and the ``tg:<update_id>`` dedupe keeps it from being
processed twice. Errors (Bot API down, database busy) are retried with exponential backoff and shown in /healthz.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from telegram import Bot

from channels.telegram.ingest import ALLOWED_UPDATES, ingest_update
from hub.background import BackgroundTask
from hub.clock import utc_now
from hub.web.context import HubContext

log = logging.getLogger(__name__)


class TelegramPoller:
    """Fetches updates with ``getUpdates`` and stores them like the webhook does.

    Args:
        bot: the Bot (its base URL may point at a local Bot API server).
        ctx: the hub's services.
        timeout_s: long-poll timeout Telegram holds each request open.
        retry_base_s, retry_max_s: backoff after a failed round.
    """

    def __init__(
        self,
        bot: Bot,
        ctx: HubContext,
        *,
        timeout_s: int = 25,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
    ) -> None:
        self.bot = bot
        self.ctx = ctx
        self.timeout_s = timeout_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.offset: int | None = None
        self.stored = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self._worker = BackgroundTask("telegram:polling", self.run)
        self._webhook_removed = False

    def start(self) -> None:
        """Start polling in the background."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop polling (what was not acknowledged is delivered again next time)."""
        await self._worker.stop()

    async def run(self) -> None:
        """Poll until cancelled."""
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures = 0
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(self.retry_max_s, self.retry_base_s * 2 ** (failures - 1))
                self.last_error, self.last_error_at = f"{type(exc).__name__}: {exc}", utc_now()
                log.warning("telegram polling failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)

    async def poll_once(self) -> int:
        """One ``getUpdates`` round; returns how many updates were stored."""
        if not self._webhook_removed:
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._webhook_removed = True
        updates = await self.bot.get_updates(
            offset=self.offset,
            timeout=self.timeout_s,
            allowed_updates=ALLOWED_UPDATES,
            read_timeout=self.timeout_s + 10,
        )
        stored = 0
        for update in updates:
            outcome = await ingest_update(self.ctx, update)  # raises: the update is not acknowledged
            if outcome.status == "invalid":
                log.info("telegram update %d refused: %s", update.update_id, outcome.detail)
            elif outcome.status == "stored":
                stored += 1
            self.offset = update.update_id + 1  # acknowledged with the next request
        self.stored += stored
        return stored

    async def health(self) -> dict[str, Any]:
        """For /healthz."""
        return {
            "status": "degraded" if self.last_error else "ok",
            "polling_offset": self.offset,
            "stored": self.stored,
            "last_poll_error": self.last_error,
            "last_poll_error_at": None if self.last_error_at is None else self.last_error_at.isoformat(),
        }
