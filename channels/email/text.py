"""Text out of mail bodies: charsets (GB2312/GBK read as GB18030), HTML to plain text, quoted history trimmed."""

from __future__ import annotations

import codecs
import contextlib
import re
from email.header import decode_header
from html.parser import HTMLParser

# Labels whose real-world content is often GBK/GB18030 (a superset): decoding as GB18030 loses nothing.
_GB_ALIASES = {"gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "ms936", "euc-cn", "x-euc-cn", "csgb2312"}


def codec_for(charset: str | None) -> str:
    """The Python codec to decode a MIME ``charset`` label with (UTF-8 when missing or unknown)."""
    label = (charset or "").strip().strip('"').lower()
    if not label or label in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        return "utf-8"
    if label in _GB_ALIASES:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode a body; undecodable bytes become U+FFFD (UTF-8 that fails is retried as GB18030)."""
    codec = codec_for(charset)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if codec == "utf-8":
            try:
                return data.decode("gb18030")
            except UnicodeDecodeError:
                pass
        return data.decode(codec, errors="replace")


def decode_header_value(raw: str) -> str:
    """An RFC 2047 header (``=?gb2312?B?...?=``) as text, GB labels decoded as GB18030."""
    try:
        parts = decode_header(raw)
    except Exception:  # malformed encoded words: keep the raw text
        return " ".join(raw.split())
    out = []
    for value, charset in parts:
        out.append(decode_bytes(value, charset) if isinstance(value, bytes) else value)
    return " ".join("".join(out).split())


_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr"}
_SKIP = {"script", "style", "head", "title", "noscript", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skip:
            self.skip -= 1
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.quote:  # quoted history (blockquote) is left out like "> " lines
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body (no scripts, styles or quoted blocks), whitespace tidied."""
    parser = _TextExtractor()
    with contextlib.suppress(Exception):  # HTMLParser is lenient; if it still chokes, keep what was read
        parser.feed(html)
        parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


_QUOTE_INTRO = [
    re.compile(r"^在.{0,200}写道[:：]?\s*$"),
    re.compile(r"^On .{0,300}wrote:\s*$"),
    re.compile(r"^-{2,}\s*(原始邮件|Original Message|转发邮件|Forwarded message)\s*-{2,}", re.IGNORECASE),
    re.compile(r"^_{5,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^(发件人|From)\s*[:：].{0,300}$"),
    re.compile(r"^(发自我的|Sent from my )\S.{0,40}$"),  # a phone mail app's signature under a reply "1"
]


def trim_quoted(text: str) -> str:
    """The new part of a reply: quoted lines and everything after a quote header or signature are cut.

    If nothing would be left (the whole mail is a quote), the text is returned untrimmed.
    """
    kept: list[str] = []
    seen_text = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        if line.rstrip("\r") == "-- ":  # RFC 3676 signature separator
            break
        if seen_text and any(p.match(stripped) for p in _QUOTE_INTRO):
            break
        if stripped:
            seen_text = True
        kept.append(line.rstrip())
    trimmed = _squeeze(kept)
    return trimmed or _squeeze([line.rstrip() for line in text.splitlines()])


def _squeeze(lines: list[str]) -> str:
    """Join lines, collapsing runs of blank lines and stripping the ends."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1] != ""):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip()
