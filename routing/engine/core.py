"""The router's state and internals: status bookkeeping, offers, assignment and dispatch (see :mod:`.engine`)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from routing.engine import capacity
from routing.engine.agents import NO_ANSWER, Agent, AgentStatus
from routing.engine.estimates import HandleTimes
from routing.engine.events import (
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    RoutingEvent,
)
from routing.engine.items import WorkItem
from routing.engine.queues import CapacityPolicy, QueueConfig, Strategy
from routing.engine.strategies import rank
from routing.engine.waiting import FreeAgents, Group, Key, SkillKey, WaitingItems, group_eligible, head


class RoutingError(LookupError):
    """An unknown agent, item or queue, or an action that does not fit the current state."""


@dataclass
class Held:
    """An item in an agent's hands: who, from which queue and channel, since when."""

    agent_id: int
    queue: str
    channel: str
    since: float
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)


class RouterCore:
    """State and internals shared by :class:`~routing.engine.engine.Router`'s public operations.

    Args:
        queues: the queue settings.
        policy: capacity and agent-status settings.
        aht_window: how many recent handle times the wait estimate averages.
    """

    def __init__(
        self, queues: Iterable[QueueConfig], policy: CapacityPolicy | None = None, *, aht_window: int = 20
    ) -> None:
        self.queues = {q.name: q for q in queues}
        self.policy = policy or CapacityPolicy()
        self.agents: dict[int, Agent] = {}
        self.items = WaitingItems()
        self.held: dict[str, Held] = {}
        self.handle_times = HandleTimes(aht_window)
        self._seq = itertools.count()
        self._round_robin: dict[str, int] = {}

    # -- internals ---------------------------------------------------------------------------------------

    def _agent(self, agent_id: int) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise RoutingError(f"unknown agent {agent_id}") from None

    def _item(self, item_id: str) -> WorkItem:
        try:
            return self.items[item_id]
        except KeyError:
            raise RoutingError(f"item {item_id} is not waiting") from None

    def _sync(self, agent: Agent, now: float, events: list[RoutingEvent]) -> None:
        """Announce a change of the agent's derived status and restart its clocks."""
        status = agent.derived_status()
        if status is agent.status:
            return
        previous, agent.status, agent.status_since = agent.status, status, now
        if status is AgentStatus.AVAILABLE and previous is not AgentStatus.OFFERED:
            agent.idle_since = now
        reason = agent.reason if status is AgentStatus.BREAK else None
        events.append(AgentStatusChanged(agent.id, status.value, previous.value, reason, now))

    def _withdraw(self, item: WorkItem, agent: Agent, events: list[RoutingEvent], *, now: float) -> None:
        item.offers.pop(agent.id, None)
        agent.offered.pop(item.id, None)
        events.append(OfferWithdrawn(item.id, agent.id))
        self._sync(agent, now, events)

    def _miss(self, item: WorkItem, agent: Agent, now: float, events: list[RoutingEvent], *, timed_out: bool) -> None:
        queue = self.queues[item.queue]
        alone = not (queue.strategy is Strategy.RING_ALL and item.is_voice)  # ring-all misses count against nobody
        item.offers.pop(agent.id, None)
        agent.offered.pop(item.id, None)
        item.tried.add(agent.id)
        if timed_out:
            events.append(OfferTimedOut(item.id, agent.id))
        if alone:
            agent.missed_offers += 1
            if agent.missed_offers >= self.policy.max_missed_offers and agent.presence is AgentStatus.AVAILABLE:
                agent.presence, agent.reason = AgentStatus.BREAK, NO_ANSWER
                events.append(NoAnswerBreak(agent.id, agent.missed_offers, now))
        self._sync(agent, now, events)

    def _assign(
        self, item: WorkItem, agent: Agent, weight: int, how: str, now: float, events: list[RoutingEvent]
    ) -> None:
        del self.items[item.id]
        agent.load[item.id] = weight
        if item.is_voice:
            agent.voice_items.add(item.id)
        agent.idle_since = now
        self.held[item.id] = Held(agent.id, item.queue, item.channel, now, item.priority, dict(item.skills))
        events.append(Assigned(item.id, agent.id, item.queue, now - item.enqueued_at, how))
        self._sync(agent, now, events)

    def _dispatch(self, now: float) -> list[RoutingEvent]:
        """Give waiting items, in service order across queues, to free agents (see :mod:`.engine`).

        The same decisions as sorting every waiting item by :func:`~routing.engine.items.service_key` and trying
        each against every free agent (:class:`~routing.engine.reference.ReferenceRouter`), in less time: the
        groups of :mod:`.waiting` are merged by their heads, and a group leaves the merge once no free agent is
        eligible for it (free agents only get fewer during a dispatch, so none will be).
        """
        events: list[RoutingEvent] = []
        free = FreeAgents(a for a in self.agents.values() if capacity.can_take_new(a))
        if not free:
            return events
        heads: list[tuple[Key, int, WorkItem, Group]] = []
        for n, (key, entries) in enumerate(self.items.groups.items()):
            if free.serving(key[0]):
                target = self.queues[key[0]].sl_target(key[1])
                first = head(entries, now, target)
                if first is not None:
                    heads.append((first[0], n, first[1], Group(key, entries, target)))
        heapq.heapify(heads)
        eligible_for: dict[tuple[str, bool, SkillKey], list[Agent]] = {}  # text channels of a queue share it
        while heads and free:
            _, n, item, group = heads[0]
            queue = self.queues[item.queue]
            if group.eligible is None:  # who may take this group's items: the same for each of them
                kind = (item.queue, item.is_voice, group.key[2])
                if kind not in eligible_for:
                    eligible_for[kind] = group_eligible(free.serving(item.queue), item, queue)
                group.eligible = eligible_for[kind]
            eligible = [a for a in group.eligible if a.id in free]
            if not (eligible and self._serve(item, queue, eligible, free, now, events)):
                heapq.heappop(heads)  # nobody left for the group's items in this dispatch
                continue
            following = group.following(now)
            if following is None:
                heapq.heappop(heads)
            else:
                heapq.heapreplace(heads, (following[0], n, following[1], group))
        return events

    def _serve(
        self,
        item: WorkItem,
        queue: QueueConfig,
        eligible: list[Agent],
        free: FreeAgents,
        now: float,
        events: list[RoutingEvent],
    ) -> bool:
        """Offer or assign ``item`` to the best of the free ``eligible`` agents; False if none has room.

        Agents taken (offered, or full after an assignment) leave ``free``; when none has room, every eligible
        agent leaves it too: it is held for this item, so lower-ranked items do not fill it.
        """
        fitting = [(a, w) for a in eligible if (w := capacity.weight_if_fits(a, item, queue, self.policy)) is not None]
        if not fitting:
            for agent in eligible:
                free.remove(agent)
            return False
        untried = [p for p in fitting if p[0].id not in item.tried]
        if not untried:
            item.tried.clear()
            untried = fitting
        weights = {a.id: w for a, w in untried}
        ringing_all = queue.strategy is Strategy.RING_ALL and item.is_voice
        strategy = queue.fallback if queue.strategy is Strategy.RING_ALL and not item.is_voice else queue.strategy
        ranked = rank(
            strategy,
            queue,
            item,
            [a for a, _ in untried],
            now=now,
            last_round_robin=self._round_robin.get(queue.name),
        )
        chosen = ranked if ringing_all else ranked[:1]
        self._round_robin[queue.name] = chosen[0].id
        if queue.auto_accept and not item.is_voice:
            self._assign(item, chosen[0], weights[chosen[0].id], "auto", now, events)
            if not capacity.can_take_new(chosen[0]):
                free.remove(chosen[0])
            return True
        for agent in chosen:
            item.offers[agent.id] = now + queue.offer_timeout_s
            agent.offered[item.id] = weights[agent.id]
            events.append(Offered(item.id, agent.id, now + queue.offer_timeout_s))
            self._sync(agent, now, events)
            free.remove(agent)
        return True
