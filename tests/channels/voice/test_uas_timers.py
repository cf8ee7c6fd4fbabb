"""The user agent's heap of transaction deadlines agrees with a scan of every transaction, whatever happens."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sip.uas import UserAgent
from tests.channels.voice.test_uas import CALL_ID, CALLER, make_ua, raw


def scanned_deadline(ua: UserAgent) -> float | None:
    """What the user agent computed before the heap: the minimum over every tracked transaction."""
    times = [t for tx in (*ua._server.values(), *ua._client.values()) if (t := tx.next_deadline()) is not None]
    return min(times, default=None)


def invite(n: int) -> bytes:
    return (
        raw("invite_sdp.sip")
        .replace(CALL_ID.encode(), f"call{n}@192.0.2.10".encode())
        .replace(b"z9hG4bK776asdhds", f"z9hG4bKinv{n}".encode())
    )


def options(n: int) -> bytes:
    return (
        f"OPTIONS sip:12319@198.51.100.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt{n}\r\n"
        f"Max-Forwards: 70\r\nTo: <sip:12319@198.51.100.5>\r\nFrom: <sip:probe@192.0.2.10>;tag=p{n}\r\n"
        f"Call-ID: opt{n}@192.0.2.10\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


Step = tuple[str, int, float]
steps = st.lists(
    st.tuples(
        st.sampled_from(["invite", "answer", "reject", "hangup", "options", "retransmit", "wait", "timeout"]),
        st.integers(min_value=0, max_value=7),
        st.floats(min_value=0.0, max_value=40.0),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_next_deadline_matches_a_full_scan(plan: list[Step]) -> None:
    ua = make_ua()
    now = 0.0
    invited: set[int] = set()
    for action, n, dt in plan:
        events: list[Any] = []
        if action == "invite" and n not in invited:
            invited.add(n)
            events = ua.receive_datagram(invite(n), CALLER, now)
        elif action == "retransmit" and n in invited:
            events = ua.receive_datagram(invite(n), CALLER, now)
        elif action == "answer" and n in invited:
            with contextlib.suppress(KeyError, ValueError, RuntimeError):  # already answered, rejected or gone
                events = ua.answer(f"call{n}@192.0.2.10", b"v=0\r\n", now)
        elif action == "reject" and n in invited:
            with contextlib.suppress(KeyError, ValueError, RuntimeError):
                events = ua.reject(f"call{n}@192.0.2.10", 486, now)
        elif action == "hangup":
            events = ua.hangup(f"call{n}@192.0.2.10", now)
        elif action == "options":
            events = ua.receive_datagram(options(n), CALLER, now)
        elif action == "wait":
            now += dt
        elif action == "timeout":
            deadline = ua.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                events = ua.handle_timeout(now)
                assert not any(tx.terminated for tx in (*ua._server.values(), *ua._client.values()))
        assert isinstance(events, list)
        assert ua.next_deadline() == scanned_deadline(ua)
    # Run every timer out: the tables empty and nothing is left armed.
    for _ in range(200):
        deadline = ua.next_deadline()
        if deadline is None:
            break
        now = max(now, deadline)
        ua.handle_timeout(now)
        assert ua.next_deadline() == scanned_deadline(ua)
    assert ua.next_deadline() is None
