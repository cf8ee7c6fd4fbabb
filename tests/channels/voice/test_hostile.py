"""Hostile SIP: every bad datagram gets the exact RFC answer or is dropped and counted; nothing raises."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sip.digest import DigestChallenger
from channels.voice.sip.message import SipRequest, SipResponse, parse_message
from channels.voice.sip.registrar import Registrar
from channels.voice.sip.robust import RateLimiter
from channels.voice.sip.transaction import Send
from channels.voice.sip.uas import Event, MessageDropped, UserAgent

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
SOURCE = ("203.0.113.7", 5060)


def make_ua(**kwargs: object) -> UserAgent:
    counter = itertools.count(1)
    return UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}", **kwargs)  # type: ignore[arg-type]


def answers(events: list[Event]) -> list[tuple[int, str]]:
    return [
        (e.message.status, e.message.reason)
        for e in events
        if isinstance(e, Send) and isinstance(e.message, SipResponse)
    ]


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("bad_max_forwards.sip", 400, "Bad Request: Invalid Max-Forwards"),
        ("content_length_too_big.sip", 400, "Bad Request: Content-Length Exceeds Body"),
        ("cseq_mismatch.sip", 400, "Bad Request: CSeq Method Mismatch"),
        ("duplicate_call_id.sip", 400, "Bad Request: Duplicate Call-ID Header"),
        ("bad_contact.sip", 400, "Bad Request: Malformed Address"),
        ("not_utf8.sip", 400, "Bad Request: Invalid UTF-8"),
        ("sip_version_3.sip", 505, "Version Not Supported"),
        ("max_forwards_zero.sip", 483, "Too Many Hops"),
        ("unknown_method.sip", 501, "Not Implemented"),
    ],
)
def test_answered(name: str, status: int, reason: str) -> None:
    ua = make_ua()
    data = (HOSTILE / name).read_bytes()
    events = ua.receive_datagram(data, SOURCE, 0.0)
    assert answers(events) == [(status, reason)]
    (send,) = events
    assert isinstance(send, Send) and send.address == SOURCE
    response = send.message
    assert isinstance(response, SipResponse)
    assert parse_message(bytes(response)) == response  # what we send is itself well-formed
    assert response.top_via.branch is not None and response.call_id and response.cseq.number > 0
    if status == 400:
        assert ua.stats.bad_requests == 1
    assert ua.active_calls == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing_call_id.sip", "missing_header"),
        ("missing_via.sip", "missing_header"),
        ("bad_top_via.sip", "bad_via"),
        ("ack_bad_max_forwards.sip", "bad_max_forwards"),  # an ACK is never answered
        ("no_header_end.sip", "no_header_end"),
        ("garbage.sip", "no_header_end"),
    ],
)
def test_dropped(name: str, reason: str) -> None:
    ua = make_ua()
    assert ua.receive_datagram((HOSTILE / name).read_bytes(), SOURCE, 0.0) == [MessageDropped(reason, SOURCE)]
    assert ua.stats.dropped == 1 and ua.stats.bad_requests == 0


def test_huge_datagram_is_dropped_and_counted() -> None:
    ua = make_ua()
    options = (FIXTURES / "options.sip").read_bytes()
    huge = options.replace(b"Accept:", b"X-Pad: " + b"a" * 4000 + b"\r\n" + b"X-Pad: b\r\n" * 7000 + b"Accept:")
    assert len(huge) > 65536
    assert ua.receive_datagram(huge, SOURCE, 0.0) == [MessageDropped("too_large", SOURCE)]
    assert ua.stats.as_dict() == {"received": 1, "dropped": 1, "bad_requests": 0, "too_large": 1, "rate_limited": 0}


def test_register_without_registrar_is_405_and_with_one_is_challenged() -> None:
    register = (FIXTURES / "register.sip").read_bytes()
    assert answers(make_ua().receive_datagram(register, SOURCE, 0.0)) == [(405, "Method Not Allowed")]
    registrar = Registrar("rexian", DigestChallenger("rexian", secret=b"s" * 16, clock=lambda: 0.0), lambda _user: None)
    assert answers(make_ua(registrar=registrar).receive_datagram(register, SOURCE, 0.0)) == [(401, "Unauthorized")]


def test_flood_of_unknown_methods_is_answered_then_forgotten() -> None:
    ua = make_ua()
    base = (HOSTILE / "unknown_method.sip").read_bytes()
    for i in range(500):
        data = base.replace(b"z9hG4bKhjhs8ass877", f"z9hG4bKflood{i}".encode())
        assert answers(ua.receive_datagram(data, SOURCE, i * 0.01)) == [(501, "Not Implemented")]
    ua.handle_timeout(5.0 + 32.0)  # timer J of every transaction
    assert ua.next_deadline() is None


def test_rate_limit_per_source() -> None:
    ua = make_ua(rate_limit=(10.0, 5.0))
    options = (FIXTURES / "options.sip").read_bytes()
    results = []
    for i in range(8):
        data = options.replace(b"z9hG4bKhjhs8ass877", f"z9hG4bKrl{i}".encode())
        results.append(bool(answers(ua.receive_datagram(data, SOURCE, 0.0))))
    assert results == [True] * 5 + [False] * 3
    assert ua.stats.rate_limited == 3 and ua.stats.dropped == 3
    other = options.replace(b"z9hG4bKhjhs8ass877", b"z9hG4bKother")
    assert answers(ua.receive_datagram(other, ("198.51.100.99", 5060), 0.0)) == [(200, "OK")]
    refill = options.replace(b"z9hG4bKhjhs8ass877", b"z9hG4bKlater")
    assert answers(ua.receive_datagram(refill, SOURCE, 0.1)) == [(200, "OK")]  # one token back after 100 ms


def test_rate_limiter_table_is_bounded() -> None:
    limiter = RateLimiter(1.0, 1.0, max_sources=3)
    for i in range(10):
        assert limiter.allow(f"192.0.2.{i}", 0.0)
    assert not limiter.allow("192.0.2.9", 0.0)
    assert limiter.allow("192.0.2.0", 0.0)  # forgotten, so a fresh bucket


_SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.sip"))] + [
    p.read_bytes() for p in sorted(HOSTILE.glob("*.sip"))
]


def _ua_with_registrar() -> UserAgent:
    registrar = Registrar("rexian", DigestChallenger("rexian", secret=b"s" * 16, clock=lambda: 0.0), {"8001": "pw"}.get)
    return make_ua(registrar=registrar, rate_limit=(1000.0, 1000.0))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_SEEDS), st.integers(0, 3000), st.binary(max_size=12), st.sampled_from(["UDP", "TCP"])
        ),
        max_size=8,
    )
)
def test_fuzz_receive_datagram_never_raises(steps: list[tuple[bytes, int, bytes, str]]) -> None:
    ua = _ua_with_registrar()
    now = 0.0
    for seed, pos, insert, transport in steps:
        data = bytearray(seed)
        pos %= len(data) + 1
        data[pos : pos + len(insert)] = insert
        for event in ua.receive_datagram(bytes(data), SOURCE, now, transport=transport):
            if isinstance(event, Send):
                assert parse_message(bytes(event.message)) is not None  # we only ever send well-formed SIP
                if isinstance(event.message, SipRequest):
                    assert event.message.method in ("BYE", "ACK", "CANCEL")
        now += 1.0
        ua.handle_timeout(now)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    ua = _ua_with_registrar()
    events = ua.receive_datagram(data, SOURCE, 0.0)
    assert all(isinstance(e, Send | MessageDropped) for e in events)
