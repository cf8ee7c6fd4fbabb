"""The straightforward dispatch, position and wait estimate: the specification the indexed versions must match.

:class:`ReferenceRouter` is a :class:`~routing.engine.engine.Router` whose dispatch sorts every waiting item by
:func:`~routing.engine.items.service_key` and tries each against every free agent (O(waiting × agents) per change),
whose position compares the item with every other of its queue, and whose wait estimate checks each agent's
eligibility one by one. It is the engine as first written (ADR 0030):
``tests/routing/engine/test_dispatch_index.py`` runs it side by side with :class:`Router` on random scenarios and
``bench/routing_decision.py`` measures both. Nothing in the hub uses it.
"""

from __future__ import annotations

from routing.engine import capacity
from routing.engine.agents import AgentStatus
from routing.engine.engine import Router
from routing.engine.estimates import estimate_wait_s
from routing.engine.events import Offered, RoutingEvent
from routing.engine.items import service_key
from routing.engine.queues import Strategy
from routing.engine.strategies import rank


class ReferenceRouter(Router):
    """A router with the reference (unindexed) dispatch, position and estimate; arguments as :class:`Router`."""

    def _dispatch(self, now: float) -> list[RoutingEvent]:
        events: list[RoutingEvent] = []
        free = {a.id: a for a in self.agents.values() if capacity.can_take_new(a)}
        if not free:
            return events
        waiting = [i for i in self.items.values() if not i.offers]
        waiting.sort(key=lambda i: service_key(i, now, self.queues[i.queue].sl_target(i.channel)))
        for item in waiting:
            if not free:
                break
            queue = self.queues[item.queue]
            eligible = [a for a in free.values() if capacity.eligible(a, item, queue)]
            fitting = [
                (a, w) for a in eligible if (w := capacity.weight_if_fits(a, item, queue, self.policy)) is not None
            ]
            if not fitting:
                for agent in eligible:  # hold them for this item: lower-ranked items must not fill them
                    del free[agent.id]
                continue
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
                    del free[chosen[0].id]
                continue
            for agent in chosen:
                item.offers[agent.id] = now + queue.offer_timeout_s
                agent.offered[item.id] = weights[agent.id]
                events.append(Offered(item.id, agent.id, now + queue.offer_timeout_s))
                self._sync(agent, now, events)
                del free[agent.id]
        return events

    def estimated_wait_s(self, item_id: str, now: float) -> float | None:
        item = self._item(item_id)
        queue = self.queues[item.queue]
        slots = sum(
            capacity.concurrent_slots(a, item, self.policy)
            for a in self.agents.values()
            if a.presence is AgentStatus.AVAILABLE and capacity.eligible(a, item, queue)
        )
        aht = self.handle_times.aht(item.queue, item.channel, queue.default_aht_s)
        return estimate_wait_s(self.position(item_id, now), aht, slots)

    def position(self, item_id: str, now: float) -> int:
        item = self._item(item_id)
        queue = self.queues[item.queue]
        mine = service_key(item, now, queue.sl_target(item.channel))
        return 1 + sum(
            1
            for other in self.items.values()
            if other.queue == item.queue and service_key(other, now, queue.sl_target(other.channel)) < mine
        )
