"""The events the router emits: frozen dataclasses the wiring turns into softphone rings, inbox pushes and log rows.

Every event carries the ids it concerns; none carries an object the caller could mutate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgentStatusChanged:
    """An agent's shown status changed (``reason``: the break reason code, or None)."""

    agent_id: int
    status: str
    previous: str
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class NoAnswerBreak:
    """The agent missed ``missed`` offers in a row and was put on break "no_answer" (tell the agent and supervisor)."""

    agent_id: int
    missed: int
    at: float


@dataclass(frozen=True, slots=True)
class Offered:
    """Offer ``item_id`` to ``agent_id`` (ring the softphone / show the chat) until ``deadline``."""

    item_id: str
    agent_id: int
    deadline: float


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """Stop offering ``item_id`` to ``agent_id`` (another agent won, the citizen left, the agent signed out)."""

    item_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """``agent_id`` did not answer the offer of ``item_id`` in time."""

    item_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class Assigned:
    """``item_id`` now belongs to ``agent_id`` (accepted, auto-accepted or picked) after waiting ``wait_s``."""

    item_id: str
    agent_id: int
    queue: str
    wait_s: float
    how: str  # "accepted" | "auto" | "picked" | "supervisor" | "transferred"


@dataclass(frozen=True, slots=True)
class QueueLeft:
    """``item_id`` left its queue without an agent: ``outcome`` is "abandoned" or "overflow"."""

    item_id: str
    queue: str
    outcome: str
    wait_s: float


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The agent's after-call work ended (``early``: the agent ended it before the queue's limit)."""

    agent_id: int
    early: bool
    at: float


@dataclass(frozen=True, slots=True)
class Transferred:
    """``item_id`` held by ``from_agent`` went to ``to_agent`` (at once) or back to ``to_queue`` (waiting again).

    ``talk_s``: how long ``from_agent`` held it. An :class:`Assigned` follows for a transfer to an agent.
    """

    item_id: str
    from_agent: int
    to_agent: int | None
    to_queue: str | None
    talk_s: float
    at: float


RoutingEvent = (
    AgentStatusChanged
    | NoAnswerBreak
    | Offered
    | OfferWithdrawn
    | OfferTimedOut
    | Assigned
    | QueueLeft
    | WrapUpEnded
    | Transferred
)
