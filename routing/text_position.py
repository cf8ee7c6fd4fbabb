"""Position and estimated wait for text citizens (web chat, SMS, Telegram, REST, e-mail) waiting for an agent.

When a text conversation enters the queue and nobody takes it at once, the citizen gets one system message through
the conversation service (which delivers it on every channel): "您已进入人工排队，前面还有N位，预计等待约M分钟"
(no estimate: "…前面还有N位，请稍候"; nobody staffed for the queue: agents are offline, the message is kept and will
be answered). Web chat and Telegram citizens are also told when their position improves, at most once a minute
per conversation; SMS, e-mail and REST only get the first message (each SMS costs). Only when
``switchboard.settings.announce_text`` is true.

It listens to the switchboard: the queue log's ``enter`` entries (a conversation joined a queue; restored and
transferred items are not announced) and the switchboard's changes (an item assigned or gone moves the others up).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from hub.background import TaskSet
from hub.conversation_service import ConversationService
from hub.i18n import t
from hub.models import ConversationStatus
from hub.storage.conversations import ConversationNotFound
from routing.engine import AgentStatus, Assigned, QueueLeft, Transferred
from routing.engine import capacity as slots
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD, Change, Switchboard

log = logging.getLogger(__name__)

ANNOUNCED = frozenset({"web_chat", "sms", "telegram", "rest", "email"})
"""Channels whose waiting citizens are told their position once."""
UPDATED = frozenset({"web_chat", "telegram"})
"""Channels whose citizens are also told when their position improves (free and read live)."""
MIN_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class Place:
    """Where a waiting item stands: citizens ahead, estimated seconds to wait, whether anyone serves its queue."""

    ahead: int
    wait_s: float | None
    staffed: bool


def position_text(place: Place, locale: str, *, update: bool = False) -> str:
    """The citizen's message for ``place`` (``update``: a later one, when the position improved)."""
    if not place.staffed and not update:
        return t("text_queue.offline", locale)
    kind = "update" if update else "position"
    if place.wait_s is None:
        return t(f"text_queue.{kind}_unknown", locale, ahead=place.ahead)
    minutes = max(1, math.ceil(place.wait_s / 60))
    return t(f"text_queue.{kind}", locale, ahead=place.ahead, minutes=minutes)


@dataclass(slots=True)
class Told:
    """What a citizen who gets updates was last told, and when (loop seconds)."""

    position: int
    at: float
    timer: asyncio.TimerHandle | None = None


def update_delay(told: Told, position: int, now: float, min_interval_s: float) -> float | None:
    """When to tell the citizen their new ``position``: None (not better), 0 (now) or seconds to wait."""
    if position >= told.position:
        return None
    return max(told.at + min_interval_s - now, 0.0)


class TextPosition:
    """Tells waiting text citizens their position and estimated wait (see the module docstring).

    Args:
        board: the hub's switchboard.
        service: the conversation service (the messages go through it).
        min_interval_s: the least time between two messages to one citizen.
        clock: monotonic seconds (the event loop's clock by default).
    """

    def __init__(
        self,
        board: Switchboard,
        service: ConversationService,
        *,
        min_interval_s: float = MIN_INTERVAL_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.board = board
        self.service = service
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._told: dict[str, Told] = {}  # conversations getting updates
        self._tasks = TaskSet("text position")
        self._stops: list[Callable[[], None]] = []

    def start(self) -> None:
        """Listen to the switchboard."""
        self._stops = [self.board.log.listen(self._on_entry), self.board.listen(self._on_change)]

    async def close(self) -> None:
        """Stop listening; cancel pending updates and messages."""
        for stop in self._stops:
            stop()
        self._stops = []
        for told in self._told.values():
            if told.timer is not None:
                told.timer.cancel()
        self._told.clear()
        await self._tasks.close()

    def now(self) -> float:
        """Monotonic seconds."""
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def place(self, item_id: str) -> Place | None:
        """Where the item waits now (None: not waiting)."""
        found = self.board.position(item_id)
        if found is None:
            return None
        position, wait_s = found
        item = self.board.router.items[item_id]
        queue = self.board.router.queues[item.queue]
        staffed = any(
            agent.presence is not AgentStatus.OFFLINE and slots.eligible(agent, item, queue)
            for agent in self.board.router.agents.values()
        )
        return Place(position - 1, wait_s, staffed)

    # -- listeners (synchronous: they only schedule) ----------------------------------------------------------

    def _on_entry(self, entry: LogEntry) -> None:
        if (
            entry.event is QueueEvent.ENTER
            and entry.reason is None  # not a transfer back into a queue
            and entry.channel in ANNOUNCED
            and entry.item_id is not None
            and entry.item_id == entry.conversation_id
            and self.board.settings.announce_text
        ):
            self._tasks.spawn(self._first(entry.item_id, entry.channel))

    def _on_change(self, change: Change) -> None:
        event = change.event
        if not isinstance(event, (Assigned, QueueLeft, Transferred)):
            return
        if isinstance(event, (Assigned, QueueLeft)):
            self._forget(event.item_id)
        for item_id in list(self._told):
            self._check(item_id)

    # -- messages -----------------------------------------------------------------------------------------------

    async def _first(self, item_id: str, channel: str) -> None:
        if self.place(item_id) is None:
            return  # taken at once
        try:
            conversation = await self.service.store.get(item_id)
        except ConversationNotFound:
            return
        place = self.place(item_id)
        if place is None or conversation.status is not ConversationStatus.QUEUED:
            return
        if channel in UPDATED:
            self._told[item_id] = Told(place.ahead + 1, self.now())
        await self.service.post(conversation, position_text(place, conversation.locale))

    def _check(self, item_id: str) -> None:
        told = self._told.get(item_id)
        if told is None or told.timer is not None:
            return
        found = self.board.position(item_id)
        if found is None:
            self._forget(item_id)
            return
        delay = update_delay(told, found[0], self.now(), self.min_interval_s)
        if delay is None:
            return
        if delay > 0:
            told.timer = asyncio.get_running_loop().call_later(delay, self._due, item_id)
            return
        place = self.place(item_id)
        if place is None:
            return
        told.position, told.at = found[0], self.now()
        self._tasks.spawn(self._update(item_id, place))

    def _due(self, item_id: str) -> None:
        told = self._told.get(item_id)
        if told is not None:
            told.timer = None
            self._check(item_id)

    async def _update(self, item_id: str, place: Place) -> None:
        try:
            conversation = await self.service.store.get(item_id)
        except ConversationNotFound:
            return
        if conversation.status is ConversationStatus.QUEUED:
            await self.service.post(conversation, position_text(place, conversation.locale, update=True))

    def _forget(self, item_id: str) -> None:
        told = self._told.pop(item_id, None)
        if told is not None and told.timer is not None:
            told.timer.cancel()


TEXT_POSITION: web.AppKey[TextPosition] = web.AppKey("text_position", TextPosition)


def setup(app: web.Application) -> None:
    """Tell waiting text citizens their position from app start-up to clean-up (after the switchboard is set)."""
    board = app[SWITCHBOARD]
    announcer = TextPosition(board, board.service)
    app[TEXT_POSITION] = announcer

    async def start(_app: web.Application) -> None:
        announcer.start()

    async def close(_app: web.Application) -> None:
        await announcer.close()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, close)
