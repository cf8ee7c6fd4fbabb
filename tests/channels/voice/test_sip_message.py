"""SIP message core: round trips on captured-style fixtures, typed views, exact errors, fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sip.errors import ParseErrorReason, SipParseError
from channels.voice.sip.headers import CSeq, NameAddr, SipUri, Via
from channels.voice.sip.message import Headers, Limits, SipRequest, SipResponse, make_response, parse_message

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.sip"))


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_round_trips_byte_for_byte(name: str) -> None:
    raw = load(name)
    msg = parse_message(raw)
    assert bytes(msg) == raw
    assert parse_message(bytes(msg)) == msg


@pytest.mark.parametrize(
    ("name", "kind", "first"),
    [
        ("invite_sdp.sip", SipRequest, "INVITE"),
        ("ack.sip", SipRequest, "ACK"),
        ("bye.sip", SipRequest, "BYE"),
        ("cancel.sip", SipRequest, "CANCEL"),
        ("options.sip", SipRequest, "OPTIONS"),
        ("register.sip", SipRequest, "REGISTER"),
        ("trying_100.sip", SipResponse, 100),
        ("ringing_180.sip", SipResponse, 180),
        ("ok_200_invite.sip", SipResponse, 200),
        ("unauthorized_401.sip", SipResponse, 401),
    ],
)
def test_fixture_start_line(name: str, kind: type, first: object) -> None:
    msg = parse_message(load(name))
    assert isinstance(msg, kind)
    assert (msg.method if isinstance(msg, SipRequest) else msg.status) == first


def test_invite_views() -> None:
    msg = SipRequest.parse(load("invite_sdp.sip"))
    assert msg.uri == "sip:12319@198.51.100.5"
    assert msg.top_via == Via("UDP", "192.0.2.10", 5060, (("branch", "z9hG4bK776asdhds"), ("rport", None)))
    assert msg.top_via.branch == "z9hG4bK776asdhds"
    assert msg.top_via.wants_rport and msg.top_via.rport is None
    assert msg.from_.display_name == '"张三"'
    assert msg.from_.tag == "1928301774"
    assert msg.to.tag is None
    assert msg.call_id == "a84b4c76e66710@192.0.2.10"
    assert msg.cseq == CSeq(314159, "INVITE")
    assert msg.contacts == (NameAddr("sip:13800138000@192.0.2.10:5060"),)
    assert msg.content_type == "application/sdp"
    assert msg.body.startswith(b"v=0\r\n")
    assert msg.headers.get_all("allow") == ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")


def test_response_via_received_and_rport() -> None:
    msg = SipResponse.parse(load("ok_200_invite.sip"))
    assert msg.top_via.received == "192.0.2.10"
    assert msg.top_via.rport == 5060
    assert msg.to.tag == "a6c85cf"


def test_compact_forms_and_multi_value_headers() -> None:
    msg = SipRequest.parse(load("compact_multi_via.sip"))
    assert [v.host for v in msg.vias] == ["proxy.example.net", "192.0.2.10", "[2001:db8::9]"]
    assert msg.vias[1].received == "192.0.2.44"
    assert msg.vias[2].transport == "TCP" and msg.vias[2].port == 5070
    assert msg.call_id == "a84b4c76e66710@192.0.2.10"
    assert msg.from_ == NameAddr("sip:13800138000@192.0.2.10", None, (("tag", "1928301774"),), angle=False)
    assert msg.to.tag == "a6c85cf"
    assert [c.uri for c in msg.contacts] == ["sip:13800138000@192.0.2.10:5060", "sip:x@192.0.2.11"]
    assert msg.contacts[0].params == (("expires", "60"),)
    assert msg.headers.get("Content-Length") == msg.headers.get("l") == "0"


def test_digest_headers_are_not_split_on_commas() -> None:
    challenge = SipResponse.parse(load("unauthorized_401.sip"))
    (value,) = challenge.headers.get_all("WWW-Authenticate")
    assert value.startswith('Digest realm="rexian", qop="auth"')
    auth = SipRequest.parse(load("register_auth.sip"))
    assert 'username="8001"' in (auth.headers.get("authorization") or "")


def test_folded_header_is_unfolded() -> None:
    raw = load("options.sip").replace(b"Accept: application/sdp", b"Accept: application/sdp,\r\n  text/plain")
    msg = parse_message(raw)
    assert msg.headers.get_all("Accept") == ("application/sdp", "text/plain")


def test_leading_crlf_is_ignored_and_missing_content_length_takes_rest() -> None:
    raw = load("invite_sdp.sip")
    msg = parse_message(b"\r\n\r\n" + raw)
    assert bytes(msg) == raw
    no_length = raw.replace(b"Content-Length: 232\r\n", b"")
    assert no_length != raw
    assert parse_message(no_length).body == msg.body


def test_body_longer_than_content_length_is_cut() -> None:
    msg = parse_message(load("bye.sip") + b"junk")
    assert msg.body == b""


def test_serialise_fixes_content_length() -> None:
    msg = SipRequest.parse(load("options.sip"))
    grown = SipRequest(msg.method, msg.uri, msg.headers, b"hello")
    assert parse_message(bytes(grown)).body == b"hello"
    bare = SipRequest("OPTIONS", "sip:a@b", Headers.of([("Call-ID", "x")]))
    assert bytes(bare).endswith(b"Call-ID: x\r\nContent-Length: 0\r\n\r\n")


def test_make_response_copies_dialog_headers() -> None:
    invite = SipRequest.parse(load("invite_sdp.sip"))
    ringing = make_response(invite, 180, to_tag="a6c85cf", extra=[("Contact", "<sip:12319@198.51.100.5:5060>")])
    assert ringing.reason == "Ringing"
    assert ringing.to.tag == "a6c85cf"
    assert ringing.from_ == invite.from_
    assert ringing.vias == invite.vias
    assert ringing.cseq == invite.cseq
    trying = make_response(invite, 100, to_tag="x")
    assert trying.to.tag is None
    assert parse_message(bytes(ringing)) == ringing


def test_sip_uri() -> None:
    assert SipUri.parse("sip:8001@10.0.0.21:5062;transport=udp") == SipUri(
        "sip", "10.0.0.21", "8001", 5062, (("transport", "udp"),)
    )
    with pytest.raises(SipParseError) as err:
        SipUri.parse("tel:+8612319")
    assert err.value.reason is ParseErrorReason.BAD_REQUEST_URI


def _replace(name: str, old: bytes, new: bytes) -> bytes:
    raw = load(name)
    assert old in raw, old
    return raw.replace(old, new, 1)


BAD_INPUTS: list[tuple[str, bytes, ParseErrorReason]] = [
    ("empty", b"", ParseErrorReason.EMPTY),
    ("keepalive", b"\r\n\r\n", ParseErrorReason.EMPTY),
    ("too large", b"INVITE " + b"a" * 70000, ParseErrorReason.TOO_LARGE),
    ("no header end", load("bye.sip")[:-4], ParseErrorReason.NO_HEADER_END),
    ("not utf8", _replace("bye.sip", b"BYE sip:12319", b"BYE sip:\xff12319"), ParseErrorReason.NOT_UTF8),
    ("two spaces", _replace("bye.sip", b"BYE sip", b"BYE  sip"), ParseErrorReason.BAD_START_LINE),
    ("bad method", _replace("bye.sip", b"BYE sip", b"B(E sip"), ParseErrorReason.BAD_METHOD),
    (
        "bad uri",
        _replace("bye.sip", b"sip:12319@198.51.100.5:5060 SIP", b"12319 SIP"),
        ParseErrorReason.BAD_REQUEST_URI,
    ),
    ("bad version", _replace("bye.sip", b"5060 SIP/2.0", b"5060 SIP/3.0"), ParseErrorReason.BAD_VERSION),
    ("response version", _replace("trying_100.sip", b"SIP/2.0 100", b"SIP/1.0 100"), ParseErrorReason.BAD_VERSION),
    ("status 099", _replace("trying_100.sip", b"SIP/2.0 100", b"SIP/2.0 099"), ParseErrorReason.BAD_STATUS),
    ("status 7xx", _replace("trying_100.sip", b"SIP/2.0 100", b"SIP/2.0 700"), ParseErrorReason.BAD_STATUS),
    ("status text", _replace("trying_100.sip", b"SIP/2.0 100", b"SIP/2.0 1x0"), ParseErrorReason.BAD_STATUS),
    (
        "long line",
        _replace("bye.sip", b"Max-Forwards: 70", b"X-Pad: " + b"a" * 5000),
        ParseErrorReason.HEADER_LINE_TOO_LONG,
    ),
    (
        "many headers",
        _replace("bye.sip", b"Max-Forwards: 70\r\n", b"X-A: 1\r\n" * 101),
        ParseErrorReason.TOO_MANY_HEADERS,
    ),
    ("no colon", _replace("bye.sip", b"Max-Forwards: 70", b"Max-Forwards 70"), ParseErrorReason.BAD_HEADER),
    ("bad name", _replace("bye.sip", b"Max-Forwards: 70", b"Max Forwards: 70"), ParseErrorReason.BAD_HEADER),
    ("nul byte", _replace("bye.sip", b"Max-Forwards: 70", b"Max-Forwards: 7\x000"), ParseErrorReason.BAD_HEADER),
    ("fold first", _replace("bye.sip", b"\r\nVia:", b"\r\n Via:"), ParseErrorReason.BAD_HEADER),
    (
        "no call-id",
        _replace("bye.sip", b"Call-ID: a84b4c76e66710@192.0.2.10\r\n", b""),
        ParseErrorReason.MISSING_HEADER,
    ),
    (
        "empty call-id",
        _replace("bye.sip", b"Call-ID: a84b4c76e66710@192.0.2.10", b"Call-ID:"),
        ParseErrorReason.BAD_HEADER,
    ),
    (
        "no via",
        _replace("bye.sip", b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds8;rport\r\n", b""),
        ParseErrorReason.MISSING_HEADER,
    ),
    ("two from", _replace("bye.sip", b"From:", b"From: <sip:x@y>\r\nFrom:"), ParseErrorReason.DUPLICATE_HEADER),
    ("bad via proto", _replace("bye.sip", b"Via: SIP/2.0/UDP", b"Via: SIP/1.0/UDP"), ParseErrorReason.BAD_VIA),
    (
        "bad via port",
        _replace("bye.sip", b"192.0.2.10:5060;branch", b"192.0.2.10:99999;branch"),
        ParseErrorReason.BAD_VIA,
    ),
    ("bad via param", _replace("bye.sip", b";rport\r\n", b";;rport\r\n"), ParseErrorReason.BAD_VIA),
    ("bad cseq", _replace("bye.sip", b"CSeq: 314160 BYE", b"CSeq: BYE 314160"), ParseErrorReason.BAD_CSEQ),
    ("huge cseq", _replace("bye.sip", b"CSeq: 314160 BYE", b"CSeq: 2147483648 BYE"), ParseErrorReason.BAD_CSEQ),
    (
        "cseq method",
        _replace("bye.sip", b"CSeq: 314160 BYE", b"CSeq: 314160 INVITE"),
        ParseErrorReason.CSEQ_METHOD_MISMATCH,
    ),
    (
        "bad to",
        _replace("bye.sip", b"To: <sip:12319@198.51.100.5>", b"To: <sip:12319@198.51.100.5"),
        ParseErrorReason.BAD_NAME_ADDR,
    ),
    ("bad from uri", _replace("bye.sip", b'From: "', b'From: "x" <not a uri> "'), ParseErrorReason.BAD_NAME_ADDR),
    (
        "bad contact",
        _replace("invite_sdp.sip", b"Contact: <sip:", b'Contact: "junk <sip:'),
        ParseErrorReason.BAD_NAME_ADDR,
    ),
    (
        "bad length",
        _replace("bye.sip", b"Content-Length: 0", b"Content-Length: -1"),
        ParseErrorReason.BAD_CONTENT_LENGTH,
    ),
    (
        "two lengths",
        _replace("bye.sip", b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"),
        ParseErrorReason.DUPLICATE_HEADER,
    ),
    (
        "truncated",
        _replace("invite_sdp.sip", b"Content-Length: 232", b"Content-Length: 999"),
        ParseErrorReason.BODY_TRUNCATED,
    ),
    (
        "max-forwards",
        _replace("bye.sip", b"Max-Forwards: 70", b"Max-Forwards: seventy"),
        ParseErrorReason.BAD_MAX_FORWARDS,
    ),
]


@pytest.mark.parametrize(("label", "raw", "reason"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_exact_errors(label: str, raw: bytes, reason: ParseErrorReason) -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(raw)
    assert err.value.reason is reason, (label, err.value)


def test_limits_are_configurable() -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(load("invite_sdp.sip"), Limits(max_message=100))
    assert err.value.reason is ParseErrorReason.TOO_LARGE


def test_request_parse_rejects_response() -> None:
    with pytest.raises(SipParseError) as err:
        SipRequest.parse(load("trying_100.sip"))
    assert err.value.reason is ParseErrorReason.BAD_START_LINE
    with pytest.raises(SipParseError):
        SipResponse.parse(load("bye.sip"))


def _parse_or_reason(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError as exc:
        assert isinstance(exc.reason, ParseErrorReason)
        return
    again = parse_message(bytes(msg))
    # Serialising adds a Content-Length when the datagram had none; everything else survives.
    assert again.headers.remove("Content-Length") == msg.headers.remove("Content-Length")
    assert (type(again), again.body, bytes(again)) == (type(msg), msg.body, bytes(msg))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_reason(data)


_SEEDS = [load(n) for n in ALL_FIXTURES]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(_SEEDS),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 40), st.binary(max_size=12)), max_size=6),
)
def test_fuzz_mutated_fixtures(seed: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(seed)
    for pos, cut, insert in edits:
        pos %= len(data) + 1
        data[pos : pos + cut] = insert
    _parse_or_reason(bytes(data))


_LINE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(["Via", "v", "From", "To", "Contact", "m", "CSeq", "Call-ID", "Content-Length"]), _LINE)
def test_fuzz_header_values(name: str, value: str) -> None:
    raw = load("bye.sip").replace(b"Max-Forwards: 70", f"{name}: {value}".encode(), 1)
    _parse_or_reason(raw)
