"""The email channel: IMAP IDLE ingestion of one mailbox in, SMTP replies through the durable outbox out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.email import downloads
from channels.email.config import EmailSettings, MailLimits
from channels.email.imap import ImapReader
from channels.email.ingest import CHANNEL_EMAIL, AttachmentStore, MailIngest
from channels.email.sender import EmailSender, StaffAlertMail
from channels.email.store import EmailStore
from hub.i18n import register_domain
from hub.logsafe import mask
from hub.outbox import Outbox
from hub.web.context import CTX

__all__ = ["CHANNEL_EMAIL", "EMAIL_CHANNEL", "EmailChannel", "EmailSettings", "MailLimits", "setup"]

log = logging.getLogger(__name__)
register_domain("email", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)


@dataclass
class EmailChannel:
    """The running parts of the channel (the composition root starts and stops the reader)."""

    settings: EmailSettings
    reader: ImapReader
    ingest: MailIngest
    emails: EmailStore

    def start(self) -> None:
        """Start reading the mailbox."""
        self.reader.start()

    async def stop(self) -> None:
        """Stop reading the mailbox."""
        await self.reader.stop()


EMAIL_CHANNEL: web.AppKey[EmailChannel] = web.AppKey("email_channel", EmailChannel)


def setup(
    app: web.Application, outbox: Outbox, *, settings: EmailSettings | None, engine: AsyncEngine, data_dir: Path
) -> EmailChannel | None:
    """Register the SMTP sender, the attachment download route and health; None (and health says so) if off."""
    ctx = app[CTX]
    if settings is None:

        async def disabled() -> dict[str, Any]:
            return {"status": "ok", "enabled": False, "mode": "disabled"}

        ctx.channel_health[CHANNEL_EMAIL] = disabled
        return None
    emails = EmailStore(engine)
    files = AttachmentStore(data_dir / "attachments" / "email")
    ingest = MailIngest(ctx.service, emails, files, settings.limits, settings.mail_from)
    reader = ImapReader(settings, ingest)
    outbox.register(CHANNEL_EMAIL, EmailSender(settings, emails, ctx.outbound_files))
    ctx.staff_alerts[CHANNEL_EMAIL] = StaffAlertMail(settings)  # departments' alerts (hub.work_orders.alerts)
    downloads.setup(app, files)

    async def subject(conversation_id: str) -> str | None:
        thread = await emails.thread(conversation_id)
        return (thread.subject or None) if thread is not None else None

    ctx.subjects[CHANNEL_EMAIL] = subject

    async def health() -> dict[str, Any]:
        smtp = await outbox.health(CHANNEL_EMAIL)
        imap = reader.health()
        status = "ok" if smtp["status"] == "ok" and imap["status"] == "ok" else "degraded"
        return {"status": status, "enabled": True, "mode": "imap-idle", "imap": imap, "smtp": smtp}

    ctx.channel_health[CHANNEL_EMAIL] = health
    log.info(
        "email channel: IMAP %s@%s:%d, SMTP %s:%d, from %s",
        mask(settings.imap_user),
        settings.imap_host,
        settings.imap_port,
        settings.smtp_host,
        settings.smtp_port,
        mask(settings.mail_from),
    )
    channel = EmailChannel(settings, reader, ingest, emails)
    app[EMAIL_CHANNEL] = channel
    return channel
