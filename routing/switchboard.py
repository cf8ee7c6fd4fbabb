"""The switchboard: the one async adapter around the sans-IO :class:`~routing.engine.Router` (ADR 0030, 0031).

It owns the router for the whole hub. Hub events feed it (a conversation handed to a human joins a queue, a closed
one finishes or abandons), the voice channel feeds it its calls through the same methods, agents set their status
from the inbox, and a single timer wakes it at the router's next deadline. Its work is turning the router's events
into effects:

- text items ``Assigned`` → the conversation is assigned to the agent (it appears in the agent's "mine");
- call items → the voice channel's :class:`VoicePort` rings, cancels or overflows (the voice channel registers it);
- every event → the append-only queue log (:mod:`routing.queue_log`), and presence changes → ``agent_presence``;
- every change → the listeners (the floor page, the agents' inboxes).

Item ids: a text conversation's id is its item id; a call's item id is ``call:<SIP Call-ID>``. The router's clock is
wall-clock epoch seconds (``clock``), so ``last_served_at`` and the log share it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.background import TaskSet
from hub.conversation_service import ConversationService
from hub.events import ConversationAssigned, ConversationClosed, ConversationQueued
from hub.localtime import CityTime
from hub.models import Conversation, ConversationStatus
from routing.agent_store import AgentStore, Presence, Profile
from routing.engine import (
    Agent,
    AgentStatus,
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    QueueLeft,
    Router,
    RoutingError,
    RoutingEvent,
    Transferred,
)
from routing.queue_log import LogEntry, QueueEvent, QueueLog
from routing.routing_settings import VOICEMAIL, RoutingSettings
from routing.switchboard_log import ItemInfo, at, entry_for

log = logging.getLogger(__name__)

PHONE_HANDOFF = "phone"
"""The hand-off reason of a caller waiting on the line: the voice channel queues the call itself."""


class VoicePort(Protocol):
    """What the voice channel does for the switchboard's call items."""

    def offer(self, item: ItemInfo, agent_id: int, deadline: float) -> None:
        """Ring the agent's softphone for the call (answer → :meth:`Switchboard.accept`)."""

    def withdraw(self, item: ItemInfo, agent_id: int) -> None:
        """Stop ringing the agent (CANCEL) for the call."""

    def overflow(self, item: ItemInfo) -> None:
        """The call waited past the maximum: take it out of the queue (voicemail)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What listeners receive: one router event (or a switchboard note) and the item it concerns."""

    event: RoutingEvent | None
    item: ItemInfo | None
    note: str | None = None  # "profile" | "restored" | "day": changes that are not router events


Listener = Callable[[Change], None]


def call_item_id(sip_call_id: str) -> str:
    """The item id of a phone call."""
    return f"call:{sip_call_id}"


