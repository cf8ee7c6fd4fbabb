"""Raw test mails, written byte by byte like the mail clients that send them (encodings under test control)."""

from __future__ import annotations

import base64
import itertools

_serial = itertools.count(1)

# A PNG signature plus bytes that are not valid UTF-8: the attachment must come back byte-identical.
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
GB_BODY = "朝阳路12号的路灯坏了三天了，晚上很黑。镕𠮷"  # 镕: GBK only; 𠮷: GB18030 four-byte
GB_SUBJECT = "路灯坏了（镕）"
GB_NAME = "王芳"
PHOTO_NAME = "现场照片.png"


def new_id(tag: str = "m") -> str:
    """A fresh Message-ID (without brackets)."""
    return f"{tag}-{next(_serial)}@citizen.test"


def _b64_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode('gb18030')).decode()}?="


def _b64_body(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _headers(sender: str, to: str, subject: str, message_id: str, extra: list[str]) -> list[str]:
    return [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{message_id}>",
        "Date: Wed, 26 Nov 2026 09:30:00 +0800",
        "MIME-Version: 1.0",
        *extra,
    ]


def plain(
    sender: str,
    to: str,
    text: str,
    *,
    subject: str = "咨询",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> bytes:
    """A UTF-8 text/plain mail (quoted-printable free: base64 body)."""
    mid = message_id or new_id()
    hdrs = list(extra)
    if in_reply_to:
        hdrs.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        hdrs.append("References: " + " ".join(f"<{r}>" for r in references))
    hdrs += ['Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: base64"]
    subject_word = f"=?UTF-8?B?{base64.b64encode(subject.encode()).decode()}?="
    lines = _headers(sender, to, subject_word, mid, hdrs)
    return ("\r\n".join(lines) + "\r\n\r\n" + _b64_body(text.encode()) + "\r\n").encode("ascii")


def gb18030_with_attachment(sender_address: str, to: str, message_id: str) -> bytes:
    """A Chinese mail as older Chinese clients send it: GB2312/GB18030 labels, a quoted reply, a photo."""
    body = f"{GB_BODY}\r\n\r\n在 2026年11月25日 10:00，12319热线 写道：\r\n> 您好，请问有什么可以帮您？\r\n".encode(
        "gb18030"
    )
    sender = f"{_b64_word(GB_NAME, 'GB2312')} <{sender_address}>"
    lines = _headers(
        sender, to, _b64_word(GB_SUBJECT, "GB2312"), message_id, ['Content-Type: multipart/mixed; boundary="=_b1"']
    )
    parts = [
        "--=_b1",
        'Content-Type: text/plain; charset="GB18030"',
        "Content-Transfer-Encoding: base64",
        "",
        _b64_body(body),
        "--=_b1",
        f'Content-Type: image/png; name="{_b64_word(PHOTO_NAME, "GB18030")}"',
        f'Content-Disposition: attachment; filename="{_b64_word(PHOTO_NAME, "GB18030")}"',
        "Content-Transfer-Encoding: base64",
        "",
        _b64_body(PHOTO),
        "--=_b1--",
        "",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(parts)).encode("ascii")


def html_only(sender: str, to: str, message_id: str) -> bytes:
    """An HTML-only mail with a script, a style and a quoted block that must not reach the bot."""
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>小区&nbsp;停水了，</p><div>什么时候恢复？<script>alert('x')</script></div>"
        "<blockquote>上一封邮件的内容</blockquote></body></html>"
    )
    lines = _headers(
        sender,
        to,
        "=?UTF-8?B?" + base64.b64encode("停水".encode()).decode() + "?=",
        message_id,
        ['Content-Type: text/html; charset="utf-8"', "Content-Transfer-Encoding: base64"],
    )
    return ("\r\n".join(lines) + "\r\n\r\n" + _b64_body(html.encode()) + "\r\n").encode("ascii")


def bounce(daemon: str, to: str, original_id: str, message_id: str) -> bytes:
    """An RFC 3464 delivery report about our mail ``original_id``."""
    lines = [
        f"From: Mail Delivery System <{daemon}>",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Message-ID: <{message_id}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="=_r"',
        "",
        "--=_r",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system. Your message could not be delivered.",
        "--=_r",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.citizen.test",
        "",
        "Final-Recipient: rfc822; gone@citizen.test",
        "Action: failed",
        "Status: 5.1.1",
        "--=_r",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {to}",
        "To: gone@citizen.test",
        f"Message-ID: <{original_id}>",
        "Subject: Re: hello",
        "--=_r--",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def mime_bomb(sender: str, to: str, message_id: str, *, depth: int = 0, parts: int = 0) -> bytes:
    """Deeply nested multiparts (``depth``) or a flat multipart with very many parts (``parts``)."""
    lines = _headers(sender, to, "bomb", message_id, ['Content-Type: multipart/mixed; boundary="b0"'])
    body: list[str] = []
    for level in range(depth):
        body += [f"--b{level}", f'Content-Type: multipart/mixed; boundary="b{level + 1}"', ""]
    body += [f"--b{depth}", "Content-Type: text/plain", "", "x"]
    for _ in range(parts):
        body += [f"--b{depth}", "Content-Type: text/plain", "", "x"]
    for level in range(depth, -1, -1):
        body.append(f"--b{level}--")
    return ("\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode("ascii")
