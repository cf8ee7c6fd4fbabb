"""Private notes on conversations: written by staff for staff, never part of the transcript a citizen receives.

Notes live in their own table (``conversation_notes``), not among the messages: no channel, outbox or citizen
page ever reads this table, so a note cannot be delivered by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.localtime import CityTime
from hub.storage.engine import begin
from hub.storage.schema import conversation_notes, users

MAX_NOTE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Note:
    """A staff-only note in a conversation."""

    id: int
    conversation_id: str
    author_id: int
    author_name: str
    text: str
    created_at: datetime

    def to_json(self, city: CityTime) -> dict[str, Any]:
        """The wire form of the inbox and the staff API (times in the city's zone)."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "text": self.text,
            "created_at": city.iso(self.created_at),
        }


_SELECT = sa.select(conversation_notes, users.c.display_name.label("author_name")).join(
    users, users.c.id == conversation_notes.c.author_id
)


def _note(row: sa.Row[tuple[object, ...]]) -> Note:
    m = row._mapping
    return Note(
        id=m["id"],
        conversation_id=m["conversation_id"],
        author_id=m["author_id"],
        author_name=m["author_name"],
        text=m["text"],
        created_at=as_utc(m["created_at"]),
    )


class NoteStore:
    """Persistence of private notes."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def add(self, conversation_id: str, author_id: int, text: str) -> Note:
        """Store a note (the caller validates the text and the conversation) and return it."""
        async with begin(self._engine) as conn:
            note_id = await conn.scalar(
                conversation_notes.insert()
                .values(conversation_id=conversation_id, author_id=author_id, text=text, created_at=self._clock())
                .returning(conversation_notes.c.id)
            )
            row = (await conn.execute(_SELECT.where(conversation_notes.c.id == note_id))).one()
        return _note(row)

    async def for_conversation(self, conversation_id: str) -> list[Note]:
        """A conversation's notes, oldest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _SELECT.where(conversation_notes.c.conversation_id == conversation_id).order_by(conversation_notes.c.id)
            )
            return [_note(r) for r in result]
