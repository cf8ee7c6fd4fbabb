"""Helpers shared by the routing-engine tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from routing.engine import CapacityPolicy, QueueConfig, Router, RoutingEvent


def router(*queues: QueueConfig, **policy: object) -> Router:
    """A router with ``queues`` (default: one "general" queue) and a policy built from ``policy``."""
    return Router(queues or (QueueConfig("general"),), CapacityPolicy(**policy))  # type: ignore[arg-type]


def staff(
    r: Router,
    agent_id: int,
    now: float = 0.0,
    *,
    queues: Iterable[str] = ("general",),
    skills: Mapping[str, int] | None = None,
    capacity: int | None = None,
    registered: bool = True,
) -> list[RoutingEvent]:
    """Sign an agent in (softphone registered by default)."""
    events = r.set_registered(agent_id, registered, now=now)
    return events + r.sign_in(agent_id, now=now, queues=queues, skills=skills, capacity_override=capacity)


def of(events: list[RoutingEvent], kind: type) -> list:
    """The events of one kind."""
    return [e for e in events if isinstance(e, kind)]
