"""Weighted slots: a call takes the agent whole, text a share; overrides; calls to agents busy with chats."""

from __future__ import annotations

import pytest

from routing.engine import Assigned, CapacityPolicy, Offered, QueueConfig, Router, RoutingError

from .support import of, router, staff


@pytest.mark.parametrize(
    ("capacity", "weights", "channel", "fits"),
    [
        (3, {}, "web_chat", 3),
        (3, {}, "telegram", 3),
        (3, {"email": 3}, "email", 1),
        (4, {"sms": 2}, "sms", 2),
        (1, {}, "web_chat", 1),
        (3, {"web_chat": 4}, "web_chat", 0),
    ],
)
def test_text_conversations_fill_the_slots(capacity: int, weights: dict[str, int], channel: str, fits: int) -> None:
    r = router(capacity=capacity, text_weight=weights)
    staff(r, 1)
    for n in range(5):
        r.enqueue(f"t{n}", queue="general", channel=channel, now=n)
    assert len(r.agents[1].load) == fits
    assert sum(r.agents[1].load.values()) <= capacity


@pytest.mark.parametrize(("override", "fits"), [(None, 3), (1, 1), (5, 5)])
def test_per_agent_capacity_override(override: int | None, fits: int) -> None:
    r = router()
    staff(r, 1, capacity=override)
    for n in range(6):
        r.enqueue(f"t{n}", queue="general", channel="web_chat", now=n)
    assert len(r.agents[1].load) == fits


def test_per_agent_weight_override() -> None:
    r = Router([QueueConfig("general")], CapacityPolicy(capacity=4))
    r.set_registered(1, True, now=0)
    r.sign_in(1, now=0, queues=["general"], text_weight={"email": 4})
    r.enqueue("e1", queue="general", channel="email", now=1)
    r.enqueue("e2", queue="general", channel="email", now=2)
    assert list(r.agents[1].load) == ["e1"]


@pytest.mark.parametrize(
    ("chats_in_hand", "call_while_chatting", "offered"),
    [(0, False, True), (1, False, False), (0, True, True), (1, True, True), (3, True, True)],
)
def test_a_call_to_an_agent_busy_with_chats(chats_in_hand: int, call_while_chatting: bool, offered: bool) -> None:
    r = router(QueueConfig("general", call_while_chatting=call_while_chatting))
    staff(r, 1)
    for n in range(chats_in_hand):
        r.enqueue(f"t{n}", queue="general", channel="web_chat", now=n)
    events = r.enqueue("call", queue="general", channel="voice", now=10)
    assert bool(of(events, Offered)) is offered
    if offered:
        r.accept("call", 1, now=11)
        assert sum(r.agents[1].load.values()) == 3  # the call takes what is left: the agent is full
        r.finish("t0", now=12) if chats_in_hand else None
        r.enqueue("late", queue="general", channel="web_chat", now=13)
        assert "late" in r.items  # nothing new while on a call


def test_a_call_takes_the_agent_whole() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("call", queue="general", channel="voice", now=0)
    r.accept("call", 1, now=1)
    assert r.agents[1].load == {"call": 3}
    r.enqueue("chat", queue="general", channel="web_chat", now=2)
    assert "chat" in r.items
    events = r.finish("call", now=60)
    assert of(events, Assigned) == [Assigned("chat", 1, "general", 58, "auto")]


def test_a_waiting_call_holds_the_agents_it_needs_against_later_chats() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("t0", queue="general", channel="web_chat", now=0)
    r.enqueue("call", queue="general", channel="voice", now=10)
    r.enqueue("t1", queue="general", channel="web_chat", now=11)
    assert list(r.agents[1].load) == ["t0"]  # t1 does not jump ahead of the call
    events = r.finish("t0", now=20)
    assert of(events, Offered) == [Offered("call", 1, 40)]


@pytest.mark.parametrize(
    ("allow_pick", "in_queue", "status", "in_hand", "ok"),
    [
        (True, True, "break", 0, True),
        (True, True, "break", 1, False),  # no room
        (False, True, "break", 0, False),
        (True, False, "break", 0, False),
        (True, True, "offline", 0, False),
    ],
)
def test_pick_is_validated(allow_pick: bool, in_queue: bool, status: str, in_hand: int, ok: bool) -> None:
    r = router(QueueConfig("general", allow_pick=allow_pick), QueueConfig("other"), capacity=1)
    staff(r, 1, queues=("general", "other") if in_queue else ("other",))
    for n in range(in_hand):
        r.enqueue(f"held{n}", queue="other", channel="web_chat", now=0)
    r.set_status(1, status, now=1, reason="training" if status == "break" else None)
    r.enqueue("t", queue="general", channel="web_chat", now=2)  # nobody takes it automatically
    assert "t" in r.items
    if ok:
        assert of(r.pick(1, "t", now=5), Assigned) == [Assigned("t", 1, "general", 3, "picked")]
        assert r.agents[1].status.value == "busy"
    else:
        with pytest.raises(RoutingError):
            r.pick(1, "t", now=5)
        assert "t" in r.items


def test_pick_needs_room_and_no_offer_to_someone_else() -> None:
    r = router(QueueConfig("general", auto_accept=False), capacity=1)
    staff(r, 1)
    staff(r, 2)
    r.enqueue("t0", queue="general", channel="web_chat", now=0)  # offered to one of them
    (offer,) = r.items["t0"].offers
    other = 2 if offer == 1 else 1
    with pytest.raises(RoutingError):
        r.pick(other, "t0", now=1)
    assert of(r.pick(offer, "t0", now=1), Assigned) == [Assigned("t0", offer, "general", 1, "picked")]
    r.enqueue("t1", queue="general", channel="web_chat", now=2)  # offered to the other agent
    with pytest.raises(RoutingError):
        r.pick(offer, "t1", now=3)  # full, and offered to someone else
