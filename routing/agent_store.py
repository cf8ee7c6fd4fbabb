"""Agents' presence (what they set, with today's counters) and routing profiles (queues, skills, capacity).

Presence is saved on every change so a restart brings each agent back in the status they chose (a call or chat in
hand is not: calls of the previous run are ended at start-up, conversations stay assigned in the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import users
from routing.tables import agent_presence, agent_profiles

ROUTED_ROLES = ("agent", "supervisor")
"""Staff roles the router knows as agents (a supervisor may take conversations too)."""


@dataclass(frozen=True, slots=True)
class Presence:
    """What an agent set, since when, and the counters of ``day`` (the city's date)."""

    user_id: int
    presence: str
    reason: str | None
    since: datetime
    day: str
    handled_today: int = 0
    talk_time_today: float = 0.0


@dataclass(frozen=True, slots=True)
class Profile:
    """How an agent is routed: queues (None: every queue), skills with levels, capacity and weight overrides."""

    user_id: int
    queues: tuple[str, ...] | None = None
    skills: dict[str, int] = field(default_factory=dict)
    capacity: int | None = None
    text_weight: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The wire form of the floor page and the staff API."""
        return {
            "user_id": self.user_id,
            "queues": list(self.queues) if self.queues is not None else None,
            "skills": dict(self.skills),
            "capacity": self.capacity,
            "text_weight": dict(self.text_weight),
        }


@dataclass(frozen=True, slots=True)
class RoutedUser:
    """A staff member the router knows (active, role agent or supervisor)."""

    id: int
    username: str
    display_name: str
    role: str


class AgentStore:
    """Persistence of presence and profiles."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def routed_users(self) -> list[RoutedUser]:
        """Active agents and supervisors, by display name."""
        query = (
            sa.select(users.c.id, users.c.username, users.c.display_name, users.c.role)
            .where(users.c.active.is_(True), users.c.role.in_(ROUTED_ROLES))
            .order_by(users.c.display_name, users.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RoutedUser(r.id, r.username, r.display_name, r.role) for r in rows]

    async def presences(self) -> dict[int, Presence]:
        """Every saved presence by user id."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(agent_presence))).all()
        return {
            r.user_id: Presence(
                r.user_id, r.presence, r.reason, as_utc(r.since), r.day, r.handled_today, r.talk_time_today
            )
            for r in rows
        }

    async def save_presence(self, presence: Presence) -> None:
        """Insert or replace the agent's presence row."""
        values = {
            "presence": presence.presence,
            "reason": presence.reason,
            "since": presence.since,
            "day": presence.day,
            "handled_today": presence.handled_today,
            "talk_time_today": presence.talk_time_today,
        }
        async with begin(self._engine) as conn:
            updated = await conn.execute(
                agent_presence.update().where(agent_presence.c.user_id == presence.user_id).values(**values)
            )
            if not updated.rowcount:
                await conn.execute(agent_presence.insert().values(user_id=presence.user_id, **values))

    async def profiles(self) -> dict[int, Profile]:
        """Every saved profile by user id."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(agent_profiles))).all()
        return {r.user_id: _profile(r) for r in rows}

    async def save_profile(self, profile: Profile) -> None:
        """Insert or replace the agent's routing profile."""
        values = {
            "queues": list(profile.queues) if profile.queues is not None else None,
            "skills": dict(profile.skills),
            "capacity": profile.capacity,
            "text_weight": dict(profile.text_weight),
            "updated_at": self._clock(),
        }
        async with begin(self._engine) as conn:
            updated = await conn.execute(
                agent_profiles.update().where(agent_profiles.c.user_id == profile.user_id).values(**values)
            )
            if not updated.rowcount:
                await conn.execute(agent_profiles.insert().values(user_id=profile.user_id, **values))


def _profile(row: sa.Row[tuple[object, ...]]) -> Profile:
    m = row._mapping
    queues = m["queues"]
    return Profile(
        user_id=m["user_id"],
        queues=tuple(queues) if queues is not None else None,
        skills={str(k): int(v) for k, v in (m["skills"] or {}).items()},
        capacity=m["capacity"],
        text_weight={str(k): int(v) for k, v in (m["text_weight"] or {}).items()},
    )
