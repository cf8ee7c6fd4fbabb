"""Typed domain events published by the hub's services.

Services publish explicitly (never from storage callbacks). Subscribers are wired in one place,
the composition root (``rexian.app``); WebSocket handlers use :meth:`EventBus.stream`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from hub.models import Conversation, Message, WorkOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of all hub events."""


@dataclass(frozen=True, slots=True)
class MessageStored(Event):
    """A message (any direction) was stored in a conversation."""

    conversation: Conversation
    message: Message


@dataclass(frozen=True, slots=True)
class ConversationQueued(Event):
    """The bot handed the conversation to the agent queue."""

    conversation: Conversation
    reason: str


@dataclass(frozen=True, slots=True)
class ConversationAssigned(Event):
    """An agent claimed a queued conversation."""

    conversation: Conversation


@dataclass(frozen=True, slots=True)
class ConversationClosed(Event):
    """A conversation was closed."""

    conversation: Conversation


@dataclass(frozen=True, slots=True)
class WorkOrderCreated(Event):
    """A work order was created and (if a rule matched) dispatched."""

    work_order: WorkOrder


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """In-process publish/subscribe.

    Handlers run in publish order; a failing handler is logged and does not stop the others.
    Streams are bounded queues; a subscriber too slow to keep up loses its stream (it is closed and must
    reconnect and resync from storage), never the publisher's progress.
    """

    def __init__(self, stream_capacity: int = 1000) -> None:
        self._handlers: list[tuple[type[Event], Handler]] = []
        self._streams: set[asyncio.Queue[Event | None]] = set()
        self._capacity = stream_capacity

    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        """Call ``handler`` for every published event of ``event_type`` (or a subclass)."""
        self._handlers.append((event_type, handler))

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to handlers, then to streams."""
        for event_type, handler in self._handlers:
            if isinstance(event, event_type):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler %r failed for %s", handler, type(event).__name__)
        for queue in list(self._streams):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("event stream overflowed; closing it so the subscriber resyncs")
                self._streams.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[asyncio.Queue[Event | None]]:
        """A queue receiving every event published while the context is open (``None`` = overflowed)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._capacity)
        self._streams.add(queue)
        try:
            yield queue
        finally:
            self._streams.discard(queue)
