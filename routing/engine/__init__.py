"""One routing engine for voice and text, sans-IO: agents, capacity, queues, strategies, offers, estimates.

Nothing here reads a clock, sleeps or does I/O: every mutator of :class:`~routing.engine.engine.Router` takes
``now`` (seconds on one clock the caller chooses, e.g. ``time.time()``) and returns the events the caller acts on;
timers are data (:meth:`Router.next_deadline` / :meth:`Router.handle_timeout`).
"""

from routing.engine.agents import Agent, AgentStatus
from routing.engine.core import RoutingError
from routing.engine.engine import Router
from routing.engine.events import (
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    QueueLeft,
    RoutingEvent,
    Transferred,
    WrapUpEnded,
)
from routing.engine.items import WorkItem
from routing.engine.queues import CapacityPolicy, QueueConfig, Strategy

__all__ = [
    "Agent",
    "AgentStatus",
    "AgentStatusChanged",
    "Assigned",
    "CapacityPolicy",
    "NoAnswerBreak",
    "OfferTimedOut",
    "OfferWithdrawn",
    "Offered",
    "QueueConfig",
    "QueueLeft",
    "Router",
    "RoutingError",
    "RoutingEvent",
    "Strategy",
    "Transferred",
    "WorkItem",
    "WrapUpEnded",
]
