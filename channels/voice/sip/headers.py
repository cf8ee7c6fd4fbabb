"""Typed SIP header values (RFC 3261 §20, §25.1): Via, name-addr (From/To/Contact), CSeq, parameters.

Each value is a frozen dataclass with ``parse(text)`` and ``__str__``; malformed text raises
:class:`~channels.voice.sip.errors.SipParseError` with a precise reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .errors import ParseErrorReason, SipParseError

#: Compact forms (RFC 3261 §7.3.3, plus RFC 3515/3841/4028 letters seen on the wire).
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
}

_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Expires",
        "From",
        "In-Reply-To",
        "Max-Forwards",
        "MIME-Version",
        "Min-Expires",
        "Organization",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Subject",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
        "Event",
        "Refer-To",
        "Referred-By",
        "Allow-Events",
        "Session-Expires",
    )
}

#: Headers whose value is a comma-separated list (RFC 3261 §7.3.1); others (e.g. WWW-Authenticate) are not split.
LIST_HEADERS = frozenset(
    {
        "Via",
        "Contact",
        "Route",
        "Record-Route",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Content-Encoding",
        "Content-Language",
        "Allow-Events",
        "In-Reply-To",
    }
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
BRANCH_MAGIC_COOKIE = "z9hG4bK"


def canonical_name(name: str) -> str:
    """The long, conventionally capitalised form of a header name (compact forms expanded)."""
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


def is_digits(text: str) -> bool:
    """Whether ``text`` is a non-empty run of ASCII digits."""
    return text.isascii() and text.isdigit()


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 3261 token."""
    return _TOKEN_RE.fullmatch(text) is not None


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes and angle brackets (``<...>``)."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    in_angle = False
    escaped = False
    for ch in text:
        if in_quotes:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
            continue
        if ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == sep and not in_angle:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


Params = tuple[tuple[str, str | None], ...]


def parse_params(text: str, reason: ParseErrorReason) -> Params:
    """Parse ``;name[=value]`` pairs (the leading ``;`` already removed from each part)."""
    params: list[tuple[str, str | None]] = []
    for raw in split_outside_quotes(text, ";"):
        item = raw.strip()
        if not item:
            raise SipParseError(reason, "empty parameter")
        name, eq, value = item.partition("=")
        name = name.strip()
        if not is_token(name):
            raise SipParseError(reason, f"bad parameter name {name[:40]!r}")
        if not eq:
            params.append((name, None))
            continue
        value = value.strip()
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise SipParseError(reason, "unterminated quoted parameter")
        elif not value or not _param_value_ok(value):
            raise SipParseError(reason, f"bad value for parameter {name!r}")
        params.append((name, value))
    return tuple(params)


def _param_value_ok(value: str) -> bool:
    return all(ch not in ' \t";,<>' for ch in value)


def format_params(params: Params) -> str:
    """Serialise parameters as ``;a=b;c``."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def get_param(params: Params, name: str) -> str | None:
    """Value of the first parameter called ``name`` (case-insensitive); ``""`` if it has no value."""
    lname = name.lower()
    for k, v in params:
        if k.lower() == lname:
            return "" if v is None else v
    return None


def set_param(params: Params, name: str, value: str | None) -> Params:
    """Return ``params`` with ``name`` set (replacing the first occurrence, else appended)."""
    lname = name.lower()
    out = list(params)
    for i, (k, _) in enumerate(out):
        if k.lower() == lname:
            out[i] = (k, value)
            return tuple(out)
    out.append((name, value))
    return tuple(out)


@dataclass(frozen=True)
class Via:
    """One Via hop: ``SIP/2.0/UDP host:port;branch=...;received=...;rport[=n]``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one Via value (one element of a comma list)."""
        r = ParseErrorReason.BAD_VIA
        head, sep, rest = text.strip().partition(";")
        m = re.fullmatch(r"SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\S+)", head.strip(), re.IGNORECASE)
        if m is None:
            raise SipParseError(r, "bad sent-protocol or sent-by")
        host, port = parse_host_port(m.group(2), r)
        params = parse_params(rest, r) if sep else ()
        return cls(m.group(1).upper(), host, port, params)

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        """The branch parameter, if any."""
        return get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The received parameter, if any."""
        return get_param(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The filled-in rport (RFC 3581), or ``None`` when absent or empty."""
        value = get_param(self.params, "rport")
        return int(value) if value and is_digits(value) and len(value) <= 5 else None

    @property
    def wants_rport(self) -> bool:
        """Whether the client asked for symmetric response routing (RFC 3581)."""
        return get_param(self.params, "rport") is not None

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with one parameter set."""
        return replace(self, params=set_param(self.params, name, value))


def parse_host_port(text: str, reason: ParseErrorReason) -> tuple[str, int | None]:
    """Parse ``host[:port]`` (IPv6 references in brackets)."""
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::([0-9]{1,5}))?", text.strip())
    if m is None:
        raise SipParseError(reason, f"bad host {text[:60]!r}")
    port = int(m.group(2)) if m.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise SipParseError(reason, "port out of range")
    return m.group(1), port


