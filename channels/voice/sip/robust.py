"""Hostile-input handling for the UA core: 400/505 for malformed-but-answerable requests, rate limits, counters.

RFC 3261 §8.2.2 / §21.4.1: a request the UAS cannot process because of its syntax gets ``400`` with a reason
phrase naming the problem — but only when Via, From, To, Call-ID and CSeq survive, because a response without them
cannot be matched (or routed) by the client. Everything else is dropped and counted.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import asdict, dataclass

from .errors import ParseErrorReason, SipParseError
from .headers import CSeq, NameAddr, Via, canonical_name, is_token, is_uri, split_outside_quotes
from .message import SIP_VERSION, Headers, SipRequest, SipResponse, make_response

_PHRASES: dict[ParseErrorReason, str] = {
    ParseErrorReason.NOT_UTF8: "Invalid UTF-8",
    ParseErrorReason.BAD_REQUEST_URI: "Malformed Request-URI",
    ParseErrorReason.HEADER_LINE_TOO_LONG: "Header Too Long",
    ParseErrorReason.TOO_MANY_HEADERS: "Too Many Headers",
    ParseErrorReason.BAD_HEADER: "Malformed Header",
    ParseErrorReason.DUPLICATE_HEADER: "Duplicate Header",
    ParseErrorReason.BAD_VIA: "Malformed Via",
    ParseErrorReason.CSEQ_METHOD_MISMATCH: "CSeq Method Mismatch",
    ParseErrorReason.BAD_NAME_ADDR: "Malformed Address",
    ParseErrorReason.BAD_CONTENT_LENGTH: "Invalid Content-Length",
    ParseErrorReason.BODY_TRUNCATED: "Content-Length Exceeds Body",
    ParseErrorReason.BAD_MAX_FORWARDS: "Invalid Max-Forwards",
    ParseErrorReason.MISSING_HEADER: "Missing Header",
}
_UNANSWERABLE = frozenset(
    {ParseErrorReason.EMPTY, ParseErrorReason.TOO_LARGE, ParseErrorReason.NO_HEADER_END, ParseErrorReason.BAD_CSEQ}
)
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_RE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)")


def reason_phrase(error: SipParseError) -> str:
    """The 400 reason phrase for a parse error, e.g. ``"Bad Request: Invalid Max-Forwards"``."""
    what = _PHRASES.get(error.reason, "Malformed Message")
    if error.reason is ParseErrorReason.DUPLICATE_HEADER and is_token(error.detail):
        what = f"Duplicate {error.detail} Header"
    return f"Bad Request: {what}"


def salvage(data: bytes, error: SipParseError) -> SipResponse | None:
    """The response to a request that failed to parse, or ``None`` when it must be dropped.

    The header section is re-read leniently (bad lines skipped); a response is built only from a valid request
    line (any version: other than 2.0 gets ``505``) and parseable Via, From, To, Call-ID and CSeq. ACKs and
    responses are never answered.
    """
    if error.reason in _UNANSWERABLE:
        return None
    head = data.lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    if len(lines) > 200:
        return None
    try:
        start = lines[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = start.split(" ")
    if len(parts) != 3 or not is_token(parts[0]) or parts[0] == "ACK" or not parts[2].startswith("SIP/"):
        return None
    method, uri, version = parts
    fields: dict[str, str] = {}
    vias: list[str] = []
    for raw in lines[1:]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        m = _LINE_RE.fullmatch(line)
        if m is None or len(line) > 4096 or _CTL_RE.search(line):
            continue
        name = canonical_name(m.group(1))
        if name == "Via":
            vias.extend(v.strip() for v in split_outside_quotes(m.group(2), ",") if v.strip())
        elif name in ("From", "To", "Call-ID", "CSeq") and name not in fields:
            fields[name] = m.group(2).strip()
    if not vias or len(fields) != 4:
        return None
    try:
        top = Via.parse(vias[0])
        NameAddr.parse(fields["From"])
        NameAddr.parse(fields["To"])
        cseq = CSeq.parse(fields["CSeq"])
    except SipParseError:
        return None
    call_id = fields["Call-ID"]
    if not call_id or any(ch.isspace() for ch in call_id) or len(call_id) > 256 or cseq.method == "ACK":
        return None
    headers = Headers(
        (
            ("Via", str(top)),
            ("From", fields["From"]),
            ("To", fields["To"]),
            ("Call-ID", call_id),
            ("CSeq", fields["CSeq"]),
        )
    )
    request = SipRequest(method, uri if is_uri(uri) else "sip:invalid", headers)
    if version != SIP_VERSION:
        return make_response(request, 505)
    return make_response(request, 400, reason_phrase(error))


@dataclass
class EndpointStats:
    """Counters for /healthz and metrics.

    Attributes:
        received: datagrams/messages handed to the core.
        dropped: messages ignored (unparseable, over a limit, rate-limited, stray).
        bad_requests: malformed requests answered with 400/505.
        too_large: messages over the size limit (included in ``dropped``).
        rate_limited: messages over a source's rate (included in ``dropped``).
    """

    received: int = 0
    dropped: int = 0
    bad_requests: int = 0
    too_large: int = 0
    rate_limited: int = 0

    def as_dict(self) -> dict[str, int]:
        """A plain dict for JSON."""
        return asdict(self)


class RateLimiter:
    """A token bucket per source host: ``rate`` messages/s sustained, ``burst`` at once.

    The table is bounded: beyond ``max_sources`` the least recently seen source is forgotten (it then starts with a
    full bucket, which only ever errs on the side of accepting).
    """

    def __init__(self, rate: float, burst: float, max_sources: int = 4096) -> None:
        self.rate, self.burst, self.max_sources = rate, burst, max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, host: str, now: float) -> bool:
        """Take one token for ``host``; ``False`` when its bucket is empty."""
        tokens, last = self._buckets.pop(host, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[host] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return allowed
