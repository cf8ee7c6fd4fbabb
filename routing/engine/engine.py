"""The router: one queue per skill set for calls and conversations, offers, assignment, timers — sans-IO.

Every mutator takes ``now`` and returns the :data:`~routing.engine.events.RoutingEvent` list to act on. After any
change the router *dispatches*: waiting items, in service order (:func:`~routing.engine.items.service_key`, across
queues), go to the best eligible agent (:func:`~routing.engine.strategies.rank`) that is available (presence
available, no pending offer, not in wrap-up, not on a call) and has room (capacity, see :mod:`.capacity`). A text
item of an ``auto_accept`` queue is assigned at once; anything else is offered (``ring_all`` calls: to every
candidate). An item eligible for agents who have no room yet holds those agents for itself: items ranked below it
do not take them (so a waiting call is not starved by a stream of chats). Call :meth:`Router.handle_timeout` at
:meth:`Router.next_deadline`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from routing.engine import capacity
from routing.engine.agents import PRESENCES, Agent, AgentStatus
from routing.engine.core import RoutingError
from routing.engine.estimates import estimate_wait_s
from routing.engine.events import QueueLeft, RoutingEvent, WrapUpEnded
from routing.engine.handover import HandoverOps
from routing.engine.items import WorkItem, service_key
from routing.engine.waiting import count_before, group_eligible


class Router(HandoverOps):
    """Queues, agents, offers and assignments for every channel (the public operations).

    Args:
        queues: the queue settings.
        policy: capacity and agent-status settings.
        aht_window: how many recent handle times the wait estimate averages.
    """

    # -- agents ------------------------------------------------------------------------------------------

    def sign_in(
        self,
        agent_id: int,
        *,
        now: float,
        queues: Iterable[str],
        skills: Mapping[str, int] | None = None,
        capacity_override: int | None = None,
        text_weight: Mapping[str, int] | None = None,
    ) -> list[RoutingEvent]:
        """Sign the agent in (available) for ``queues``; signing in again updates queues, skills and overrides."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id, status_since=now, idle_since=now))
        agent.queues = frozenset(queues)
        agent.skills = dict(skills or {})
        agent.capacity, agent.text_weight = capacity_override, dict(text_weight or {})
        if agent.presence is AgentStatus.OFFLINE:
            agent.presence, agent.reason, agent.missed_offers = AgentStatus.AVAILABLE, None, 0
        events: list[RoutingEvent] = []
        self._sync(agent, now, events)
        return events + self._dispatch(now)

    def set_registered(self, agent_id: int, registered: bool, *, now: float) -> list[RoutingEvent]:
        """The agent's softphone registered (calls may be offered) or its registration ended."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id, status_since=now, idle_since=now))
        agent.registered = registered
        events: list[RoutingEvent] = []
        if not registered:
            for item_id in [i for i in agent.offered if self.items[i].is_voice]:
                self._withdraw(self.items[item_id], agent, events, now=now)
        self._sync(agent, now, events)
        return events + self._dispatch(now)

    def set_status(
        self, agent_id: int, status: AgentStatus | str, *, now: float, reason: str | None = None
    ) -> list[RoutingEvent]:
        """The agent (or a supervisor) sets offline, available or break with a reason code.

        A pending offer is withdrawn (not counted as missed); items in hand stay with the agent.

        Raises:
            RoutingError: unknown agent, a system status, or a break reason not in the policy's set.
        """
        agent = self._agent(agent_id)
        presence = AgentStatus(status)
        if presence not in PRESENCES:
            raise RoutingError(f"{presence} is set by the system")
        if presence is AgentStatus.BREAK and reason not in self.policy.break_reasons:
            raise RoutingError(f"unknown break reason {reason!r}")
        events: list[RoutingEvent] = []
        for item_id in list(agent.offered):
            self._withdraw(self.items[item_id], agent, events, now=now)
        agent.presence = presence
        agent.reason = reason if presence is AgentStatus.BREAK else None
        if presence is AgentStatus.AVAILABLE:
            agent.missed_offers = 0
        self._sync(agent, now, events)
        return events + self._dispatch(now)

    def end_wrap_up(self, agent_id: int, *, now: float) -> list[RoutingEvent]:
        """The agent ends after-call work early."""
        agent = self._agent(agent_id)
        if agent.wrap_up_until is None:
            raise RoutingError(f"agent {agent_id} is not in wrap-up")
        agent.wrap_up_until = None
        events: list[RoutingEvent] = [WrapUpEnded(agent_id, True, now)]
        self._sync(agent, now, events)
        return events + self._dispatch(now)

    def time_in_status(self, agent_id: int, now: float) -> float:
        """Seconds the agent has been in their current status."""
        return now - self._agent(agent_id).status_since

    def new_day(self) -> None:
        """Reset the per-day counters (handled today, talk time) the strategies use."""
        for agent in self.agents.values():
            agent.handled_today, agent.talk_time_today = 0, 0.0

    # -- items -------------------------------------------------------------------------------------------

    def enqueue(
        self,
        item_id: str,
        *,
        queue: str,
        channel: str,
        now: float,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        last_agent_id: int | None = None,
        last_served_at: float | None = None,
    ) -> list[RoutingEvent]:
        """A call or conversation needs a human: it joins ``queue``; offers or an assignment may follow."""
        if queue not in self.queues:
            raise RoutingError(f"unknown queue {queue}")
        if item_id in self.items or item_id in self.held:
            raise RoutingError(f"item {item_id} is already routed")
        self.items[item_id] = WorkItem(
            item_id, queue, channel, now, next(self._seq), priority, dict(skills or {}), last_agent_id, last_served_at
        )
        return self._dispatch(now)

    def abandon(self, item_id: str, *, now: float) -> list[RoutingEvent]:
        """The citizen left while waiting (hung up, closed the chat)."""
        item = self._item(item_id)
        events: list[RoutingEvent] = []
        for agent_id in list(item.offers):
            self._withdraw(item, self.agents[agent_id], events, now=now)
        del self.items[item_id]
        events.append(QueueLeft(item_id, item.queue, "abandoned", now - item.enqueued_at))
        return events + self._dispatch(now)

    def accept(self, item_id: str, agent_id: int, *, now: float) -> list[RoutingEvent]:
        """The agent accepts an offer: the item is theirs; other ring-all offers are withdrawn."""
        item, agent = self._item(item_id), self._agent(agent_id)
        if agent_id not in item.offers:
            raise RoutingError(f"item {item_id} is not offered to agent {agent_id}")
        weight = agent.offered[item_id]
        events: list[RoutingEvent] = []
        for other in [a for a in item.offers if a != agent_id]:
            self._withdraw(item, self.agents[other], events, now=now)
        item.offers.clear()
        del agent.offered[item_id]
        agent.missed_offers = 0
        self._assign(item, agent, weight, "accepted", now, events)
        return events + self._dispatch(now)

    def decline(self, item_id: str, agent_id: int, *, now: float) -> list[RoutingEvent]:
        """The agent declines an offer: counted as a missed offer; the next agent is offered."""
        item, agent = self._item(item_id), self._agent(agent_id)
        if agent_id not in item.offers:
            raise RoutingError(f"item {item_id} is not offered to agent {agent_id}")
        events: list[RoutingEvent] = []
        self._miss(item, agent, now, events, timed_out=False)
        return events + self._dispatch(now)

    def pick(self, agent_id: int, item_id: str, *, now: float) -> list[RoutingEvent]:
        """The agent takes a waiting item from the queue themselves (also from break or wrap-up).

        Raises:
            RoutingError: the queue does not allow picking, the item is offered to someone else, or the agent is
                offline, on a call, not eligible (queue, skills, softphone) or has no room.
        """
        item, agent = self._item(item_id), self._agent(agent_id)
        queue = self.queues[item.queue]
        if not queue.allow_pick:
            raise RoutingError(f"queue {queue.name} does not allow picking")
        if set(item.offers) - {agent_id} or set(agent.offered) - {item_id}:
            raise RoutingError(f"item {item_id} or agent {agent_id} has another offer pending")
        if agent.presence is AgentStatus.OFFLINE or not capacity.eligible(agent, item, queue):
            raise RoutingError(f"agent {agent_id} may not take item {item_id}")
        events: list[RoutingEvent] = []
        if agent_id in item.offers:
            self._withdraw(item, agent, events, now=now)
        weight = capacity.weight_if_fits(agent, item, queue, self.policy)
        if weight is None:
            raise RoutingError(f"agent {agent_id} has no room for item {item_id}")
        self._assign(item, agent, weight, "picked", now, events)
        return events + self._dispatch(now)

    def finish(self, item_id: str, *, now: float) -> list[RoutingEvent]:
        """The call or conversation the agent held ended: slots freed, counters updated, wrap-up may start."""
        held = self.held.pop(item_id, None)
        if held is None:
            raise RoutingError(f"item {item_id} is not assigned")
        agent, queue = self.agents[held.agent_id], self.queues[held.queue]
        agent.load.pop(item_id, None)
        agent.voice_items.discard(item_id)
        agent.handled_today += 1
        agent.talk_time_today += now - held.since
        self.handle_times.record(held.queue, held.channel, now - held.since)
        wrap = queue.wrap_up(held.channel)
        if wrap > 0:
            agent.wrap_up_until = max(agent.wrap_up_until or now, now + wrap)
        events: list[RoutingEvent] = []
        self._sync(agent, now, events)
        return events + self._dispatch(now)

    # -- position and estimate ---------------------------------------------------------------------------

    def position(self, item_id: str, now: float) -> int:
        """The item's 1-based place in its queue."""
        item = self._item(item_id)
        queue = self.queues[item.queue]
        mine = service_key(item, now, queue.sl_target(item.channel))
        return 1 + sum(
            count_before(entries, mine, now, queue.sl_target(channel))
            for (name, channel, _), entries in self.items.groups.items()
            if name == item.queue
        )

    def estimated_wait_s(self, item_id: str, now: float) -> float | None:
        """Seconds the item will probably still wait (see :mod:`routing.engine.estimates`), None if unstaffed."""
        item = self._item(item_id)
        queue = self.queues[item.queue]
        staffed = (a for a in self.agents.values() if a.presence is AgentStatus.AVAILABLE)
        slots = sum(capacity.concurrent_slots(a, item, self.policy) for a in group_eligible(staffed, item, queue))
        aht = self.handle_times.aht(item.queue, item.channel, queue.default_aht_s)
        return estimate_wait_s(self.position(item_id, now), aht, slots)

    # -- timers ------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` has something to do (None: nothing scheduled)."""
        times = [d for item in self.items.values() for d in item.offers.values()]
        times += [a.wrap_up_until for a in self.agents.values() if a.wrap_up_until is not None]
        for item in self.items.values():
            limit = self.queues[item.queue].max_wait(item.channel)
            if limit is not None and not item.offers:
                times.append(item.enqueued_at + limit)
        return min(times) if times else None

    def handle_timeout(self, now: float) -> list[RoutingEvent]:
        """Time out offers, end wrap-ups, overflow long waits; then dispatch."""
        events: list[RoutingEvent] = []
        for item in sorted(self.items.values(), key=lambda i: i.seq):
            for agent_id, deadline in sorted(item.offers.items()):
                if deadline <= now:
                    self._miss(item, self.agents[agent_id], now, events, timed_out=True)
        for agent in self.agents.values():
            if agent.wrap_up_until is not None and agent.wrap_up_until <= now:
                agent.wrap_up_until = None
                events.append(WrapUpEnded(agent.id, False, now))
                self._sync(agent, now, events)
        for item in sorted(self.items.values(), key=lambda i: i.seq):
            limit = self.queues[item.queue].max_wait(item.channel)
            if limit is not None and not item.offers and now - item.enqueued_at >= limit:
                del self.items[item.id]
                events.append(QueueLeft(item.id, item.queue, "overflow", now - item.enqueued_at))
        return events + self._dispatch(now)
