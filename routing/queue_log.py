"""The queue event log: every enter, offer, answer, transfer, abandon and agent status change, append-only.

The shape follows Asterisk's ``queue_log`` (one row per event with queue, item, agent, channel and times). Rows are
only ever inserted: nothing in Rexian updates or deletes them (a test checks the sources), so every live figure on
the floor page and every later report can be recomputed from the log alone.

Writes are buffered by :class:`QueueLog` so the routing decisions never wait for the database: :meth:`QueueLog.append`
is synchronous, a writer task inserts the buffered rows at once in one transaction, and :meth:`QueueLog.close`
flushes what is left. Readers of the live log (the floor page) get each entry as it is appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import as_utc
from hub.storage.engine import begin
from routing.tables import queue_log

log = logging.getLogger(__name__)


class QueueEvent(StrEnum):
    """What happened (Asterisk's names in the comments)."""

    ENTER = "enter"  # ENTERQUEUE: an item needs a human
    OFFER = "offer"  # RINGING: offered to an agent (a softphone rings, an inbox shows the offer)
    NO_ANSWER = "no_answer"  # RINGNOANSWER: the offer timed out
    DECLINE = "decline"  # RINGCANCELED by the agent: the agent refused the offer
    WITHDRAW = "withdraw"  # the offer was withdrawn (another agent won, the citizen left, the agent paused)
    CONNECT = "connect"  # CONNECT: assigned to an agent (data.how: accepted, auto, picked, supervisor, transferred)
    TRANSFER = "transfer"  # TRANSFER: moved to another agent or queue (data.to_agent / data.to_queue)
    ABANDON = "abandon"  # ABANDON: the citizen left while waiting
    OVERFLOW = "overflow"  # EXITWITHTIMEOUT: waited past the maximum (a call goes to voicemail)
    COMPLETE = "complete"  # COMPLETEAGENT / COMPLETECALLER: the agent's work on the item ended
    PAUSE = "pause"  # PAUSE: on break (reason: the code; "no_answer" when the system did it)
    UNPAUSE = "unpause"  # UNPAUSE: back to available
    LOGIN = "login"  # ADDMEMBER: signed in
    LOGOUT = "logout"  # REMOVEMEMBER: signed out
    WRAP_UP_END = "wrap_up_end"  # after-call work ended (data.early)
    MONITOR = "monitor"  # a supervisor listened, whispered, barged, joined or took over (reason: the mode)
    STATUS = "status"  # the shown status changed (reason: the new status); what time-in-status is read from


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of the queue event log."""

    at: datetime
    event: QueueEvent
    queue: str | None = None
    item_id: str | None = None
    conversation_id: str | None = None
    channel: str | None = None
    agent_id: int | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    reason: str | None = None
    data: dict[str, Any] | None = field(default=None)

    def row(self) -> dict[str, Any]:
        """The values to insert."""
        values = asdict(self)
        values["event"] = self.event.value
        return values


def _entry(row: sa.Row[tuple[object, ...]]) -> LogEntry:
    m = row._mapping
    return LogEntry(
        at=as_utc(m["at"]),
        event=QueueEvent(m["event"]),
        queue=m["queue"],
        item_id=m["item_id"],
        conversation_id=m["conversation_id"],
        channel=m["channel"],
        agent_id=m["agent_id"],
        wait_s=m["wait_s"],
        talk_s=m["talk_s"],
        reason=m["reason"],
        data=m["data"],
    )


class QueueLog:
    """The append-only log: buffered writes, reads by time range, live listeners."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._buffer: list[LogEntry] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[LogEntry], None]] = []

    def listen(self, listener: Callable[[LogEntry], None]) -> Callable[[], None]:
        """Call ``listener`` with every entry as it is appended; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def append(self, entry: LogEntry) -> None:
        """Queue ``entry`` for writing (never blocks) and tell the listeners."""
        self._buffer.append(entry)
        self._wake.set()
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception:
                log.exception("queue log listener failed")

    def start(self) -> None:
        """Start the writer task (call inside the running loop)."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="routing:queue-log")

    async def flush(self) -> None:
        """Write everything buffered so far."""
        while self._buffer:
            batch, self._buffer = self._buffer, []
            try:
                async with begin(self._engine) as conn:
                    await conn.execute(queue_log.insert(), [e.row() for e in batch])
            except Exception:
                self._buffer[:0] = batch  # kept for the next try: the log loses nothing on a busy database
                raise

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not write the queue log; retrying in 1 s")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def close(self) -> None:
        """Stop the writer and write what is left."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        try:
            await self.flush()
        except Exception:
            log.exception("queue log: %d entries could not be written at shutdown", len(self._buffer))

    async def entries(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        queue: str | None = None,
        agent_id: int | None = None,
        item_id: str | None = None,
        events: frozenset[QueueEvent] | None = None,
    ) -> list[LogEntry]:
        """The written entries from ``since`` (inclusive) to ``until`` (exclusive), oldest first."""
        await self.flush()
        query = sa.select(queue_log).where(queue_log.c.at >= since)
        if until is not None:
            query = query.where(queue_log.c.at < until)
        if queue is not None:
            query = query.where(queue_log.c.queue == queue)
        if agent_id is not None:
            query = query.where(queue_log.c.agent_id == agent_id)
        if item_id is not None:
            query = query.where(queue_log.c.item_id == item_id)
        if events is not None:
            query = query.where(queue_log.c.event.in_([e.value for e in events]))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(queue_log.c.at, queue_log.c.id))).all()
        return [_entry(r) for r in rows]
