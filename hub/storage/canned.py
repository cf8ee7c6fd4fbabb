"""Canned replies (快捷回复): shared ones (no owner) and each agent's personal ones.

The store keeps and finds them. What a reply may hold (:func:`clean_fields`), who may change which
(:func:`may_manage`: supervisors and administrators the shared ones, each agent their own) and how its variables are
filled (:func:`expand`) are here too, so the inbox pages (:mod:`routing.canned`) and the staff API
(:mod:`hub.web.api_v1.canned`) apply the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.localtime import CityTime
from hub.models import Role, User
from hub.storage.engine import begin
from hub.storage.schema import canned_replies

VARIABLES = ("name", "order_number", "agent", "hotline", "date")
_VARIABLE = re.compile(r"\{(" + "|".join(VARIABLES) + r")\}")
_SHORTCUT = re.compile(r"[0-9A-Za-z_\-\u4e00-\u9fff]{1,32}")
MAX_TITLE = 100
MAX_TEXT = 2000
MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # manage the shared replies


@dataclass(frozen=True, slots=True)
class CannedReply:
    """A reply text an agent inserts by typing ``/`` and its shortcut in the composer."""

    id: int
    owner_id: int | None  # None: shared by the whole centre
    shortcut: str
    title: str
    text: str  # may hold variables such as {name} or {order_number}
    created_at: datetime
    updated_at: datetime

    @property
    def shared(self) -> bool:
        """True for a reply every agent sees."""
        return self.owner_id is None

    def to_json(self, user: User, city: CityTime, expanded: str | None = None) -> dict[str, Any]:
        """The wire form for ``user`` (``editable``: may they change it), ``expanded`` only when asked for one
        conversation (the text with its variables filled in)."""
        data: dict[str, Any] = {
            "id": self.id,
            "shortcut": self.shortcut,
            "title": self.title,
            "text": self.text,
            "shared": self.shared,
            "editable": may_manage(user, self),
            "created_at": city.iso(self.created_at),
            "updated_at": city.iso(self.updated_at),
        }
        if expanded is not None:
            data["expanded"] = expanded
        return data


class CannedError(ValueError):
    """A reply that cannot be stored; ``code`` names the catalog string ``canned.error.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def expand(text: str, values: dict[str, str | None]) -> str:
    """Fill the variables of a canned reply; a variable without a value is left as written."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else match.group(0)

    return _VARIABLE.sub(fill, text)


def clean_fields(fields: dict[str, Any]) -> tuple[str, str, str]:
    """The shortcut (without a leading ``/``), title and text of a reply, trimmed.

    Raises:
        CannedError: ``shortcut``, ``title`` or ``text`` is missing or malformed.
    """
    shortcut = str(fields.get("shortcut") or "").strip().lstrip("/")
    title = str(fields.get("title") or "").strip()
    text = str(fields.get("text") or "").strip()
    if not _SHORTCUT.fullmatch(shortcut):
        raise CannedError("shortcut")
    if not title or len(title) > MAX_TITLE:
        raise CannedError("title")
    if not text or len(text) > MAX_TEXT:
        raise CannedError("text")
    return shortcut, title, text


def may_manage(user: User, reply: CannedReply) -> bool:
    """Whether ``user`` may change or delete ``reply``."""
    return reply.owner_id == user.id if not reply.shared else user.role in MANAGERS


def _reply(row: sa.Row[tuple[object, ...]]) -> CannedReply:
    m = row._mapping
    return CannedReply(
        id=m["id"],
        owner_id=m["owner_id"],
        shortcut=m["shortcut"],
        title=m["title"],
        text=m["text"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
    )


class CannedStore:
    """Persistence of canned replies."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def visible_to(self, user_id: int) -> list[CannedReply]:
        """The shared replies and ``user_id``'s own, shared first, each by shortcut."""
        t = canned_replies.c
        query = (
            sa.select(canned_replies)
            .where(sa.or_(t.owner_id.is_(None), t.owner_id == user_id))
            .order_by(t.owner_id.is_not(None), t.shortcut, t.id)
        )
        async with self._engine.connect() as conn:
            return [_reply(r) for r in await conn.execute(query)]

    async def get(self, reply_id: int) -> CannedReply | None:
        """A reply by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(canned_replies).where(canned_replies.c.id == reply_id))).first()
        return None if row is None else _reply(row)

    async def create(self, owner_id: int | None, shortcut: str, title: str, text: str) -> CannedReply:
        """Store a new reply (``owner_id`` None: shared)."""
        now = self._clock()
        values = {"owner_id": owner_id, "shortcut": shortcut, "title": title, "text": text}
        async with begin(self._engine) as conn:
            row = (
                await conn.execute(
                    canned_replies.insert().values(created_at=now, updated_at=now, **values).returning(canned_replies)
                )
            ).one()
        return _reply(row)

    async def update(self, reply_id: int, *, shortcut: str, title: str, text: str) -> CannedReply | None:
        """Change a reply's shortcut, title and text; None if it is gone."""
        async with begin(self._engine) as conn:
            row = (
                await conn.execute(
                    canned_replies.update()
                    .where(canned_replies.c.id == reply_id)
                    .values(shortcut=shortcut, title=title, text=text, updated_at=self._clock())
                    .returning(canned_replies)
                )
            ).first()
        return None if row is None else _reply(row)

    async def delete(self, reply_id: int) -> bool:
        """Remove a reply; False if it was not there."""
        async with begin(self._engine) as conn:
            result = await conn.execute(canned_replies.delete().where(canned_replies.c.id == reply_id))
        return bool(result.rowcount)

    async def count_shared(self) -> int:
        """How many shared replies exist (the demo loader adds its own only to an empty set)."""
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).select_from(canned_replies).where(canned_replies.c.owner_id.is_(None))
            )
        return int(found or 0)
