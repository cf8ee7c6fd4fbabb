"""The agent model for every channel: the status the agent sets, the states the system sets, and weighted load.

The agent sets a *presence*: offline, available or break (with a reason code). What everyone sees is the
*status*, derived from the presence and the work in hand:

- ``offered`` while an offer waits for the agent's answer;
- ``busy`` while the agent holds any call or conversation;
- ``wrap_up`` during after-call work (no new items until it ends or the agent ends it early);
- otherwise the presence itself.

An agent on break or wrap-up keeps the items in hand; they are only offered nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

NO_ANSWER = "no_answer"
"""The break reason the system sets after too many missed offers."""


class AgentStatus(StrEnum):
    """What an agent is doing, as shown on the floor and in the inbox."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"


PRESENCES = frozenset({AgentStatus.OFFLINE, AgentStatus.AVAILABLE, AgentStatus.BREAK})
"""The statuses an agent (or a supervisor) sets; the others are the system's."""


@dataclass
class Agent:
    """An agent known to the router (``id`` is the hub user id).

    Attributes:
        queues: the queues the agent serves.
        skills: skill code → level (industry, district, language/dialect ...).
        capacity: slots, overriding the policy's (None: the policy's).
        text_weight: per-channel weight overrides for this agent.
        registered: the softphone is registered (needed for calls).
        presence: what the agent set (offline, available, break).
        reason: the break reason code.
        status: the derived status, as last announced.
        status_since: when ``status`` began.
        idle_since: when the agent last became free of work (for longest idle).
        load: item id → slots it takes.
        voice_items: ids of the calls in hand (at most one).
        offered: item id of the pending offer (one at a time) and the slots it reserves.
        wrap_up_until: end of after-call work.
        missed_offers: consecutive offers not accepted.
        handled_today / talk_time_today: counters for the strategies (reset by :meth:`Router.new_day`).
    """

    id: int
    queues: frozenset[str] = frozenset()
    skills: dict[str, int] = field(default_factory=dict)
    capacity: int | None = None
    text_weight: dict[str, int] = field(default_factory=dict)
    registered: bool = False
    presence: AgentStatus = AgentStatus.OFFLINE
    reason: str | None = None
    status: AgentStatus = AgentStatus.OFFLINE
    status_since: float = 0.0
    idle_since: float = 0.0
    load: dict[str, int] = field(default_factory=dict)
    voice_items: set[str] = field(default_factory=set)
    offered: dict[str, int] = field(default_factory=dict)
    wrap_up_until: float | None = None
    missed_offers: int = 0
    handled_today: int = 0
    talk_time_today: float = 0.0

    def derived_status(self) -> AgentStatus:
        """The status implied by presence and work in hand (see the module docstring)."""
        if self.presence is AgentStatus.OFFLINE and not self.load:
            return AgentStatus.OFFLINE
        if self.offered:
            return AgentStatus.OFFERED
        if self.load:
            return AgentStatus.BUSY
        if self.wrap_up_until is not None:
            return AgentStatus.WRAP_UP
        return self.presence

    def used(self) -> int:
        """Slots taken by items in hand plus the pending offer's reservation."""
        return sum(self.load.values()) + sum(self.offered.values())

    def has_skills(self, required: dict[str, int]) -> bool:
        """Every required skill at or above its level."""
        return all(self.skills.get(code, -1) >= level for code, level in required.items())

    def skill_score(self, required: dict[str, int]) -> int:
        """Sum of the agent's levels on ``required`` (higher is a better match)."""
        return sum(self.skills.get(code, 0) for code in required)