@dataclass(frozen=True)
class NameAddr:
    """A From/To/Contact/Route value: ``"Display" <uri>;tag=...`` (or a bare addr-spec, or ``*``)."""

    uri: str
    display_name: str | None = None
    params: Params = ()
    angle: bool = True

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse one name-addr / addr-spec with header parameters."""
        r = ParseErrorReason.BAD_NAME_ADDR
        text = text.strip()
        if text == "*":
            return cls("*", angle=False)
        lt = _find_unquoted(text, "<")
        if lt >= 0:
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError(r, "missing '>'")
            display = text[:lt].strip() or None
            if display is not None:
                if display.startswith('"'):
                    if len(display) < 2 or not display.endswith('"'):
                        raise SipParseError(r, "bad quoted display name")
                elif not all(is_token(w) for w in display.split()):
                    raise SipParseError(r, "bad display name")
            uri = text[lt + 1 : gt].strip()
            rest = text[gt + 1 :].strip()
            angle = True
        else:
            display = None
            uri, sep, rest = text.partition(";")
            rest = ";" + rest if sep else ""
            angle = False
        _check_uri(uri, r)
        if rest and not rest.startswith(";"):
            raise SipParseError(r, "junk after URI")
        params = parse_params(rest[1:], r) if rest else ()
        return cls(uri, display, params, angle)

    def __str__(self) -> str:
        if self.uri == "*":
            return "*"
        if not self.angle and self.display_name is None:
            return f"{self.uri}{format_params(self.params)}"
        display = f"{self.display_name} " if self.display_name else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        """The tag parameter (From/To), if any."""
        return get_param(self.params, "tag")

    def with_tag(self, tag: str) -> NameAddr:
        """A copy with the tag parameter set."""
        return replace(self, params=set_param(self.params, "tag", tag))


def _find_unquoted(text: str, ch: str) -> int:
    in_quotes = False
    escaped = False
    for i, c in enumerate(text):
        if in_quotes:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_quotes = False
        elif c == '"':
            in_quotes = True
        elif c == ch:
            return i
    return -1


_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\"]+")


def _check_uri(uri: str, reason: ParseErrorReason) -> None:
    if _URI_RE.fullmatch(uri) is None:
        raise SipParseError(reason, f"bad URI {uri[:60]!r}")


def is_uri(text: str) -> bool:
    """Whether ``text`` looks like an absolute URI (``scheme:rest``, no whitespace)."""
    return _URI_RE.fullmatch(text) is not None


@dataclass(frozen=True)
class CSeq:
    """``CSeq: 314159 INVITE``."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse a CSeq value (number below 2**31, RFC 3261 §8.1.1.5)."""
        parts = text.split()
        if len(parts) != 2 or not is_digits(parts[0]) or len(parts[0]) > 10 or not is_token(parts[1]):
            raise SipParseError(ParseErrorReason.BAD_CSEQ, f"{text[:60]!r}")
        number = int(parts[0])
        if number >= 2**31:
            raise SipParseError(ParseErrorReason.BAD_CSEQ, "number too large")
        return cls(number, parts[1])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@dataclass(frozen=True)
class SipUri:
    """The parts of a ``sip:``/``sips:`` URI the UA needs (user, host, port, parameters)."""

    scheme: str
    host: str
    user: str | None = None
    port: int | None = None
    params: Params = field(default=())

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP URI; raises ``SipParseError(BAD_REQUEST_URI)``."""
        r = ParseErrorReason.BAD_REQUEST_URI
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise SipParseError(r, "not a sip: URI")
        rest = rest.split("?", 1)[0]
        hostpart, _, params = rest.partition(";")
        user = None
        if "@" in hostpart:
            user, _, hostpart = hostpart.rpartition("@")
        host, port = parse_host_port(hostpart, r)
        return cls(scheme.lower(), host, user, port, parse_params(params, r) if params else ())
