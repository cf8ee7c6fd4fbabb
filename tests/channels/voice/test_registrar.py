"""The sans-IO registrar and its UserAgent integration: challenge, bindings, expiry, refusals."""

from __future__ import annotations

import base64
import hashlib
import itertools
import struct
from pathlib import Path

import pytest

from channels.voice.sip.digest import DigestChallenger, authorization
from channels.voice.sip.message import SipRequest, SipResponse
from channels.voice.sip.registrar import AgentRegistered, AgentUnregistered, Binding, Registrar
from channels.voice.sip.transaction import Send
from channels.voice.sip.uas import Event, UserAgent

FIXTURES = Path(__file__).parent / "fixtures"
PHONE = ("10.0.0.21", 5062)  # the REGISTER's source: the Contact says the same here
NATTED = ("203.0.113.9", 40000)  # a NAT in front of the phone: the Contact keeps its private address
PASSWORDS = {"8001": "s3cret", "8002": "other"}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def make_registrar(clock: Clock | None = None) -> Registrar:
    challenger = DigestChallenger("rexian", secret=b"k" * 32, clock=clock or Clock())
    return Registrar("rexian", challenger, PASSWORDS.get, min_expires=60, max_expires=3600)


def register(
    *,
    contact: str = "<sip:8001@10.0.0.21:5062;transport=udp>;expires=3600",
    expires: str | None = "3600",
    cseq: int = 1826,
    call_id: str = "843817637684230@10.0.0.21",
    user: str = "8001",
    password: str | None = None,
    challenge: str | None = None,
) -> SipRequest:
    base = SipRequest.parse((FIXTURES / "register.sip").read_bytes())
    headers = base.headers.remove("Contact").remove("Expires").remove("Content-Length")
    headers = headers.set("CSeq", f"{cseq} REGISTER").set("Call-ID", call_id)
    headers = headers.set("To", f"<sip:{user}@198.51.100.5>").set("From", f"<sip:{user}@198.51.100.5>;tag=456248")
    if contact:
        headers = headers.add("Contact", contact)
    if expires is not None:
        headers = headers.add("Expires", expires)
    if challenge is not None:
        creds = authorization(challenge, "REGISTER", base.uri, user, password or PASSWORDS.get(user, "x"))
        headers = headers.add("Authorization", creds)
    return SipRequest("REGISTER", base.uri, headers)


def authed(reg: Registrar, **kwargs: object) -> SipRequest:
    return register(challenge=reg.challenger.challenge(), **kwargs)  # type: ignore[arg-type]


def test_register_without_credentials_is_challenged() -> None:
    reg = make_registrar()
    response, change = reg.handle(register(), PHONE, 0.0)
    assert response.status == 401 and change is None
    challenge = response.headers.get("WWW-Authenticate") or ""
    assert challenge.startswith('Digest realm="rexian", nonce="') and 'qop="auth"' in challenge
    assert response.to.tag is not None and response.call_id == "843817637684230@10.0.0.21"


def test_register_with_credentials_binds_the_source_address() -> None:
    reg = make_registrar()
    response, change = reg.handle(authed(reg), NATTED, 10.0)
    assert response.status == 200
    assert response.headers.get_all("Contact") == ("<sip:8001@10.0.0.21:5062;transport=udp>;expires=3600",)
    binding = Binding(
        "8001", "sip:8001@198.51.100.5", "sip:8001@10.0.0.21:5062;transport=udp", NATTED, "UDP", 3610.0,
        "843817637684230@10.0.0.21", 1826,
    )  # fmt: skip
    assert change == AgentRegistered("8001", binding)
    assert reg.lookup("8001", 11.0) == binding and reg.bindings(11.0) == [binding]
    assert reg.lookup("8002", 11.0) is None


def test_refresh_is_silent_and_extends_the_binding() -> None:
    reg = make_registrar()
    reg.handle(authed(reg), PHONE, 0.0)
    response, change = reg.handle(
        authed(reg, cseq=1827, expires="600", contact="<sip:8001@10.0.0.21:5062>"), PHONE, 100
    )
    assert response.status == 200 and change is not None  # a new contact URI is a new binding
    response, change = reg.handle(
        authed(reg, cseq=1828, expires="600", contact="<sip:8001@10.0.0.21:5062>"), PHONE, 200
    )
    assert response.status == 200 and change is None
    binding = reg.lookup("8001", 201)
    assert binding is not None and binding.expires_at == 3600.0  # the longest-living of the two


