"""The in-process event bus: handlers, keyed subscriptions, slow subscribers cut off."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.events import ConversationClosed, Event, EventBus
from hub.models import Conversation, ConversationStatus


def conv(cid: str) -> Conversation:
    now = datetime.now(UTC)
    return Conversation(
        cid, "web_chat", None, None, ConversationStatus.CLOSED, None, "zh-CN", {}, None, None, None, now, now
    )


async def test_keyed_subscriptions_get_only_their_conversation() -> None:
    bus = EventBus()
    async with bus.stream(key="a") as a, bus.stream() as everything, bus.stream(key="") as nothing:
        await bus.publish(ConversationClosed(conv("a")))
        await bus.publish(ConversationClosed(conv("b")))
        assert a.queue.qsize() == 1 and everything.queue.qsize() == 2 and nothing.queue.qsize() == 0
        nothing.follow("b")
        await bus.publish(ConversationClosed(conv("b")))
        assert nothing.queue.qsize() == 1
        event = await nothing.get()
        assert isinstance(event, ConversationClosed) and event.conversation.id == "b"
    await bus.publish(ConversationClosed(conv("a")))  # closed subscriptions receive nothing
    assert a.queue.qsize() == 1


async def test_failing_handler_does_not_stop_others() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def bad(event: Event) -> None:
        raise RuntimeError("boom")

    async def good(event: Event) -> None:
        seen.append(type(event).__name__)

    bus.subscribe(Event, bad)
    bus.subscribe(ConversationClosed, good)
    await bus.publish(ConversationClosed(conv("x")))
    assert seen == ["ConversationClosed"]


async def test_slow_subscriber_is_cut_off_with_a_resync_marker() -> None:
    bus = EventBus(stream_capacity=2)
    async with bus.stream(key="x") as sub:
        for _ in range(3):
            await bus.publish(ConversationClosed(conv("x")))
        first = await sub.get()
        assert first is not None
        assert await sub.get() is None  # overflowed: resync from storage
        await bus.publish(ConversationClosed(conv("x")))
        assert sub.queue.qsize() == 0
