"""The agent model: statuses set by the agent and by the system, break reasons, no-answer breaks, wrap-up."""

from __future__ import annotations

import pytest

from routing.engine import (
    AgentStatus,
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    QueueConfig,
    RoutingError,
    WrapUpEnded,
)

from .support import of, router, staff


def test_sign_in_makes_the_agent_available_and_says_so() -> None:
    r = router()
    events = staff(r, 1, now=5)
    assert events == [AgentStatusChanged(1, "available", "offline", None, 5)]
    assert r.agents[1].status is AgentStatus.AVAILABLE
    assert r.time_in_status(1, 65) == 60


@pytest.mark.parametrize(
    ("status", "reason", "shown"),
    [
        ("break", "rest", "break"),
        ("break", "training", "break"),
        ("break", "meeting", "break"),
        ("break", "meal", "break"),
        ("offline", None, "offline"),
        ("available", None, "available"),
    ],
)
def test_the_agent_sets_their_own_status(status: str, reason: str | None, shown: str) -> None:
    r = router()
    staff(r, 1)
    r.set_status(1, "break", now=1, reason="rest")
    events = r.set_status(1, status, now=2, reason=reason)
    assert r.agents[1].status.value == shown
    if shown != "break":
        assert events == [AgentStatusChanged(1, shown, "break", None, 2)]
    else:
        assert r.agents[1].reason == reason


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("break", "gossip"),
        ("break", None),
        ("break", "no_answer"),
        ("busy", None),
        ("offered", None),
        ("wrap_up", None),
    ],
)
def test_unknown_reasons_and_system_statuses_are_refused(status: str, reason: str | None) -> None:
    r = router()
    staff(r, 1)
    with pytest.raises(RoutingError):
        r.set_status(1, status, now=1, reason=reason)


def test_break_reasons_are_configurable() -> None:
    r = router(break_reasons=frozenset({"prayer"}))
    staff(r, 1)
    r.set_status(1, "break", now=1, reason="prayer")
    assert r.agents[1].reason == "prayer"
    with pytest.raises(RoutingError):
        r.set_status(1, "break", now=2, reason="rest")


@pytest.mark.parametrize(("max_missed", "misses_before_break"), [(1, 1), (2, 2), (3, 3)])
def test_missed_offers_put_the_agent_on_a_no_answer_break(max_missed: int, misses_before_break: int) -> None:
    r = router(QueueConfig("general", offer_timeout_s=10), max_missed_offers=max_missed)
    staff(r, 1)
    now = 0.0
    for n in range(1, misses_before_break + 1):
        assert of(r.enqueue(f"c{n}", queue="general", channel="voice", now=now), Offered) == [
            Offered(f"c{n}", 1, now + 10)
        ]
        now += 10
        events = r.handle_timeout(now)
        assert OfferTimedOut(f"c{n}", 1) in events
        r.abandon(f"c{n}", now=now)
    assert NoAnswerBreak(1, max_missed, now) in events
    assert AgentStatusChanged(1, "break", "offered", "no_answer", now) in events
    assert (r.agents[1].status, r.agents[1].reason) == (AgentStatus.BREAK, "no_answer")
    r.set_status(1, "available", now=now + 1)  # the agent comes back: the count starts over
    assert r.agents[1].missed_offers == 0


def test_an_accepted_offer_resets_the_missed_count() -> None:
    r = router(max_missed_offers=2)
    staff(r, 1)
    r.enqueue("a", queue="general", channel="voice", now=0)
    r.decline("a", 1, now=1)  # the only agent: offered again
    assert r.agents[1].missed_offers == 1
    assert of(r.accept("a", 1, now=2), Assigned) == [Assigned("a", 1, "general", 2, "accepted")]
    assert r.agents[1].missed_offers == 0


def test_going_on_break_withdraws_a_pending_offer_without_counting_a_miss() -> None:
    r = router()
    staff(r, 1)
    staff(r, 2, now=1)
    r.enqueue("a", queue="general", channel="voice", now=2)
    events = r.set_status(1, "break", now=3, reason="meal")
    assert OfferWithdrawn("a", 1) in events
    assert Offered("a", 2, 23) in events
    assert r.agents[1].missed_offers == 0


@pytest.mark.parametrize(
    ("channel", "wrap_s", "status_after_end"),
    [("voice", 30.0, "wrap_up"), ("web_chat", 0.0, "available"), ("sms", 10.0, "wrap_up")],
)
def test_wrap_up_per_queue_and_channel(channel: str, wrap_s: float, status_after_end: str) -> None:
    q = QueueConfig("general", wrap_up_s={channel: wrap_s} if wrap_s else {})
    r = router(q)
    staff(r, 1)
    r.enqueue("a", queue="general", channel=channel, now=0)
    if channel == "voice":
        r.accept("a", 1, now=1)
    assert r.agents[1].status is AgentStatus.BUSY
    r.finish("a", now=100)
    assert r.agents[1].status.value == status_after_end
    if wrap_s:
        assert r.next_deadline() == 100 + wrap_s
        r.enqueue("b", queue="general", channel=channel, now=101)
        assert r.agents[1].offered == {} and r.agents[1].load == {}  # no new work during wrap-up
        events = r.handle_timeout(100 + wrap_s)
        assert events[:2] == [
            WrapUpEnded(1, False, 100 + wrap_s),
            AgentStatusChanged(1, "available", "wrap_up", None, 130 if channel == "voice" else 110),
        ]


def test_the_agent_ends_wrap_up_early() -> None:
    r = router(QueueConfig("general", wrap_up_s={"voice": 60}))
    staff(r, 1)
    r.enqueue("a", queue="general", channel="voice", now=0)
    r.accept("a", 1, now=1)
    r.finish("a", now=50)
    r.enqueue("b", queue="general", channel="voice", now=51)
    events = r.end_wrap_up(1, now=55)
    assert events[0] == WrapUpEnded(1, True, 55)
    assert Offered("b", 1, 75) in events
    with pytest.raises(RoutingError):
        r.end_wrap_up(1, now=56)


def test_losing_the_softphone_withdraws_call_offers() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("a", queue="general", channel="voice", now=0)
    events = r.set_registered(1, False, now=1)
    assert OfferWithdrawn("a", 1) in events
    assert r.agents[1].status is AgentStatus.AVAILABLE
    assert r.items["a"].offers == {}
