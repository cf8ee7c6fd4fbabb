"""Sans-IO parts of call-backs: the trunk setting, number checks, the failure causes and the UAC's Digest answer."""

from __future__ import annotations

import pytest

from channels.voice.callback import failure_cause
from channels.voice.callback_numbers import is_mobile, normalise, numbers_in
from channels.voice.sip.digest import digest_response, parse_auth_params
from channels.voice.sip.message import make_response
from channels.voice.sip.uas import OutgoingAnswered, OutgoingFailed
from channels.voice.trunk import Trunk, TrunkError, parse_trunk
from tests.channels.voice.test_uac import ANSWER, PHONE, make_ua, others, requests

TRUNK = ("sip:13912345678@203.0.113.9:5060", ("203.0.113.9", 5060))


@pytest.mark.parametrize(
    ("value", "trunk"),
    [
        ("203.0.113.9", Trunk("203.0.113.9", 5060)),
        ("203.0.113.9:5070", Trunk("203.0.113.9", 5070)),
        ("sip:trunk.example:5080;user=phone", Trunk("trunk.example", 5080, ";user=phone")),
        ("sip:trunk.example;transport=udp", Trunk("trunk.example", 5060, ";transport=udp")),
    ],
)
def test_trunk_settings(value: str, trunk: Trunk) -> None:
    assert parse_trunk(value) == trunk
    assert trunk.request_uri("13912345678").startswith(f"sip:13912345678@{trunk.host}:{trunk.port}")


@pytest.mark.parametrize("value", ["", "sip:", "host:99999", "sip:trunk.example;transport=tcp", "a b:5060"])
def test_bad_trunk_settings(value: str) -> None:
    with pytest.raises(TrunkError):
        parse_trunk(value)


def test_only_numbers_are_dialled() -> None:
    with pytest.raises(TrunkError):
        Trunk("203.0.113.9").request_uri("1391234@evil")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13912345678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("0571-88886666", "057188886666"),
        (13912345678, "13912345678"),
        ("12", None),
        ("139abc", None),
        (None, None),
    ],
)
def test_number_normalisation(value: object, expected: str | None) -> None:
    assert normalise(value) == expected


def test_numbers_written_in_text_and_mobiles() -> None:
    assert numbers_in("我的电话是139-1234-5678，座机0571-88886666，订单号202612080001") == {
        "13912345678",
        "057188886666",
    }
    assert is_mobile("+8613912345678") and not is_mobile("057188886666")


@pytest.mark.parametrize(
    ("status", "cause"),
    [(486, "busy"), (600, "busy"), (408, "no_answer"), (480, "no_answer"), (487, "no_answer"), (403, "trunk_refused"),
     (404, "trunk_refused"), (503, "trunk_refused")],
)  # fmt: skip
def test_failure_causes(status: int, cause: str) -> None:
    assert failure_cause(status) == cause


def test_a_trunk_challenge_is_answered_once_with_the_credentials() -> None:
    ua = make_ua()
    call_id, events = ua.invite(TRUNK, b"v=0\r\n", 0.0, caller_id="12319", credentials=("rexian", "pw"))
    (invite,) = requests(events)
    challenge = 'Digest realm="trunk.test", nonce="n1", qop="auth", algorithm=MD5'
    refused = make_response(invite, 401, to_tag="gw1", extra=[("WWW-Authenticate", challenge)])
    events = ua.receive_datagram(bytes(refused), PHONE, 0.1)
    ack, again = requests(events)
    assert ack.method == "ACK" and ack.cseq.number == 1
    assert others(events) == []  # no failure reported: the INVITE goes again
    assert again.method == "INVITE" and again.call_id == call_id and again.cseq.number == 2
    assert again.from_.tag == invite.from_.tag and again.top_via.branch != invite.top_via.branch
    scheme, params = parse_auth_params(again.headers.get("Authorization") or "")
    assert scheme == "Digest" and params["username"] == "rexian" and params["uri"] == invite.uri
    expected = digest_response(
        "MD5", user="rexian", realm="trunk.test", password="pw", method="INVITE", uri=invite.uri, nonce="n1",
        qop="auth", nc=params["nc"], cnonce=params["cnonce"],
    )  # fmt: skip
    assert params["response"] == expected
    ok = make_response(again, 200, to_tag="gw1", extra=[("Contact", "<sip:gw@203.0.113.9>")], body=ANSWER)
    events = ua.receive_datagram(bytes(ok), PHONE, 0.5)
    assert others(events) == [OutgoingAnswered(call_id, ANSWER)]
    assert requests(events)[0].cseq.number == 2  # the ACK of the authorised INVITE


@pytest.mark.parametrize("credentials", [None, ("rexian", "pw")])
def test_a_second_challenge_or_no_credentials_fail_the_call(credentials: tuple[str, str] | None) -> None:
    ua = make_ua()
    call_id, events = ua.invite(TRUNK, b"v=0\r\n", 0.0, credentials=credentials)
    (invite,) = requests(events)
    header = [("Proxy-Authenticate", 'Digest realm="trunk.test", nonce="n1"')]
    events = ua.receive_datagram(bytes(make_response(invite, 407, to_tag="gw1", extra=header)), PHONE, 0.1)
    if credentials is None:
        assert others(events) == [OutgoingFailed(call_id, 407)]
        return
    _ack, again = requests(events)
    assert again.headers.get("Proxy-Authorization")
    events = ua.receive_datagram(bytes(make_response(again, 407, to_tag="gw2", extra=header)), PHONE, 0.2)
    assert others(events) == [OutgoingFailed(call_id, 407)]
