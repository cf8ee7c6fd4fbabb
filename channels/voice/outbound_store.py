"""Who called which citizen back, and who played, answered or deleted which voicemail (migration ``0009``).

``voice_callbacks``: one row per click-to-call (agent, number, the conversation or order it was started from, the
call record, its state and how it ended); the per-agent hourly cap counts these rows. ``voicemail_actions``: one
row per play, SMS answer or deletion of a voicemail message (who, when), shown next to the voicemail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata

voice_callbacks = sa.Table(
    "voice_callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=True, index=True),
    sa.Column("work_order_number", sa.String(32), nullable=True, index=True),
    sa.Column("call_id", sa.Integer, sa.ForeignKey("calls.id"), nullable=True),
    sa.Column("requested_at", TS, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(32), nullable=True),
    sa.Column("sip_status", sa.Integer, nullable=True),
    sa.Column("ended_at", TS, nullable=True),
    sa.Index("ix_voice_callbacks_agent_requested", "agent_id", "requested_at"),
)

voicemail_actions = sa.Table(
    "voicemail_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # play | sms | delete
    sa.Column("at", TS, nullable=False),
    sa.Column("detail", sa.String(500), nullable=True),
)

ACTIVE_STATES = ("ringing_agent", "calling", "connected")


@dataclass(frozen=True, slots=True)
class CallbackRow:
    """One click-to-call."""

    id: int
    agent_id: int
    number: str
    conversation_id: str | None
    work_order_number: str | None
    call_id: int | None
    requested_at: datetime
    state: str  # ringing_agent | calling | connected | ended | failed
    cause: str | None
    sip_status: int | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class VoicemailAction:
    """A play, SMS answer or deletion of a voicemail."""

    id: int
    message_id: int
    user_id: int
    action: str
    at: datetime
    detail: str | None


def _callback(row: Any) -> CallbackRow:
    m = dict(row._mapping)
    m["requested_at"] = as_utc(m["requested_at"])
    m["ended_at"] = as_utc(m["ended_at"]) if m["ended_at"] is not None else None
    return CallbackRow(**m)


class OutboundStore:
    """Rows of ``voice_callbacks`` and ``voicemail_actions``."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def start(
        self, *, agent_id: int, number: str, conversation_id: str | None, work_order_number: str | None
    ) -> CallbackRow:
        """Record a click-to-call as it starts (the agent's softphone is about to ring)."""
        values = {
            "agent_id": agent_id,
            "number": number[:32],
            "conversation_id": conversation_id,
            "work_order_number": work_order_number,
            "requested_at": self._clock(),
            "state": "ringing_agent",
        }
        async with begin(self._engine) as conn:
            new_id = (
                await conn.execute(voice_callbacks.insert().values(**values).returning(voice_callbacks.c.id))
            ).scalar_one()
        return await self.get(new_id)

    async def update(self, callback_id: int, **values: Any) -> None:
        """Set ``state``, ``call_id``, ``conversation_id``, ``cause``, ``sip_status`` or ``ended_at``."""
        allowed = {"state", "call_id", "conversation_id", "cause", "sip_status", "ended_at"}
        if set(values) - allowed:
            raise ValueError(f"cannot update {', '.join(sorted(set(values) - allowed))}")
        async with begin(self._engine) as conn:
            await conn.execute(voice_callbacks.update().where(voice_callbacks.c.id == callback_id).values(**values))

    async def finish(self, callback_id: int, *, state: str, cause: str, sip_status: int | None = None) -> None:
        """The call-back is over (``ended`` after a conversation, ``failed`` when nobody talked)."""
        await self.update(callback_id, state=state, cause=cause, sip_status=sip_status, ended_at=self._clock())

    async def get(self, callback_id: int) -> CallbackRow:
        """A call-back by id (LookupError if absent)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(voice_callbacks).where(voice_callbacks.c.id == callback_id))).first()
        if row is None:
            raise LookupError(callback_id)
        return _callback(row)

    async def count_since(self, agent_id: int, hours: float = 1.0) -> int:
        """How many call-backs ``agent_id`` started in the last ``hours`` (the hourly cap)."""
        since = self._clock() - timedelta(hours=hours)
        query = sa.select(sa.func.count()).where(
            voice_callbacks.c.agent_id == agent_id, voice_callbacks.c.requested_at >= since
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def for_conversation(self, conversation_id: str) -> list[CallbackRow]:
        """The call-backs of a conversation, oldest first."""
        query = sa.select(voice_callbacks).where(voice_callbacks.c.conversation_id == conversation_id)
        async with self._engine.connect() as conn:
            return [_callback(r) for r in (await conn.execute(query.order_by(voice_callbacks.c.id))).all()]

    async def for_order(self, number: str) -> list[CallbackRow]:
        """The call-backs started from a work order, oldest first."""
        query = sa.select(voice_callbacks).where(voice_callbacks.c.work_order_number == number)
        async with self._engine.connect() as conn:
            return [_callback(r) for r in (await conn.execute(query.order_by(voice_callbacks.c.id))).all()]

    async def interrupted(self) -> int:
        """At start-up: call-backs a previous process left unfinished are marked failed (``interrupted``)."""
        async with begin(self._engine) as conn:
            result = await conn.execute(
                voice_callbacks.update()
                .where(voice_callbacks.c.state.in_(ACTIVE_STATES))
                .values(state="failed", cause="interrupted", ended_at=self._clock())
            )
        return int(result.rowcount or 0)

    # -- voicemail actions -----------------------------------------------------------------------------------

    async def voicemail_action(self, message_id: int, user_id: int, action: str, detail: str | None = None) -> None:
        """Record that ``user_id`` played, answered by SMS or deleted voicemail ``message_id`` now."""
        values = {"message_id": message_id, "user_id": user_id, "action": action, "at": self._clock()}
        async with begin(self._engine) as conn:
            await conn.execute(voicemail_actions.insert().values(**values, detail=(detail or None) and detail[:500]))

    async def last_play(self, message_id: int, user_id: int) -> datetime | None:
        """When ``user_id`` last played ``message_id`` (one play is one row, not one per byte range)."""
        c = voicemail_actions.c
        query = sa.select(sa.func.max(c.at)).where(c.message_id == message_id, c.user_id == user_id, c.action == "play")
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one()
        return as_utc(value) if value is not None else None

    async def voicemail_actions(self, message_id: int) -> list[VoicemailAction]:
        """Every action on ``message_id``, oldest first."""
        query = sa.select(voicemail_actions).where(voicemail_actions.c.message_id == message_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(voicemail_actions.c.id))).all()
        return [VoicemailAction(**{**dict(r._mapping), "at": as_utc(r.at)}) for r in rows]
