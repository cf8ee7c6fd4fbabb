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
from hub.storage.notes import Note

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
class MessageUpdated(Event):
    """A stored message changed after the fact (e.g. a citizen's photo finished downloading)."""

    conversation: Conversation
    message: Message


@dataclass(frozen=True, slots=True)
class NoteAdded(Event):
    """A staff member added a private note to a conversation (staff only: never sent to the citizen)."""

    conversation: Conversation
    note: Note


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
    """A work order was registered (受理); a dispatch by rule follows as an ``automatic`` :class:`WorkOrderChanged`."""

    work_order: WorkOrder


@dataclass(frozen=True, slots=True)
class WorkOrderChanged(Event):
    """An action was taken on a work order (``action`` is a ``hub.work_orders.states.Action`` value).

    ``automatic``: taken by the system on its own at registration (dispatch by rule).
    ``announced``: the dispatch that came with the registration (by rule or by the agent at the desk): the citizen
    heard of it in the registration's reply or notice, so no further notice is sent.
    """

    work_order: WorkOrder
    action: str
    actor_id: int | None
    note: str | None = None
    automatic: bool = False
    announced: bool = False


@dataclass(frozen=True, slots=True)
class CallOffered(Event):
    """A queued phone call is ringing an agent's softphone (the agent's inbox opens the caller's conversation)."""

    conversation: Conversation
    agent_id: int
    caller: str | None


@dataclass(frozen=True, slots=True)
class CallFinished(Event):
    """A phone call ended (its record is complete; ``call_id`` is the ``calls`` row id)."""

    conversation: Conversation
    call_id: int
    cause: str


Handler = Callable[[Event], Awaitable[None]]


def event_key(event: Event) -> str | None:
    """The conversation an event belongs to (what keyed subscriptions filter on)."""
    conversation = getattr(event, "conversation", None)
    if conversation is not None:
        return str(conversation.id)
    work_order = getattr(event, "work_order", None)
    return None if work_order is None else work_order.conversation_id


class Subscription:
    """A bounded queue of events; with a ``key`` it only receives that conversation's events.

    ``None`` in the queue means the subscriber fell behind and must resync from storage.
    """

    def __init__(self, bus: EventBus, capacity: int, key: str | None) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(capacity)
        self._bus = bus
        self.key = key

    def follow(self, key: str | None) -> None:
        """Switch to another conversation's events (``None``: every event)."""
        self._bus._unregister(self)
        self.key = key
        self._bus._register(self)

    async def get(self) -> Event | None:
        """The next event (``None``: overflowed, resync)."""
        return await self.queue.get()


class EventBus:
    """In-process publish/subscribe.

    Handlers run in publish order; a failing handler is logged and does not stop the others.
    Subscriptions are bounded queues; a subscriber too slow to keep up is cut off (it gets ``None`` and must
    resync from storage), never the publisher. Keyed subscriptions (a citizen's socket) are looked up by the
    event's conversation, so publishing costs O(interested subscribers), not O(connections).
    """

    def __init__(self, stream_capacity: int = 1000) -> None:
        self._handlers: list[tuple[type[Event], Handler]] = []
        self._all: set[Subscription] = set()
        self._keyed: dict[str, set[Subscription]] = {}
        self._capacity = stream_capacity

    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        """Call ``handler`` for every published event of ``event_type`` (or a subclass)."""
        self._handlers.append((event_type, handler))

    def _register(self, sub: Subscription) -> None:
        if sub.key is None:
            self._all.add(sub)
        else:
            self._keyed.setdefault(sub.key, set()).add(sub)

    def _unregister(self, sub: Subscription) -> None:
        if sub.key is None:
            self._all.discard(sub)
            return
        subs = self._keyed.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._keyed[sub.key]

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to handlers, then to subscriptions."""
        for event_type, handler in self._handlers:
            if isinstance(event, event_type):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler %r failed for %s", handler, type(event).__name__)
        key = event_key(event)
        targets = list(self._all)
        if key is not None and key in self._keyed:
            targets.extend(self._keyed[key])
        for sub in targets:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("event subscriber fell behind; cutting it off so it resyncs")
                self._unregister(sub)
                sub.queue.get_nowait()
                sub.queue.put_nowait(None)

    @asynccontextmanager
    async def stream(self, key: str | None = None) -> AsyncIterator[Subscription]:
        """Subscribe while the context is open: every event, or one conversation's (``key``)."""
        sub = Subscription(self, self._capacity, key)
        self._register(sub)
        try:
            yield sub
        finally:
            self._unregister(sub)
