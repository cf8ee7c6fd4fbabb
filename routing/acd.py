"""The call queue (ACD), sans-IO: waiting callers, agents and their states; events out, timers as data.

Every mutator takes ``now`` (monotonic seconds) and returns the :data:`AcdEvent` list the call session acts on:

- :class:`Offer` — ring this agent's softphone for this call (answer → :meth:`Acd.accept`, refuse or no answer →
  :meth:`Acd.reject` or the offer times out → :class:`OfferTimedOut`, the agent is paused and the next one rung);
- :class:`OfferWithdrawn` — stop ringing (the caller hung up);
- :class:`Announce` — tell the caller their position (您前面还有N位): on entry, when it changes, and every
  ``announce_every_s`` seconds;
- :class:`Overflow` — the maximum wait passed: leave the queue (to voicemail);
- :class:`QueueLeft` — the call left the queue (answered, abandoned, overflow) with its wait, for the call record.

Order: priority (VIP first), then arrival. Agents: signed in to the hub, softphone registered, available; the one
idle longest is offered first. Call :meth:`Acd.handle_timeout` at :meth:`Acd.next_deadline`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class AgentState(StrEnum):
    """An agent's state in the ACD."""

    OFFLINE = "offline"  # not signed in
    AVAILABLE = "available"
    RINGING = "ringing"  # a call is offered
    BUSY = "busy"  # on a call
    WRAP_UP = "wrap_up"  # after a call, for ``wrap_up_s``
    PAUSED = "paused"  # not ready (break, or did not answer an offer)


@dataclass
class Agent:
    """An agent known to the ACD (``id`` is the hub user id)."""

    id: int
    queues: frozenset[str]
    skills: frozenset[str] = frozenset()
    state: AgentState = AgentState.OFFLINE
    registered: bool = False  # the SIP softphone is registered
    idle_since: float = 0.0
    wrap_up_until: float | None = None

    @property
    def ready(self) -> bool:
        """Signed in, softphone registered and available."""
        return self.state is AgentState.AVAILABLE and self.registered


@dataclass
class QueuedCall:
    """A caller waiting for an agent."""

    call_id: str
    queue: str
    priority: int
    enqueued_at: float
    seq: int
    skill: str | None = None
    offered_to: int | None = None
    offer_deadline: float | None = None
    next_announce: float = 0.0
    announced: int | None = None

    def sort_key(self) -> tuple[int, int]:
        """Priority first (higher first), then arrival."""
        return (-self.priority, self.seq)


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent_id`` for ``call_id``."""

    call_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """Stop ringing ``agent_id`` (the call left the queue)."""

    call_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """``agent_id`` did not answer ``call_id`` in time (the agent is now paused)."""

    call_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the caller of ``call_id`` their position (``ahead`` callers before them)."""

    call_id: str
    position: int

    @property
    def ahead(self) -> int:
        """Callers before this one (您前面还有N位)."""
        return self.position - 1


