"""Email threading storage (migration ``0005_email``): which mail belongs to which conversation.

``email_messages`` maps the SHA-256 of every Message-ID the hub has seen or sent to its conversation and hub
message: inbound mails are deduplicated by it (a re-fetch after a crash before ``\\Seen`` is stored once) and a
reply finds its conversation by the ids in its In-Reply-To/References. ``email_threads`` holds, per
conversation, where replies go, the subject and the References chain the next reply carries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, utc_now
from hub.storage.engine import begin
from hub.storage.outbox import FAILED, outbox
from hub.storage.schema import TS, metadata

MAX_REFERENCES = 20  # ids kept in a thread's References chain (the root and the newest)

email_messages = sa.Table(
    "email_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_key", sa.String(64), nullable=False, unique=True),  # SHA-256 hex of "<message-id>"
    sa.Column("message_id", sa.String(500), nullable=False),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False, index=True),
    sa.Column("hub_message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=True),
    sa.Column("direction", sa.String(3), nullable=False),  # in | out
    sa.Column("created_at", TS, nullable=False),
)

email_threads = sa.Table(
    "email_threads",
    metadata,
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("address", sa.String(320), nullable=False),  # where replies go
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("reference_ids", sa.Text, nullable=False),  # "<a> <b> ...": References of the next reply
    sa.Column("last_message_id", sa.String(500), nullable=True),  # In-Reply-To of the next reply
    sa.Column("updated_at", TS, nullable=False),
)


def key_of(message_id: str) -> str:
    """The stored key of a Message-ID (given without angle brackets)."""
    return hashlib.sha256(f"<{message_id}>".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Thread:
    """How the next reply of a conversation is addressed and threaded."""

    conversation_id: str
    address: str
    subject: str
    references: tuple[str, ...]
    last_message_id: str | None


def _chain(old: tuple[str, ...], new: list[str]) -> tuple[str, ...]:
    ids = list(dict.fromkeys([*old, *new]))
    if len(ids) > MAX_REFERENCES:  # keep the root (first) and the newest
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return tuple(ids)


class EmailStore:
    """Rows of ``email_messages`` and ``email_threads``."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def stored_inbound(self, message_key: str) -> bool:
        """Whether an inbound mail with this key is stored already."""
        query = sa.select(email_messages.c.id).where(email_messages.c.message_key == message_key)
        async with self._engine.connect() as conn:
            return (await conn.scalar(query)) is not None

    async def conversation_of(self, message_ids: tuple[str, ...]) -> str | None:
        """The conversation of the first of ``message_ids`` the hub knows (sent or received)."""
        keys = [key_of(m) for m in message_ids]
        if not keys:
            return None
        query = sa.select(email_messages.c.message_key, email_messages.c.conversation_id).where(
            email_messages.c.message_key.in_(keys)
        )
        async with self._engine.connect() as conn:
            found = {row.message_key: row.conversation_id for row in (await conn.execute(query)).all()}
        return next((found[k] for k in keys if k in found), None)

    async def record_inbound(
        self,
        *,
        message_key: str,
        message_id: str | None,
        conversation_id: str,
        hub_message_id: int,
        address: str,
        subject: str,
        thread_ids: tuple[str, ...],
        answerable: bool,
    ) -> None:
        """Remember an inbound mail; an answerable one also moves the thread (next reply answers it)."""
        now = self._clock()
        async with begin(self._engine) as conn:
            exists = await conn.scalar(
                sa.select(email_messages.c.id).where(email_messages.c.message_key == message_key)
            )
            if exists is None:
                await conn.execute(
                    email_messages.insert().values(
                        message_key=message_key,
                        message_id=(message_id or "")[:500],
                        conversation_id=conversation_id,
                        hub_message_id=hub_message_id,
                        direction="in",
                        created_at=now,
                    )
                )
            if not answerable:
                return
            row = (
                await conn.execute(sa.select(email_threads).where(email_threads.c.conversation_id == conversation_id))
            ).first()
            new_ids = [*reversed(thread_ids), *([message_id] if message_id else [])]
            if row is None:
                await conn.execute(
                    email_threads.insert().values(
                        conversation_id=conversation_id,
                        address=address,
                        subject=subject[:500],
                        reference_ids=" ".join(f"<{m}>" for m in _chain((), new_ids)),
                        last_message_id=message_id,
                        updated_at=now,
                    )
                )
                return
            old = tuple(r.strip("<>") for r in row.reference_ids.split())
            values: dict[str, Any] = {
                "address": address,
                "reference_ids": " ".join(f"<{m}>" for m in _chain(old, new_ids)),
                "updated_at": now,
            }
            if message_id:
                values["last_message_id"] = message_id
            if subject and not row.subject:
                values["subject"] = subject[:500]
            await conn.execute(
                email_threads.update().where(email_threads.c.conversation_id == conversation_id).values(**values)
            )

    async def thread(self, conversation_id: str) -> Thread | None:
        """The threading of a conversation's next reply (None: no mail received in it yet)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(email_threads).where(email_threads.c.conversation_id == conversation_id))
            ).first()
        if row is None:
            return None
        refs = tuple(r.strip("<>") for r in row.reference_ids.split())
        return Thread(row.conversation_id, row.address, row.subject, refs, row.last_message_id)

    async def record_outbound(self, message_id: str, conversation_id: str, hub_message_id: int) -> None:
        """Remember a Message-ID we send (before sending: a quick bounce or reply must find it)."""
        try:
            async with begin(self._engine) as conn:
                await conn.execute(
                    email_messages.insert().values(
                        message_key=key_of(message_id),
                        message_id=message_id[:500],
                        conversation_id=conversation_id,
                        hub_message_id=hub_message_id,
                        direction="out",
                        created_at=self._clock(),
                    )
                )
        except IntegrityError:
            pass  # a retry of the same message: same Message-ID

    async def fail_bounced(self, message_ids: tuple[str, ...], reason: str) -> list[int]:
        """Mark the outbox rows of our mails that a bounce reports as failed; returns their hub message ids."""
        keys = [key_of(m) for m in message_ids]
        if not keys:
            return []
        async with begin(self._engine) as conn:
            ids = [
                row.hub_message_id
                for row in (
                    await conn.execute(
                        sa.select(email_messages.c.hub_message_id).where(
                            email_messages.c.message_key.in_(keys),
                            email_messages.c.direction == "out",
                            email_messages.c.hub_message_id.is_not(None),
                        )
                    )
                ).all()
            ]
            if ids:
                await conn.execute(
                    outbox.update().where(outbox.c.message_id.in_(ids)).values(status=FAILED, last_error=reason[:2000])
                )
        return ids
