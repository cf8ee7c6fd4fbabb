"""Outgoing calls, sans-IO: INVITE client transaction timers, ACK rules, CANCEL, BYE in both directions."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
from pathlib import Path

import pytest

from channels.voice.sdp import create_offer
from channels.voice.sip.message import Headers, SipRequest, SipResponse, make_response, parse_message
from channels.voice.sip.registrar import Binding
from channels.voice.sip.transaction import Send
from channels.voice.sip.uas import (
    CallEnded,
    Event,
    OutgoingAnswered,
    OutgoingFailed,
    OutgoingRinging,
    ReinviteReceived,
    UserAgent,
)
from channels.voice.transport import SipEndpoint, start_sip_endpoint

PHONE = ("203.0.113.9", 40000)  # where the agent's REGISTER came from (NAT)
BINDING = Binding(
    "8001", "sip:8001@198.51.100.5", "sip:8001@10.0.0.21:5062;transport=udp", PHONE, "UDP", 3600.0, "c@x", 1
)
SDP = b"v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"
ANSWER = SDP.replace(b"198.51.100.5", b"10.0.0.21")


def make_ua() -> UserAgent:
    counter = itertools.count(1)
    return UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}")


def sent(events: list[Event]) -> list[SipRequest | SipResponse]:
    return [e.message for e in events if isinstance(e, Send)]


def requests(events: list[Event]) -> list[SipRequest]:
    return [m for m in sent(events) if isinstance(m, SipRequest)]


def others(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Send)]


def reply(request: SipRequest, status: int, *, body: bytes = b"", record_route: bool = False) -> bytes:
    extra = [("Contact", "<sip:8001@10.0.0.21:5062>")] if status < 300 and status != 100 else []
    if record_route:
        request = request.with_headers(
            request.headers.add("Record-Route", "<sip:p1.example;lr>").add("Record-Route", "<sip:p2.example;lr>")
        )
    if body:
        extra.append(("Content-Type", "application/sdp"))
    return bytes(make_response(request, status, to_tag="callee1", extra=extra, body=body))


def start(ua: UserAgent, now: float = 0.0) -> tuple[str, SipRequest]:
    call_id, events = ua.invite(BINDING, SDP, now, from_display="市民 138****0000", caller_id="12319")
    (invite,) = requests(events)
    assert [e.address for e in events if isinstance(e, Send)] == [PHONE]
    return call_id, invite


def test_invite_is_built_for_the_binding() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    assert call_id == "t1t2@198.51.100.5" and invite.call_id == call_id
    assert invite.uri == "sip:8001@10.0.0.21:5062;transport=udp"
    assert invite.to.uri == "sip:8001@198.51.100.5" and invite.to.tag is None
    assert str(invite.from_) == '"市民 138****0000" <sip:12319@198.51.100.5>;tag=t3'
    assert invite.top_via.branch == "z9hG4bKt4" and invite.top_via.wants_rport
    assert invite.contacts[0].uri == "sip:rexian@198.51.100.5:5060"
    assert invite.cseq.number == 1 and invite.body == SDP and invite.content_type == "application/sdp"
    assert parse_message(bytes(invite)) == invite
    assert ua.active_calls == 1


def test_timer_a_retransmits_and_timer_b_fails_with_408() -> None:
    ua = make_ua()
    call_id, _ = start(ua)
    times, events = [], []
    while (deadline := ua.next_deadline()) is not None and deadline < 100:
        got = ua.handle_timeout(deadline)
        if requests(got):
            times.append(deadline)
        events += got
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert others(events) == [OutgoingFailed(call_id, 408)]
    assert ua.active_calls == 0


def test_ringing_answer_ack_and_2xx_retransmission() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    assert others(ua.receive_datagram(reply(invite, 100), PHONE, 0.1)) == []
    assert ua.handle_timeout(0.6) == []  # no more retransmissions after a provisional
    assert others(ua.receive_datagram(reply(invite, 180), PHONE, 0.2)) == [OutgoingRinging(call_id)]
    assert others(ua.receive_datagram(reply(invite, 183), PHONE, 0.3)) == []  # reported once
    events = ua.receive_datagram(reply(invite, 200, body=ANSWER, record_route=True), PHONE, 1.0)
    assert others(events) == [OutgoingAnswered(call_id, ANSWER)]
    (ack,) = requests(events)
    assert ack.method == "ACK" and ack.uri == "sip:8001@10.0.0.21:5062"  # the 2xx's Contact
    assert ack.cseq.number == 1 and ack.to.tag == "callee1" and ack.from_.tag == "t3"
    assert ack.top_via.branch != invite.top_via.branch  # a new transaction (§13.2.2.4)
    assert ack.headers.get_all("Route") == ("<sip:p2.example;lr>", "<sip:p1.example;lr>")
    again = ua.receive_datagram(reply(invite, 200, body=ANSWER, record_route=True), PHONE, 1.5)
    assert requests(again) == [ack] and others(again) == []


def test_we_hang_up_with_bye() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    ua.receive_datagram(reply(invite, 200, body=ANSWER), PHONE, 1.0)
    events = ua.hangup(call_id, 5.0)
    assert others(events) == [CallEnded(call_id, "hangup")]
    (bye,) = requests(events)
    assert bye.method == "BYE" and bye.uri == "sip:8001@10.0.0.21:5062" and bye.cseq.number == 2
    assert bye.from_.tag == "t3" and bye.to.tag == "callee1"
    assert [m.method for m in requests(ua.handle_timeout(5.5))] == ["BYE"]
    assert ua.receive_datagram(bytes(make_response(bye, 200)), PHONE, 5.6) == []
    assert ua.active_calls == 0 and ua.hangup(call_id, 6.0) == []


def _callee_request(invite: SipRequest, method: str, cseq: int, body: bytes = b"") -> bytes:
    headers = Headers(
        (
            ("Via", "SIP/2.0/UDP 10.0.0.21:5062;branch=z9hG4bKcallee" + str(cseq) + ";rport"),
            ("Max-Forwards", "70"),
            ("From", str(invite.to.with_tag("callee1"))),
            ("To", invite.headers.get("From") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Content-Type", "application/sdp"),
        )
    )
    return bytes(SipRequest(method, "sip:rexian@198.51.100.5:5060", headers, body))


def test_callee_hangs_up() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    ua.receive_datagram(reply(invite, 200, body=ANSWER), PHONE, 1.0)
    events = ua.receive_datagram(_callee_request(invite, "BYE", 7), PHONE, 9.0)
    assert others(events) == [CallEnded(call_id, "bye")]
    (ok,) = sent(events)
    assert isinstance(ok, SipResponse) and ok.status == 200
    assert ua.active_calls == 0
    again = sent(ua.receive_datagram(_callee_request(invite, "BYE", 7), PHONE, 9.5))
    assert [m.status for m in again if isinstance(m, SipResponse)] == [200]


def test_callee_puts_us_on_hold() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    ua.receive_datagram(reply(invite, 200, body=ANSWER), PHONE, 1.0)
    events = ua.receive_datagram(_callee_request(invite, "INVITE", 8, ANSWER + b"a=sendonly\r\n"), PHONE, 3.0)
    (event,) = others(events)
    assert isinstance(event, ReinviteReceived) and event.call_id == call_id
    ok = sent(ua.respond_reinvite(call_id, 200, 3.1, SDP + b"a=recvonly\r\n"))[0]
    assert isinstance(ok, SipResponse) and ok.status == 200 and ok.body.endswith(b"a=recvonly\r\n")
    assert [m.status for m in sent(ua.handle_timeout(3.6)) if isinstance(m, SipResponse)] == [200]
    ack = _callee_request(invite, "ACK", 8).replace(b"z9hG4bKcallee8", b"z9hG4bKcalleeack")
    assert ua.receive_datagram(ack, PHONE, 3.7) == []
    assert sent(ua.handle_timeout(4.6)) == []


@pytest.mark.parametrize("status", [302, 404, 486, 603])
def test_final_failure_is_acked_in_the_transaction(status: int) -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    events = ua.receive_datagram(reply(invite, status), PHONE, 0.2)
    assert others(events) == [OutgoingFailed(call_id, status)]
    (ack,) = requests(events)
    assert ack.method == "ACK" and ack.uri == invite.uri and ack.top_via == invite.top_via
    assert ack.to.tag == "callee1" and ack.cseq.number == 1
    again = ua.receive_datagram(reply(invite, status), PHONE, 0.4)
    assert requests(again) == [ack] and others(again) == []
    assert ua.next_deadline() == pytest.approx(0.2 + 32.0)  # timer D
    assert ua.active_calls == 0


def test_cancel_waits_for_a_provisional_then_487() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    assert ua.cancel(call_id, 0.1) == []  # §9.1: not before a provisional response
    events = ua.receive_datagram(reply(invite, 180), PHONE, 0.2)
    (cancel,) = requests(events)
    assert others(events) == [OutgoingRinging(call_id)]
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri and cancel.top_via == invite.top_via
    assert cancel.cseq.number == 1 and cancel.to.tag is None
    assert ua.receive_datagram(bytes(make_response(cancel, 200)), PHONE, 0.3) == []
    events = ua.receive_datagram(reply(invite, 487), PHONE, 0.4)
    assert others(events) == [OutgoingFailed(call_id, 487)]
    assert [m.method for m in requests(events)] == ["ACK"]


def test_hangup_while_ringing_cancels() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    ua.receive_datagram(reply(invite, 180), PHONE, 0.2)
    assert [m.method for m in requests(ua.hangup(call_id, 1.0))] == ["CANCEL"]


def test_answer_crossing_our_cancel_is_acked_and_byed() -> None:
    ua = make_ua()
    call_id, invite = start(ua)
    ua.receive_datagram(reply(invite, 180), PHONE, 0.2)
    ua.cancel(call_id, 0.3)
    events = ua.receive_datagram(reply(invite, 200, body=ANSWER), PHONE, 0.4)
    assert [m.method for m in requests(events)] == ["ACK", "BYE"]
    assert others(events) == [OutgoingFailed(call_id, 487)]
    again = ua.receive_datagram(reply(invite, 200, body=ANSWER), PHONE, 0.9)
    assert [m.method for m in requests(again)] == ["ACK"]


def test_ring_timeout_cancels() -> None:
    counter = itertools.count(1)
    ua = UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}", ring_timeout=30.0)
    _, invite = start(ua)
    ua.receive_datagram(reply(invite, 180), PHONE, 0.2)
    assert ua.next_deadline() == pytest.approx(30.0)
    assert [m.method for m in requests(ua.handle_timeout(30.0))] == ["CANCEL"]


def test_invite_to_a_uri_and_address_over_tcp() -> None:
    ua = make_ua()
    _, events = ua.invite(("sip:agent@192.0.2.7:5070;transport=tcp", ("192.0.2.7", 5070)), SDP, 0.0)
    (send,) = [e for e in events if isinstance(e, Send)]
    assert send.transport == "TCP" and send.address == ("192.0.2.7", 5070)
    invite = send.message
    assert isinstance(invite, SipRequest) and invite.top_via.transport == "TCP"
    assert invite.contacts[0].uri == "sip:rexian@198.51.100.5:5060;transport=tcp"
    assert ua.handle_timeout(0.5) == []  # no retransmission over a reliable transport


# -- against a real callee: sipp as UAS ------------------------------------------------------------------------------

SIPP_FIXTURE = Path(__file__).parent / "fixtures" / "sipp_uas_ring_only.xml"
HOST = "127.0.0.1"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class _Events:
    def __init__(self) -> None:
        self.items: list[Event] = []
        self.changed = asyncio.Event()

    def __call__(self, _endpoint: SipEndpoint, event: Event) -> None:
        self.items.append(event)
        self.changed.set()

    async def wait_for(self, kind: type) -> Event:
        while True:
            for event in self.items:
                if isinstance(event, kind):
                    return event
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 30)


async def _sipp_uas(*scenario: str) -> tuple[asyncio.subprocess.Process, int]:
    port = _free_udp_port()
    proc = await asyncio.create_subprocess_exec(
        "sipp", *scenario, "-i", HOST, "-p", str(port), "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.3)  # let sipp bind its socket (INVITE retransmissions would cover a miss anyway)
    return proc, port


needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (apt sip-tester) is not installed")


@needs_sipp
async def test_sipp_uas_answers_our_invite_and_we_hang_up() -> None:
    proc, sipp_port = await _sipp_uas("-sn", "uas")
    events = _Events()
    our_port = _free_udp_port()
    endpoint = await start_sip_endpoint(UserAgent(HOST, our_port), events, HOST, our_port)
    try:
        offer = create_offer(HOST, 40000, session_id=1, dtmf_payload_type=None)
        target = (f"sip:service@{HOST}:{sipp_port}", (HOST, sipp_port))
        call_id, out = endpoint.ua.invite(target, bytes(offer), endpoint.now())
        endpoint.execute(out)
        assert await events.wait_for(OutgoingRinging) == OutgoingRinging(call_id)
        answered = await events.wait_for(OutgoingAnswered)
        assert isinstance(answered, OutgoingAnswered) and b"m=audio" in answered.sdp
        endpoint.execute(endpoint.ua.hangup(call_id, endpoint.now()))
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (stdout[-2000:], stderr[-2000:])
    finally:
        endpoint.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert [type(e).__name__ for e in events.items] == ["OutgoingRinging", "OutgoingAnswered", "CallEnded"]


@needs_sipp
async def test_sipp_uas_that_only_rings_is_cancelled() -> None:
    proc, sipp_port = await _sipp_uas("-sf", str(SIPP_FIXTURE))
    events = _Events()
    our_port = _free_udp_port()
    endpoint = await start_sip_endpoint(UserAgent(HOST, our_port), events, HOST, our_port)
    try:
        offer = create_offer(HOST, 40000, session_id=1, dtmf_payload_type=None)
        call_id, out = endpoint.ua.invite(
            (f"sip:service@{HOST}:{sipp_port}", (HOST, sipp_port)), bytes(offer), endpoint.now()
        )
        endpoint.execute(out)
        await events.wait_for(OutgoingRinging)
        endpoint.execute(endpoint.ua.cancel(call_id, endpoint.now()))
        assert await events.wait_for(OutgoingFailed) == OutgoingFailed(call_id, 487)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (stdout[-2000:], stderr[-2000:])
    finally:
        endpoint.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert endpoint.ua.active_calls == 0
