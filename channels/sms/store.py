"""Storage of the SMS channel (migration ``0005_sms``).

- ``sms_inbound_parts``: parts of long inbound messages, stored before the deliver_sm is acknowledged; marked
  done once the whole message is stored (kept for the dedupe window so a resent part is recognised).
- ``sms_inbound_keys``: the dedupe key of every inbound message (a resend within the window is not processed).
- ``sms_submits``: one row per submitted segment with the SMSC message id and its delivery-receipt status, for a
  conversation message (``message_id``) or a bulk recipient (``recipient_id``).
- ``sms_optouts``: numbers that replied TD/退订.
- ``sms_bulk_jobs`` / ``sms_bulk_recipients``: 群发 jobs and per-number status.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata

sms_inbound_parts = sa.Table(
    "sms_inbound_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ref", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("done_at", TS, nullable=True),
    sa.UniqueConstraint("source", "ref", "total", "seq", name="uq_sms_inbound_parts_key"),
)

sms_inbound_keys = sa.Table(
    "sms_inbound_keys",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("seen_at", TS, nullable=False),
)

sms_submits = sa.Table(
    "sms_submits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("smsc_message_id", sa.String(65), nullable=False, index=True),
    sa.Column("message_id", sa.Integer, nullable=True, index=True),
    sa.Column("recipient_id", sa.Integer, nullable=True, index=True),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("destination", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # submitted | delivered | failed
    sa.Column("stat", sa.String(16), nullable=True),  # the receipt's stat (DELIVRD, UNDELIV, ...)
    sa.Column("submitted_at", TS, nullable=False),
    sa.Column("done_at", TS, nullable=True),
)

sms_optouts = sa.Table(
    "sms_optouts",
    metadata,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("opted_out_at", TS, nullable=False),
)

sms_bulk_jobs = sa.Table(
    "sms_bulk_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_by", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | done
    sa.Column("created_at", TS, nullable=False),
    sa.Column("finished_at", TS, nullable=True),
)

sms_bulk_recipients = sa.Table(
    "sms_bulk_recipients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("sms_bulk_jobs.id"), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | delivered | failed | skipped
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("job_id", "phone", name="uq_sms_bulk_recipients_job_id"),
    sa.Index("ix_sms_bulk_recipients_job_status", "job_id", "status"),
)

RECIPIENT_STATES = ("pending", "sent", "delivered", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class StoredPart:
    """A stored part of a long inbound message."""

    seq: int
    text: str


@dataclass(frozen=True, slots=True)
class BulkJob:
    """A 群发 job with per-status counts of its recipients."""

    id: int
    created_by: int
    text: str
    status: str
    created_at: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Number of recipients."""
        return sum(self.counts.values())


