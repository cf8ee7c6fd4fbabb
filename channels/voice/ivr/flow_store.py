"""Versions of the IVR flow documents (migration ``0005_voice``).

Every save is a new version (who, when, comment); one version per flow name is active. The documents are stored
as text: validation belongs to the voice channel (``channels.voice.ivr``), which only saves valid documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata

ivr_flows = sa.Table(
    "ivr_flows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("comment", sa.String(200), nullable=True),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("activated_at", TS, nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_ivr_flows_name_version"),
)


class FlowVersionNotFound(LookupError):
    """No such flow version."""


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """One stored version of a flow document."""

    id: int
    name: str
    version: int
    document: str
    comment: str | None
    created_by: int | None
    created_at: datetime
    active: bool
    activated_at: datetime | None


def _version(row: sa.Row[tuple[object, ...]]) -> FlowVersion:
    m = row._mapping
    activated = m["activated_at"]
    return FlowVersion(
        id=m["id"],
        name=m["name"],
        version=m["version"],
        document=m["document"],
        comment=m["comment"],
        created_by=m["created_by"],
        created_at=as_utc(m["created_at"]),
        active=bool(m["active"]),
        activated_at=as_utc(activated) if activated is not None else None,
    )


class IvrFlowStore:
    """Rows of the ``ivr_flows`` table."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def add(
        self,
        name: str,
        document: str,
        *,
        created_by: int | None,
        comment: str | None = None,
        activate: bool = True,
        only_if_empty: bool = False,
    ) -> FlowVersion | None:
        """Store a new version (the next number) and make it active unless ``activate`` is False.

        ``only_if_empty``: store only if the flow has no version yet (installing the default); None otherwise.
        """
        now = self._clock()
        try:
            return await self._add(name, document, created_by, comment, activate, only_if_empty, now)
        except IntegrityError:
            if only_if_empty:  # another process installed the first version at the same time
                return None
            raise

    async def _add(
        self,
        name: str,
        document: str,
        created_by: int | None,
        comment: str | None,
        activate: bool,
        only_if_empty: bool,
        now: datetime,
    ) -> FlowVersion | None:
        async with begin(self._engine) as conn:
            last = await conn.scalar(sa.select(sa.func.max(ivr_flows.c.version)).where(ivr_flows.c.name == name))
            if only_if_empty and last is not None:
                return None
            if activate:
                await conn.execute(ivr_flows.update().where(ivr_flows.c.name == name).values(active=False))
            result = await conn.execute(
                ivr_flows.insert()
                .values(
                    name=name,
                    version=(last or 0) + 1,
                    document=document,
                    comment=(comment or None) and comment[:200],
                    created_by=created_by,
                    created_at=now,
                    active=activate,
                    activated_at=now if activate else None,
                )
                .returning(ivr_flows.c.id)
            )
            new_id = result.scalar_one()
        return await self.get(new_id)

    async def activate(self, version_id: int, name: str) -> FlowVersion:
        """Make the version active (the others of the flow inactive)."""
        async with begin(self._engine) as conn:
            found = await conn.scalar(
                sa.select(ivr_flows.c.id).where(ivr_flows.c.id == version_id, ivr_flows.c.name == name)
            )
            if found is None:
                raise FlowVersionNotFound(version_id)
            await conn.execute(ivr_flows.update().where(ivr_flows.c.name == name).values(active=False))
            await conn.execute(
                ivr_flows.update().where(ivr_flows.c.id == version_id).values(active=True, activated_at=self._clock())
            )
        return await self.get(version_id)

    async def get(self, version_id: int) -> FlowVersion:
        """A version by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(ivr_flows).where(ivr_flows.c.id == version_id))).first()
        if row is None:
            raise FlowVersionNotFound(version_id)
        return _version(row)

    async def active(self, name: str) -> FlowVersion | None:
        """The active version of a flow."""
        query = sa.select(ivr_flows).where(ivr_flows.c.name == name, ivr_flows.c.active.is_(True))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query.order_by(ivr_flows.c.version.desc()))).first()
        return _version(row) if row is not None else None

    async def active_id(self, name: str) -> int | None:
        """The id of the active version (a cheap check whether another process changed it)."""
        query = sa.select(ivr_flows.c.id).where(ivr_flows.c.name == name, ivr_flows.c.active.is_(True))
        async with self._engine.connect() as conn:
            value = await conn.scalar(query.order_by(ivr_flows.c.version.desc()).limit(1))
        return int(value) if value is not None else None

    async def history(self, name: str, limit: int = 100) -> list[FlowVersion]:
        """The versions of a flow, newest first."""
        query = sa.select(ivr_flows).where(ivr_flows.c.name == name).order_by(ivr_flows.c.version.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [_version(r) for r in (await conn.execute(query)).all()]
