"""The call queue: positions, priorities, abandon, offers and their timeouts, longest idle, overflow, wrap-up."""

from __future__ import annotations

import pytest

from routing.acd import (
    Acd,
    AcdError,
    AgentState,
    Announce,
    Offer,
    OfferTimedOut,
    OfferWithdrawn,
    Overflow,
    QueueLeft,
)


def ready_agent(acd: Acd, agent_id: int, now: float, queues: tuple[str, ...] = ("general",), **kw: object) -> list:
    acd.set_registered(agent_id, True, now=now)
    return acd.sign_in(agent_id, now=now, queues=queues, **kw)  # type: ignore[arg-type]


def test_positions_are_announced_on_entry_and_when_they_change() -> None:
    acd = Acd(announce_every_s=30)
    assert acd.enqueue("a", queue="general", now=0) == [Announce("a", 1)]
    assert acd.enqueue("b", queue="general", now=1) == [Announce("b", 2)]
    assert acd.enqueue("c", queue="general", now=2) == [Announce("c", 3)]
    assert acd.positions() == {"a": 1, "b": 2, "c": 3}
    assert Announce("c", 3).ahead == 2  # 您前面还有2位
    events = acd.abandon("a", now=5)
    assert events == [QueueLeft("a", "abandoned", 5.0), Announce("b", 1), Announce("c", 2)]


def test_vip_priority_goes_first_and_moves_the_others_back() -> None:
    acd = Acd()
    acd.enqueue("a", queue="general", now=0)
    acd.enqueue("b", queue="general", now=1)
    events = acd.enqueue("vip", queue="general", now=2, priority=10)
    assert events == [Announce("vip", 1), Announce("a", 2), Announce("b", 3)]
    assert ready_agent(acd, 1, now=3) == [Offer("vip", 1)]


def test_positions_are_per_queue() -> None:
    acd = Acd()
    acd.enqueue("a", queue="general", now=0)
    acd.enqueue("b", queue="water", now=1)
    assert acd.positions() == {"a": 1, "b": 1}


def test_periodic_announcements_follow_next_deadline() -> None:
    acd = Acd(announce_every_s=30, max_wait_s=None)
    acd.enqueue("a", queue="general", now=0)
    acd.enqueue("b", queue="general", now=10)
    assert acd.next_deadline() == 30
    assert acd.handle_timeout(30) == [Announce("a", 1)]
    assert acd.next_deadline() == 40
    assert acd.handle_timeout(40) == [Announce("b", 2)]
    assert acd.handle_timeout(41) == []


def test_an_agent_needs_sign_in_and_a_registered_softphone() -> None:
    acd = Acd()
    acd.enqueue("a", queue="general", now=0)
    assert acd.sign_in(1, now=1, queues={"general"}) == []  # softphone not registered yet
    assert acd.set_registered(1, True, now=2) == [Offer("a", 1)]
    assert acd.agents[1].state is AgentState.RINGING


def test_longest_idle_agent_gets_the_call() -> None:
    acd = Acd(wrap_up_s=0)
    ready_agent(acd, 1, now=0)
    ready_agent(acd, 2, now=5)
    ready_agent(acd, 3, now=2)
    assert acd.enqueue("a", queue="general", now=10)[-1] == Offer("a", 1)
    acd.accept("a", 1, now=11)
    acd.call_ended(1, now=20)  # agent 1 is idle again since 20: now the most recently idle
    assert acd.enqueue("b", queue="general", now=21)[-1] == Offer("b", 3)
    assert acd.enqueue("c", queue="general", now=22)[-1] == Offer("c", 2)
    assert acd.enqueue("d", queue="general", now=23)[-1] == Offer("d", 1)


