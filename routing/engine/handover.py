"""Moving work by hand: a supervisor assigns a waiting item, an agent transfers one they hold, an item leaves.

These operations bypass the strategies on purpose (a person chose the agent), but never break the engine's rules
for calls: a call goes only to an agent whose softphone is registered and who has no other call.
"""

from __future__ import annotations

from routing.engine import capacity
from routing.engine.agents import Agent, AgentStatus
from routing.engine.core import RouterCore, RoutingError
from routing.engine.events import RoutingEvent, Transferred
from routing.engine.items import WorkItem


class HandoverOps(RouterCore):
    """Assignment by a person, transfer to an agent or a queue, and release of a waiting item."""

    def _check_receiver(self, agent: Agent, item: WorkItem, *, anyway: bool = False) -> int:
        """The slots ``item`` takes from ``agent``, who must be signed in (``anyway``: or not) and free for a call."""
        if agent.presence is AgentStatus.OFFLINE and not anyway:
            raise RoutingError(f"agent {agent.id} is offline")
        if item.is_voice and (not agent.registered or agent.voice_items):
            raise RoutingError(f"agent {agent.id} cannot take a call now")
        queue = self.queues.get(item.queue)
        weight = capacity.weight_if_fits(agent, item, queue, self.policy) if queue is not None else None
        if weight is not None:
            return weight
        if item.is_voice:
            return max(capacity.capacity_of(agent, self.policy) - agent.used(), 0)
        return capacity.text_weight(agent, item.channel, self.policy)  # a person chose: may exceed the slots

    def assign_to(
        self, item_id: str, agent_id: int, *, now: float, how: str = "supervisor", anyway: bool = False
    ) -> list[RoutingEvent]:
        """Give a waiting item to ``agent_id`` (a supervisor's choice): offers to others are withdrawn.

        ``anyway``: also to an agent who is offline (a supervisor taking a conversation over).

        Raises:
            RoutingError: the item is not waiting, the agent is unknown or offline, or cannot take a call.
        """
        item, agent = self._item(item_id), self._agent(agent_id)
        weight = self._check_receiver(agent, item, anyway=anyway)
        events: list[RoutingEvent] = []
        for other in list(item.offers):
            self._withdraw(item, self.agents[other], events, now=now)
        self._assign(item, agent, weight, how, now, events)
        return events + self._dispatch(now)

    def transfer(
        self,
        item_id: str,
        *,
        now: float,
        to_agent: int | None = None,
        to_queue: str | None = None,
        anyway: bool = False,
    ) -> list[RoutingEvent]:
        """Move an item an agent holds to another agent (at once) or back into a queue (it waits again).

        The first agent's counters count it as handled (talk time up to now); the wait of a re-queued item starts
        now, with its priority and skills kept; the first agent's wrap-up follows as after an end. ``anyway``: also
        to an offline agent (a supervisor taking over).

        Raises:
            RoutingError: the item is not held, exactly one target is not given, the queue is unknown, or the
                receiving agent is the holder, unknown, offline or cannot take a call.
        """
        held = self.held.get(item_id)
        if held is None:
            raise RoutingError(f"item {item_id} is not assigned")
        if (to_agent is None) == (to_queue is None):
            raise RoutingError("transfer to one agent or one queue")
        if to_queue is not None and to_queue not in self.queues:
            raise RoutingError(f"unknown queue {to_queue}")
        if to_agent == held.agent_id:
            raise RoutingError(f"agent {to_agent} already holds item {item_id}")
        item = WorkItem(
            item_id, to_queue or held.queue, held.channel, now, next(self._seq), held.priority, dict(held.skills)
        )
        receiver = self._agent(to_agent) if to_agent is not None else None
        weight = self._check_receiver(receiver, item, anyway=anyway) if receiver is not None else 0
        giver = self.agents[held.agent_id]
        del self.held[item_id]
        giver.load.pop(item_id, None)
        giver.voice_items.discard(item_id)
        giver.handled_today += 1
        giver.talk_time_today += now - held.since
        wrap = self.queues[held.queue].wrap_up(held.channel) if held.queue in self.queues else 0.0
        if wrap > 0:  # after-call work follows a transfer as it follows an end
            giver.wrap_up_until = max(giver.wrap_up_until or now, now + wrap)
        events: list[RoutingEvent] = [Transferred(item_id, giver.id, to_agent, to_queue, now - held.since, now)]
        self._sync(giver, now, events)
        self.items[item_id] = item
        if receiver is not None:
            self._assign(item, receiver, weight, "transferred", now, events)
        return events + self._dispatch(now)

    def release(self, item_id: str, *, now: float) -> list[RoutingEvent]:
        """Take a waiting item out of its queue without an outcome (it was handled elsewhere); offers withdrawn."""
        item = self._item(item_id)
        events: list[RoutingEvent] = []
        for agent_id in list(item.offers):
            self._withdraw(item, self.agents[agent_id], events, now=now)
        del self.items[item_id]
        return events + self._dispatch(now)

    def holder(self, item_id: str) -> int | None:
        """The agent holding ``item_id`` (None: not assigned)."""
        held = self.held.get(item_id)
        return None if held is None else held.agent_id
