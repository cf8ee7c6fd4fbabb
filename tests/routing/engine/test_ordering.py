"""Service order (priority, then wait against the SL target), positions, estimated wait, overflow, abandon."""

from __future__ import annotations

import pytest

from routing.engine import Assigned, Offered, OfferWithdrawn, QueueConfig, QueueLeft

from .support import of, router, staff


@pytest.mark.parametrize(
    ("items", "first"),
    [
        # (id, channel, priority, enqueued_at)
        ([("old", "voice", 0, 0.0), ("new", "voice", 0, 5.0)], "old"),
        ([("old", "voice", 0, 0.0), ("vip", "voice", 10, 5.0)], "vip"),
        ([("urgent", "web_chat", 5, 9.0), ("old", "voice", 0, 0.0)], "urgent"),
        # call target 15 s, chat 60 s, now 10: call waited 5 s (0.33), chat 18 s (0.3) → the call
        ([("chat", "web_chat", 0, -8.0), ("call", "voice", 0, 5.0)], "call"),
        # chat waited 50 s (0.83) → the chat
        ([("chat", "web_chat", 0, -40.0), ("call", "voice", 0, 5.0)], "chat"),
    ],
)
def test_service_order(items: list[tuple[str, str, int, float]], first: str) -> None:
    r = router(QueueConfig("general", sl_target_s={"voice": 15, "web_chat": 60}, auto_accept=False))
    for item_id, channel, priority, at in items:
        r.enqueue(item_id, queue="general", channel=channel, now=at, priority=priority)
    positions = {i: r.position(i, 10) for i in r.items}
    assert positions[first] == 1
    events = staff(r, 1, now=10)
    assert of(events, Offered)[0].item_id == first


def test_positions_are_per_queue() -> None:
    r = router(QueueConfig("a"), QueueConfig("b"))
    for n, queue in enumerate("abab"):
        r.enqueue(f"{queue}{n}", queue=queue, channel="sms", now=n)
    assert {i: r.position(i, 10) for i in r.items} == {"a0": 1, "b1": 1, "a2": 2, "b3": 2}


@pytest.mark.parametrize(
    ("channel", "agents", "capacity", "handled", "position", "expected"),
    [
        ("voice", 2, 3, [], 1, 180 * 1 / 2),  # default AHT 180 s, 2 agents
        ("voice", 2, 3, [100, 200], 3, 150 * 3 / 2),
        ("web_chat", 2, 3, [], 3, 180 * 3 / 6),  # 3 chats each
        ("web_chat", 1, 2, [60], 4, 60 * 4 / 2),
        ("voice", 0, 3, [], 1, None),  # nobody staffed: no number
    ],
)
def test_estimated_wait(
    channel: str, agents: int, capacity: int, handled: list[float], position: int, expected: float | None
) -> None:
    r = router(capacity=capacity)
    for n, seconds in enumerate(handled):
        staff(r, 100, now=0)
        r.enqueue(f"h{n}", queue="general", channel=channel, now=0)
        if channel == "voice":
            r.accept(f"h{n}", 100, now=0)
        r.finish(f"h{n}", now=seconds)
        r.set_status(100, "offline", now=seconds)
    for n in range(position):
        r.enqueue(f"w{n}", queue="general", channel=channel, now=1000 + n)
    for agent_id in range(1, agents + 1):  # staffed, but not yet dispatched to (no change event since)
        staff(r, agent_id, now=2000, queues=("other",))
    for agent_id in range(1, agents + 1):
        r.agents[agent_id].queues = frozenset({"general"})
    assert r.position(f"w{position - 1}", 2000) == position
    assert r.estimated_wait_s(f"w{position - 1}", 2000) == expected


def test_abandon_withdraws_the_offer() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("a", queue="general", channel="voice", now=0)
    events = r.abandon("a", now=7)
    assert events[0] == OfferWithdrawn("a", 1)
    assert QueueLeft("a", "general", "abandoned", 7) in events
    assert r.agents[1].status.value == "available"


def test_overflow_after_the_maximum_wait() -> None:
    r = router(QueueConfig("general", max_wait_s=300))
    r.enqueue("a", queue="general", channel="voice", now=0)
    assert r.next_deadline() == 300
    assert r.handle_timeout(299) == []
    assert r.handle_timeout(300) == [QueueLeft("a", "general", "overflow", 300)]
    assert r.next_deadline() is None


def test_text_waits_on_past_the_maximum_unless_its_channel_overflows() -> None:
    r = router(QueueConfig("general", max_wait_s=300))
    r.enqueue("chat", queue="general", channel="web_chat", now=0)
    assert r.next_deadline() is None and r.handle_timeout(1000) == []
    r = router(QueueConfig("general", max_wait_s=300, overflow_channels=frozenset({"web_chat"})))
    r.enqueue("chat", queue="general", channel="web_chat", now=0)
    assert r.handle_timeout(300) == [QueueLeft("chat", "general", "overflow", 300)]


def test_a_chat_assigned_shows_up_as_the_agents_and_finishes() -> None:
    r = router()
    staff(r, 1)
    assert of(r.enqueue("c", queue="general", channel="email", now=3), Assigned) == [
        Assigned("c", 1, "general", 0, "auto")
    ]
    assert r.held["c"].agent_id == 1
    r.finish("c", now=63)
    assert (r.agents[1].handled_today, r.agents[1].talk_time_today) == (1, 60)
    r.new_day()
    assert (r.agents[1].handled_today, r.agents[1].talk_time_today) == (0, 0)
