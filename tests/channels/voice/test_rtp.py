"""RTP packets, pacing, RFC 4733 events and the receiver-side DTMF detector."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.voice.rtp import (
    DtmfEventDetector,
    RtpErrorReason,
    RtpExtension,
    RtpPacket,
    RtpParseError,
    RtpSender,
    TelephoneEvent,
)

from .pcap import SIPP_PCAPS, udp_payloads

FULL = RtpPacket(
    payload_type=8,
    sequence=0xFFFF,
    timestamp=0xFFFFFFF0,
    ssrc=0xDEADBEEF,
    payload=b"\xd5" * 160,
    marker=True,
    csrc=(1, 2),
    extension=RtpExtension(0xBEDE, b"\x10\xff\x00\x00"),
    padding=4,
)


@pytest.mark.parametrize("packet", [FULL, RtpPacket(0, 1, 160, 42, b"\xff" * 160), RtpPacket(101, 0, 0, 1)])
def test_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet


def test_wire_layout() -> None:
    raw = bytes(FULL)
    assert raw[:2] == bytes([0x80 | 0x20 | 0x10 | 2, 0x80 | 8])
    assert raw[2:4] == b"\xff\xff"
    assert raw[-4:] == b"\x00\x00\x00\x04"
    assert len(raw) == 12 + 8 + 8 + 160 + 4


def test_sipp_g711a_capture_round_trips() -> None:
    payloads = udp_payloads(SIPP_PCAPS / "g711a.pcap")
    packets = [RtpPacket.parse(p) for p in payloads]
    assert all(bytes(pkt) == raw for pkt, raw in zip(packets, payloads, strict=True))
    assert {p.payload_type for p in packets} == {8}
    assert all(len(p.payload) == 240 for p in packets[:3])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x80\x00", RtpErrorReason.TOO_SHORT),
        (b"\x40" + bytes(11), RtpErrorReason.BAD_VERSION),
        (b"\x82" + bytes(11) + b"\x00\x00\x00\x01", RtpErrorReason.BAD_CSRC),
        (b"\x90" + bytes(11) + b"\xbe\xde", RtpErrorReason.BAD_EXTENSION),
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x02" + bytes(4), RtpErrorReason.BAD_EXTENSION),
        (b"\xa0" + bytes(11) + b"\x00\x00\x00\x00", RtpErrorReason.BAD_PADDING),
        (b"\xa1" + bytes(11) + b"\x00\x00\x00\x04", RtpErrorReason.BAD_CSRC),
        (b"\xa0" + bytes(11) + b"\x00\x00\x00\x20", RtpErrorReason.BAD_PADDING),
    ],
)
def test_exact_errors(raw: bytes, reason: RtpErrorReason) -> None:
    with pytest.raises(RtpParseError) as err:
        RtpPacket.parse(raw)
    assert err.value.reason is reason


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        return
    assert RtpPacket.parse(bytes(packet)) == packet


def test_sender_paces_every_20ms_and_wraps() -> None:
    sender = RtpSender(ssrc=7, payload_type=0, start=100.0, sequence=65534, timestamp=2**32 - 160)
    assert sender.next_deadline() == 100.0
    assert sender.due(99.99) == 0
    assert sender.due(100.0) == 1
    first = sender.packetize(b"\xff" * 160)
    second = sender.packetize(b"\xff" * 160)
    third = sender.packetize(b"\xff" * 160)
    assert [p.sequence for p in (first, second, third)] == [65534, 65535, 0]
    assert [p.timestamp for p in (first, second, third)] == [2**32 - 160, 0, 160]
    assert [p.marker for p in (first, second, third)] == [True, False, False]
    assert sender.next_deadline() == pytest.approx(100.06)
    assert sender.due(100.105) == 3
    sender.talkspurt()
    assert sender.packetize(b"").marker


def test_telephone_event_payload() -> None:
    event = TelephoneEvent(event=11, end=True, volume=10, duration=1280)
    assert bytes(event) == b"\x0b\x8a\x05\x00"
    assert TelephoneEvent.parse(bytes(event)) == event
    assert event.digit == "#"
    with pytest.raises(RtpParseError) as err:
        TelephoneEvent.parse(b"\x01\x02\x03")
    assert err.value.reason is RtpErrorReason.BAD_EVENT


def test_sender_dtmf_is_detected_once() -> None:
    sender = RtpSender(ssrc=9, payload_type=0, start=0.0, timestamp=1000)
    packets = sender.dtmf("5", event_pt=101, duration_ms=100) + sender.dtmf("#", event_pt=101, duration_ms=60)
    assert [TelephoneEvent.parse(p.payload).end for p in packets[:8]] == [False] * 4 + [True] * 3 + [False]
    assert {p.timestamp for p in packets[:7]} == {1000}
    detector = DtmfEventDetector(payload_type=101)
    digits = [d.digit for p in packets if (d := detector.feed(p))]
    assert digits == ["5", "#"]
    assert sender.timestamp == 1000 + 800 + 480


@pytest.mark.parametrize(
    ("name", "digit"),
    [(f"dtmf_2833_{d}.pcap", d) for d in "0123456789"] + [("dtmf_2833_pound.pcap", "#"), ("dtmf_2833_star.pcap", "*")],
)
def test_sipp_dtmf_captures(name: str, digit: str) -> None:
    detector = DtmfEventDetector(payload_type=101)
    packets = [RtpPacket.parse(p) for p in udp_payloads(SIPP_PCAPS / name)]
    found = [d.digit for p in packets if (d := detector.feed(p))]
    assert found == [digit]


def test_detector_ignores_other_payload_types_and_garbage() -> None:
    detector = DtmfEventDetector(payload_type=101)
    assert detector.feed(RtpPacket(0, 1, 0, 1, b"\x01\x00\x00\xa0")) is None
    assert detector.feed(RtpPacket(101, 1, 0, 1, b"\x01")) is None
    assert detector.feed(RtpPacket(101, 2, 0, 1, b"\x20\x00\x00\xa0")) is None  # event 32: not DTMF
