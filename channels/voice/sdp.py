"""SDP (RFC 4566) parse/serialise and the audio offer/answer model of RFC 3264 for G.711 + telephone-event.

Descriptions are frozen dataclasses with ``parse()`` and ``__bytes__``; malformed input raises
:class:`SdpParseError` only. :func:`create_answer` chooses the codec (the offerer's first one we support, PCMU or
PCMA), accepts RFC 4733 telephone-event (events 0-16) on the offerer's dynamic payload type, and mirrors the
direction, so hold (``a=sendonly``/``a=inactive`` or the legacy ``c=IN IP4 0.0.0.0``) is answered correctly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

MAX_SDP = 16384
_SESSION_ORDER = "iuepcbtrzka"
_MEDIA_ORDER = "icbka"


class SdpErrorReason(StrEnum):
    """Why an SDP body was rejected."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    BAD_LINE = "bad_line"
    BAD_VERSION = "bad_version"
    BAD_ORIGIN = "bad_origin"
    BAD_CONNECTION = "bad_connection"
    BAD_TIMING = "bad_timing"
    BAD_MEDIA = "bad_media"
    MISSING_LINE = "missing_line"


class SdpParseError(ValueError):
    """Malformed SDP; ``reason`` is machine-readable, ``detail`` short."""

    def __init__(self, reason: SdpErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class Direction(StrEnum):
    """Media direction attribute (RFC 3264 §5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """Whether this side sends media."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """Whether this side receives media."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        """The direction for a (sends, receives) pair."""
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE


@dataclass(frozen=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> IN IP4 <address>``."""

    username: str
    session_id: str
    session_version: int
    address: str
    net_type: str = "IN"
    addr_type: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Origin:
        """Parse the value of an o= line."""
        parts = value.split(" ")
        if len(parts) != 6 or not parts[1].isascii() or not parts[1].isdigit() or not _is_int(parts[2]):
            raise SdpParseError(SdpErrorReason.BAD_ORIGIN, value[:60])
        return cls(parts[0], parts[1], int(parts[2]), parts[5], parts[3], parts[4])

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} {self.net_type} {self.addr_type} {self.address}"
        )