@dataclass(frozen=True, slots=True)
class Overflow:
    """``call_id`` waited longer than the maximum: take it out of the queue (voicemail)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class QueueLeft:
    """``call_id`` left the queue: ``answered`` (by ``agent_id``), ``abandoned`` or ``overflow``."""

    call_id: str
    outcome: str
    wait_s: float
    agent_id: int | None = None


AcdEvent = Offer | OfferWithdrawn | OfferTimedOut | Announce | Overflow | QueueLeft


class AcdError(LookupError):
    """An unknown call or agent, or an action that does not fit its state."""


class Acd:
    """Queues of callers and the agents serving them.

    Args:
        offer_timeout_s: ring an agent this long before trying the next one.
        max_wait_s: a caller waiting this long overflows (None: never).
        wrap_up_s: after-call work before an agent is offered the next call.
        announce_every_s: repeat the position announcement this often.
    """

    def __init__(
        self,
        *,
        offer_timeout_s: float = 20.0,
        max_wait_s: float | None = 300.0,
        wrap_up_s: float = 10.0,
        announce_every_s: float = 30.0,
    ) -> None:
        self.offer_timeout_s = offer_timeout_s
        self.max_wait_s = max_wait_s
        self.wrap_up_s = wrap_up_s
        self.announce_every_s = announce_every_s
        self.agents: dict[int, Agent] = {}
        self.calls: dict[str, QueuedCall] = {}
        self._seq = itertools.count()

    # -- agents --------------------------------------------------------------------------------------------

    def sign_in(
        self, agent_id: int, *, now: float, queues: Iterable[str], skills: Iterable[str] = ()
    ) -> list[AcdEvent]:
        """The agent signed in to the hub for ``queues`` (offered calls once the softphone is registered too).

        Signing in again updates the queues and skills and keeps the agent's state.
        """
        agent = self.agents.setdefault(agent_id, Agent(agent_id, frozenset()))
        agent.queues, agent.skills = frozenset(queues), frozenset(skills)
        if agent.state is AgentState.OFFLINE:
            agent.state, agent.idle_since = AgentState.AVAILABLE, now
        return self._dispatch(now)

    def sign_out(self, agent_id: int, *, now: float) -> list[AcdEvent]:
        """The agent signed out (an offer ringing them moves on to the next agent)."""
        agent = self._agent(agent_id)
        events = self._take_back_offer(agent, now, timed_out=False)
        agent.state = AgentState.OFFLINE
        return events + self._dispatch(now)

    def set_registered(self, agent_id: int, registered: bool, *, now: float) -> list[AcdEvent]:
        """The agent's softphone registered (or its registration expired)."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id, frozenset()))
        agent.registered = registered
        events = [] if registered else self._take_back_offer(agent, now, timed_out=False)
        return events + self._dispatch(now)

    def pause(self, agent_id: int, *, now: float) -> list[AcdEvent]:
        """Not ready (a break)."""
        agent = self._agent(agent_id)
        if agent.state in (AgentState.BUSY, AgentState.OFFLINE):
            raise AcdError(f"agent {agent_id} is {agent.state}")
        events = self._take_back_offer(agent, now, timed_out=False)
        agent.state = AgentState.PAUSED
        return events + self._dispatch(now)

    def agent_available(self, agent_id: int, *, now: float) -> list[AcdEvent]:
        """The agent is ready for calls (after a pause, or ending wrap-up early): offers follow."""
        agent = self._agent(agent_id)
        if agent.state in (AgentState.BUSY, AgentState.RINGING, AgentState.OFFLINE):
            raise AcdError(f"agent {agent_id} is {agent.state}")
        if agent.state is not AgentState.AVAILABLE:
            agent.state, agent.idle_since, agent.wrap_up_until = AgentState.AVAILABLE, now, None
        return self._dispatch(now)

    def call_ended(self, agent_id: int, *, now: float) -> list[AcdEvent]:
        """The agent's call ended: wrap-up, then available again (via :meth:`handle_timeout`)."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.BUSY:
            raise AcdError(f"agent {agent_id} is {agent.state}, not on a call")
        if self.wrap_up_s <= 0:
            agent.state, agent.idle_since = AgentState.AVAILABLE, now
            return self._dispatch(now)
        agent.state, agent.wrap_up_until = AgentState.WRAP_UP, now + self.wrap_up_s
        return []

    # -- calls ---------------------------------------------------------------------------------------------

    def enqueue(
        self, call_id: str, *, queue: str, now: float, priority: int = 0, skill: str | None = None
    ) -> list[AcdEvent]:
        """A caller joins ``queue``: the first event is its :class:`Announce` (position); offers may follow."""
        if call_id in self.calls:
            raise AcdError(f"call {call_id} is already queued")
        self.calls[call_id] = QueuedCall(call_id, queue, priority, now, next(self._seq), skill)
        self.calls[call_id].next_announce = now + self.announce_every_s
        events = self._announce_changes(now, first=call_id)
        return events + self._dispatch(now)

    def abandon(self, call_id: str, *, now: float) -> list[AcdEvent]:
        """The caller hung up while waiting: abandoned (an agent being rung is released)."""
        call = self._call(call_id)
        events: list[AcdEvent] = []
        if call.offered_to is not None:
            events.append(OfferWithdrawn(call_id, call.offered_to))
            agent = self.agents.get(call.offered_to)
            if agent is not None and agent.state is AgentState.RINGING:
                agent.state = AgentState.AVAILABLE  # keeps its idle_since: still the longest idle
        del self.calls[call_id]
        events.append(QueueLeft(call_id, "abandoned", now - call.enqueued_at))
        return events + self._dispatch(now) + self._announce_changes(now)

    def accept(self, call_id: str, agent_id: int, *, now: float) -> list[AcdEvent]:
        """The rung agent answered: the call leaves the queue, the agent is busy."""
        call = self._call(call_id)
        if call.offered_to != agent_id:
            raise AcdError(f"call {call_id} is not offered to agent {agent_id}")
        self._agent(agent_id).state = AgentState.BUSY
        del self.calls[call_id]
        return [QueueLeft(call_id, "answered", now - call.enqueued_at, agent_id), *self._announce_changes(now)]

    def reject(self, call_id: str, agent_id: int, *, now: float) -> list[AcdEvent]:
        """The rung agent refused or could not take the call: the agent is paused, the next one is offered."""
        call = self._call(call_id)
        if call.offered_to != agent_id:
            raise AcdError(f"call {call_id} is not offered to agent {agent_id}")
        return self._take_back_offer(self._agent(agent_id), now, timed_out=False, pause=True) + self._dispatch(now)

    def positions(self) -> dict[str, int]:
        """Each waiting call's 1-based position in its queue."""
        out: dict[str, int] = {}
        by_queue: dict[str, list[QueuedCall]] = {}
        for call in self.calls.values():
            by_queue.setdefault(call.queue, []).append(call)
        for calls in by_queue.values():
            for position, call in enumerate(sorted(calls, key=QueuedCall.sort_key), 1):
                out[call.call_id] = position
        return out

    def snapshot(self) -> dict[str, object]:
        """Queues and agents for a wallboard: waiting per queue, agents per state."""
        waiting: dict[str, int] = {}
        for call in self.calls.values():
            waiting[call.queue] = waiting.get(call.queue, 0) + 1
        states: dict[str, int] = {}
        for agent in self.agents.values():
            states[agent.state.value] = states.get(agent.state.value, 0) + 1
        return {"waiting": waiting, "agents": states}

    # -- timers --------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` has something to do (None: nothing scheduled)."""
        times: list[float] = []
        for call in self.calls.values():
            times.append(call.next_announce)
            if call.offer_deadline is not None:
                times.append(call.offer_deadline)
            elif self.max_wait_s is not None:
                times.append(call.enqueued_at + self.max_wait_s)
        times += [a.wrap_up_until for a in self.agents.values() if a.wrap_up_until is not None]
        return min(times) if times else None

    def handle_timeout(self, now: float) -> list[AcdEvent]:
        """Expire offers, end wrap-ups, overflow long waits, repeat announcements."""
        events: list[AcdEvent] = []
        for agent in self.agents.values():
            if agent.wrap_up_until is not None and agent.wrap_up_until <= now:
                if agent.state is AgentState.WRAP_UP:
                    agent.state, agent.idle_since = AgentState.AVAILABLE, agent.wrap_up_until
                agent.wrap_up_until = None
        for call in list(self.calls.values()):
            if call.offer_deadline is not None and call.offer_deadline <= now and call.offered_to is not None:
                events += self._take_back_offer(self._agent(call.offered_to), now, timed_out=True, pause=True)
        for call in sorted(self.calls.values(), key=QueuedCall.sort_key):
            if call.offered_to is None and self.max_wait_s is not None and now - call.enqueued_at >= self.max_wait_s:
                del self.calls[call.call_id]
                events += [Overflow(call.call_id), QueueLeft(call.call_id, "overflow", now - call.enqueued_at)]
        events += self._dispatch(now)
        events += self._announce_changes(now)
        for call in sorted(self.calls.values(), key=QueuedCall.sort_key):
            if call.next_announce <= now and call.offered_to is None and call.announced is not None:
                events.append(Announce(call.call_id, call.announced))
                call.next_announce = now + self.announce_every_s
        return events

    # -- internals -----------------------------------------------------------------------------------------

    def _agent(self, agent_id: int) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AcdError(f"unknown agent {agent_id}") from None

    def _call(self, call_id: str) -> QueuedCall:
        try:
            return self.calls[call_id]
        except KeyError:
            raise AcdError(f"call {call_id} is not queued") from None

    def _take_back_offer(self, agent: Agent, now: float, *, timed_out: bool, pause: bool = False) -> list[AcdEvent]:
        if agent.state is not AgentState.RINGING:
            return []
        call = next((c for c in self.calls.values() if c.offered_to == agent.id), None)
        agent.state = AgentState.PAUSED if pause else AgentState.AVAILABLE
        if call is None:
            return []
        call.offered_to, call.offer_deadline = None, None
        return [OfferTimedOut(call.call_id, agent.id) if timed_out else OfferWithdrawn(call.call_id, agent.id)]

    def _announce_changes(self, now: float, first: str | None = None) -> list[AcdEvent]:
        events: list[AcdEvent] = []
        positions = self.positions()
        for call in sorted(self.calls.values(), key=QueuedCall.sort_key):
            position = positions[call.call_id]
            if call.offered_to is None and (call.announced != position or call.call_id == first):
                call.announced = position
                call.next_announce = now + self.announce_every_s
                events.append(Announce(call.call_id, position))
        events.sort(key=lambda e: e.call_id != first)  # the new caller's own position first
        return events

    def _dispatch(self, now: float) -> list[AcdEvent]:
        events: list[AcdEvent] = []
        ready = [a for a in self.agents.values() if a.ready]
        if not ready:
            return events
        for call in sorted(self.calls.values(), key=QueuedCall.sort_key):
            if call.offered_to is not None:
                continue
            candidates = [
                a
                for a in ready
                if a.ready and call.queue in a.queues and (call.skill is None or call.skill in a.skills)
            ]
            if not candidates:
                continue
            agent = min(candidates, key=lambda a: (a.idle_since, a.id))
            agent.state = AgentState.RINGING
            call.offered_to, call.offer_deadline = agent.id, now + self.offer_timeout_s
            events.append(Offer(call.call_id, agent.id))
            if not any(a.ready for a in ready):
                break
        return events
