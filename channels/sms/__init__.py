"""The SMS channel: SMPP 3.4 to an SMSC as an ESME (transceiver), bulk 群发 with opt-out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.sms import bulk_web
from channels.sms.bulk import BulkRunner
from channels.sms.config import SmsSettings
from channels.sms.inbound import CHANNEL_SMS, SmsInbound
from channels.sms.sender import SmsSender, StaffAlertSms
from channels.sms.session import SmppSession
from channels.sms.store import SmsStore
from hub.i18n import register_domain
from hub.outbox import Outbox
from hub.web.context import CTX

__all__ = ["CHANNEL_SMS", "TEMPLATE_DIR", "SmsChannel", "SmsSettings", "setup"]

log = logging.getLogger(__name__)
register_domain("sms", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass
class SmsChannel:
    """The running parts of the SMS channel."""

    session: SmppSession
    inbound: SmsInbound
    bulk: BulkRunner
    store: SmsStore
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Connect to the SMSC, resume bulk jobs, store long messages whose parts timed out."""
        self.session.start()
        self.bulk.start()
        self._tasks.append(asyncio.create_task(self.inbound.sweep_forever(), name="sms-sweep"))

    async def stop(self) -> None:
        """Stop sending and unbind; what is pending stays stored for the next run."""
        await self.bulk.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.session.stop()


def setup(app: web.Application, outbox: Outbox, engine: AsyncEngine, settings: SmsSettings | None) -> SmsChannel | None:
    """Register the SMS sender, the bulk page and start/stop hooks when configured; report health either way."""
    ctx = app[CTX]
    if settings is None:

        async def disabled() -> dict[str, Any]:
            return {"status": "ok", "enabled": False, "mode": "disabled"}

        ctx.channel_health[CHANNEL_SMS] = disabled
        return None
    store = SmsStore(engine)
    inbound = SmsInbound(ctx, store, settings)
    session = SmppSession(settings, inbound)
    channel = SmsChannel(session, inbound, BulkRunner(session, store), store)
    outbox.register(CHANNEL_SMS, SmsSender(session, store))
    session.on_bound.append(lambda: outbox.wake(CHANNEL_SMS))
    ctx.staff_alerts[CHANNEL_SMS] = StaffAlertSms(session, store)  # departments' alerts (hub.work_orders.alerts)
    bulk_web.setup(app, store, channel.bulk)

    async def health() -> dict[str, Any]:
        out = await outbox.health(CHANNEL_SMS)
        bound = session.state == "bound"
        status = "ok" if bound and out["status"] == "ok" else "degraded"
        return {
            **out,
            **session.health(),
            "status": status,
            "enabled": True,
            "mode": "smpp",
            "inbound_stored": inbound.stored,
            "inbound_duplicates": inbound.duplicates,
            "receipts": inbound.receipts,
        }

    ctx.channel_health[CHANNEL_SMS] = health

    async def on_startup(_app: web.Application) -> None:
        await channel.start()

    async def on_cleanup(_app: web.Application) -> None:
        await channel.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    log.info("SMS channel: SMSC %s:%s as %s", settings.host, settings.port, settings.system_id)
    return channel
