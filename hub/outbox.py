"""Durable delivery of outbound messages to channels that push to the citizen (Telegram, SMS, email).

A listener on :class:`~hub.events.MessageStored` queues every outbound message (bot, agent, system) of a
conversation whose channel has a registered :class:`Sender` in the ``outbox`` table; one delivery loop per channel
sends the pending rows in order, retries failures with exponential backoff and marks rows sent. Rows stay
pending across a restart, so nothing accepted is lost. Web chat (its socket) and REST (pulled) register no sender.

This module knows no channel: channels register a sender from the composition root.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from hub.background import cancel_and_wait, wait_event
from hub.clock import Clock, utc_now
from hub.events import Event, EventBus, MessageStored
from hub.models import Conversation, Message
from hub.storage.conversations import ConversationStore
from hub.storage.outbox import OutboxItem, OutboxStore

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # pending rows read per query


class Sender(Protocol):
    """Pushes one message to the citizen on a channel."""

    async def send(self, conversation: Conversation, message: Message) -> None:
        """Deliver ``message``; raise on failure (:class:`PermanentFailure` if retrying cannot help)."""


class PermanentFailure(Exception):
    """The channel rejected the message for good (blocked bot, unknown recipient): it is not retried."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base_s * 2**(attempts-1)``, at most ``max_s`` seconds."""

    base_s: float = 1.0
    max_s: float = 300.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))


@dataclass
class _Channel:
    sender: Sender
    wake: asyncio.Event
    close: Callable[[], Awaitable[None]] | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    task: asyncio.Task[None] | None = None


class Outbox:
    """Queues outbound messages for push channels and delivers them in order with retries."""

    def __init__(
        self,
        store: OutboxStore,
        conversations: ConversationStore,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.conversations = conversations
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._channels: dict[str, _Channel] = {}
        self._wakers: set[asyncio.Task[None]] = set()

    def register(self, channel: str, sender: Sender, close: Callable[[], Awaitable[None]] | None = None) -> None:
        """Deliver outbound messages of ``channel`` conversations through ``sender``.

        ``close`` (releasing the sender's connections) is awaited by :meth:`stop` after the loop has stopped.
        """
        self._channels[channel] = _Channel(sender, asyncio.Event(), close=close)

    def wake(self, channel: str) -> None:
        """The channel's link came back (e.g. the SMSC bind succeeded): retry its pending rows now, without
        waiting for their backoff. Unknown channels are ignored."""
        if channel in self._channels:
            task = asyncio.get_running_loop().create_task(self.retry_now(channel))
            self._wakers.add(task)
            task.add_done_callback(self._wakers.discard)

    async def retry_now(self, channel: str) -> None:
        """Make the channel's pending rows due now and run its delivery loop."""
        state = self._channels.get(channel)
        if state is None:
            return
        try:
            moved = await self.store.retry_now(channel, self._clock())
        except Exception:
            log.exception("outbox %s: could not reschedule pending rows", channel)
            return
        if moved:
            log.info("outbox %s: link is back, retrying %d pending message(s) now", channel, moved)
        state.wake.set()

    def attach(self, bus: EventBus) -> None:
        """Queue outbound messages as they are stored."""
        bus.subscribe(MessageStored, self._on_message)

    async def _on_message(self, event: Event) -> None:
        if not isinstance(event, MessageStored):
            return
        channel = self._channels.get(event.conversation.channel)
        if channel is None or event.message.direction != "out":
            return
        if await self.store.enqueue(event.message.id, event.conversation.id, event.conversation.channel):
            channel.wake.set()

    def start(self) -> None:
        """Start one delivery loop per registered channel (pending rows of a previous run go first)."""
        for name, channel in self._channels.items():
            if channel.task is None:
                channel.task = asyncio.create_task(self._run(name, channel), name=f"outbox:{name}")

    async def stop(self) -> None:
        """Stop the delivery loops; what is still pending stays in the table for the next run."""
        for channel in self._channels.values():
            task, channel.task = channel.task, None
            if task is not None:
                await cancel_and_wait(task, task.get_name())
            if channel.close is not None:
                try:
                    await channel.close()
                except Exception:
                    log.exception("closing a sender failed")

    async def health(self, channel: str) -> dict[str, Any]:
        """Pending count and last error for /healthz (``degraded`` while the last attempt failed)."""
        state = self._channels[channel]
        counts = await self.store.counts(channel)
        return {
            "status": "degraded" if state.last_error else "ok",
            "pending": counts.get("pending", 0),
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "last_error": state.last_error,
            "last_error_at": None if state.last_error_at is None else state.last_error_at.isoformat(),
        }

    async def _run(self, name: str, channel: _Channel) -> None:
        try:
            for message_id, conversation_id in await self.store.unqueued_since_last(name):
                log.warning("outbox %s: queueing message %s stored but not queued by the last run", name, message_id)
                await self.store.enqueue(message_id, conversation_id, name)
        except Exception:
            log.exception("outbox %s: could not look for unqueued messages", name)
        while True:
            channel.wake.clear()
            try:
                wait_s = await self.deliver_due(name)
            except Exception as exc:  # the store itself failed: keep the loop alive
                log.exception("outbox %s: delivery round failed", name)
                self._note_error(channel, f"outbox: {exc}")
                wait_s = self.retry.max_s
            await wait_event(channel.wake, wait_s)

    async def deliver_due(self, name: str) -> float | None:
        """One round: send every due pending row of the channel in order.

        Order is kept per conversation: after a conversation's row fails or is not due, its later rows wait.
        Returns the seconds until the next row falls due (None: nothing pending).
        """
        channel = self._channels[name]
        blocked: set[str] = set()
        next_due: datetime | None = None
        after_id = 0
        while True:  # every page: a backlog longer than one page must not wait for the next wake-up
            page = await self.store.pending(name, limit=PAGE_SIZE, after_id=after_id)
            for item in page:
                if item.conversation_id in blocked:
                    continue
                now = self._clock()
                if item.next_attempt_at > now:
                    blocked.add(item.conversation_id)
                    next_due = item.next_attempt_at if next_due is None else min(next_due, item.next_attempt_at)
                    continue
                retry_at = await self._attempt(channel, item)
                if retry_at is not None:
                    blocked.add(item.conversation_id)
                    next_due = retry_at if next_due is None else min(next_due, retry_at)
            if len(page) < PAGE_SIZE:
                break
            after_id = page[-1].id
        if next_due is None:
            return None
        return max(0.0, (next_due - self._clock()).total_seconds())

    async def _attempt(self, channel: _Channel, item: OutboxItem) -> datetime | None:
        """Send one row; returns when to retry it (None: done, sent or failed for good)."""
        attempts = item.attempts + 1
        try:
            conversation = await self.conversations.get(item.conversation_id)
            await channel.sender.send(conversation, item.message)
        except PermanentFailure as exc:
            log.warning("outbox %s: message %s rejected for good: %s", item.channel, item.message.id, exc)
            self._note_error(channel, str(exc) or type(exc).__name__)
            await self.store.mark_failed(item.id, attempts, str(exc) or type(exc).__name__)
            return None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry_at = self._clock() + timedelta(seconds=self.retry.delay(attempts))
            log.warning("outbox %s: message %s attempt %d failed: %s", item.channel, item.message.id, attempts, error)
            self._note_error(channel, error)
            await self.store.mark_retry(item.id, attempts, retry_at, error)
            return retry_at
        await self.store.mark_sent(item.id)
        channel.last_error = None
        return None

    def _note_error(self, channel: _Channel, error: str) -> None:
        channel.last_error = error
        channel.last_error_at = self._clock()
