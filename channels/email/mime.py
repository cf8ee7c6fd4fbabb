"""Parsing an inbound mail (standard library only) into what the hub stores, within limits.

:func:`parse_mail` never raises for bad input other than :class:`MailRejected` (over a limit, not a mail): the
caller stores a note for agents instead. Loop safety (bounces, auto-replies) is decided in
:mod:`channels.email.loops`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses

from channels.email.config import MailLimits
from channels.email.loops import BOUNCE, Classification, classify
from channels.email.text import decode_bytes, decode_header_value, html_to_text, trim_quoted

_MSGID = re.compile(r"<([^<>\s]{1,490})>")
_ADDRESS = re.compile(r"[^@\s<>\"]{1,128}@[^@\s<>\"]{1,190}")
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


class MailRejected(ValueError):
    """The mail is over a limit or not a mail at all (the reason is safe to log and to show to agents)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a mail."""

    name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Envelope:
    """The headers that decide threading and who is answered (readable even when the body is rejected)."""

    message_id: str | None  # without angle brackets
    sender: str  # the From address, lower-case ("" if there is none)
    sender_name: str | None
    reply_to: str  # where an answer goes (Reply-To, else From)
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this mail answers, newest first (In-Reply-To, then References from the end)."""
        ids = ([self.in_reply_to] if self.in_reply_to else []) + list(reversed(self.references))
        return tuple(dict.fromkeys(ids))


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """An inbound mail as the hub stores it."""

    envelope: Envelope
    text: str  # the new part of the body (quoted history trimmed); may be empty
    classification: Classification
    attachments: tuple[Attachment, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)  # what was dropped, for agents
    bounced_ids: tuple[str, ...] = ()  # a bounce: the Message-IDs it reports as undeliverable


def message_ids(value: str | None) -> list[str]:
    """The ``<id>`` tokens of a Message-ID/In-Reply-To/References header, in order."""
    return _MSGID.findall(value or "")


def _first_address(value: str) -> tuple[str | None, str]:
    for name, addr in getaddresses([value]):
        if _ADDRESS.fullmatch(addr or ""):
            return (name or None), addr.lower()
    return None, ""


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def read_envelope(msg: Message) -> Envelope:
    """Threading and addressing headers of ``msg`` (encoded words decoded, GB labels as GB18030)."""
    raw_from = decode_header_value(_raw_header(msg, "From") or "")
    name, sender = _first_address(raw_from)
    _, reply_to = _first_address(decode_header_value(_raw_header(msg, "Reply-To") or ""))
    ids = message_ids(_raw_header(msg, "Message-ID"))
    in_reply = message_ids(_raw_header(msg, "In-Reply-To"))
    return Envelope(
        message_id=ids[0] if ids else None,
        sender=sender,
        sender_name=name,
        reply_to=reply_to or sender,
        subject=decode_header_value(_raw_header(msg, "Subject") or "")[:500],
        in_reply_to=in_reply[0] if in_reply else None,
        references=tuple(message_ids(_raw_header(msg, "References"))[-50:]),
    )


def read_headers(raw_headers: bytes) -> Envelope:
    """The envelope of a mail from its header block only (a mail too large to download)."""
    return read_envelope(HeaderParser(policy=policy.compat32).parsestr(raw_headers.decode("latin-1")))


def safe_filename(name: str | None, index: int) -> str:
    """A file name safe to show and to send as Content-Disposition (never a path)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip("._")[:100]
    return base or f"attachment-{index}"


def _walk(msg: Message, limits: MailLimits) -> list[Message]:
    """Every leaf part, depth-first in order; raises :class:`MailRejected` past the part/depth limits."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise MailRejected(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise MailRejected(f"MIME nesting deeper than {limits.max_depth}")
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((c, depth + 1) for c in reversed(children) if isinstance(c, Message))
        else:
            leaves.append(part)
    return leaves


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def parse_mail(raw: bytes, limits: MailLimits, *, own_address: str = "") -> ParsedMail:
    """Parse a whole RFC 5322 message.

    Raises:
        MailRejected: larger than ``limits.max_message_bytes``, too many parts, nested too deep, or not a
            mail (no headers). Attachments over their limits are dropped with a note instead.
    """
    if len(raw) > limits.max_message_bytes:
        raise MailRejected(f"mail of {len(raw)} bytes is over the {limits.max_message_bytes}-byte limit")
    try:
        return _parse(raw, limits, own_address)
    except MailRejected:
        raise
    except Exception as exc:  # the stdlib is lenient; whatever still breaks on hostile input is a rejection
        raise MailRejected(f"unparseable mail ({type(exc).__name__})") from None


def _parse(raw: bytes, limits: MailLimits, own_address: str) -> ParsedMail:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if not msg.keys():
        raise MailRejected("not a mail: no headers")
    leaves = _walk(msg, limits)
    envelope = read_envelope(msg)
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    notes: list[str] = []
    for index, part in enumerate(leaves, start=1):
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if disposition != "attachment" and not filename and ctype in ("text/plain", "text/html"):
            text = decode_bytes(_payload(part), part.get_content_charset())
            (plain if ctype == "text/plain" else html).append(text)
            continue
        if ctype in ("message/delivery-status", "text/rfc822-headers", "message/rfc822") and not filename:
            continue  # parts of a bounce report: read by the loop check, not attachments
        data = _payload(part)
        name = safe_filename(decode_header_value(filename) if filename else None, index)
        if len(attachments) >= limits.max_attachments:
            notes.append(f"附件 {name} 未保存：附件超过 {limits.max_attachments} 个")
        elif len(data) > limits.max_attachment_bytes:
            notes.append(f"附件 {name} 未保存：{len(data)} 字节，超过 {limits.max_attachment_bytes} 字节上限")
        elif data:
            attachments.append(Attachment(name, ctype, data))
    body = "\n\n".join(plain) if plain else "\n\n".join(html_to_text(h) for h in html)
    classification = classify(msg, envelope.sender, envelope.subject, own_address)
    bounced = _bounced_ids(msg, envelope) if classification.kind == BOUNCE else ()
    return ParsedMail(envelope, trim_quoted(body), classification, tuple(attachments), tuple(notes), bounced)


def _bounced_ids(msg: Message, envelope: Envelope) -> tuple[str, ...]:
    """Message-IDs a delivery report refers to (its embedded original, In-Reply-To, References)."""
    found: list[str] = list(envelope.thread_ids)
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage | Message):
                found += message_ids(_raw_header(inner[0], "Message-ID"))
        elif ctype == "text/rfc822-headers":
            headers = HeaderParser(policy=policy.compat32).parsestr(decode_bytes(_payload(part), "utf-8"))
            found += message_ids(headers.get("Message-ID"))
    return tuple(dict.fromkeys(found))


def message_key(envelope: Envelope, raw: bytes) -> str:
    """The dedupe key of an inbound mail: SHA-256 of its Message-ID (of its bytes when it has none)."""
    source = f"<{envelope.message_id}>".encode() if envelope.message_id else raw
    return hashlib.sha256(source).hexdigest()
