"""Weighted slots: who may take a new item, who is eligible for it, and how many slots it takes.

- A call takes the agent whole: its weight is the agent's capacity. If the queue allows a call to an agent busy
  with text conversations (``call_while_chatting``), the call takes the slots still free (possibly 0), so the agent
  is full until the call ends; without it, a call needs an agent with nothing in hand.
- A text conversation takes ``text_weight[channel]`` slots (the agent's own override first, then the policy's).
- An agent on a call takes nothing else; the weighted load never exceeds the capacity.
"""

from __future__ import annotations

from routing.engine.agents import Agent, AgentStatus
from routing.engine.items import WorkItem
from routing.engine.queues import CapacityPolicy, QueueConfig
from routing.engine.strategies import required_skills


def capacity_of(agent: Agent, policy: CapacityPolicy) -> int:
    """The agent's slots (their override, else the policy's)."""
    return agent.capacity if agent.capacity is not None else policy.capacity


def text_weight(agent: Agent, channel: str, policy: CapacityPolicy) -> int:
    """Slots one conversation of ``channel`` takes for this agent."""
    if channel in agent.text_weight:
        return agent.text_weight[channel]
    return policy.text_weight.get(channel, policy.default_text_weight)


def can_take_new(agent: Agent) -> bool:
    """Available, no pending offer, not in wrap-up, not on a call."""
    return (
        agent.presence is AgentStatus.AVAILABLE
        and not agent.offered
        and agent.wrap_up_until is None
        and not agent.voice_items
    )


def eligible(agent: Agent, item: WorkItem, queue: QueueConfig) -> bool:
    """The agent serves the item's queue, has every required skill at its level, and a softphone for calls."""
    if item.queue not in agent.queues or (item.is_voice and not agent.registered):
        return False
    return agent.has_skills(required_skills(queue, item))


def weight_if_fits(agent: Agent, item: WorkItem, queue: QueueConfig, policy: CapacityPolicy) -> int | None:
    """The slots ``item`` would take from ``agent`` now, or None if it does not fit."""
    if agent.voice_items:
        return None
    total = capacity_of(agent, policy)
    used = agent.used()
    if item.is_voice:
        if used and not queue.call_while_chatting:
            return None
        return max(total - used, 0)
    weight = text_weight(agent, item.channel, policy)
    return weight if used + weight <= total else None


def concurrent_slots(agent: Agent, item: WorkItem, policy: CapacityPolicy) -> int:
    """How many items like ``item`` the agent can hold at once (for the wait estimate)."""
    if item.is_voice:
        return 1
    return capacity_of(agent, policy) // max(text_weight(agent, item.channel, policy), 1)