@dataclass(frozen=True)
class Connection:
    """``c=IN IP4 <address>``."""

    address: str
    net_type: str = "IN"
    addr_type: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Connection:
        """Parse the value of a c= line."""
        parts = value.split(" ")
        if len(parts) != 3 or not all(parts):
            raise SdpParseError(SdpErrorReason.BAD_CONNECTION, value[:60])
        return cls(parts[2], parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"

    @property
    def is_null(self) -> bool:
        """The legacy hold address 0.0.0.0 (RFC 3264 §8.4)."""
        return self.address.split("/", 1)[0] in ("0.0.0.0", "::")  # noqa: S104 (an address on the wire, not a bind)


Line = tuple[str, str]


@dataclass(frozen=True)
class MediaDescription:
    """One ``m=`` section with its connection, attributes (``name`` or ``name:value``) and other lines."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    attributes: tuple[str, ...] = ()
    other: tuple[Line, ...] = ()
    port_count: int | None = None

    def __str__(self) -> str:
        count = "" if self.port_count is None else f"/{self.port_count}"
        lines = [f"m={self.media} {self.port}{count} {self.proto} {' '.join(self.formats)}"]
        lines += _ordered(self.other, self.connection, self.attributes, _MEDIA_ORDER)
        return "\r\n".join(lines)

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name:value`` ("" for a flag), or ``None``."""
        for attr in self.attributes:
            key, _, value = attr.partition(":")
            if key == name:
                return value
        return None

    def rtpmap(self) -> dict[int, tuple[str, int]]:
        """Payload type → (encoding name, clock rate) from ``a=rtpmap`` plus the static PCMU/PCMA defaults."""
        out: dict[int, tuple[str, int]] = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
        for attr in self.attributes:
            m = re.fullmatch(r"rtpmap:([0-9]{1,3}) ([^/\s]+)/([0-9]{1,6})(?:/[0-9]+)?", attr)
            if m:
                out[int(m.group(1))] = (m.group(2), int(m.group(3)))
        return out

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, if any."""
        for attr in self.attributes:
            if attr in Direction.__members__.values():
                return Direction(attr)
        return None


@dataclass(frozen=True)
class SessionDescription:
    """A whole SDP body."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    timing: tuple[Line, ...] = (("t", "0 0"),)
    attributes: tuple[str, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    other: tuple[Line, ...] = ()
    version: int = 0

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        """Parse an SDP body (CRLF or LF line ends)."""
        return _parse(data)

    def __bytes__(self) -> bytes:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        lines += _ordered(self.other + self.timing, self.connection, self.attributes, _SESSION_ORDER)
        lines += [str(m) for m in self.media]
        return ("\r\n".join(lines) + "\r\n").encode()

    def direction_of(self, media: MediaDescription) -> Direction:
        """Effective direction of a stream: media attribute, else session attribute, else sendrecv."""
        if media.direction is not None:
            return media.direction
        for attr in self.attributes:
            if attr in Direction.__members__.values():
                return Direction(attr)
        return Direction.SENDRECV

    def connection_of(self, media: MediaDescription) -> Connection | None:
        """The media-level connection, else the session-level one."""
        return media.connection or self.connection


def _ordered(other: tuple[Line, ...], conn: Connection | None, attrs: tuple[str, ...], order: str) -> list[str]:
    lines = list(other)
    if conn is not None:
        lines.append(("c", str(conn)))
    lines += [("a", a) for a in attrs]
    return [
        f"{k}={v}" for k, v in sorted(lines, key=lambda kv: order.index(kv[0]) if kv[0] != "r" else order.index("t"))
    ]


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 20


def _parse(data: bytes) -> SessionDescription:
    if len(data) > MAX_SDP:
        raise SdpParseError(SdpErrorReason.TOO_LARGE, f"{len(data)} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpParseError(SdpErrorReason.NOT_UTF8) from None
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln]
    if not lines:
        raise SdpParseError(SdpErrorReason.EMPTY)
    parsed: list[Line] = []
    for ln in lines:
        if len(ln) < 2 or ln[1] != "=" or ln[0] not in "vosiuepcbtrzkam" or "\r" in ln or "\x00" in ln:
            raise SdpParseError(SdpErrorReason.BAD_LINE, ln[:40])
        parsed.append((ln[0], ln[2:]))
    if parsed[0] != ("v", "0"):
        raise SdpParseError(SdpErrorReason.BAD_VERSION, "first line must be v=0")
    if len(parsed) < 3 or parsed[1][0] != "o" or parsed[2][0] != "s":
        raise SdpParseError(SdpErrorReason.MISSING_LINE, "o= and s= must follow v=")
    origin = Origin.parse(parsed[1][1])
    session_name = parsed[2][1]
    first_m = next((i for i, (k, _) in enumerate(parsed) if k == "m"), len(parsed))
    conn, attrs, other, timing = _section(parsed[3:first_m], _SESSION_ORDER)
    if not any(k == "t" for k, _ in timing):
        raise SdpParseError(SdpErrorReason.MISSING_LINE, "t=")
    media: list[MediaDescription] = []
    i = first_m
    while i < len(parsed):
        j = next((n for n in range(i + 1, len(parsed)) if parsed[n][0] == "m"), len(parsed))
        m_conn, m_attrs, m_other, _ = _section(parsed[i + 1 : j], _MEDIA_ORDER)
        media.append(_media_line(parsed[i][1], m_conn, m_attrs, m_other))
        i = j
    return SessionDescription(origin, session_name, conn, timing, attrs, tuple(media), other)


def _section(
    lines: list[Line], allowed: str
) -> tuple[Connection | None, tuple[str, ...], tuple[Line, ...], tuple[Line, ...]]:
    conn: Connection | None = None
    attrs: list[str] = []
    other: list[Line] = []
    timing: list[Line] = []
    last = -1
    for key, value in lines:
        if key not in allowed:
            raise SdpParseError(SdpErrorReason.BAD_LINE, f"unexpected {key}= line")
        rank = allowed.index("t" if key == "r" else key)
        if rank < last:
            raise SdpParseError(SdpErrorReason.BAD_LINE, f"{key}= out of order")
        last = rank
        if key == "c":
            if conn is not None:
                raise SdpParseError(SdpErrorReason.BAD_CONNECTION, "more than one c= line")
            conn = Connection.parse(value)
        elif key == "a":
            if not value:
                raise SdpParseError(SdpErrorReason.BAD_LINE, "empty a= line")
            attrs.append(value)
        elif key in "tr":
            if key == "t" and not re.fullmatch(r"[0-9]{1,20} [0-9]{1,20}", value):
                raise SdpParseError(SdpErrorReason.BAD_TIMING, value[:40])
            if key == "r" and not timing:
                raise SdpParseError(SdpErrorReason.BAD_TIMING, "r= before t=")
            timing.append((key, value))
        else:
            other.append((key, value))
    return conn, tuple(attrs), tuple(other), tuple(timing)


def _media_line(
    value: str, conn: Connection | None, attrs: tuple[str, ...], other: tuple[Line, ...]
) -> MediaDescription:
    m = re.fullmatch(r"([a-z]+) ([0-9]{1,5})(?:/([0-9]{1,5}))? (\S+)((?: \S+)+)", value)
    if m is None or int(m.group(2)) > 65535:
        raise SdpParseError(SdpErrorReason.BAD_MEDIA, value[:60])
    count = int(m.group(3)) if m.group(3) else None
    return MediaDescription(
        m.group(1), int(m.group(2)), m.group(4), tuple(m.group(5).split()), conn, attrs, other, count
    )


# ---------------------------------------------------------------------------------------------------------------
# Offer/answer (RFC 3264) for one audio stream
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """An audio payload format."""

    payload_type: int
    name: str
    clock_rate: int = 8000


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
TELEPHONE_EVENTS = frozenset(range(17))  # DTMF 0-9 * # A-D and flash (RFC 4733 §3.2)


@dataclass(frozen=True)
class Negotiated:
    """What an offer/answer exchange agreed for the audio stream, from our side."""

    codec: Codec
    dtmf_payload_type: int | None
    remote_address: str
    remote_port: int
    direction: Direction
    ptime: int = 20

    @property
    def on_hold(self) -> bool:
        """The peer does not want our media (it put us on hold)."""
        return not self.direction.sends


def create_offer(
    address: str,
    port: int,
    *,
    session_id: int,
    session_version: int = 0,
    codecs: tuple[Codec, ...] = (PCMU, PCMA),
    dtmf_payload_type: int | None = 101,
    direction: Direction = Direction.SENDRECV,
    ptime: int = 20,
) -> SessionDescription:
    """Build an audio offer (use a higher ``session_version`` and ``direction=SENDONLY`` to put the peer on hold)."""
    formats = [str(c.payload_type) for c in codecs]
    attrs = [f"rtpmap:{c.payload_type} {c.name}/{c.clock_rate}" for c in codecs]
    if dtmf_payload_type is not None:
        formats.append(str(dtmf_payload_type))
        attrs += [f"rtpmap:{dtmf_payload_type} telephone-event/8000", f"fmtp:{dtmf_payload_type} 0-16"]
    attrs += [f"ptime:{ptime}", direction.value]
    media = MediaDescription("audio", port, "RTP/AVP", tuple(formats), attributes=tuple(attrs))
    return SessionDescription(
        Origin("rexian", str(session_id), session_version, address),
        "rexian",
        Connection(address),
        media=(media,),
    )


def create_answer(
    offer: SessionDescription,
    address: str,
    port: int,
    *,
    session_id: int,
    session_version: int = 0,
    codecs: tuple[Codec, ...] = (PCMU, PCMA),
    direction: Direction = Direction.SENDRECV,
) -> tuple[SessionDescription, Negotiated | None]:
    """Answer ``offer`` (RFC 3264 §6): one answer stream per offered stream, in order.

    The first offered audio stream with a codec in ``codecs`` is accepted; every other stream is rejected with
    port 0. ``direction`` is what we would like; the answer is its intersection with the mirror of the offer.

    Returns:
        The answer and the negotiated parameters, or ``None`` when nothing was acceptable (answer with 488).
    """
    negotiated: Negotiated | None = None
    answers: list[MediaDescription] = []
    for media in offer.media:
        accepted = None if negotiated is not None else _accept_audio(offer, media, codecs, direction)
        if accepted is None:
            answers.append(MediaDescription(media.media, 0, media.proto, media.formats[:1]))
            continue
        negotiated, answer_media = accepted
        answers.append(replace(answer_media, port=port))
    answer = SessionDescription(
        Origin("rexian", str(session_id), session_version, address),
        "rexian",
        Connection(address),
        media=tuple(answers),
    )
    return answer, negotiated


def _accept_audio(
    offer: SessionDescription, media: MediaDescription, codecs: tuple[Codec, ...], wish: Direction
) -> tuple[Negotiated, MediaDescription] | None:
    conn = offer.connection_of(media)
    if media.media != "audio" or media.port == 0 or media.proto != "RTP/AVP" or conn is None:
        return None
    rtpmap = media.rtpmap()
    codec = None
    for fmt in media.formats:
        if not (fmt.isascii() and fmt.isdigit()) or int(fmt) not in rtpmap:
            continue
        name, rate = rtpmap[int(fmt)]
        codec = next((c for c in codecs if c.name.upper() == name.upper() and c.clock_rate == rate), None)
        if codec is not None:
            codec = Codec(int(fmt), codec.name, codec.clock_rate)
            break
    if codec is None:
        return None
    dtmf_pt, events = _telephone_event(media, rtpmap)
    offered = offer.direction_of(media)
    peer_receives = offered.receives and not conn.is_null
    ours = Direction.of(wish.sends and peer_receives, wish.receives and offered.sends)
    ptime_text = media.attribute("ptime")
    ptime = 20 if not ptime_text or not _is_int(ptime_text) else max(10, min(int(ptime_text), 60))
    formats = [str(codec.payload_type)]
    attrs = [f"rtpmap:{codec.payload_type} {codec.name}/{codec.clock_rate}"]
    if dtmf_pt is not None:
        formats.append(str(dtmf_pt))
        attrs += [f"rtpmap:{dtmf_pt} telephone-event/8000", f"fmtp:{dtmf_pt} {format_events(events)}"]
    attrs += [f"ptime:{ptime}", ours.value]
    answer = MediaDescription("audio", 0, "RTP/AVP", tuple(formats), attributes=tuple(attrs))
    address = conn.address.split("/", 1)[0]
    return Negotiated(codec, dtmf_pt, address, media.port, ours, ptime), answer


def _telephone_event(media: MediaDescription, rtpmap: dict[int, tuple[str, int]]) -> tuple[int | None, set[int]]:
    for fmt in media.formats:
        if not (fmt.isascii() and fmt.isdigit()):
            continue
        pt = int(fmt)
        name, rate = rtpmap.get(pt, ("", 0))
        if 96 <= pt <= 127 and name.lower() == "telephone-event" and rate == 8000:
            fmtp = _fmtp(media, pt)
            events = parse_events(fmtp) if fmtp is not None else set(range(16))
            events &= TELEPHONE_EVENTS
            if events:
                return pt, events
    return None, set()


def _fmtp(media: MediaDescription, pt: int) -> str | None:
    prefix = f"fmtp:{pt} "
    for attr in media.attributes:
        if attr.startswith(prefix):
            return attr[len(prefix) :].strip()
    return None


def parse_events(text: str) -> set[int]:
    """Parse an RFC 4733 event list such as ``0-15,66``; malformed items are ignored."""
    events: set[int] = set()
    for item in text.split(","):
        low, dash, high = item.strip().partition("-")
        if not _is_int(low) or (dash and not _is_int(high)):
            continue
        start, end = int(low), int(high) if dash else int(low)
        if start <= end <= 255:
            events.update(range(start, end + 1))
    return events


def format_events(events: set[int]) -> str:
    """Format event numbers as ranges: ``{0,...,16}`` → ``0-16``."""
    out: list[str] = []
    ordered = sorted(events)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)
