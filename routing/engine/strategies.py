"""Strategies: order the eligible agents for one item, best first. Pure functions over the agents' counters.

Every strategy ends with the agent id as the last tie-break, so a decision never depends on dict order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from routing.engine.agents import Agent
from routing.engine.items import WorkItem
from routing.engine.queues import QueueConfig, Strategy

DAY_S = 86_400.0

_Key = Callable[[Agent], tuple[float, ...]]


def _longest_idle(agent: Agent) -> tuple[float, ...]:
    return (agent.idle_since, agent.id)


def _fewest_handled(agent: Agent) -> tuple[float, ...]:
    return (agent.handled_today, agent.idle_since, agent.id)


def _least_talk(agent: Agent) -> tuple[float, ...]:
    return (agent.talk_time_today, agent.idle_since, agent.id)


_KEYS: dict[Strategy, _Key] = {
    Strategy.LONGEST_IDLE: _longest_idle,
    Strategy.FEWEST_HANDLED_TODAY: _fewest_handled,
    Strategy.LEAST_TALK_TIME: _least_talk,
    Strategy.RING_ALL: _longest_idle,
}


def required_skills(queue: QueueConfig, item: WorkItem) -> dict[str, int]:
    """The queue's skills merged with the item's own (the higher level wins)."""
    merged = dict(queue.skills)
    for code, level in item.skills.items():
        merged[code] = max(level, merged.get(code, level))
    return merged


def rank(
    strategy: Strategy,
    queue: QueueConfig,
    item: WorkItem,
    candidates: Sequence[Agent],
    *,
    now: float,
    last_round_robin: int | None = None,
) -> list[Agent]:
    """The eligible ``candidates`` for ``item``, best first.

    Args:
        strategy: the strategy to apply (the queue's, or its fallback).
        queue: the item's queue.
        item: the item to place.
        candidates: agents already checked for eligibility and capacity.
        now: the current time (for ``last_agent``'s window).
        last_round_robin: the agent last chosen by round robin in this queue.

    Returns:
        The candidates in preference order.
    """
    if strategy is Strategy.LAST_AGENT:
        fresh = item.last_served_at is not None and now - item.last_served_at <= queue.last_agent_days * DAY_S
        rest = rank(queue.fallback, queue, item, candidates, now=now, last_round_robin=last_round_robin)
        if fresh and item.last_agent_id is not None:
            rest.sort(key=lambda a: a.id != item.last_agent_id)  # stable: the last agent first, then the fallback
        return rest
    if strategy is Strategy.SKILLS:
        required = required_skills(queue, item)
        return sorted(candidates, key=lambda a: (-a.skill_score(required), a.idle_since, a.id))
    if strategy is Strategy.ROUND_ROBIN:
        pivot = -1 if last_round_robin is None else last_round_robin
        return sorted(candidates, key=lambda a: (a.id <= pivot, a.id))
    return sorted(candidates, key=_KEYS[strategy])
