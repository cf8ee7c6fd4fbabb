"""Call records (CDR) of the voice channel (migration ``0005_voice``).

One row per inbound call: arrival, IVR answer, the IVR path, the agent queue (entered, left, wait), the agent and
when they answered, the end and its cause, durations, recordings, voicemail and transcript. The call session
stores the row when the call arrives (:meth:`CallStore.start_call`, idempotent on the SIP Call-ID), updates it as
the call moves on and closes it with :meth:`CallStore.finish`, which computes the durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sip_call_id", sa.String(255), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=True, index=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=True, index=True),
    sa.Column("caller", sa.String(64), nullable=True),
    sa.Column("called", sa.String(64), nullable=True),
    sa.Column("routing", sa.String(16), nullable=False, server_default="normal"),  # normal | vip | blacklist
    sa.Column("arrived_at", TS, nullable=False, index=True),
    sa.Column("answered_at", TS, nullable=True),  # answered by the IVR
    sa.Column("ivr_path", sa.JSON, nullable=False),
    sa.Column("queue", sa.String(64), nullable=True),
    sa.Column("priority", sa.Integer, nullable=True),
    sa.Column("queue_entered_at", TS, nullable=True),
    sa.Column("queue_left_at", TS, nullable=True),
    sa.Column("wait_s", sa.Float, nullable=True),
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("agent_answered_at", TS, nullable=True),
    sa.Column("ended_at", TS, nullable=True),
    sa.Column("hangup_cause", sa.String(32), nullable=True),
    sa.Column("ivr_s", sa.Float, nullable=True),
    sa.Column("talk_s", sa.Float, nullable=True),
    sa.Column("total_s", sa.Float, nullable=True),
    sa.Column("recordings", sa.JSON, nullable=False),
    sa.Column("voicemail_path", sa.String(500), nullable=True),
    sa.Column("transcript", sa.Text, nullable=True),
    sa.Column("direction", sa.String(16), nullable=False, server_default="inbound"),  # inbound | outbound (0009)
)


class HangupCause(StrEnum):
    """Why a call ended."""

    CALLER_BYE = "caller_bye"  # the caller hung up (in the IVR or talking to an agent)
    AGENT_BYE = "agent_bye"  # the agent hung up
    IVR_END = "ivr_end"  # the flow hung up (goodbye, after voicemail)
    ABANDONED = "abandoned"  # the caller hung up while waiting in the queue
    # call-backs (outbound): why the citizen was not reached or who ended the conversation
    AGENT_NO_ANSWER = "agent_no_answer"  # the agent's softphone rang out or refused
    AGENT_CANCELLED = "agent_cancelled"  # the agent hung up while the citizen's phone rang
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    TRUNK_REFUSED = "trunk_refused"
    CITIZEN_BYE = "citizen_bye"
    REJECTED = "rejected"  # blacklisted caller
    NO_INPUT = "no_input"  # no valid input after the retries
    OVERFLOW = "overflow"  # no agent within the maximum wait and nowhere to go
    ERROR = "error"


class CallNotFound(LookupError):
    """No call with that id."""


UPDATABLE = frozenset(
    {
        "conversation_id",
        "contact_id",
        "routing",
        "answered_at",
        "ivr_path",
        "queue",
        "priority",
        "queue_entered_at",
        "queue_left_at",
        "wait_s",
        "agent_id",
        "agent_answered_at",
        "voicemail_path",
        "transcript",
    }
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call's record."""

    id: int
    sip_call_id: str
    conversation_id: str | None
    contact_id: int | None
    caller: str | None
    called: str | None
    routing: str
    arrived_at: datetime
    answered_at: datetime | None
    ivr_path: list[dict[str, Any]]
    queue: str | None
    priority: int | None
    queue_entered_at: datetime | None
    queue_left_at: datetime | None
    wait_s: float | None
    agent_id: int | None
    agent_answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: str | None
    ivr_s: float | None
    talk_s: float | None
    total_s: float | None
    recordings: list[str] = field(default_factory=list)
    voicemail_path: str | None = None
    transcript: str | None = None
    direction: str = "inbound"  # outbound: an agent's call-back (caller = the hotline, called = the citizen)