class Switchboard:
    """One router for every channel, with its timer, persistence, log and listeners.

    Args:
        settings: queues and policy.
        engine: the database (presence, profiles, queue log).
        service: the conversation service (assignment of text items).
        city: the city's time zone (the day the counters belong to).
        clock: wall-clock epoch seconds.
    """

    def __init__(
        self,
        settings: RoutingSettings,
        engine: AsyncEngine,
        service: ConversationService,
        city: CityTime,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.router = Router(settings.all_queues(), settings.policy)
        self.store = AgentStore(engine)
        self.log = QueueLog(engine)
        self.service = service
        self.city = city
        self.clock = clock
        self.voice: VoicePort | None = None
        self.items: dict[str, ItemInfo] = {}  # waiting and held items
        self.names: dict[int, str] = {}  # agent id -> display name
        self.profiles: dict[int, Profile] = {}
        self._listeners: list[Listener] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = TaskSet("switchboard")
        self._dirty: set[int] = set()
        self._saver: asyncio.Task[None] | None = None
        self._save_wake = asyncio.Event()
        self._day = ""
        self._started = False
        self._phone_signed_in: set[int] = set()  # agents signed in by their softphone's registration

    # -- life cycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load agents, their presence and profiles; re-queue waiting conversations; start the writers."""
        now = self.clock()
        self._day = self._today(now)
        users = await self.store.routed_users()
        self.names = {u.id: u.display_name for u in users}
        self.profiles = await self.store.profiles()
        presences = await self.store.presences()
        for user in users:  # everyone offline first: restored work must not be dispatched while it is restored
            saved = presences.get(user.id)
            agent = self._sign_in(user.id, now)
            if saved is not None and saved.day == self._day:
                agent.handled_today, agent.talk_time_today = saved.handled_today, saved.talk_time_today
        await self._restore_held(now)
        for user in users:
            saved = presences.get(user.id)
            if saved is not None and saved.presence != "offline":
                reason = saved.reason if saved.reason in self.settings.policy.break_reasons else None
                presence = saved.presence if reason or saved.presence == "available" else "available"
                self.router.set_status(user.id, presence, now=now, reason=reason)
        await self._restore_waiting(now)
        self.log.start()
        self._saver = asyncio.create_task(self._save_loop(), name="routing:presence")
        bus = self.service.bus
        bus.subscribe(ConversationQueued, self._on_queued)  # type: ignore[arg-type]
        bus.subscribe(ConversationAssigned, self._on_assigned)  # type: ignore[arg-type]
        bus.subscribe(ConversationClosed, self._on_closed)  # type: ignore[arg-type]
        self._started = True
        self._rearm()
        self._notify(Change(None, None, "restored"))
        log.info(
            "routing: %d agents, %d waiting, %d held, queues %s",
            len(users),
            len(self.router.items),
            len(self.router.held),
            ", ".join(self.router.queues),
        )

    async def _restore_held(self, now: float) -> None:
        """Conversations agents held before the restart count against their capacity again (no log rows).

        Runs while every agent is still offline, so nothing is dispatched in between.
        """
        store = self.service.store
        for conversation in await store.list_by_status(ConversationStatus.ASSIGNED, limit=100_000):
            agent_id = conversation.assignee_id
            if agent_id is None or agent_id not in self.router.agents or conversation.channel == "voice":
                continue
            item = self._info_for(conversation)
            self._ensure_queue(item.queue)
            self.router.enqueue(item.item_id, queue=item.queue, channel=item.channel, now=now)
            try:
                self.router.assign_to(item.item_id, agent_id, now=now, how="restored", anyway=True)
                self.items[item.item_id] = item
            except RoutingError:
                log.warning("conversation %s could not be restored to agent %s", conversation.id, agent_id)
                if item.item_id in self.router.items:
                    self.router.release(item.item_id, now=now)

    async def _restore_waiting(self, now: float) -> None:
        """Conversations waiting before the restart take their place again with their queue time (not logged)."""
        store = self.service.store
        waiting = await store.list_by_status(ConversationStatus.QUEUED, limit=100_000)
        for conversation in sorted(waiting, key=lambda c: c.queued_at or c.created_at):
            if conversation.handoff_reason == PHONE_HANDOFF:
                continue  # the call of the previous run is over; the voice channel ends it
            since = (conversation.queued_at or conversation.created_at).timestamp()
            self._apply(self._enqueue(self._info_for(conversation), since, logged=False), now)  # its enter is logged

    async def close(self) -> None:
        """Stop the timer and writers; write what is buffered."""
        self._started = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._tasks.close(grace_s=5.0)  # assignments under way finish: a conversation must not stay queued
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
            self._saver = None
        await self._save_dirty()
        await self.log.close()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- agents ------------------------------------------------------------------------------------------

    def _sign_in(self, agent_id: int, now: float) -> Agent:
        profile = self.profiles.get(agent_id, Profile(agent_id))
        queues = profile.queues if profile.queues is not None else tuple(self.router.queues)
        registered = agent_id in self.router.agents and self.router.agents[agent_id].registered
        agent = self.router.agents.get(agent_id)
        presence = agent.presence if agent is not None else AgentStatus.OFFLINE
        self.router.sign_in(
            agent_id,
            now=now,
            queues=queues,
            skills=profile.skills,
            capacity_override=profile.capacity,
            text_weight=profile.text_weight,
        )
        agent = self.router.agents[agent_id]
        agent.registered = registered
        if presence is AgentStatus.OFFLINE:  # sign_in makes an offline agent available: keep them offline
            agent.presence = AgentStatus.OFFLINE
            agent.status = agent.derived_status()
        return agent

    def knows(self, agent_id: int) -> bool:
        """Whether ``agent_id`` is an agent or supervisor the router knows."""
        return agent_id in self.router.agents

    async def add_agent(self, agent_id: int, name: str) -> None:
        """A staff member became routable (created, or role changed to agent/supervisor)."""
        self.names[agent_id] = name
        if agent_id not in self.router.agents:
            self._sign_in(agent_id, self.clock())

    def set_status(self, agent_id: int, status: str, reason: str | None = None, *, by: int | None = None) -> None:
        """The agent (or supervisor ``by``) sets offline, available or break with a reason.

        Raises:
            RoutingError: unknown agent, a system status, or an unknown break reason.
        """
        self._phone_signed_in.discard(agent_id)  # a status chosen by a person outlasts the softphone
        now = self.clock()
        agent = self.router._agent(agent_id)
        before, before_reason = agent.presence, agent.reason
        events = self.router.set_status(agent_id, status, now=now, reason=reason)
        after = agent.presence
        data = {"by": by} if by is not None and by != agent_id else None
        when = at(now)
        if before is AgentStatus.OFFLINE and after is not AgentStatus.OFFLINE:
            self.log.append(LogEntry(when, QueueEvent.LOGIN, agent_id=agent_id, data=data))
        if after is AgentStatus.BREAK and (before is not AgentStatus.BREAK or before_reason != agent.reason):
            self.log.append(LogEntry(when, QueueEvent.PAUSE, agent_id=agent_id, reason=agent.reason, data=data))
        if before is AgentStatus.BREAK and after is AgentStatus.AVAILABLE:
            self.log.append(LogEntry(when, QueueEvent.UNPAUSE, agent_id=agent_id, data=data))
        if after is AgentStatus.OFFLINE and before is not AgentStatus.OFFLINE:
            self.log.append(LogEntry(when, QueueEvent.LOGOUT, agent_id=agent_id, data=data))
        self._dirty.add(agent_id)
        self._save_wake.set()
        self._apply(events, now)
        if not events:
            self._notify(Change(None, None, "status"))

    def end_wrap_up(self, agent_id: int) -> None:
        """The agent ends after-call work early (raises RoutingError when not in wrap-up)."""
        now = self.clock()
        self._apply(self.router.end_wrap_up(agent_id, now=now), now)

    def set_registered(self, agent_id: int, registered: bool) -> None:
        """The agent's softphone registered or went away.

        A registration signs an offline agent in (available); the end of that registration signs them out again
        unless they hold work or changed their status themselves in between (then only calls stop being offered).
        """
        if agent_id not in self.router.agents:
            return
        now = self.clock()
        agent = self.router.agents[agent_id]
        if agent.registered == registered:
            return
        self._apply(self.router.set_registered(agent_id, registered, now=now), now)
        if registered and agent.presence is AgentStatus.OFFLINE:
            self.set_status(agent_id, "available")
            self._phone_signed_in.add(agent_id)
        elif not registered and agent_id in self._phone_signed_in:
            self._phone_signed_in.discard(agent_id)
            if agent.presence is AgentStatus.AVAILABLE and not agent.load:
                self.set_status(agent_id, "offline")

    async def save_profile(self, profile: Profile) -> None:
        """Store an agent's routing profile and route by it at once."""
        await self.store.save_profile(profile)
        self.profiles[profile.user_id] = profile
        now = self.clock()
        if profile.user_id in self.router.agents:
            self._sign_in(profile.user_id, now)
            self._apply(self.router.handle_timeout(now), now)
        self._notify(Change(None, None, "profile"))

    # -- items -------------------------------------------------------------------------------------------

    def _info_for(self, conversation: Conversation, queue: str | None = None) -> ItemInfo:
        channel = VOICEMAIL if conversation.channel == "voice" else conversation.channel
        return ItemInfo(conversation.id, conversation.id, channel, queue or self.settings.text_queue)

    def _ensure_queue(self, name: str) -> None:
        if name not in self.router.queues:
            self.router.queues[name] = self.settings.queue(name)
            for agent_id, agent in self.router.agents.items():
                profile = self.profiles.get(agent_id)
                if profile is None or profile.queues is None:
                    agent.queues = agent.queues | {name}

    def _enqueue(
        self,
        item: ItemInfo,
        now: float,
        skills: dict[str, int] | None = None,
        *,
        logged: bool = True,
        last_agent: tuple[int, float] | None = None,
    ) -> list[RoutingEvent]:
        self._ensure_queue(item.queue)
        self.items[item.item_id] = item
        events = self.router.enqueue(
            item.item_id,
            queue=item.queue,
            channel=item.channel,
            now=now,
            priority=item.priority,
            skills=skills,
            last_agent_id=last_agent[0] if last_agent else None,
            last_served_at=last_agent[1] if last_agent else None,
        )
        data = {"priority": item.priority} if item.priority else None
        if logged:
            self.log.append(
                LogEntry(
                    at(now), QueueEvent.ENTER, item.queue, item.item_id, item.conversation_id, item.channel, data=data
                )
            )
        return events

    def enqueue_call(
        self,
        sip_call_id: str,
        conversation_id: str,
        *,
        queue: str,
        priority: int = 0,
        skills: dict[str, int] | None = None,
    ) -> ItemInfo:
        """A caller waits for an agent: the call joins ``queue`` (offers may follow through the voice port)."""
        now = self.clock()
        item = ItemInfo(call_item_id(sip_call_id), conversation_id, "voice", queue, priority)
        self._apply(self._enqueue(item, now, skills), now, quiet=Change(None, item, "enqueued"))
        return item

    def enqueue_conversation(
        self,
        conversation: Conversation,
        *,
        queue: str | None = None,
        priority: int = 0,
        last_agent: tuple[int, float] | None = None,
    ) -> None:
        """A text conversation (or a voicemail) needs a human (``last_agent``: who served the citizen last, when)."""
        if conversation.id in self.items:
            return
        now = self.clock()
        info = self._info_for(conversation, queue)
        if priority:
            info = replace(info, priority=priority)
        self._apply(self._enqueue(info, now, last_agent=last_agent), now, quiet=Change(None, info, "enqueued"))

    async def last_agent(self, conversation: Conversation) -> tuple[int, float] | None:
        """The agent who last served this conversation's citizen and when (for the ``last_agent`` strategy)."""
        if conversation.contact_id is None:
            return None
        found = await self.service.store.last_agent_of(conversation.contact_id, exclude=conversation.id)
        return None if found is None else (found[0], found[1].timestamp())

    def accept(self, item_id: str, agent_id: int) -> None:
        """The agent accepted an offer (answered the softphone, or accepted the chat)."""
        now = self.clock()
        self._apply(self.router.accept(item_id, agent_id, now=now), now)

    def decline(self, item_id: str, agent_id: int) -> None:
        """The agent refused an offer (counts as missed)."""
        now = self.clock()
        item = self.items.get(item_id)
        events = self.router.decline(item_id, agent_id, now=now)
        if item is not None:
            entry = LogEntry(at(now), QueueEvent.DECLINE, item.queue, item_id, item.conversation_id, item.channel)
            self.log.append(replace(entry, agent_id=agent_id))
        self._apply(events, now)

    def pick(self, agent_id: int, item_id: str) -> None:
        """The agent takes a waiting item themselves (raises RoutingError when not allowed)."""
        now = self.clock()
        self._apply(self.router.pick(agent_id, item_id, now=now), now)

    def assign_to(self, item_id: str, agent_id: int, *, by: int, anyway: bool = False) -> None:
        """A supervisor gives a waiting item to an agent, or moves a held one to another agent.

        ``anyway``: also to an agent who is not signed in (the supervisor taking a conversation over themselves).
        """
        now = self.clock()
        if item_id in self.router.held:
            events = self.router.transfer(item_id, now=now, to_agent=agent_id, anyway=anyway)
        else:
            events = self.router.assign_to(item_id, agent_id, now=now, how="supervisor", anyway=anyway)
        self._apply(events, now, by=by)

    def transfer(self, item_id: str, *, to_agent: int | None = None, to_queue: str | None = None) -> None:
        """Move an item the agent holds to another agent or into a queue (raises RoutingError)."""
        now = self.clock()
        if to_queue is not None:
            self._ensure_queue(to_queue)
        info = self.items.get(item_id)
        events = self.router.transfer(item_id, now=now, to_agent=to_agent, to_queue=to_queue)
        if info is not None and to_queue is not None:
            moved = replace(info, queue=to_queue)
            self.items[item_id] = moved
            self.log.append(
                LogEntry(
                    at(now), QueueEvent.ENTER, to_queue, item_id, info.conversation_id, info.channel, reason="transfer"
                )
            )
        self._apply(events, now)

    def finish(self, item_id: str) -> None:
        """The agent's work on the item ended (the call hung up, the conversation closed)."""
        held = self.router.held.get(item_id)
        if held is None:
            return
        now = self.clock()
        info = self.items.pop(item_id, None)
        events = self.router.finish(item_id, now=now)
        self.log.append(
            LogEntry(
                at(now),
                QueueEvent.COMPLETE,
                held.queue,
                item_id,
                info.conversation_id if info else None,
                held.channel,
                held.agent_id,
                talk_s=now - held.since,
            )
        )
        self._dirty.add(held.agent_id)
        self._save_wake.set()
        self._apply(events, now, quiet=Change(None, info, "finished"))

    def abandon(self, item_id: str) -> None:
        """The citizen left while waiting (hung up, closed the chat)."""
        if item_id not in self.router.items:
            return
        now = self.clock()
        self._apply(self.router.abandon(item_id, now=now), now)

    def leave(self, item_id: str) -> None:
        """The item is over, whatever its state: finished if held, abandoned if waiting."""
        if item_id in self.router.held:
            self.finish(item_id)
        elif item_id in self.router.items:
            self.abandon(item_id)

    def position(self, item_id: str) -> tuple[int, float | None] | None:
        """The waiting item's 1-based position in its queue and estimated seconds still to wait (None: not waiting)."""
        if item_id not in self.router.items:
            return None
        now = self.clock()
        return self.router.position(item_id, now), self.router.estimated_wait_s(item_id, now)

    def holder(self, item_id: str) -> int | None:
        """The agent holding the item (None: not held)."""
        return self.router.holder(item_id)

    def log_monitor(self, item: ItemInfo | None, supervisor_id: int, mode: str, agent_id: int | None) -> None:
        """Record a supervisor's listen / whisper / barge / join / take-over on an item."""
        entry = LogEntry(
            at(self.clock()),
            QueueEvent.MONITOR,
            item.queue if item else None,
            item.item_id if item else None,
            item.conversation_id if item else None,
            item.channel if item else None,
            supervisor_id,
            reason=mode,
            data={"agent_id": agent_id},
        )
        self.log.append(entry)
        self._notify(Change(None, item, "monitor"))

    OUTBOUND = "outbound"
    """The hidden queue of outbound calls (call-backs): its items are never offered, only assigned at once."""

    def occupy(self, agent_id: int, item_id: str, conversation_id: str) -> None:
        """The agent places an outbound call (a call-back): busy until :meth:`finish`, offered nothing meanwhile.

        The call joins the hidden queue :attr:`OUTBOUND` and is assigned to the agent at once (``how="outbound"``,
        also when the agent is offline or on break); an offer pending for the agent is withdrawn (not a miss).

        Raises:
            RoutingError: unknown agent, softphone not registered, already on a call, or ``item_id`` is routed.
        """
        now = self.clock()
        agent = self.router._agent(agent_id)
        if self.OUTBOUND not in self.router.queues:  # not via _ensure_queue: agents do not join it
            self.router.queues[self.OUTBOUND] = self.settings.queue(self.OUTBOUND)
        # a skill nobody has: between the enqueue and the assignment no other agent may be offered it
        unroutable = {f"system:{self.OUTBOUND}": 1}
        events = self.router.enqueue(item_id, queue=self.OUTBOUND, channel="voice", now=now, skills=unroutable)
        self.items[item_id] = ItemInfo(item_id, conversation_id, "voice", self.OUTBOUND)
        try:
            events += self.router.assign_to(item_id, agent_id, now=now, how="outbound", anyway=True)
        except RoutingError:
            self.items.pop(item_id, None)
            self._apply(events + self.router.release(item_id, now=now), now)
            raise
        for offered in list(agent.offered):  # after the assignment: the dispatch must not offer it to them again
            self.router._withdraw(self.router.items[offered], agent, events, now=now)
        self._apply(events + self.router.handle_timeout(now), now)  # the withdrawn items go to other agents

    # -- hub events --------------------------------------------------------------------------------------

    async def _on_queued(self, event: ConversationQueued) -> None:
        if event.reason == PHONE_HANDOFF or not self._started:
            return
        try:
            last = await self.last_agent(event.conversation)
            self.enqueue_conversation(event.conversation, last_agent=last)
        except RoutingError:
            log.exception("conversation %s could not join the queue", event.conversation.id)

    async def _on_assigned(self, event: ConversationAssigned) -> None:
        conversation = event.conversation
        item_id, agent_id = conversation.id, conversation.assignee_id
        if agent_id is None or item_id not in self.items:
            return
        try:
            if item_id in self.router.items:  # assigned outside the router: it took the item
                self._apply(self.router.assign_to(item_id, agent_id, now=self.clock(), how="picked"), self.clock())
            elif self.router.holder(item_id) not in (None, agent_id):
                self.assign_to(item_id, agent_id, by=agent_id)
        except RoutingError:
            now = self.clock()
            if item_id in self.router.items:
                self._apply(self.router.release(item_id, now=now), now)
            self.items.pop(item_id, None)

    async def _on_closed(self, event: ConversationClosed) -> None:
        if event.conversation.id in self.items:
            self.leave(event.conversation.id)

    # -- effects -----------------------------------------------------------------------------------------

    def _apply(
        self,
        events: Iterable[RoutingEvent],
        now: float,
        *,
        by: int | None = None,
        quiet: Change | None = None,
    ) -> None:
        """Carry out the router's events; ``quiet``: what listeners are told if there was none (a new item waits)."""
        events = list(events)
        if not events and quiet is not None:
            self._notify(quiet)
        for event in events:
            item = self.items.get(getattr(event, "item_id", ""))
            entry = entry_for(event, item, now)
            if entry is not None:
                if by is not None and isinstance(event, (Assigned, Transferred)):
                    entry = replace(entry, data={**(entry.data or {}), "by": by})
                self.log.append(entry)
            if isinstance(event, (AgentStatusChanged, NoAnswerBreak)):
                self._dirty.add(event.agent_id)
                self._save_wake.set()
            if item is not None:
                self._effect(event, item)
            self._notify(Change(event, item))
        self._rearm()

    def _effect(self, event: RoutingEvent, item: ItemInfo) -> None:
        voice = self.voice if item.channel == "voice" else None
        if isinstance(event, Offered) and voice is not None:
            voice.offer(item, event.agent_id, event.deadline)
        elif isinstance(event, (OfferWithdrawn, OfferTimedOut)) and voice is not None:
            voice.withdraw(item, event.agent_id)
        elif isinstance(event, QueueLeft):
            self.items.pop(item.item_id, None)
            if event.outcome == "overflow" and voice is not None:
                voice.overflow(item)
        elif isinstance(event, Assigned) and item.channel != "voice":
            self._tasks.spawn(self._assign_conversation(item, event.agent_id, event.how))

    async def _assign_conversation(self, item: ItemInfo, agent_id: int, how: str) -> None:
        """Make the conversation the agent's (it shows in "mine"); a conversation no longer waiting finishes."""
        service = self.service
        if how == "restored":
            return
        if how in ("transferred", "supervisor"):
            conversation = await service.store.get(item.conversation_id)
            if conversation.status is ConversationStatus.ASSIGNED:
                moved = await service.reassign(item.conversation_id, agent_id, announce_as=self.names.get(agent_id))
                if moved is None:
                    self.leave(item.item_id)
                return
        assigned = await service.assign(item.conversation_id, agent_id, announce_as=self.names.get(agent_id))
        if assigned is None:
            log.info("conversation %s was no longer waiting when assigned; finishing its item", item.conversation_id)
            self.leave(item.item_id)

    # -- timers and persistence ----------------------------------------------------------------------------

    def _rearm(self) -> None:
        if not self._started:
            return
        if self._timer is not None:
            self._timer.cancel()
        deadline = self.router.next_deadline()
        now = self.clock()
        midnight = self.city.start_of(self.city.today(at(now))).timestamp() + 86_400
        wake = min(deadline, midnight) if deadline is not None else midnight
        self._timer = asyncio.get_running_loop().call_later(max(wake - now, 0.0), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock()
        today = self._today(now)
        if today != self._day:
            self._day = today
            self.router.new_day()
            self._dirty.update(self.router.agents)
            self._save_wake.set()
            self._notify(Change(None, None, "day"))
        self._apply(self.router.handle_timeout(now), now)

    def _today(self, now: float) -> str:
        return self.city.today(at(now)).isoformat()

    async def _save_loop(self) -> None:
        while True:
            await self._save_wake.wait()
            self._save_wake.clear()
            try:
                await self._save_dirty()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not save agents' presence; retrying in 1 s")
                await asyncio.sleep(1.0)
                self._save_wake.set()

    async def _save_dirty(self) -> None:
        while self._dirty:
            agent_id = self._dirty.pop()
            agent = self.router.agents.get(agent_id)
            if agent is None:
                continue
            presence = Presence(
                agent_id,
                agent.presence.value,
                agent.reason,
                at(agent.status_since),
                self._day,
                agent.handled_today,
                agent.talk_time_today,
            )
            try:
                await self.store.save_presence(presence)
            except Exception:
                self._dirty.add(agent_id)
                raise

    def _notify(self, change: Change) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("switchboard listener failed")


SWITCHBOARD: web.AppKey[Switchboard] = web.AppKey("switchboard", Switchboard)
"""Where the web application keeps the hub's one switchboard."""
