"""The durable outbox: outbound messages waiting to be pushed to a citizen's channel (migration ``0004_outbox``).

One row per outbound message (``message_id`` unique, so a message is never queued twice). A row is ``pending``
until its channel's sender accepts it (``sent``) or rejects it for good (``failed``); failed attempts count in
``attempts`` and push ``next_attempt_at`` back. Rows survive a restart: a new process sends what is pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.models import Message
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import TS, conversations, messages, metadata

PENDING = "pending"
SENT = "sent"
FAILED = "failed"

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(36), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("sent_at", TS, nullable=True),
    sa.Index("ix_outbox_channel_status_id", "channel", "status", "id"),
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A pending delivery and the message it carries."""

    id: int
    conversation_id: str
    channel: str
    attempts: int
    next_attempt_at: datetime
    message: Message


class OutboxStore:
    """Rows of the ``outbox`` table."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def enqueue(self, message_id: int, conversation_id: str, channel: str) -> bool:
        """Queue a message for delivery; False if it was queued before."""
        now = self._clock()
        try:
            async with begin(self._engine) as conn:
                await conn.execute(
                    outbox.insert().values(
                        message_id=message_id,
                        conversation_id=conversation_id,
                        channel=channel,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def unqueued_since_last(self, channel: str) -> list[tuple[int, str]]:
        """Outbound messages of the channel's conversations newer than its newest queued one but not queued.

        Those were stored by a process that stopped before its listener queued them. ``[]`` while the channel
        never queued anything (enabling a channel does not send its old history).
        """
        async with self._engine.connect() as conn:
            last = await conn.scalar(sa.select(sa.func.max(outbox.c.message_id)).where(outbox.c.channel == channel))
            if last is None:
                return []
            query = (
                sa.select(messages.c.id, messages.c.conversation_id)
                .join(conversations, conversations.c.id == messages.c.conversation_id)
                .outerjoin(outbox, outbox.c.message_id == messages.c.id)
                .where(
                    conversations.c.channel == channel,
                    messages.c.direction == "out",
                    messages.c.id > last,
                    outbox.c.id.is_(None),
                )
                .order_by(messages.c.id)
            )
            return [(row.id, row.conversation_id) for row in (await conn.execute(query)).all()]

    async def pending(self, channel: str, limit: int = 100, after_id: int = 0) -> list[OutboxItem]:
        """The channel's pending rows after row ``after_id``, oldest first (due or not): one page."""
        query = (
            sa.select(outbox, messages)
            .join(messages, messages.c.id == outbox.c.message_id)
            .where(outbox.c.channel == channel, outbox.c.status == PENDING, outbox.c.id > after_id)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            result = (await conn.execute(query)).all()
        items = []
        for row in result:
            m = row._mapping
            items.append(
                OutboxItem(
                    id=m[outbox.c.id],
                    conversation_id=m[outbox.c.conversation_id],
                    channel=m[outbox.c.channel],
                    attempts=m[outbox.c.attempts],
                    next_attempt_at=as_utc(m[outbox.c.next_attempt_at]),
                    message=rows.message(_MessageRow(row)),
                )
            )
        return items

    async def mark_sent(self, item_id: int) -> None:
        """The channel accepted the message."""
        async with begin(self._engine) as conn:
            await conn.execute(outbox.update().where(outbox.c.id == item_id).values(status=SENT, sent_at=self._clock()))

    async def mark_retry(self, item_id: int, attempts: int, next_attempt_at: datetime, error: str) -> None:
        """A failed attempt: try again at ``next_attempt_at``."""
        async with begin(self._engine) as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == item_id)
                .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error[:2000])
            )

    async def retry_now(self, channel: str, now: datetime) -> int:
        """Make every pending row of ``channel`` due at ``now`` (its link came back); returns how many moved."""
        async with begin(self._engine) as conn:
            result = await conn.execute(
                outbox.update()
                .where(outbox.c.channel == channel, outbox.c.status == PENDING, outbox.c.next_attempt_at > now)
                .values(next_attempt_at=now)
            )
        return int(result.rowcount or 0)

    async def mark_failed(self, item_id: int, attempts: int, error: str) -> None:
        """The channel rejected the message for good (it will not be retried)."""
        async with begin(self._engine) as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == item_id)
                .values(status=FAILED, attempts=attempts, last_error=error[:2000])
            )

    async def counts(self, channel: str) -> dict[str, int]:
        """How many rows of the channel are in each status."""
        query = sa.select(outbox.c.status, sa.func.count()).where(outbox.c.channel == channel).group_by(outbox.c.status)
        async with self._engine.connect() as conn:
            return {status: n for status, n in (await conn.execute(query)).all()}


class _MessageRow:
    """Adapts a joined outbox+messages row to what :func:`hub.storage.rows.message` reads."""

    def __init__(self, row: sa.Row[tuple[object, ...]]) -> None:
        self._mapping = {c.name: row._mapping[c] for c in messages.c}
