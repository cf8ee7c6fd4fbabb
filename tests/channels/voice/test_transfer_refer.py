"""REFER on an agent leg (RFC 3515), sans-IO: 202 and the implicit subscription's NOTIFYs, the refusals."""

from __future__ import annotations

import itertools

import pytest

from channels.voice.sip.message import Headers, SipRequest, SipResponse, make_response, parse_message
from channels.voice.sip.refer import check_refer, sipfrag
from channels.voice.sip.registrar import Binding
from channels.voice.sip.transaction import Send
from channels.voice.sip.uas import Event, ReferReceived, UserAgent

PHONE = ("203.0.113.9", 40000)
BINDING = Binding(
    "agent1", "sip:agent1@198.51.100.5", "sip:agent1@10.0.0.21:5062;transport=udp", PHONE, "UDP", 3600.0, "c@x", 1
)
SDP = b"v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"


def make_ua() -> UserAgent:
    counter = itertools.count(1)
    return UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}")


def sent(events: list[Event]) -> list[SipRequest | SipResponse]:
    return [e.message for e in events if isinstance(e, Send)]


def others(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Send)]


def answered(ua: UserAgent) -> tuple[str, SipRequest]:
    """An outgoing call to the agent's softphone, answered."""
    call_id, events = ua.invite(BINDING, SDP, 0.0)
    (invite,) = [m for m in sent(events) if isinstance(m, SipRequest)]
    contact = [("Contact", "<sip:agent1@10.0.0.21:5062>"), ("Content-Type", "application/sdp")]
    response = make_response(invite, 200, to_tag="phone1", extra=contact, body=SDP)
    assert [e for e in ua.receive_datagram(bytes(response), PHONE, 0.5) if not isinstance(e, Send)]
    return call_id, invite


def refer(invite: SipRequest, cseq: int, *refer_to: str) -> bytes:
    """A REFER from the agent's softphone inside the call."""
    fields = [
        ("Via", f"SIP/2.0/UDP 10.0.0.21:5062;branch=z9hG4bKrefer{cseq};rport"),
        ("Max-Forwards", "70"),
        ("From", str(invite.to.with_tag("phone1"))),
        ("To", invite.headers.get("From") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq} REFER"),
        *(("Refer-To", value) for value in refer_to),
        ("Referred-By", "<sip:agent1@198.51.100.5>"),
        ("Contact", "<sip:agent1@10.0.0.21:5062>"),
    ]
    return bytes(SipRequest("REFER", "sip:rexian@198.51.100.5:5060", Headers(tuple(fields))))


def test_the_invite_to_an_agent_allows_refer() -> None:
    _, events = make_ua().invite(BINDING, SDP, 0.0)
    (invite,) = sent(events)
    assert "REFER" in invite.headers.get_all("Allow")


def test_a_blind_refer_is_accepted_and_notified_until_its_outcome() -> None:
    ua = make_ua()
    call_id, invite = answered(ua)
    events = ua.receive_datagram(refer(invite, 2, "<sip:agent2@198.51.100.5>"), PHONE, 3.0)
    accepted, trying = sent(events)
    assert isinstance(accepted, SipResponse) and accepted.status == 202 and accepted.to.tag == invite.from_.tag
    assert others(events) == [ReferReceived(call_id, "sip:agent2@198.51.100.5", "agent2")]
    assert isinstance(trying, SipRequest) and trying.method == "NOTIFY"
    assert trying.uri == "sip:agent1@10.0.0.21:5062" and trying.call_id == call_id
    assert trying.from_.tag == invite.from_.tag and trying.to.tag == "phone1"
    assert trying.headers.get("Event") == "refer;id=2"
    assert trying.headers.get("Subscription-State") == "active;expires=60"
    assert trying.headers.get("Content-Type") == "message/sipfrag;version=2.0"
    assert trying.content_type == "message/sipfrag" and trying.body == b"SIP/2.0 100 Trying\r\n"
    assert parse_message(bytes(trying)) == trying
    assert [e.address for e in events if isinstance(e, Send)] == [PHONE, PHONE]
    (final,) = sent(ua.notify_refer(call_id, 200, 4.0))
    assert isinstance(final, SipRequest) and final.method == "NOTIFY" and final.body == b"SIP/2.0 200 OK\r\n"
    assert final.headers.get("Subscription-State") == "terminated;reason=noresource"
    assert final.cseq.number == trying.cseq.number + 1
    assert ua.notify_refer(call_id, 200, 4.5) == []  # the subscription is over
    (bye,) = sent(ua.hangup(call_id, 5.0))  # then the agent leg ends as usual
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and bye.cseq.number == final.cseq.number + 1


def test_a_failed_transfer_is_notified_with_its_status() -> None:
    ua = make_ua()
    call_id, invite = answered(ua)
    ua.receive_datagram(refer(invite, 2, "sip:nobody@198.51.100.5"), PHONE, 3.0)
    (final,) = sent(ua.notify_refer(call_id, 404, 4.0))
    assert isinstance(final, SipRequest) and final.body == b"SIP/2.0 404 Not Found\r\n"


@pytest.mark.parametrize(
    ("refer_to", "status"),
    [
        (("<sip:agent2@198.51.100.5?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>",), 501),
        (("<sip:agent2@198.51.100.5>", "<sip:agent3@198.51.100.5>"), 400),
        ((), 400),
        (("<tel:+8613912345678>",), 416),
        (("<sip:agent2@198.51.100.5",), 400),
    ],
)
def test_refusals(refer_to: tuple[str, ...], status: int) -> None:
    ua = make_ua()
    _, invite = answered(ua)
    events = ua.receive_datagram(refer(invite, 2, *refer_to), PHONE, 3.0)
    (response,) = sent(events)
    assert isinstance(response, SipResponse) and response.status == status
    assert others(events) == []


def test_one_transfer_at_a_time() -> None:
    ua = make_ua()
    _, invite = answered(ua)
    ua.receive_datagram(refer(invite, 2, "<sip:general@198.51.100.5>"), PHONE, 3.0)
    events = ua.receive_datagram(refer(invite, 3, "<sip:agent2@198.51.100.5>"), PHONE, 3.5)
    (response,) = sent(events)
    assert isinstance(response, SipResponse) and response.status == 491 and others(events) == []


def test_a_refer_outside_our_outgoing_calls_is_refused_as_before() -> None:
    ua = make_ua()
    _, invite = answered(ua)
    stranger = refer(invite, 2, "<sip:agent2@198.51.100.5>").replace(invite.call_id.encode(), b"other@x")
    (response,) = sent(ua.receive_datagram(stranger, PHONE, 3.0))
    assert isinstance(response, SipResponse) and response.status == 405


def test_check_refer_reads_the_target() -> None:
    request = parse_message(refer(_invite(), 2, '"Queue" <sip:%E7%BB%BC%E5%90%88@198.51.100.5;user=phone>'))
    assert isinstance(request, SipRequest)
    status, target = check_refer(request)
    assert status == 202 and target is not None
    assert (target.user, target.host) == ("综合", "198.51.100.5")
    assert sipfrag(503) == b"SIP/2.0 503 Service Unavailable\r\n"


def _invite() -> SipRequest:
    _, events = make_ua().invite(BINDING, SDP, 0.0)
    (invite,) = sent(events)
    assert isinstance(invite, SipRequest)
    return invite
