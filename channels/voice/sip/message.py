"""SIP messages (RFC 3261 §7): frozen dataclasses with ``parse()`` and ``__bytes__``.

Parsing is strict and bounded (:class:`Limits`); any malformed input raises
:class:`~channels.voice.sip.errors.SipParseError` and nothing else. Header names are kept as written (compact forms
too) so that a parsed message serialises back byte for byte; lookups accept long or compact names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

from .errors import ParseErrorReason, SipParseError
from .headers import LIST_HEADERS, CSeq, NameAddr, Via, canonical_name, is_token, is_uri, split_outside_quotes

SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    600: "Busy Everywhere",
    603: "Decline",
}

_SINGLETONS = frozenset({"From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Content-Type"})
_REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Limits:
    """Bounds applied while parsing, so hostile input costs little.

    Attributes:
        max_message: largest accepted message (a UDP datagram is at most 64 KiB).
        max_headers: most header fields (after unfolding).
        max_line: longest start line or header line, in characters.
    """

    max_message: int = 65536
    max_headers: int = 100
    max_line: int = 4096


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Headers:
    """Ordered header fields ``(name as written, value)``; lookups are case-insensitive and compact-aware."""

    items: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        """Build from ``(name, value)`` pairs."""
        return cls(tuple(pairs))

    def get(self, name: str) -> str | None:
        """The value of the first field called ``name`` (unsplit), or ``None``."""
        want = canonical_name(name)
        for k, v in self.items:
            if canonical_name(k) == want:
                return v
        return None

    def get_all(self, name: str) -> tuple[str, ...]:
        """All values of ``name``: every field, comma lists split for list headers (Via, Contact, Allow, ...)."""
        want = canonical_name(name)
        out: list[str] = []
        for k, v in self.items:
            if canonical_name(k) != want:
                continue
            if want in LIST_HEADERS:
                out.extend(p.strip() for p in split_outside_quotes(v, ",") if p.strip())
            else:
                out.append(v)
        return tuple(out)

    def count(self, name: str) -> int:
        """How many fields are called ``name``."""
        want = canonical_name(name)
        return sum(1 for k, _ in self.items if canonical_name(k) == want)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.count(name) > 0

    def remove(self, name: str) -> Headers:
        """A copy without any field called ``name``."""
        want = canonical_name(name)
        return Headers(tuple((k, v) for k, v in self.items if canonical_name(k) != want))

    def set(self, name: str, value: str) -> Headers:
        """A copy with ``name`` set once: the first field keeps its place, later ones go; appended if absent."""
        want = canonical_name(name)
        out: list[tuple[str, str]] = []
        done = False
        for k, v in self.items:
            if canonical_name(k) == want:
                if not done:
                    out.append((k, value))
                    done = True
                continue
            out.append((k, v))
        if not done:
            out.append((name, value))
        return Headers(tuple(out))

    def add(self, name: str, value: str) -> Headers:
        """A copy with one more field at the end."""
        return Headers((*self.items, (name, value)))


class _MessageViews:
    """Typed views over the headers shared by requests and responses."""

    headers: Headers
    body: bytes

    @cached_property
    def vias(self) -> tuple[Via, ...]:
        """Every Via hop, topmost first."""
        return tuple(Via.parse(v) for v in self.headers.get_all("Via"))

    @property
    def top_via(self) -> Via:
        """The topmost Via (always present in a parsed message)."""
        return self.vias[0]

    @cached_property
    def from_(self) -> NameAddr:
        """The From header."""
        return NameAddr.parse(self.headers.get("From") or "")

    @cached_property
    def to(self) -> NameAddr:
        """The To header."""
        return NameAddr.parse(self.headers.get("To") or "")

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        return self.headers.get("Call-ID") or ""

    @cached_property
    def cseq(self) -> CSeq:
        """The CSeq header."""
        return CSeq.parse(self.headers.get("CSeq") or "")

    @cached_property
    def contacts(self) -> tuple[NameAddr, ...]:
        """Contact values (possibly empty)."""
        return tuple(NameAddr.parse(v) for v in self.headers.get_all("Contact"))

    @property
    def content_type(self) -> str | None:
        """The media type of the body, lower-cased, without parameters."""
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    def _serialise(self, start_line: str) -> bytes:
        lines = [start_line]
        have_length = False
        for name, value in self.headers.items:
            if canonical_name(name) == "Content-Length":
                if have_length:
                    continue
                value = str(len(self.body))
                have_length = True
            lines.append(f"{name}: {value}")
        if not have_length:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class SipRequest(_MessageViews):
    """A SIP request. ``__bytes__`` always writes a correct Content-Length."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    @classmethod
    def parse(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> SipRequest:
        """Parse a request; a response raises ``SipParseError(BAD_START_LINE)``."""
        msg = parse_message(data, limits)
        if not isinstance(msg, SipRequest):
            raise SipParseError(ParseErrorReason.BAD_START_LINE, "expected a request")
        return msg

    def __bytes__(self) -> bytes:
        return self._serialise(f"{self.method} {self.uri} {self.version}")

    def with_headers(self, headers: Headers) -> SipRequest:
        """A copy with other headers."""
        return replace(self, headers=headers)


@dataclass(frozen=True)
class SipResponse(_MessageViews):
    """A SIP response. ``__bytes__`` always writes a correct Content-Length."""

    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    @classmethod
    def parse(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> SipResponse:
        """Parse a response; a request raises ``SipParseError(BAD_START_LINE)``."""
        msg = parse_message(data, limits)
        if not isinstance(msg, SipResponse):
            raise SipParseError(ParseErrorReason.BAD_START_LINE, "expected a response")
        return msg

    def __bytes__(self) -> bytes:
        return self._serialise(f"{self.version} {self.status} {self.reason}")

    @property
    def is_provisional(self) -> bool:
        """1xx."""
        return self.status < 200

    def with_headers(self, headers: Headers) -> SipResponse:
        """A copy with other headers."""
        return replace(self, headers=headers)


SipMessage = SipRequest | SipResponse


def parse_message(data: bytes, limits: Limits = DEFAULT_LIMITS) -> SipMessage:
    """Parse one SIP message from a datagram.

    Args:
        data: the raw bytes (leading CRLFs, e.g. keep-alives, are ignored).
        limits: size bounds.

    Returns:
        A :class:`SipRequest` or :class:`SipResponse` whose mandatory headers have been validated.

    Raises:
        SipParseError: malformed input or a limit exceeded (the only exception this function raises).
    """
    if len(data) > limits.max_message:
        raise SipParseError(ParseErrorReason.TOO_LARGE, f"{len(data)} bytes > {limits.max_message}")
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError(ParseErrorReason.EMPTY)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError(ParseErrorReason.NO_HEADER_END, "no empty line after the headers")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(ParseErrorReason.NOT_UTF8, f"at byte {exc.start}") from None
    rest = data[end + 4 :]
    lines = head.split("\r\n")
    for line in lines:
        if len(line) > limits.max_line:
            raise SipParseError(ParseErrorReason.HEADER_LINE_TOO_LONG, f"{len(line)} > {limits.max_line}")
    start, fields = lines[0], _unfold(lines[1:], limits)
    headers = Headers(tuple(fields))
    body = _body(headers, rest)
    msg: SipMessage
    if start.startswith("SIP/"):
        status, reason, version = _parse_status_line(start)
        msg = SipResponse(status, reason, headers, body, version)
    else:
        method, uri, version = _parse_request_line(start)
        msg = SipRequest(method, uri, headers, body, version)
    _validate(msg)
    return msg


def _unfold(lines: list[str], limits: Limits) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if _CTL_RE.search(line):
            raise SipParseError(ParseErrorReason.BAD_HEADER, "control character in header")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise SipParseError(ParseErrorReason.BAD_HEADER, "continuation line before any header")
            name, value = fields[-1]
            value = f"{value} {line.strip()}".strip()
            if len(value) > limits.max_line:
                raise SipParseError(ParseErrorReason.HEADER_LINE_TOO_LONG, "folded header too long")
            fields[-1] = (name, value)
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not is_token(name):
            raise SipParseError(ParseErrorReason.BAD_HEADER, f"bad header line {line[:40]!r}")
        fields.append((name, value.strip(" \t")))
        if len(fields) > limits.max_headers:
            raise SipParseError(ParseErrorReason.TOO_MANY_HEADERS, f"more than {limits.max_headers}")
    return fields


def _body(headers: Headers, rest: bytes) -> bytes:
    if headers.count("Content-Length") > 1:
        raise SipParseError(ParseErrorReason.DUPLICATE_HEADER, "Content-Length")
    raw = headers.get("Content-Length")
    if raw is None:
        return rest  # UDP: the body runs to the end of the datagram (RFC 3261 §18.3)
    if not raw.isdigit() or not raw.isascii() or len(raw) > 6:
        raise SipParseError(ParseErrorReason.BAD_CONTENT_LENGTH, f"{raw[:20]!r}")
    length = int(raw)
    if length > len(rest):
        raise SipParseError(ParseErrorReason.BODY_TRUNCATED, f"Content-Length {length} > {len(rest)} bytes")
    return rest[:length]


def _parse_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError(ParseErrorReason.BAD_START_LINE, f"{line[:60]!r}")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError(ParseErrorReason.BAD_METHOD, f"{method[:40]!r}")
    if not is_uri(uri):
        raise SipParseError(ParseErrorReason.BAD_REQUEST_URI, f"{uri[:60]!r}")
    if version != SIP_VERSION:
        raise SipParseError(ParseErrorReason.BAD_VERSION, f"{version[:20]!r}")
    return method, uri, version


def _parse_status_line(line: str) -> tuple[int, str, str]:
    version, _, rest = line.partition(" ")
    if version != SIP_VERSION:
        raise SipParseError(ParseErrorReason.BAD_VERSION, f"{version[:20]!r}")
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isdigit() or not code.isascii() or not 100 <= int(code) <= 699:
        raise SipParseError(ParseErrorReason.BAD_STATUS, f"{code[:10]!r}")
    return int(code), reason, version


def _validate(msg: SipMessage) -> None:
    headers = msg.headers
    for name in _REQUIRED:
        if name not in headers:
            raise SipParseError(ParseErrorReason.MISSING_HEADER, name)
    for name in _SINGLETONS:
        if headers.count(name) > 1:
            raise SipParseError(ParseErrorReason.DUPLICATE_HEADER, name)
    if not msg.vias:
        raise SipParseError(ParseErrorReason.MISSING_HEADER, "Via")
    _ = msg.from_, msg.to, msg.contacts
    call_id = msg.call_id
    if not call_id or any(ch.isspace() for ch in call_id):
        raise SipParseError(ParseErrorReason.BAD_HEADER, "bad Call-ID")
    cseq = msg.cseq
    if isinstance(msg, SipRequest) and cseq.method != msg.method:
        raise SipParseError(ParseErrorReason.CSEQ_METHOD_MISMATCH, f"{cseq.method} != {msg.method}")
    max_forwards = headers.get("Max-Forwards")
    if max_forwards is not None and not (max_forwards.isdigit() and max_forwards.isascii() and len(max_forwards) <= 3):
        raise SipParseError(ParseErrorReason.BAD_MAX_FORWARDS, f"{max_forwards[:20]!r}")


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """Build a response to ``request`` (RFC 3261 §8.2.6.2).

    Via, From, To, Call-ID and CSeq are copied; the To tag is added when given and absent; Record-Route is copied
    for dialog-creating responses (§12.1.1).
    """
    copied: list[tuple[str, str]] = []
    for name, value in request.headers.items:
        canon = canonical_name(name)
        if canon in ("Via", "From", "Call-ID", "CSeq"):
            copied.append((name, value))
        elif canon == "To":
            to = request.to
            if to_tag is not None and to.tag is None and status != 100:
                value = str(to.with_tag(to_tag))
            copied.append((name, value))
        elif canon == "Record-Route" and 100 < status < 300:
            copied.append((name, value))
    copied.extend(extra)
    if body:
        copied.append(("Content-Length", str(len(body))))
    else:
        copied.append(("Content-Length", "0"))
    return SipResponse(status, reason or REASON_PHRASES.get(status, "Unknown"), Headers(tuple(copied)), body)