class SmsStore:
    """Rows of the SMS channel's tables."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        # receipts that overtook the recording of their submit_sm_resp (the SMSC may send a receipt at once)
        self._early: OrderedDict[str, tuple[str, str]] = OrderedDict()

    # -- inbound --------------------------------------------------------------------------------

    async def add_part(
        self, source: str, ref: int, total: int, seq: int, text: str, window_s: float
    ) -> tuple[bool, list[StoredPart] | None]:
        """Store one part; returns ``(duplicate, parts)`` where ``parts`` are all parts once complete.

        A part already stored (pending) or already assembled within ``window_s`` is a duplicate.
        """
        now = self._clock()
        key = (
            (sms_inbound_parts.c.source == source)
            & (sms_inbound_parts.c.ref == ref)
            & (sms_inbound_parts.c.total == total)
        )
        async with begin(self._engine) as conn:
            old = (await conn.execute(sa.select(sms_inbound_parts).where(key, sms_inbound_parts.c.seq == seq))).first()
            if old is not None:
                recent = as_utc(old.received_at) > now - timedelta(seconds=window_s)
                if old.done_at is None or recent:
                    return True, None
                await conn.execute(sms_inbound_parts.delete().where(key, sms_inbound_parts.c.done_at.is_not(None)))
            await conn.execute(
                sms_inbound_parts.insert().values(
                    source=source, ref=ref, total=total, seq=seq, text=text, received_at=now
                )
            )
            got = (
                await conn.execute(
                    sa.select(sms_inbound_parts.c.seq, sms_inbound_parts.c.text)
                    .where(key, sms_inbound_parts.c.done_at.is_(None))
                    .order_by(sms_inbound_parts.c.seq)
                )
            ).all()
        if len(got) < total:
            return False, None
        return False, [StoredPart(r.seq, r.text) for r in got]

    async def mark_parts_done(self, source: str, ref: int, total: int) -> None:
        """The parts' message is stored."""
        async with begin(self._engine) as conn:
            await conn.execute(
                sms_inbound_parts.update()
                .where(
                    sms_inbound_parts.c.source == source,
                    sms_inbound_parts.c.ref == ref,
                    sms_inbound_parts.c.total == total,
                    sms_inbound_parts.c.done_at.is_(None),
                )
                .values(done_at=self._clock())
            )

    async def stale_parts(self, older_than_s: float) -> list[tuple[str, int, int, list[StoredPart]]]:
        """Incomplete messages whose first part is older than ``older_than_s``: ``(source, ref, total, parts)``."""
        cutoff = self._clock() - timedelta(seconds=older_than_s)
        t = sms_inbound_parts
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(t).where(t.c.done_at.is_(None)).order_by(t.c.source, t.c.ref, t.c.seq))
            ).all()
        groups: dict[tuple[str, int, int], list[Any]] = {}
        for row in rows:
            groups.setdefault((row.source, row.ref, row.total), []).append(row)
        return [
            (source, ref, total, [StoredPart(r.seq, r.text) for r in group])
            for (source, ref, total), group in groups.items()
            if min(as_utc(r.received_at) for r in group) < cutoff
        ]

    async def check_key(self, key: str, window_s: float) -> tuple[bool, int]:
        """``(duplicate, seq)``: a key seen within ``window_s`` is a duplicate; else ``seq`` numbers this arrival."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(sms_inbound_keys).where(sms_inbound_keys.c.key == key))).first()
        if row is None:
            return False, 1
        if as_utc(row.seen_at) > self._clock() - timedelta(seconds=window_s):
            return True, row.seq
        return False, row.seq + 1

    async def remember_key(self, key: str, seq: int) -> None:
        """Record that the message with ``key`` (arrival ``seq``) is stored."""
        now = self._clock()
        async with begin(self._engine) as conn:
            updated = await conn.execute(
                sms_inbound_keys.update().where(sms_inbound_keys.c.key == key).values(seq=seq, seen_at=now)
            )
            if not updated.rowcount:
                await conn.execute(sms_inbound_keys.insert().values(key=key, seq=seq, seen_at=now))

    # -- outbound and receipts ------------------------------------------------------------------

    async def record_submit(
        self,
        smsc_message_id: str,
        *,
        part: int,
        total: int,
        destination: str,
        message_id: int | None = None,
        recipient_id: int | None = None,
    ) -> None:
        """A segment was accepted by the SMSC."""
        async with begin(self._engine) as conn:
            await conn.execute(
                sms_submits.insert().values(
                    smsc_message_id=smsc_message_id,
                    message_id=message_id,
                    recipient_id=recipient_id,
                    part=part,
                    total=total,
                    destination=destination,
                    status="submitted",
                    submitted_at=self._clock(),
                )
            )
            if recipient_id is not None and part == total:
                await self._set_recipient(conn, recipient_id, "sent", None, only_from=("pending",))
        early = self._early.pop(smsc_message_id, None)
        if early is not None:
            await self.apply_receipt(smsc_message_id, *early)

    async def last_message_to(self, destination: str) -> int | None:
        """The hub message most recently submitted to ``destination`` (None: none yet)."""
        query = (
            sa.select(sms_submits.c.message_id)
            .where(sms_submits.c.destination == destination, sms_submits.c.message_id.is_not(None))
            .order_by(sms_submits.c.id.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            found = await conn.scalar(query)
        return int(found) if found is not None else None

    async def submitted_parts(self, message_id: int) -> set[int]:
        """Parts of a conversation message the SMSC already accepted (a retry sends only the rest)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(sms_submits.c.part).where(sms_submits.c.message_id == message_id))
            return {r.part for r in rows}

    async def apply_receipt(self, smsc_message_id: str, status: str, stat: str) -> bool:
        """Record a delivery receipt; False if no submitted segment has that id (yet: kept a while in memory)."""
        now = self._clock()
        async with begin(self._engine) as conn:
            row = (
                await conn.execute(
                    sa.select(sms_submits)
                    .where(sms_submits.c.smsc_message_id == smsc_message_id)
                    .order_by(sms_submits.c.id.desc())
                )
            ).first()
            if row is None:
                self._early[smsc_message_id] = (status, stat)
                while len(self._early) > 10_000:
                    self._early.popitem(last=False)
                return False
            final = status in ("delivered", "failed")
            await conn.execute(
                sms_submits.update()
                .where(sms_submits.c.id == row.id)
                .values(status=status if final else row.status, stat=stat, done_at=now if final else None)
            )
            if row.recipient_id is not None and status == "delivered":  # a failed part stays failed
                await self._set_recipient(conn, row.recipient_id, status, None, only_from=("pending", "sent"))
            elif row.recipient_id is not None and status == "failed":
                await self._set_recipient(conn, row.recipient_id, status, stat)
        return True

    async def delivery_status(self, message_id: int) -> dict[str, Any]:
        """Delivery of one conversation message: ``delivered`` when every part is, ``failed`` if one failed."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(sms_submits).where(sms_submits.c.message_id == message_id).order_by(sms_submits.c.part)
                )
            ).all()
        if not rows:
            return {"status": "unsent", "parts": []}
        states = {r.status for r in rows}
        complete = len({r.part for r in rows}) >= rows[0].total
        status = "submitted"
        if "failed" in states:
            status = "failed"
        elif states == {"delivered"} and complete:
            status = "delivered"
        return {
            "status": status,
            "parts": [{"part": r.part, "smsc_message_id": r.smsc_message_id, "status": r.status} for r in rows],
        }

    # -- opt-out --------------------------------------------------------------------------------

    async def set_opted_out(self, phone: str, opted_out: bool) -> None:
        """Add (TD/退订) or remove (订阅) a number from the opt-out list."""
        async with begin(self._engine) as conn:
            await conn.execute(sms_optouts.delete().where(sms_optouts.c.phone == phone))
            if opted_out:
                await conn.execute(sms_optouts.insert().values(phone=phone, opted_out_at=self._clock()))

    async def is_opted_out(self, phone: str) -> bool:
        """Whether the number opted out of notifications."""
        async with self._engine.connect() as conn:
            return (await conn.scalar(sa.select(sms_optouts.c.phone).where(sms_optouts.c.phone == phone))) is not None

    # -- bulk -----------------------------------------------------------------------------------

    async def create_job(self, created_by: int, text: str, phones: list[str]) -> int:
        """A new running job for ``phones`` (deduplicated by the caller); returns its id."""
        now = self._clock()
        async with begin(self._engine) as conn:
            job_id = (
                await conn.execute(
                    sms_bulk_jobs.insert()
                    .values(created_by=created_by, text=text, status="running", created_at=now)
                    .returning(sms_bulk_jobs.c.id)
                )
            ).scalar_one()
            if phones:
                await conn.execute(
                    sms_bulk_recipients.insert(),
                    [{"job_id": job_id, "phone": p, "status": "pending", "updated_at": now} for p in phones],
                )
        return int(job_id)

    async def job(self, job_id: int) -> BulkJob | None:
        """One job with its counts."""
        jobs = await self.jobs(job_id=job_id)
        return jobs[0] if jobs else None

    async def jobs(self, *, job_id: int | None = None, limit: int = 50) -> list[BulkJob]:
        """Newest jobs first, with per-status counts."""
        query = sa.select(sms_bulk_jobs).order_by(sms_bulk_jobs.c.id.desc()).limit(limit)
        if job_id is not None:
            query = query.where(sms_bulk_jobs.c.id == job_id)
        r = sms_bulk_recipients
        async with self._engine.connect() as conn:
            job_rows = (await conn.execute(query)).all()
            ids = [j.id for j in job_rows]
            counts: dict[int, dict[str, int]] = {i: dict.fromkeys(RECIPIENT_STATES, 0) for i in ids}
            if ids:
                grouped = await conn.execute(
                    sa.select(r.c.job_id, r.c.status, sa.func.count())
                    .where(r.c.job_id.in_(ids))
                    .group_by(r.c.job_id, r.c.status)
                )
                for jid, status, n in grouped:
                    counts[jid][status] = n
        return [BulkJob(j.id, j.created_by, j.text, j.status, as_utc(j.created_at), counts[j.id]) for j in job_rows]

    async def recipients(self, job_id: int) -> list[dict[str, Any]]:
        """Per-number status of a job."""
        r = sms_bulk_recipients
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(r).where(r.c.job_id == job_id).order_by(r.c.id))).all()
        return [{"id": x.id, "phone": x.phone, "status": x.status, "error": x.error} for x in rows]

    async def pending_recipients(self, limit: int = 100) -> list[tuple[int, int, str, str]]:
        """Pending recipients of running jobs, oldest first: ``(recipient_id, job_id, phone, text)``."""
        r, j = sms_bulk_recipients, sms_bulk_jobs
        query = (
            sa.select(r.c.id, r.c.job_id, r.c.phone, j.c.text)
            .join(j, j.c.id == r.c.job_id)
            .where(j.c.status == "running", r.c.status == "pending")
            .order_by(r.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(x.id, x.job_id, x.phone, x.text) for x in (await conn.execute(query)).all()]

    async def set_recipient(self, recipient_id: int, status: str, error: str | None = None) -> None:
        """Set one recipient's status (skipped, failed)."""
        async with begin(self._engine) as conn:
            await self._set_recipient(conn, recipient_id, status, error)

    async def _set_recipient(
        self, conn: Any, recipient_id: int, status: str, error: str | None, only_from: tuple[str, ...] | None = None
    ) -> None:
        query = sms_bulk_recipients.update().where(sms_bulk_recipients.c.id == recipient_id)
        if only_from is not None:
            query = query.where(sms_bulk_recipients.c.status.in_(only_from))
        await conn.execute(query.values(status=status, error=error, updated_at=self._clock()))

    async def finish_idle_jobs(self) -> None:
        """Mark running jobs without pending recipients done."""
        r, j = sms_bulk_recipients, sms_bulk_jobs
        pending = sa.select(r.c.id).where(r.c.job_id == j.c.id, r.c.status == "pending").exists()
        async with begin(self._engine) as conn:
            await conn.execute(
                j.update().where(j.c.status == "running", ~pending).values(status="done", finished_at=self._clock())
            )
