"""RTP (RFC 3550) packets, a paced sender and RFC 4733 telephone-events, all sans-IO.

:class:`RtpPacket` is a frozen dataclass with ``parse()``/``__bytes__``; malformed input raises
:class:`RtpParseError` only. :class:`RtpSender` keeps sequence number, timestamp and the 20 ms pacing schedule as
data (``next_deadline()``); the caller's clock drives it. :class:`DtmfEventDetector` turns telephone-event packets
into one digit per key press, ignoring the retransmitted end packets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import StrEnum

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
DTMF_EVENTS = "0123456789*#ABCD"


class RtpErrorReason(StrEnum):
    """Why an RTP packet or payload was rejected."""

    TOO_SHORT = "too_short"
    BAD_VERSION = "bad_version"
    BAD_CSRC = "bad_csrc"
    BAD_EXTENSION = "bad_extension"
    BAD_PADDING = "bad_padding"
    BAD_EVENT = "bad_event"


class RtpParseError(ValueError):
    """Malformed RTP data."""

    def __init__(self, reason: RtpErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


@dataclass(frozen=True)
class RtpExtension:
    """The header extension: a 16-bit profile value and a body that is a multiple of 4 bytes."""

    profile: int
    data: bytes = b""


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse a datagram; raises :class:`RtpParseError`."""
        if len(data) < _HEADER.size:
            raise RtpParseError(RtpErrorReason.TOO_SHORT, f"{len(data)} bytes")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpParseError(RtpErrorReason.BAD_VERSION, str(b0 >> 6))
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or padding > len(data) - _HEADER.size:
                raise RtpParseError(RtpErrorReason.BAD_PADDING, f"padding count {padding}")
            end -= padding
        pos = _HEADER.size
        cc = b0 & 0x0F
        if pos + 4 * cc > end:
            raise RtpParseError(RtpErrorReason.BAD_CSRC, f"{cc} CSRCs do not fit")
        csrc = struct.unpack_from(f"!{cc}I", data, pos)
        pos += 4 * cc
        extension = None
        if b0 & 0x10:
            if pos + 4 > end:
                raise RtpParseError(RtpErrorReason.BAD_EXTENSION, "header does not fit")
            profile, words = struct.unpack_from("!HH", data, pos)
            pos += 4
            if pos + 4 * words > end:
                raise RtpParseError(RtpErrorReason.BAD_EXTENSION, f"{words} words do not fit")
            extension = RtpExtension(profile, bytes(data[pos : pos + 4 * words]))
            pos += 4 * words
        if pos > end:
            raise RtpParseError(RtpErrorReason.BAD_PADDING, "padding overlaps the header")
        return cls(b1 & 0x7F, seq, ts, ssrc, bytes(data[pos:end]), bool(b1 & 0x80), csrc, extension, padding)

    def __bytes__(self) -> bytes:
        if len(self.csrc) > 15 or (self.extension is not None and len(self.extension.data) % 4):
            raise ValueError("at most 15 CSRCs and an extension of whole 32-bit words")
        b0 = RTP_VERSION << 6 | (0x20 if self.padding else 0) | (0x10 if self.extension else 0) | len(self.csrc)
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        out = bytearray(_HEADER.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc))
        for c in self.csrc:
            out += struct.pack("!I", c)
        if self.extension is not None:
            out += struct.pack("!HH", self.extension.profile, len(self.extension.data) // 4) + self.extension.data
        out += self.payload
        if self.padding:
            out += bytes(self.padding - 1) + bytes([self.padding])
        return bytes(out)


@dataclass
class RtpSender:
    """Outgoing stream state: sequence, timestamp, SSRC and the pacing schedule (no clock of its own).

    Deadlines are ``start + n * ptime`` so pacing never drifts; a late caller catches up by sending the packets
    whose deadline has passed.
    """

    ssrc: int
    payload_type: int
    start: float
    sequence: int = 0
    timestamp: int = 0
    ptime: float = 0.02
    clock_rate: int = 8000
    sent: int = 0
    _marker_next: bool = field(default=True, repr=False)

    @property
    def samples_per_packet(self) -> int:
        """Timestamp increment per packet (160 for 20 ms at 8 kHz)."""
        return round(self.ptime * self.clock_rate)

    def next_deadline(self) -> float:
        """When the next packet is due."""
        return self.start + self.sent * self.ptime

    def due(self, now: float) -> int:
        """How many packets are due at ``now``."""
        return 0 if now < self.next_deadline() else int((now - self.next_deadline()) / self.ptime) + 1

    def packetize(self, payload: bytes) -> RtpPacket:
        """The next media packet (marker set on the first packet of a talkspurt)."""
        pkt = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc, payload, self._marker_next)
        self._marker_next = False
        self._advance(self.samples_per_packet)
        return pkt

    def talkspurt(self) -> None:
        """Mark the next packet as the start of a talkspurt (after silence suppression)."""
        self._marker_next = True

    def dtmf(self, digit: str, event_pt: int, duration_ms: int = 100, volume: int = 10) -> list[RtpPacket]:
        """Telephone-event packets for one key press (RFC 4733 §2.5), one per ptime, end packet sent 3 times.

        Every packet carries the timestamp of the event's start; the stream then resumes after the event.
        """
        event = DTMF_EVENTS.index(digit.upper())
        start_ts = self.timestamp
        step = self.samples_per_packet
        total = max(step, duration_ms * self.clock_rate // 1000)
        packets: list[RtpPacket] = []
        durations = [*range(step, total, step), total]
        for i, dur in enumerate(durations):
            end = i == len(durations) - 1
            for _ in range(3 if end else 1):
                payload = bytes(TelephoneEvent(event, end, volume, min(dur, 0xFFFF)))
                packets.append(RtpPacket(event_pt, self.sequence, start_ts, self.ssrc, payload, marker=i == 0))
                self.sequence = (self.sequence + 1) & 0xFFFF
                self.sent += 1
        self.timestamp = (start_ts + total) & 0xFFFFFFFF
        return packets

    def _advance(self, samples: int) -> None:
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self.sent += 1


@dataclass(frozen=True)
class TelephoneEvent:
    """RFC 4733 §2.3 payload: event code, end bit, volume (0-63, as -dBm0) and duration in timestamp units."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        """Parse the first event of a telephone-event payload."""
        if len(data) < 4 or len(data) % 4:
            raise RtpParseError(RtpErrorReason.BAD_EVENT, f"{len(data)} bytes")
        event, flags, duration = struct.unpack_from("!BBH", data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration)

    @property
    def digit(self) -> str | None:
        """The DTMF character for events 0-15, else ``None``."""
        return DTMF_EVENTS[self.event] if self.event < len(DTMF_EVENTS) else None


@dataclass(frozen=True)
class DtmfDigit:
    """A key press reported by a detector."""

    digit: str
    timestamp: int
    duration: int = 0


@dataclass
class DtmfEventDetector:
    """Receiver side of RFC 4733: one :class:`DtmfDigit` per event, whatever the retransmissions.

    A digit is reported on the first packet of an event (keyed by SSRC and RTP timestamp), so a lost start or
    lost end packets still yield the digit once; the three retransmitted end packets are ignored. With ``now``
    given, an event that ended and is heard again with the same timestamp after ``REPEAT_GAP_S`` is a new key
    press (some senders, e.g. sipp replaying a capture, repeat the timestamp of every press of the same key).
    """

    payload_type: int
    _seen: dict[tuple[int, int], tuple[float | None, bool]] = field(default_factory=dict, repr=False)

    REPEAT_GAP_S = 0.25

    def feed(self, packet: RtpPacket, now: float | None = None) -> DtmfDigit | None:
        """Process one received packet; returns a digit when a new key press starts."""
        if packet.payload_type != self.payload_type:
            return None
        try:
            event = TelephoneEvent.parse(packet.payload)
        except RtpParseError:
            return None
        digit = event.digit
        key = (packet.ssrc, packet.timestamp)
        if digit is None:
            return None
        previous = self._seen.get(key)
        if previous is not None:
            last, ended = previous
            repeated = now is not None and last is not None and ended and now - last > self.REPEAT_GAP_S
            self._seen[key] = (now, ended or event.end) if not repeated else (now, event.end)
            if not repeated:
                return None
        else:
            self._seen[key] = (now, event.end)
        if len(self._seen) > 64:
            del self._seen[next(iter(self._seen))]
        return DtmfDigit(digit, packet.timestamp, event.duration)