def test_wrong_password_and_stale_nonce() -> None:
    clock = Clock()
    reg = make_registrar(clock)
    response, _ = reg.handle(authed(reg, password="bad"), PHONE, 0.0)
    assert response.status == 401 and "stale" not in (response.headers.get("WWW-Authenticate") or "")
    assert reg.auth_failures == 1
    old = authed(reg)
    clock.now = 1000.0
    response, change = reg.handle(old, PHONE, 1000.0)
    assert response.status == 401 and change is None
    assert (response.headers.get("WWW-Authenticate") or "").endswith("stale=true")


def test_authenticated_user_must_own_the_aor() -> None:
    reg = make_registrar()
    challenge = reg.challenger.challenge()
    req = register(user="8002", challenge=challenge)
    creds = authorization(challenge, "REGISTER", req.uri, "8001", "s3cret")
    req = req.with_headers(req.headers.set("Authorization", creds))
    response, change = reg.handle(req, PHONE, 0.0)
    assert (response.status, response.reason, change) == (403, "Forbidden (user does not own this address)", None)


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"expires": "30", "contact": "<sip:8001@10.0.0.21:5062>"}, 423, "Interval Too Brief"),
        ({"expires": "soon", "contact": "<sip:8001@10.0.0.21:5062>"}, 400, "Bad Request (bad Expires)"),
        ({"contact": "<sip:8001@10.0.0.21>;expires=x"}, 400, "Bad Request (bad expires parameter)"),
        ({"contact": "<mailto:8001@example.org>"}, 400, "Bad Request (bad Contact URI)"),
        ({"contact": "*", "expires": "60"}, 400, "Bad Request (Contact * needs Expires 0)"),
    ],
)
def test_refusals(kwargs: dict[str, str], status: int, reason: str) -> None:
    reg = make_registrar()
    response, change = reg.handle(authed(reg, **kwargs), PHONE, 0.0)
    assert (response.status, response.reason, change) == (status, reason, None)
    if status == 423:
        assert response.headers.get("Min-Expires") == "60"
    assert reg.bindings(1.0) == []


def test_long_expiry_is_shortened_and_query_lists_bindings() -> None:
    reg = make_registrar()
    response, _ = reg.handle(authed(reg, expires="86400", contact="<sip:8001@10.0.0.21:5062>"), PHONE, 0.0)
    assert response.headers.get_all("Contact") == ("<sip:8001@10.0.0.21:5062>;expires=3600",)
    response, change = reg.handle(authed(reg, contact="", cseq=1827), PHONE, 1000.0)
    assert response.status == 200 and change is None
    assert response.headers.get_all("Contact") == ("<sip:8001@10.0.0.21:5062>;expires=2600",)


def test_out_of_order_register_is_refused() -> None:
    reg = make_registrar()
    reg.handle(authed(reg, cseq=10), PHONE, 0.0)
    response, _ = reg.handle(authed(reg, cseq=10), PHONE, 1.0)
    assert response.status == 500


@pytest.mark.parametrize(
    ("contact", "expires"), [("<sip:8001@10.0.0.21:5062;transport=udp>;expires=0", "3600"), ("*", "0")]
)
def test_unregister(contact: str, expires: str) -> None:
    reg = make_registrar()
    reg.handle(authed(reg), PHONE, 0.0)
    response, change = reg.handle(authed(reg, contact=contact, expires=expires, cseq=1900), PHONE, 5.0)
    assert response.status == 200 and change == AgentUnregistered("8001")
    assert response.headers.get_all("Contact") == () and reg.lookup("8001", 6.0) is None


def test_expire_reports_agents_left_without_bindings() -> None:
    reg = make_registrar()
    reg.handle(authed(reg, expires="60", contact="<sip:8001@10.0.0.21:5062>"), PHONE, 0.0)
    assert reg.next_expiry() == 60.0
    assert reg.expire(59.0) == [] and reg.lookup("8001", 59.0) is not None
    assert reg.expire(60.0) == [AgentUnregistered("8001")]
    assert reg.bindings(60.0) == [] and reg.next_expiry() is None


