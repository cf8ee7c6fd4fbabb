"""The durable outbox: queued on MessageStored, delivered in order, retried with backoff, kept across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.events import EventBus, MessageStored
from hub.models import Conversation, Message, SenderKind
from hub.outbox import Outbox, PermanentFailure, RetryPolicy
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.outbox import OutboxStore
from rexian.schema import migrate

FAST = RetryPolicy(base_s=0.01, max_s=0.05)


class FlakySender:
    """Records deliveries; fails while ``failures`` is positive (or for good with ``permanent``)."""

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.sent: list[tuple[str, str]] = []
        self.attempts = 0

    async def send(self, conversation: Conversation, message: Message) -> None:
        self.attempts += 1
        if self.permanent:
            raise PermanentFailure("blocked by the user")
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("peer down")
        self.sent.append((conversation.id, message.text))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path))
    await migrate(engine)
    yield engine
    await engine.dispose()


async def until(condition: Callable[[], bool], rounds: int = 400) -> None:
    """Poll (bounded) until ``condition`` holds."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def say(store: ConversationStore, bus: EventBus, conversation: Conversation, text: str, direction: str = "out"):
    kind = SenderKind.BOT if direction == "out" else SenderKind.CITIZEN
    message, _ = await store.add_message(conversation.id, direction=direction, sender_kind=kind, text=text)
    await bus.publish(MessageStored(conversation, message))
    return message


async def test_outbound_messages_of_push_channels_are_delivered_in_order(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, FAST)
    sender = FlakySender()
    outbox.register("fake", sender)
    outbox.attach(bus)
    outbox.start()
    try:
        pushed = await store.create("fake", external_ref="1")
        pulled = await store.create("rest", external_ref="2")
        await say(store, bus, pushed, "citizen text", direction="in")
        await say(store, bus, pulled, "rest reply")
        for i in range(5):
            await say(store, bus, pushed, f"reply {i}")
        await until(lambda: len(sender.sent) == 5)
    finally:
        await outbox.stop()
    assert sender.sent == [(pushed.id, f"reply {i}") for i in range(5)]
    assert await OutboxStore(engine).counts("fake") == {"sent": 5}
    assert await OutboxStore(engine).counts("rest") == {}


async def test_duplicate_events_queue_a_message_once(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, FAST)
    outbox.register("fake", FlakySender())
    outbox.attach(bus)
    conversation = await store.create("fake", external_ref="1")
    message = await say(store, bus, conversation, "once")
    await bus.publish(MessageStored(conversation, message))
    assert await OutboxStore(engine).counts("fake") == {"pending": 1}


async def test_failures_are_retried_with_backoff_and_shown_in_health(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, FAST)
    sender = FlakySender(failures=3)
    outbox.register("fake", sender)
    outbox.attach(bus)
    conversation = await store.create("fake", external_ref="1")
    await say(store, bus, conversation, "first")
    await say(store, bus, conversation, "second")
    # one round by hand: the first row fails, the second waits behind it (order within a conversation)
    assert await outbox.deliver_due("fake") is not None
    health = await outbox.health("fake")
    assert health["status"] == "degraded" and health["pending"] == 2
    assert health["last_error"] == "ConnectionError: peer down"
    pending = await OutboxStore(engine).pending("fake")
    assert [p.attempts for p in pending] == [1, 0]
    outbox.start()
    try:
        await until(lambda: len(sender.sent) == 2)
    finally:
        await outbox.stop()
    assert [text for _, text in sender.sent] == ["first", "second"]
    assert sender.attempts == 5
    health = await outbox.health("fake")
    assert health["status"] == "ok" and health["pending"] == 0 and health["sent"] == 2


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_s=1, max_s=10)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_permanent_failures_are_not_retried(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, FAST)
    sender = FlakySender(permanent=True)
    outbox.register("fake", sender)
    outbox.attach(bus)
    conversation = await store.create("fake", external_ref="1")
    await say(store, bus, conversation, "never")
    assert await outbox.deliver_due("fake") is None
    assert await OutboxStore(engine).counts("fake") == {"failed": 1}
    assert sender.attempts == 1


async def test_pending_rows_survive_a_restart(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    first = Outbox(OutboxStore(engine), store, FAST)
    first.register("fake", FlakySender(failures=10**6))
    first.attach(bus)
    conversation = await store.create("fake", external_ref="1")
    await say(store, bus, conversation, "kept")
    await first.deliver_due("fake")
    # a new process: a fresh outbox on the same database, with the peer back
    sender = FlakySender()
    second = Outbox(OutboxStore(engine), ConversationStore(engine), FAST)
    second.register("fake", sender)
    second.start()
    try:
        await until(lambda: sender.sent == [(conversation.id, "kept")])
    finally:
        await second.stop()


async def test_messages_stored_but_not_queued_by_a_crashed_run_are_queued_at_start(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    first = Outbox(OutboxStore(engine), store, FAST)
    first.register("fake", FlakySender(failures=10**6))
    first.attach(bus)
    conversation = await store.create("fake", external_ref="1")
    await say(store, bus, conversation, "queued")
    # the process dies between storing a reply and its listener queueing it
    await store.add_message(conversation.id, direction="out", sender_kind=SenderKind.AGENT, text="lost?")
    sender = FlakySender()
    second = Outbox(OutboxStore(engine), store, FAST)
    second.register("fake", sender)
    second.start()
    try:
        await until(lambda: len(sender.sent) == 2)
    finally:
        await second.stop()
    assert [text for _, text in sender.sent] == ["queued", "lost?"]


async def test_enabling_a_channel_does_not_send_its_history(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    conversation = await store.create("fake", external_ref="1")
    await store.add_message(conversation.id, direction="out", sender_kind=SenderKind.BOT, text="old")
    assert await OutboxStore(engine).unqueued_since_last("fake") == []


async def test_a_backlog_longer_than_one_page_is_sent_in_one_round(engine: AsyncEngine) -> None:
    """250 rows queued while the channel was down (no loop running) all go in one delivery round."""
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, FAST)
    sender = FlakySender()
    outbox.register("fake", sender)
    outbox.attach(bus)
    conversations = [await store.create("fake", external_ref=str(i)) for i in range(25)]
    for n in range(10):
        for conversation in conversations:
            await say(store, bus, conversation, f"notice {n}")
    assert await outbox.deliver_due("fake") is None
    assert len(sender.sent) == 250
    for conversation in conversations:  # per-conversation order kept across pages
        texts = [text for cid, text in sender.sent if cid == conversation.id]
        assert texts == [f"notice {n}" for n in range(10)]


async def test_wake_sends_what_waits_for_a_link_that_came_back(engine: AsyncEngine) -> None:
    store, bus = ConversationStore(engine), EventBus()
    outbox = Outbox(OutboxStore(engine), store, RetryPolicy(base_s=60.0, max_s=60.0))
    sender = FlakySender(failures=1)
    outbox.register("fake", sender)
    outbox.attach(bus)
    outbox.start()
    try:
        conversation = await store.create("fake", external_ref="1")
        await say(store, bus, conversation, "工单已办结")
        await until(lambda: sender.attempts == 1)  # failed; the next try would be in 60 s
        outbox.wake("fake")  # e.g. the SMSC bind succeeded: no 60 s wait
        outbox.wake("unknown")  # ignored
        await until(lambda: sender.sent == [(conversation.id, "工单已办结")])
    finally:
        await outbox.stop()