def test_accept_reports_the_wait_and_busy_agents_get_no_offers() -> None:
    acd = Acd()
    ready_agent(acd, 1, now=0)
    acd.enqueue("a", queue="general", now=10)
    assert acd.accept("a", 1, now=14) == [QueueLeft("a", "answered", 4.0, 1)]
    assert acd.enqueue("b", queue="general", now=15) == [Announce("b", 1)]
    with pytest.raises(AcdError, match="not offered"):
        acd.accept("b", 1, now=16)


def test_offer_timeout_pauses_the_agent_and_rings_the_next() -> None:
    acd = Acd(offer_timeout_s=20)
    ready_agent(acd, 1, now=0)
    ready_agent(acd, 2, now=1)
    assert acd.enqueue("a", queue="general", now=10)[-1] == Offer("a", 1)
    assert acd.next_deadline() == 30
    events = acd.handle_timeout(30)
    assert events == [OfferTimedOut("a", 1), Offer("a", 2)]
    assert acd.agents[1].state is AgentState.PAUSED
    assert acd.reject("a", 2, now=35) == [OfferWithdrawn("a", 2)]  # still first: no new announcement
    assert acd.agent_available(1, now=40) == [Offer("a", 1)]


def test_abandon_while_ringing_withdraws_the_offer_and_frees_the_agent() -> None:
    acd = Acd()
    ready_agent(acd, 1, now=0)
    acd.enqueue("a", queue="general", now=10)
    acd.enqueue("b", queue="general", now=11)
    events = acd.abandon("a", now=12)
    assert events == [OfferWithdrawn("a", 1), QueueLeft("a", "abandoned", 2.0), Offer("b", 1)]


def test_max_wait_overflows_to_voicemail() -> None:
    acd = Acd(max_wait_s=300, announce_every_s=1000)
    acd.enqueue("a", queue="general", now=0)
    acd.enqueue("b", queue="general", now=100)
    assert acd.next_deadline() == 300
    events = acd.handle_timeout(300)
    assert events == [Overflow("a"), QueueLeft("a", "overflow", 300.0), Announce("b", 1)]
    assert acd.positions() == {"b": 1}


def test_skills_and_queues_restrict_offers() -> None:
    acd = Acd()
    ready_agent(acd, 1, now=0, queues=("general",))
    ready_agent(acd, 2, now=1, queues=("general", "water"), skills={"gas"})
    assert acd.enqueue("w", queue="water", now=2)[-1] == Offer("w", 2)
    assert acd.enqueue("g", queue="general", now=3, skill="gas") == [Announce("g", 1)]  # agent 2 is ringing


def test_wrap_up_then_available() -> None:
    acd = Acd(wrap_up_s=10)
    ready_agent(acd, 1, now=0)
    acd.enqueue("a", queue="general", now=1)
    acd.accept("a", 1, now=2)
    assert acd.call_ended(1, now=50) == []
    acd.enqueue("b", queue="general", now=51)
    assert acd.agents[1].state is AgentState.WRAP_UP and acd.next_deadline() == 60
    assert acd.handle_timeout(60) == [Offer("b", 1)]


def test_sign_out_and_unregister_move_the_offer_on() -> None:
    acd = Acd()
    ready_agent(acd, 1, now=0)
    ready_agent(acd, 2, now=1)
    acd.enqueue("a", queue="general", now=2)
    assert acd.set_registered(1, False, now=3) == [OfferWithdrawn("a", 1), Offer("a", 2)]
    assert acd.sign_out(2, now=4) == [OfferWithdrawn("a", 2)]
    assert acd.snapshot() == {"waiting": {"general": 1}, "agents": {"available": 1, "offline": 1}}


def test_errors_are_clear() -> None:
    acd = Acd()
    with pytest.raises(AcdError, match="unknown agent 9"):
        acd.pause(9, now=0)
    with pytest.raises(AcdError, match="not queued"):
        acd.abandon("x", now=0)
    acd.enqueue("a", queue="general", now=0)
    with pytest.raises(AcdError, match="already queued"):
        acd.enqueue("a", queue="general", now=1)