def _ua(reg: Registrar | None) -> UserAgent:
    counter = itertools.count(1)
    return UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}", registrar=reg)


def responses(events: list[Event]) -> list[SipResponse]:
    return [e.message for e in events if isinstance(e, Send) and isinstance(e.message, SipResponse)]


def test_user_agent_serves_register_and_reports_events() -> None:
    reg = make_registrar()
    ua = _ua(reg)
    (challenge,) = responses(ua.receive_datagram(bytes(register()), NATTED, 0.0))
    assert challenge.status == 401
    req = register(cseq=1827, challenge=challenge.headers.get("WWW-Authenticate"))
    req = SipRequest.parse(bytes(req).replace(b"z9hG4bKnashds7", b"z9hG4bKnashds8"))  # a new transaction
    events = ua.receive_datagram(bytes(req), NATTED, 1.0)
    (ok,) = responses(events)
    assert ok.status == 200 and ok.headers.get("Server") == "Rexian"
    assert [e.address for e in events if isinstance(e, Send)] == [NATTED]  # rport: back to the NAT
    (registered,) = [e for e in events if isinstance(e, AgentRegistered)]
    assert registered.binding.source == NATTED
    assert responses(ua.receive_datagram(bytes(req), NATTED, 1.5)) == [ok]  # retransmission absorbed
    assert ua.next_deadline() == pytest.approx(32.0)  # the 401 transaction's timer J, long before the expiry
    events = []
    while (deadline := ua.next_deadline()) is not None:
        events += ua.handle_timeout(deadline)
    assert events == [AgentUnregistered("8001")]
    options = ua.receive_datagram(bytes(register()).replace(b"REGISTER", b"OPTIONS"), PHONE, 4000.0)
    assert responses(options)[0].headers.get_all("Allow") == ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER")


def test_register_without_registrar_is_405() -> None:
    (response,) = responses(_ua(None).receive_datagram(bytes(register()), PHONE, 0.0))
    assert response.status == 405 and "REGISTER" not in response.headers.get_all("Allow")


def _issued_at(nonce: str) -> float:
    return float(struct.unpack(">d", base64.urlsafe_b64decode(nonce + "=")[:8])[0])


@pytest.mark.parametrize(("name", "expected"), [("baresip_register_auth.sip", 1), ("baresip_unregister.sip", 0)])
def test_captured_baresip_register_verifies(name: str, expected: int) -> None:
    """A REGISTER captured from baresip 1.0 (test_baresip.py's setup: secret b"test" * 8, password pw-agent1)."""
    request = SipRequest.parse((FIXTURES / name).read_bytes())
    credentials = request.headers.get("Authorization") or ""
    nonce = credentials.split('nonce="', 1)[1].split('"', 1)[0]
    clock = Clock()
    clock.now = _issued_at(nonce) + 1.0
    registrar = Registrar(
        "rexian", DigestChallenger("rexian", secret=b"test" * 8, clock=clock), {"agent1": "pw-agent1"}.get
    )
    response, change = registrar.handle(request, ("127.0.0.1", 35476), clock.now)
    assert response.status == 200
    assert len(registrar.bindings(clock.now)) == expected
    assert (change is not None) == bool(expected)
    wrong = Registrar("rexian", DigestChallenger("rexian", secret=b"test" * 8, clock=clock), {"agent1": "x"}.get)
    assert wrong.handle(request, ("127.0.0.1", 35476), clock.now)[0].status == 401


def test_registrar_with_stored_ha1() -> None:
    hashes = {("8001", "MD5"): hashlib.md5(b"8001:rexian:s3cret").hexdigest()}
    challenger = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock())
    reg = Registrar("rexian", challenger, lambda _u: None, ha1_lookup=lambda u, a: hashes.get((u, a)))
    response, change = reg.handle(authed(reg), PHONE, 0.0)
    assert response.status == 200 and isinstance(change, AgentRegistered)
    response, _ = reg.handle(authed(reg, password="bad", cseq=1900), PHONE, 1.0)
    assert response.status == 401