@dataclass(frozen=True, slots=True)
class CallKpis:
    """Call-centre figures for a period (calls that arrived in it)."""

    calls: int
    queued: int
    answered: int  # by an agent
    abandoned: int
    rejected: int
    voicemail: int
    answered_within_sl: int  # answered by an agent within the service-level threshold
    avg_wait_s: float | None  # of the calls that queued and left the queue
    max_wait_s: float | None
    avg_talk_s: float | None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned share of the queued calls."""
        return self.abandoned / self.queued if self.queued else None

    @property
    def service_level(self) -> float | None:
        """Share of the queued calls answered within the threshold."""
        return self.answered_within_sl / self.queued if self.queued else None


def _ts(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)


def _record(row: Any) -> CallRecord:
    m = dict(row._mapping)
    for key in ("answered_at", "queue_entered_at", "queue_left_at", "agent_answered_at", "ended_at"):
        m[key] = _ts(m[key])
    m["arrived_at"] = as_utc(m["arrived_at"])
    m["ivr_path"] = list(m["ivr_path"] or [])
    m["recordings"] = list(m["recordings"] or [])
    return CallRecord(**m)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds())


class CallStore:
    """Rows of the ``calls`` table."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        """The database (the voice channel's other stores share it)."""
        return self._engine

    async def start_call(
        self,
        *,
        sip_call_id: str,
        caller: str | None,
        called: str | None,
        arrived_at: datetime | None = None,
        conversation_id: str | None = None,
        contact_id: int | None = None,
        routing: str = "normal",
        direction: str = "inbound",
    ) -> CallRecord:
        """Record an arriving call; a second start with the same SIP Call-ID returns the first record."""
        if not sip_call_id or len(sip_call_id) > 255:
            raise ValueError("a SIP Call-ID is 1-255 characters")
        values: dict[str, Any] = {
            "sip_call_id": sip_call_id,
            "caller": (caller or None) and caller[:64],
            "called": (called or None) and called[:64],
            "arrived_at": arrived_at or self._clock(),
            "conversation_id": conversation_id,
            "contact_id": contact_id,
            "routing": routing,
            "direction": direction,
            "ivr_path": [],
            "recordings": [],
        }
        try:
            async with begin(self._engine) as conn:
                new_id = (await conn.execute(calls.insert().values(**values).returning(calls.c.id))).scalar_one()
        except IntegrityError:
            found = await self.by_sip_call_id(sip_call_id)
            if found is None:
                raise
            return found
        return await self.get(new_id)

    async def update(self, call_id: int, **changes: Any) -> CallRecord:
        """Set fields of a call (``answered_at``, ``ivr_path``, ``queue_entered_at``, ``agent_id`` ...).

        Raises:
            ValueError: a field that cannot be updated this way.
            CallNotFound: no such call.
        """
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        async with begin(self._engine) as conn:
            await self._update(conn, call_id, changes)
        return await self.get(call_id)

    async def add_recording(self, call_id: int, path: str) -> CallRecord:
        """Append a recording's path."""
        async with begin(self._engine) as conn:
            current = await conn.scalar(sa.select(calls.c.recordings).where(calls.c.id == call_id))
            if current is None:
                raise CallNotFound(call_id)
            await self._update(conn, call_id, {"recordings": [*current, path]})
        return await self.get(call_id)

    async def finish(self, call_id: int, *, cause: str, ended_at: datetime | None = None, **changes: Any) -> CallRecord:
        """Close the record: end time, cause, durations (first finish wins; later calls return the record).

        ``changes`` may set the same fields as :meth:`update` (the final IVR path, the transcript ...).
        """
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        async with begin(self._engine) as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
            if row is None:
                raise CallNotFound(call_id)
            if row.ended_at is not None:
                return _record(row)
            current = {**row._mapping, **changes}
            end = ended_at or self._clock()
            entered = _ts(current["queue_entered_at"])
            left = _ts(current["queue_left_at"])
            if entered is not None and left is None:
                left = _ts(current["agent_answered_at"]) or end
            answered = _ts(current["agent_answered_at"])
            ivr_end = entered or answered or end
            values = {
                **changes,
                "ended_at": end,
                "hangup_cause": cause,
                "queue_left_at": left,
                "wait_s": current["wait_s"] if current["wait_s"] is not None else _seconds(entered, left),
                "talk_s": _seconds(answered, end),
                "ivr_s": _seconds(_ts(current["answered_at"]), ivr_end) if current["answered_at"] else None,
                "total_s": _seconds(_ts(current["arrived_at"]), end),
            }
            await self._update(conn, call_id, values)
        return await self.get(call_id)

    async def open_calls(self) -> list[CallRecord]:
        """Calls without an end: at start-up, the ones a previous process was serving when it stopped."""
        async with self._engine.connect() as conn:
            result = await conn.execute(sa.select(calls).where(calls.c.ended_at.is_(None)).order_by(calls.c.id))
            return [_record(row) for row in result]

    async def get(self, call_id: int) -> CallRecord:
        """A call by id (CallNotFound if absent)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
        if row is None:
            raise CallNotFound(call_id)
        return _record(row)

    async def by_sip_call_id(self, sip_call_id: str) -> CallRecord | None:
        """A call by its SIP Call-ID."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.sip_call_id == sip_call_id))).first()
        return _record(row) if row is not None else None

    async def for_conversation(self, conversation_id: str) -> list[CallRecord]:
        """The calls of a conversation, oldest first."""
        query = sa.select(calls).where(calls.c.conversation_id == conversation_id).order_by(calls.c.id)
        async with self._engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def for_contact(self, contact_id: int, limit: int = 50) -> list[CallRecord]:
        """A contact's calls, newest first."""
        query = sa.select(calls).where(calls.c.contact_id == contact_id).order_by(calls.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def recent(self, limit: int = 50) -> list[CallRecord]:
        """The newest calls first."""
        query = sa.select(calls).order_by(calls.c.arrived_at.desc(), calls.c.id.desc()).limit(max(1, min(limit, 1000)))
        async with self._engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def kpis(self, start: datetime, end: datetime, service_level_s: float = 20.0) -> CallKpis:
        """Figures for the calls that arrived in [start, end)."""
        queued = calls.c.queue_entered_at.is_not(None)
        answered = calls.c.agent_answered_at.is_not(None)

        def count(condition: Any) -> Any:
            return sa.func.count(sa.case((condition, 1)))

        query = sa.select(
            sa.func.count(),
            count(queued),
            count(answered),
            count(calls.c.hangup_cause == HangupCause.ABANDONED.value),
            count(calls.c.hangup_cause == HangupCause.REJECTED.value),
            count(calls.c.voicemail_path.is_not(None)),
            count(sa.and_(answered, calls.c.wait_s <= service_level_s)),
            sa.func.avg(sa.case((queued, calls.c.wait_s))),
            sa.func.max(sa.case((queued, calls.c.wait_s))),
            sa.func.avg(sa.case((answered, calls.c.talk_s))),
        ).where(calls.c.arrived_at >= start, calls.c.arrived_at < end, calls.c.direction == "inbound")
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        floats = [None if v is None else round(float(v), 3) for v in row[7:]]
        return CallKpis(*(int(v) for v in row[:7]), *floats)

    @staticmethod
    async def _update(conn: AsyncConnection, call_id: int, values: dict[str, Any]) -> None:
        result = await conn.execute(calls.update().where(calls.c.id == call_id).values(**values))
        if result.rowcount == 0:
            raise CallNotFound(call_id)
