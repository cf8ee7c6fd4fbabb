"""Sans-IO SIP transactions and the UAS core: every step is a datagram in, events out, timers as data."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sdp import Direction, SessionDescription, create_answer
from channels.voice.sip.message import SipRequest, SipResponse, parse_message
from channels.voice.sip.transaction import InviteServerTransaction, Send, Timers
from channels.voice.sip.uas import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    MessageDropped,
    ReinviteReceived,
    UserAgent,
)

FIXTURES = Path(__file__).parent / "fixtures"
CALLER = ("192.0.2.10", 5060)
CALL_ID = "a84b4c76e66710@192.0.2.10"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_ua() -> UserAgent:
    counter = itertools.count(1)
    return UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}")


def sent(events: list[Event]) -> list[SipResponse | SipRequest]:
    return [e.message for e in events if isinstance(e, Send)]


def statuses(events: list[Event]) -> list[int]:
    return [m.status for m in sent(events) if isinstance(m, SipResponse)]


def others(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Send)]


def in_dialog(name: str, tag: str, *, cseq: int | None = None, branch: str | None = None) -> bytes:
    data = raw(name).replace(b"tag=a6c85cf", f"tag={tag}".encode())
    if cseq is not None:
        method = parse_message(data).cseq.method
        data = data.replace(f"{parse_message(data).cseq.number} {method}".encode(), f"{cseq} {method}".encode())
    if branch is not None:
        data = data.replace(b"branch=z9hG4bKnashds8", f"branch={branch}".encode())
    return data


def reinvite(tag: str, cseq: int, direction: str, branch: str) -> bytes:
    data = raw("invite_sdp.sip").replace(
        b"To: <sip:12319@198.51.100.5>", f"To: <sip:12319@198.51.100.5>;tag={tag}".encode()
    )
    data = data.replace(b"314159 INVITE", f"{cseq} INVITE".encode()).replace(b"z9hG4bK776asdhds", branch.encode())
    msg = SipRequest.parse(data)
    return bytes(
        SipRequest(msg.method, msg.uri, msg.headers, msg.body.replace(b"a=sendrecv", f"a={direction}".encode()))
    )


def start_call(ua: UserAgent, now: float = 0.0) -> list[Event]:
    return ua.receive_datagram(raw("invite_sdp.sip"), CALLER, now)


def test_invite_gets_100_trying_and_an_event() -> None:
    ua = make_ua()
    events = start_call(ua)
    (trying,) = sent(events)
    assert isinstance(trying, SipResponse) and trying.status == 100
    assert trying.to.tag is None
    assert trying.top_via.received == "192.0.2.10" and trying.top_via.rport == 5060
    (incoming,) = others(events)
    assert isinstance(incoming, IncomingCall) and incoming.call_id == CALL_ID
    assert [e.address for e in events if isinstance(e, Send)] == [CALLER]


def test_retransmitted_invite_gets_the_last_provisional_again() -> None:
    ua = make_ua()
    start_call(ua)
    assert statuses(ua.ringing(CALL_ID, 0.1)) == [180]
    again = start_call(ua, 0.5)
    assert statuses(again) == [180] and others(again) == []


def test_200_is_retransmitted_with_backoff_until_ack() -> None:
    ua = make_ua()
    start_call(ua)
    ok = sent(ua.answer(CALL_ID, b"v=0\r\n", 10.0))[0]
    assert isinstance(ok, SipResponse) and ok.status == 200 and ok.to.tag == "t1"
    assert ok.contacts[0].uri == "sip:rexian@198.51.100.5:5060"
    times = []
    now = 10.0
    for _ in range(6):
        deadline = ua.next_deadline()
        assert deadline is not None
        now = deadline
        times.append(round(now - 10.0, 3))
        assert statuses(ua.handle_timeout(now)) == [200]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    ack = in_dialog("ack.sip", "t1")
    assert others(ua.receive_datagram(ack, CALLER, now + 0.1)) == [CallConfirmed(CALL_ID)]
    assert ua.receive_datagram(ack, CALLER, now + 0.2) == []
    assert ua.next_deadline() == pytest.approx(10.0 + 32.0)
    assert ua.handle_timeout(42.0) == []
    assert ua.next_deadline() is None


def test_no_ack_ends_the_call_with_bye() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    events: list[Event] = []
    while (deadline := ua.next_deadline()) is not None and deadline <= 32.0:
        events += ua.handle_timeout(deadline)
    assert CallEnded(CALL_ID, "ack_timeout") in events
    bye = [m for m in sent(events) if isinstance(m, SipRequest)]
    assert [m.method for m in bye] == ["BYE"]
    assert bye[0].uri == "sip:13800138000@192.0.2.10:5060"
    assert bye[0].from_.tag == "t1" and bye[0].to.tag == "1928301774"


def test_bye_ends_the_call_and_retransmission_is_absorbed() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    ua.receive_datagram(in_dialog("ack.sip", "t1"), CALLER, 0.1)
    events = ua.receive_datagram(in_dialog("bye.sip", "t1"), CALLER, 1.0)
    assert statuses(events) == [200] and others(events) == [CallEnded(CALL_ID, "bye")]
    again = ua.receive_datagram(in_dialog("bye.sip", "t1"), CALLER, 1.5)
    assert statuses(again) == [200] and others(again) == []
    assert ua.active_calls == 0


def test_cancel_before_answer() -> None:
    ua = make_ua()
    start_call(ua)
    ua.ringing(CALL_ID, 0.1)
    events = ua.receive_datagram(raw("cancel.sip"), CALLER, 1.0)
    responses = [m for m in sent(events) if isinstance(m, SipResponse)]
    assert [(r.status, r.cseq.method) for r in responses] == [(200, "CANCEL"), (487, "INVITE")]
    assert responses[1].to.tag == "t1"
    assert others(events) == [CallCancelled(CALL_ID)]
    ack = raw("ack.sip").replace(b"tag=a6c85cf", b"tag=t1").replace(b"z9hG4bKnashds7", b"z9hG4bK776asdhds")
    assert ua.receive_datagram(ack, CALLER, 1.1) == []
    assert ua.next_deadline() == pytest.approx(1.1 + 5.0)  # timer I (plus CANCEL's timer J later)


def test_cancel_without_invite_gets_481() -> None:
    assert statuses(make_ua().receive_datagram(raw("cancel.sip"), CALLER, 0.0)) == [481]


def test_cancel_after_answer_has_no_effect_on_the_call() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    events = ua.receive_datagram(raw("cancel.sip"), CALLER, 0.1)
    assert statuses(events) == [200] and others(events) == []
    assert ua.active_calls == 1


def test_reject_retransmits_until_ack_then_times_out_quietly() -> None:
    ua = make_ua()
    start_call(ua)
    assert statuses(ua.reject(CALL_ID, 486, 0.0)) == [486]
    assert statuses(ua.handle_timeout(0.5)) == [486]
    assert statuses(ua.handle_timeout(1.5)) == [486]
    events: list[Event] = []
    while (deadline := ua.next_deadline()) is not None:
        events += ua.handle_timeout(deadline)
    assert others(events) == []
    assert set(statuses(events)) == {486}


@pytest.mark.parametrize(
    ("method", "status"), [("OPTIONS", 200), ("REGISTER", 405), ("SUBSCRIBE", 405), ("FOO", 501), ("BYE", 481)]
)
def test_out_of_dialog_requests(method: str, status: int) -> None:
    data = raw("options.sip").replace(b"OPTIONS", method.encode())
    events = make_ua().receive_datagram(data, ("203.0.113.7", 5060), 0.0)
    (response,) = sent(events)
    assert isinstance(response, SipResponse) and response.status == status
    if status in (200, 405, 501):
        assert response.headers.get_all("Allow") == ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
    assert response.to.tag is not None


def test_require_gets_420() -> None:
    data = raw("options.sip").replace(b"Accept:", b"Require: 100rel\r\nAccept:")
    (response,) = sent(make_ua().receive_datagram(data, CALLER, 0.0))
    assert isinstance(response, SipResponse) and response.status == 420
    assert response.headers.get("Unsupported") == "100rel"


def test_unsupported_uri_scheme_gets_416() -> None:
    data = raw("options.sip").replace(b"OPTIONS sip:198.51.100.5", b"OPTIONS mailto:a@b")
    assert statuses(make_ua().receive_datagram(data, CALLER, 0.0)) == [416]


def test_bye_for_unknown_dialog_gets_481() -> None:
    assert statuses(make_ua().receive_datagram(raw("bye.sip"), CALLER, 0.0)) == [481]


def test_malformed_datagram_is_dropped() -> None:
    events = make_ua().receive_datagram(b"INVITE sip:x SIP/2.0\r\n\r\n", CALLER, 0.0)
    assert events == [MessageDropped("missing_header", CALLER)]


def test_stray_response_and_ack_are_dropped() -> None:
    ua = make_ua()
    assert others(ua.receive_datagram(raw("ringing_180.sip"), CALLER, 0.0))[0] == MessageDropped(
        "no matching client transaction", CALLER
    )
    assert ua.receive_datagram(raw("ack.sip"), CALLER, 0.0) == []


def test_reinvite_for_hold() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    ua.receive_datagram(in_dialog("ack.sip", "t1"), CALLER, 0.1)
    events = ua.receive_datagram(reinvite("t1", 314160, "sendonly", "z9hG4bKre1"), CALLER, 5.0)
    assert statuses(events) == [100]
    (event,) = others(events)
    assert isinstance(event, ReinviteReceived)
    offer = SessionDescription.parse(event.request.body)
    answer, neg = create_answer(offer, "198.51.100.5", 30000, session_id=1, session_version=1)
    assert neg is not None and neg.on_hold and neg.direction is Direction.RECVONLY
    busy = ua.receive_datagram(reinvite("t1", 314161, "inactive", "z9hG4bKre2"), CALLER, 5.1)
    assert statuses(busy) == [500]
    ok = sent(ua.respond_reinvite(CALL_ID, 200, 5.2, bytes(answer)))[0]
    assert isinstance(ok, SipResponse) and ok.status == 200 and b"a=recvonly" in ok.body
    assert statuses(ua.handle_timeout(5.7)) == [200]
    ack = in_dialog("ack.sip", "t1", cseq=314160)
    assert ua.receive_datagram(ack, CALLER, 5.8) == []
    assert statuses(ua.handle_timeout(6.7)) == []
    assert ua.active_calls == 1


def test_in_dialog_request_with_old_cseq_gets_500() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    ua.receive_datagram(in_dialog("ack.sip", "t1"), CALLER, 0.1)
    assert statuses(ua.receive_datagram(in_dialog("bye.sip", "t1", cseq=314159), CALLER, 1.0)) == [500]


def test_second_invite_with_same_call_id_is_a_merged_request() -> None:
    ua = make_ua()
    start_call(ua)
    data = raw("invite_sdp.sip").replace(b"z9hG4bK776asdhds", b"z9hG4bKother")
    assert statuses(ua.receive_datagram(data, CALLER, 0.1)) == [482]


def test_invite_with_non_sdp_body_gets_415() -> None:
    data = raw("invite_sdp.sip").replace(b"Content-Type: application/sdp", b"Content-Type: text/plain")
    assert statuses(make_ua().receive_datagram(data, CALLER, 0.0)) == [415]


def test_hangup_sends_bye_and_retransmits_until_answered() -> None:
    ua = make_ua()
    start_call(ua)
    ua.answer(CALL_ID, b"v=0\r\n", 0.0)
    assert ua.hangup(CALL_ID, 0.05) == []  # waits for the ACK (RFC 3261 §15)
    events = ua.receive_datagram(in_dialog("ack.sip", "t1"), CALLER, 0.1)
    assert others(events) == [CallConfirmed(CALL_ID), CallEnded(CALL_ID, "hangup")]
    (bye,) = sent(events)
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and bye.cseq.number == 2
    assert bye.top_via.branch == "z9hG4bKt2"
    assert [m.method for m in sent(ua.handle_timeout(0.6)) if isinstance(m, SipRequest)] == ["BYE"]
    ok = SipResponse(200, "OK", bye.headers)
    assert ua.receive_datagram(bytes(ok), CALLER, 0.7) == []
    assert sent(ua.handle_timeout(1.7)) == []


def test_hangup_before_answer_rejects() -> None:
    ua = make_ua()
    start_call(ua)
    events = ua.hangup(CALL_ID, 0.0)
    assert statuses(events) == [480] and others(events) == [CallEnded(CALL_ID, "hangup")]


def test_invite_transaction_timers_are_configurable() -> None:
    invite = SipRequest.parse(raw("invite_sdp.sip"))
    tx = InviteServerTransaction(invite, CALLER, Timers(t1=0.1, t2=0.4, t4=1.0))
    tx.send_response(SipResponse(486, "Busy Here", invite.headers), 0.0)
    assert tx.next_deadline() == pytest.approx(0.1)
    tx.handle_timeout(0.1)
    assert tx.next_deadline() == pytest.approx(0.3)


_SEEDS = [raw(p.name) for p in sorted(FIXTURES.glob("*.sip"))]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SEEDS), st.integers(0, 2000), st.binary(max_size=10)), max_size=8))
def test_fuzz_the_ua_never_raises(steps: list[tuple[bytes, int, bytes]]) -> None:
    ua = make_ua()
    now = 0.0
    for seed, pos, insert in steps:
        data = bytearray(seed)
        pos %= len(data) + 1
        data[pos : pos + len(insert)] = insert
        ua.receive_datagram(bytes(data), CALLER, now)
        now += 1.0
        ua.handle_timeout(now)
