"""Stream framing for SIP over TCP (RFC 3261 §18.3), sans-IO: bytes in, whole messages out.

On a stream, Content-Length is mandatory and delimits the body. Leading CRLFs (RFC 5626 keep-alives) are skipped.
A header section longer than the limit, a missing or malformed Content-Length, or a body over the limit is a
:class:`FramingError`: the connection cannot be resynchronised and must be closed (after a 400 if answerable).
"""

from __future__ import annotations

import re

from .message import DEFAULT_LIMITS, Limits

_CONTENT_LENGTH_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)\r?$", re.IGNORECASE | re.MULTILINE)


class FramingError(ValueError):
    """The stream is unusable; ``head`` is the header section read so far (for a best-effort 400)."""

    def __init__(self, reason: str, head: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.head = head


class StreamFramer:
    """Splits a TCP byte stream into SIP messages.

    Args:
        limits: ``max_message`` bounds header section plus body.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()
        self.keepalives = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete message.

        Raises:
            FramingError: the stream is malformed or over a limit.
        """
        self._buf += data
        out: list[bytes] = []
        while True:
            stripped = len(self._buf) - len(self._buf.lstrip(b"\r\n"))
            if stripped:
                self.keepalives += stripped // 4 if stripped >= 4 else 0
                del self._buf[:stripped]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self.limits.max_message:
                    raise FramingError("header section too large")
                return out
            head = bytes(self._buf[: end + 4])
            matches = _CONTENT_LENGTH_RE.findall(head[: end + 2])
            if len(matches) != 1:
                raise FramingError("missing Content-Length" if not matches else "duplicate Content-Length", head)
            raw = matches[0].strip()
            if not raw.isdigit() or len(raw) > 9:
                raise FramingError("bad Content-Length", head)
            length = int(raw)
            if end + 4 + length > self.limits.max_message:
                raise FramingError("message too large", head)
            if len(self._buf) < end + 4 + length:
                return out
            out.append(bytes(self._buf[: end + 4 + length]))
            del self._buf[: end + 4 + length]

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of a message."""
        return len(self._buf)
