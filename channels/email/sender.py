"""Outbound email: the outbox's :class:`hub.outbox.Sender` for the ``email`` channel (aiosmtplib).

A reply goes to the thread's address with ``Subject: Re: <subject>``, ``In-Reply-To`` the citizen's last mail
and ``References`` the thread's chain, so mail clients keep one thread. Our Message-ID is derived from the hub
message id (a retry after an unclear failure sends the same id, which receivers deduplicate) and recorded
before sending, so a reply or a bounce finds its conversation. Bot and system messages carry
``Auto-Submitted: auto-replied`` (RFC 3834) so that well-behaved auto-responders do not answer them.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

import aiosmtplib

from channels.email.config import EmailSettings
from channels.email.store import EmailStore, Thread
from hub.file_store import ContentStore
from hub.i18n import t
from hub.models import Conversation, Message, SenderKind
from hub.outbox import PermanentFailure
from hub.work_orders.reply_photos import photo_path

_ADDRESS = re.compile(r"[^@\s<>\"(),;:]{1,128}@[^@\s<>\"(),;:]{1,190}\.[A-Za-z0-9-]{1,63}")
_REPLY_PREFIX = re.compile(r"^\s*(re|回复|答复)\s*[:：]", re.IGNORECASE)


class DeliveryError(RuntimeError):
    """A transient failure (server down, 4xx, timeout): the outbox retries it with backoff."""


def reply_subject(subject: str, locale: str) -> str:
    """``Re: <subject>`` (not doubled), or the hotline's default subject when the thread has none."""
    subject = " ".join(subject.split())
    if not subject:
        return t("email.subject", locale)
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def our_message_id(message: Message, domain: str) -> str:
    """The Message-ID (without brackets) of the mail carrying hub message ``message``."""
    return f"rexian.{message.id}.{message.conversation_id.replace('-', '')[:12]}@{domain}"


def email_text(message: Message, locale: str) -> str:
    """The body text for ``message``: a bot message's quick replies become numbered lines to answer with.

    The citizen replies with the number on the reply's first line (the quoted original is cut on the way in); the
    bot also takes the choice's label.
    """
    labels = [str(c.get("label") or c.get("value") or "").strip() for c in message.choices]
    labels = [label for label in labels if label]
    if not labels:
        return message.text
    lines = [t("email.choices", locale)]
    lines += [t("email.choice", locale, number=i, label=label) for i, label in enumerate(labels, start=1)]
    return "\n\n".join(part for part in (message.text.rstrip(), "\n".join(lines)) if part)


def build_reply(
    settings: EmailSettings,
    conversation: Conversation,
    message: Message,
    to: str,
    thread: Thread | None,
    photos: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """The MIME message for ``message``: multipart/alternative, plain text and escaped HTML, UTF-8.

    ``photos`` (name, content type, bytes: a department's photos sent with a notice) are attached (multipart/mixed).
    Quick replies offered with the message are numbered lines after its text (:func:`email_text`).
    """
    mail = EmailMessage()
    mail["From"] = formataddr((t("email.from_name", conversation.locale), settings.mail_from))
    mail["To"] = to
    mail["Subject"] = reply_subject(thread.subject if thread else "", conversation.locale)
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{our_message_id(message, settings.domain)}>"
    if thread is not None and thread.last_message_id:
        mail["In-Reply-To"] = f"<{thread.last_message_id}>"
    if thread is not None and thread.references:
        mail["References"] = " ".join(f"<{m}>" for m in thread.references)
    if message.sender_kind in (SenderKind.BOT, SenderKind.SYSTEM):
        mail["Auto-Submitted"] = "auto-replied"
    text = email_text(message, conversation.locale)
    mail.set_content(text, charset="utf-8")
    body = "<br>\n".join(html.escape(line) for line in text.splitlines())
    mail.add_alternative(f'<!doctype html><html><body><div lang="zh-CN">{body}</div></body></html>', subtype="html")
    for name, content_type, data in photos:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail


def _permanent(code: int) -> bool:
    return 500 <= code < 600


class EmailSender:
    """Sends hub messages of email conversations through the configured SMTP server."""

    def __init__(self, settings: EmailSettings, emails: EmailStore, photos: ContentStore | None = None) -> None:
        self.settings = settings
        self.emails = emails
        self.photos = photos  # the hub's outbound files (photos sent to citizens)

    async def send(self, conversation: Conversation, message: Message) -> None:
        """Deliver ``message``; raises :class:`PermanentFailure` (5xx, no address) or :class:`DeliveryError`."""
        thread = await self.emails.thread(conversation.id)
        to = thread.address if thread is not None else (conversation.external_ref or "")
        if not _ADDRESS.fullmatch(to):
            raise PermanentFailure(f"conversation {conversation.id} has no email address to reply to")
        photos = []
        for record in message.attachments:
            path = photo_path(self.photos, record)
            if path is not None:
                data = await asyncio.get_running_loop().run_in_executor(None, Path.read_bytes, path)
                photos.append((str(record.get("name") or "photo"), str(record["content_type"]), data))
        mail = build_reply(self.settings, conversation, message, to, thread, photos)
        await self.emails.record_outbound(our_message_id(message, self.settings.domain), conversation.id, message.id)
        await smtp_send(self.settings, mail)


async def smtp_send(s: EmailSettings, mail: EmailMessage) -> None:
    """Hand ``mail`` to the configured SMTP server; raises :class:`PermanentFailure` (5xx) or :class:`DeliveryError`."""
    tls = s.smtp_tls
    try:
        await aiosmtplib.send(
            mail,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user,
            password=s.smtp_password,
            use_tls=tls == "ssl" or (tls == "auto" and s.smtp_port == 465),
            start_tls=True if tls == "starttls" else (False if tls in ("none", "ssl") or s.smtp_port == 465 else None),
            timeout=s.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if codes and all(_permanent(c) for c in codes):
            raise PermanentFailure(f"recipient refused: {exc.recipients[0].code} {exc.recipients[0].message}") from None
        raise DeliveryError(f"recipient deferred: {codes}") from None
    except aiosmtplib.SMTPAuthenticationError as exc:  # a configuration problem: keep the mail until fixed
        raise DeliveryError(f"SMTP authentication failed: {exc.code}") from None
    except aiosmtplib.SMTPResponseException as exc:
        if _permanent(exc.code):
            raise PermanentFailure(f"SMTP {exc.code} {exc.message}") from None
        raise DeliveryError(f"SMTP {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


class StaffAlertMail:
    """Sends a staff alert (:attr:`hub.web.context.HubContext.staff_alerts` ``["email"]``) to a unit's address."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def __call__(self, address: str, subject: str, text: str) -> None:
        """Mail ``text`` to ``address`` (plain text, UTF-8, ``Auto-Submitted: auto-generated``)."""
        if not _ADDRESS.fullmatch(address):
            raise PermanentFailure("not an e-mail address")
        mail = EmailMessage()
        mail["From"] = formataddr((t("email.from_name", "zh-CN"), self.settings.mail_from))
        mail["To"] = address
        mail["Subject"] = subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = make_msgid("rexian.alert", self.settings.domain)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(text, charset="utf-8")
        await smtp_send(self.settings, mail)
