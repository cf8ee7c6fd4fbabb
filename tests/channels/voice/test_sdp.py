"""SDP parse/serialise and RFC 3264 offer/answer for PCMU/PCMA/telephone-event, including hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sdp import (
    PCMA,
    PCMU,
    Codec,
    Connection,
    Direction,
    SdpErrorReason,
    SdpParseError,
    SessionDescription,
    create_answer,
    create_offer,
    format_events,
    parse_events,
)
from channels.voice.sip.message import parse_message

FIXTURES = Path(__file__).parent / "fixtures"
OFFER = parse_message((FIXTURES / "invite_sdp.sip").read_bytes()).body
ANSWER = parse_message((FIXTURES / "ok_200_invite.sip").read_bytes()).body


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def offer_with(media: str, *attrs: str, conn: str = "192.0.2.10", session_attrs: tuple[str, ...] = ()) -> bytes:
    return sdp(
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        f"c=IN IP4 {conn}",
        "t=0 0",
        *[f"a={a}" for a in session_attrs],
        f"m={media}",
        *[f"a={a}" for a in attrs],
    )


@pytest.mark.parametrize("body", [OFFER, ANSWER], ids=["offer", "answer"])
def test_round_trip(body: bytes) -> None:
    desc = SessionDescription.parse(body)
    assert bytes(desc) == body
    assert SessionDescription.parse(bytes(desc)) == desc


def test_parse_views() -> None:
    desc = SessionDescription.parse(OFFER)
    assert desc.origin.session_version == 2353687637
    assert desc.connection == Connection("192.0.2.10")
    (audio,) = desc.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == ("audio", 40000, "RTP/AVP", ("0", "8", "101"))
    assert audio.rtpmap()[101] == ("telephone-event", 8000)
    assert audio.attribute("ptime") == "20"
    assert desc.direction_of(audio) is Direction.SENDRECV


def test_round_trip_with_optional_lines_and_lf() -> None:
    body = (
        b"v=0\no=- 7 7 IN IP4 h\ns=call\ni=info\nu=http://x\ne=a@b\nb=AS:64\nt=0 0\nr=7d 1h 0 25h\na=recvonly\n"
        b"m=audio 49170/2 RTP/AVP 0\ni=voice\nc=IN IP4 203.0.113.1/127\nb=AS:64\na=rtpmap:0 PCMU/8000\n"
    )
    desc = SessionDescription.parse(body)
    assert bytes(desc) == body.replace(b"\n", b"\r\n")
    assert desc.media[0].port_count == 2
    assert desc.direction_of(desc.media[0]) is Direction.RECVONLY


@pytest.mark.parametrize(
    ("formats", "attrs", "codec"),
    [
        ("0 8 101", ("rtpmap:101 telephone-event/8000",), PCMU),
        ("8 0", (), PCMA),
        ("18 8", ("rtpmap:18 G729/8000",), PCMA),
        ("96 0", ("rtpmap:96 PCMA/8000",), Codec(96, "PCMA")),
    ],
)
def test_answer_chooses_the_offerers_first_supported_codec(formats: str, attrs: tuple[str, ...], codec: Codec) -> None:
    offer = SessionDescription.parse(offer_with(f"audio 40000 RTP/AVP {formats}", *attrs))
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=9)
    assert neg is not None and neg.codec == codec
    assert answer.media[0].formats[0] == str(codec.payload_type)
    assert (neg.remote_address, neg.remote_port) == ("192.0.2.10", 40000)


def test_answer_accepts_telephone_event_subset() -> None:
    offer = SessionDescription.parse(
        offer_with("audio 40000 RTP/AVP 8 96", "rtpmap:96 telephone-event/8000", "fmtp:96 0-15,66")
    )
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=9)
    assert neg is not None and neg.dtmf_payload_type == 96
    assert answer.media[0].formats == ("8", "96")
    assert "fmtp:96 0-15" in answer.media[0].attributes


def test_answer_fixture_offer() -> None:
    offer = SessionDescription.parse(OFFER)
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=1000, session_version=1000)
    assert bytes(answer) == ANSWER
    assert neg is not None and neg.dtmf_payload_type == 101 and neg.ptime == 20


def test_no_common_codec_rejects_every_stream() -> None:
    offer = SessionDescription.parse(offer_with("audio 40000 RTP/AVP 18", "rtpmap:18 G729/8000"))
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=1)
    assert neg is None
    assert answer.media[0].port == 0


def test_video_is_rejected_audio_accepted_in_order() -> None:
    body = offer_with("video 40002 RTP/AVP 96", "rtpmap:96 H264/90000") + b"m=audio 40000 RTP/AVP 0\r\n"
    answer, neg = create_answer(SessionDescription.parse(body), "198.51.100.5", 30000, session_id=1)
    assert [(m.media, m.port) for m in answer.media] == [("video", 0), ("audio", 30000)]
    assert neg is not None and neg.codec == PCMU


@pytest.mark.parametrize(
    ("offered", "conn", "ours", "on_hold"),
    [
        ("sendrecv", "192.0.2.10", Direction.SENDRECV, False),
        ("sendonly", "192.0.2.10", Direction.RECVONLY, True),
        ("recvonly", "192.0.2.10", Direction.SENDONLY, False),
        ("inactive", "192.0.2.10", Direction.INACTIVE, True),
        ("sendrecv", "0.0.0.0", Direction.RECVONLY, True),
    ],
)
def test_hold_directions(offered: str, conn: str, ours: Direction, on_hold: bool) -> None:
    offer = SessionDescription.parse(offer_with("audio 40000 RTP/AVP 0", offered, conn=conn))
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=1)
    assert neg is not None
    assert neg.direction is ours and neg.on_hold is on_hold
    assert answer.media[0].direction is ours


def test_session_level_direction_applies() -> None:
    offer = SessionDescription.parse(offer_with("audio 40000 RTP/AVP 0", session_attrs=("inactive",)))
    _, neg = create_answer(offer, "198.51.100.5", 30000, session_id=1)
    assert neg is not None and neg.direction is Direction.INACTIVE


def test_create_offer_for_hold_round_trips() -> None:
    offer = create_offer("198.51.100.5", 30000, session_id=5, session_version=2, direction=Direction.SENDONLY)
    parsed = SessionDescription.parse(bytes(offer))
    assert parsed == offer
    assert parsed.media[0].formats == ("0", "8", "101")
    _, neg = create_answer(parsed, "192.0.2.10", 40000, session_id=6)
    assert neg is not None and neg.direction is Direction.RECVONLY


@pytest.mark.parametrize(("text", "events"), [("0-16", set(range(17))), ("0-15,66", {*range(16), 66}), ("x,3", {3})])
def test_event_lists(text: str, events: set[int]) -> None:
    assert parse_events(text) == events


def test_format_events() -> None:
    assert format_events({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"


BAD: list[tuple[bytes, SdpErrorReason]] = [
    (b"", SdpErrorReason.EMPTY),
    (b"v=0\r\n" + b"a=x\r\n" * 5000, SdpErrorReason.TOO_LARGE),
    (b"v=0\r\no=\xff\r\n", SdpErrorReason.NOT_UTF8),
    (b"v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", SdpErrorReason.BAD_VERSION),
    (b"v=0\r\ns=-\r\n", SdpErrorReason.MISSING_LINE),
    (b"v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", SdpErrorReason.BAD_ORIGIN),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\nt=0 0\r\n", SdpErrorReason.BAD_CONNECTION),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=now\r\n", SdpErrorReason.BAD_TIMING),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n", SdpErrorReason.MISSING_LINE),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", SdpErrorReason.BAD_MEDIA),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n", SdpErrorReason.BAD_MEDIA),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nx=1\r\n", SdpErrorReason.BAD_LINE),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nc=IN IP4 h\r\n", SdpErrorReason.BAD_LINE),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n", SdpErrorReason.BAD_LINE),
]


@pytest.mark.parametrize(("body", "reason"), BAD)
def test_exact_errors(body: bytes, reason: SdpErrorReason) -> None:
    with pytest.raises(SdpParseError) as err:
        SessionDescription.parse(body)
    assert err.value.reason is reason


def _parse_and_answer(data: bytes) -> None:
    try:
        desc = SessionDescription.parse(data)
    except SdpParseError as exc:
        assert isinstance(exc.reason, SdpErrorReason)
        return
    assert SessionDescription.parse(bytes(desc)) == desc
    create_answer(desc, "198.51.100.5", 30000, session_id=1)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random(data: bytes) -> None:
    _parse_and_answer(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 8), st.binary(max_size=8)), max_size=5))
def test_fuzz_mutated_offer(edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(OFFER)
    for pos, cut, insert in edits:
        pos %= len(data) + 1
        data[pos : pos + cut] = insert
    _parse_and_answer(bytes(data))
