"""Storing one inbound mail in the hub: thread → conversation, attachments to disk, message stored, bot scheduled.

The IMAP reader calls :meth:`MailIngest.ingest` for each fetched mail and marks it ``\\Seen`` only after it
returns; anything that raises leaves the mail unseen for the next round. A mail is stored once: the dedupe key
is the SHA-256 of its Message-ID (``email_messages`` and the message's external id ``mail:<key>``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from channels.email.config import MailLimits
from channels.email.loops import BOUNCE, NORMAL
from channels.email.mime import Attachment, Envelope, MailRejected, ParsedMail, message_key, parse_mail, read_headers
from channels.email.store import EmailStore
from hub.conversation_service import ConversationService
from hub.file_store import ContentStore
from hub.intake import ContactHints, Inbound, Stored
from hub.logsafe import mask

log = logging.getLogger(__name__)

CHANNEL_EMAIL = "email"
EMPTY_TEXT = "[邮件无正文]"
TRUNCATED = "\n……（邮件正文过长，已截断，全文见原邮件）"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one mail (for logs, health counters and tests)."""

    kind: str  # normal | bounce | auto_reply | rejected | duplicate
    conversation_id: str | None
    message_id: int | None


class AttachmentStore(ContentStore):
    """Content-addressed files under ``<data dir>/attachments/email`` (never executed, served as downloads)."""

    async def save(self, attachment: Attachment) -> dict[str, Any]:
        """Write the file (in an executor) and return the attachment record stored with the message."""
        digest = await self.save_bytes(attachment.data)
        return {
            "kind": "file",
            "source": "email",
            "name": attachment.name,
            "content_type": attachment.content_type,
            "size": len(attachment.data),
            "sha256": digest,
        }


class MailIngest:
    """Turns raw mails into stored hub messages."""

    def __init__(
        self,
        service: ConversationService,
        emails: EmailStore,
        files: AttachmentStore,
        limits: MailLimits,
        own_address: str,
    ) -> None:
        self.service = service
        self.emails = emails
        self.files = files
        self.limits = limits
        self.own_address = own_address.lower()

    async def ingest(self, raw: bytes) -> Outcome:
        """Store one whole mail; raises only if storing failed (the mail must then stay unseen)."""
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(
                None, lambda: parse_mail(raw, self.limits, own_address=self.own_address)
            )
        except MailRejected as exc:
            return await self.ingest_rejected(raw, str(exc))
        return await self._store(parsed, message_key(parsed.envelope, raw))

    async def ingest_rejected(self, header_block: bytes, reason: str) -> Outcome:
        """Store a note for agents about a mail that is over a limit (only its headers are read)."""
        try:
            envelope = read_headers(header_block.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
        except Exception:  # headers beyond repair: a note without sender
            envelope = Envelope(None, "", None, "", "", None, ())
        key = message_key(envelope, header_block)
        log.warning("email from %s rejected: %s", mask(envelope.sender or "?"), reason)
        text = f"[邮件被拒收：{reason}] 主题：{envelope.subject or '（无）'}"
        return await self._store_note(envelope, key, text, "rejected")

    async def _receive(
        self,
        envelope: Envelope,
        key: str,
        text: str,
        kind: str,
        *,
        address: str,
        thread_ids: tuple[str, ...],
        attachments: list[dict[str, Any]] | None = None,
        answerable: bool = False,
    ) -> Outcome:
        """Store the mail in the conversation of the thread it answers (else the sender's) and remember it."""

        async def remember(stored: Stored) -> None:  # before the mail is flagged as seen
            await self.emails.record_inbound(
                message_key=key,
                message_id=envelope.message_id,
                conversation_id=stored.conversation.id,
                hub_message_id=stored.message.id,
                address=address,
                subject=envelope.subject,
                thread_ids=envelope.thread_ids,
                answerable=answerable,
            )

        inbound = Inbound(
            CHANNEL_EMAIL,
            text,
            ref=address,
            conversation_id=await self.emails.conversation_of(thread_ids),
            external_id=f"mail:{key}",
            attachments=tuple(attachments or ()),
            hints=ContactHints(email=address, name=None if kind == BOUNCE else envelope.sender_name),
            for_bot=answerable,
        )
        stored = await self.service.receive(inbound, on_stored=remember)
        return Outcome(kind, stored.conversation.id, stored.message.id)

    async def _store_note(self, envelope: Envelope, key: str, text: str, kind: str) -> Outcome:
        if await self.emails.stored_inbound(key):
            return Outcome("duplicate", None, None)
        address = envelope.reply_to or envelope.sender or "unknown@invalid"
        return await self._receive(envelope, key, text, kind, address=address, thread_ids=envelope.thread_ids)

    def _text(self, parsed: ParsedMail) -> str:
        text = parsed.text.strip() or parsed.envelope.subject.strip() or EMPTY_TEXT
        if parsed.notes:
            text = text + "\n" + "\n".join(f"[{n}]" for n in parsed.notes)
        if parsed.classification.kind != NORMAL:
            label = "退信" if parsed.classification.kind == BOUNCE else "自动回复"
            text = f"[{label}：{parsed.classification.reason}] {text}"
        limit = self.service.limits.max_chars
        if len(text) > limit:
            text = text[: limit - len(TRUNCATED)] + TRUNCATED
        return text

    async def _store(self, parsed: ParsedMail, key: str) -> Outcome:
        if await self.emails.stored_inbound(key):
            return Outcome("duplicate", None, None)
        envelope = parsed.envelope
        kind = parsed.classification.kind
        address = envelope.reply_to or envelope.sender
        if not address:
            return await self._store_note(envelope, key, f"[邮件无发件人地址] {self._text(parsed)}", "rejected")
        records = [await self.files.save(a) for a in parsed.attachments]
        thread_ids = envelope.thread_ids
        if kind == BOUNCE:  # it joins the conversation of the mail it reports on
            failed = await self.emails.fail_bounced(parsed.bounced_ids, f"bounced: {parsed.classification.reason}")
            if failed:
                log.warning("email bounce: outbound messages %s marked failed", failed)
            thread_ids = parsed.bounced_ids
        answerable = parsed.classification.answerable
        outcome = await self._receive(
            envelope,
            key,
            self._text(parsed),
            kind,
            address=address,
            thread_ids=thread_ids,
            attachments=records,
            answerable=answerable,
        )
        if not answerable:
            log.info("email %s stored for agents, not answered (%s)", kind, parsed.classification.reason)
        return outcome
