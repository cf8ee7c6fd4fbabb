"""Open311 GeoReport v2 storage: API keys (only their hashes) and what a request adds to its work order.

The tables live on the hub's shared :data:`hub.storage.schema.metadata` (migration ``0002_open311``); importing
this module registers them, which the composition root does through ``channels.open311``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata, work_order_events, work_orders

KEY_BYTES = 32  # 256 bits, URL-safe base64 → 43 characters

open311_api_keys = sa.Table(
    "open311_api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex of the key
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS, nullable=True),
)

open311_requests = sa.Table(
    "open311_requests",
    metadata,
    sa.Column("work_order_id", sa.Integer, sa.ForeignKey("work_orders.id"), primary_key=True),
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("open311_api_keys.id"), nullable=False, index=True),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("long", sa.Float, nullable=True),
    sa.Column("address_string", sa.String(500), nullable=True),
    sa.Column("email", sa.String(200), nullable=True),
    sa.Column("first_name", sa.String(100), nullable=True),
    sa.Column("last_name", sa.String(100), nullable=True),
    sa.Column("media_url", sa.String(1000), nullable=True),
    sa.Column("lang", sa.String(16), nullable=False, server_default="zh-CN"),
    sa.Column("created_at", TS, nullable=False, index=True),
)


def hash_key(key: str) -> str:
    """The stored form of an API key (SHA-256 hex; the keys are random, so no salt is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A registered Open311 client."""

    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RequestExtras:
    """What an Open311 request holds beyond its work order."""

    lat: float | None
    long: float | None
    address_string: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    media_url: str | None
    lang: str


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """The spec's GET requests filters, already validated."""

    start: datetime
    end: datetime
    numbers: tuple[str, ...] = ()  # service_request_id: overrides every other filter
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # "open" | "closed"
    limit: int = 1000


CLOSED = "closed"


class Open311Store:
    """API keys and the Open311 side of work orders."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create_key(self, name: str) -> tuple[ApiKey, str]:
        """Register a client; returns it and the new key (shown once, only its hash is stored)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("key name must have 1 to 100 characters")
        key = secrets.token_urlsafe(KEY_BYTES)
        now = self._clock()
        async with begin(self._engine) as conn:
            row = (
                await conn.execute(
                    open311_api_keys.insert()
                    .values(name=name, key_hash=hash_key(key), created_at=now)
                    .returning(open311_api_keys.c.id)
                )
            ).one()
        return ApiKey(row.id, name, now), key

    async def verify_key(self, key: str) -> ApiKey | None:
        """The client owning ``key`` if it is valid and not revoked."""
        digest = hash_key(key)
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(open311_api_keys).where(
                        open311_api_keys.c.key_hash == digest, open311_api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return ApiKey(row.id, row.name, as_utc(row.created_at))

    async def record(self, work_order_id: int, api_key_id: int, extras: RequestExtras) -> None:
        """Attach the Open311 side (location, contact, media, language) to a work order."""
        async with begin(self._engine) as conn:
            await conn.execute(
                open311_requests.insert().values(
                    work_order_id=work_order_id,
                    api_key_id=api_key_id,
                    lat=extras.lat,
                    long=extras.long,
                    address_string=extras.address_string,
                    email=extras.email,
                    first_name=extras.first_name,
                    last_name=extras.last_name,
                    media_url=extras.media_url,
                    lang=extras.lang,
                    created_at=self._clock(),
                )
            )

    def _joined(self) -> sa.Select[Any]:
        return sa.select(
            work_orders,
            open311_requests.c.lat,
            open311_requests.c.long,
            open311_requests.c.address_string,
            open311_requests.c.media_url,
            open311_requests.c.lang,
        ).select_from(work_orders.join(open311_requests, open311_requests.c.work_order_id == work_orders.c.id))

    async def get(self, number: str, note_actions: Collection[str]) -> dict[str, Any] | None:
        """One Open311 request (its work order row plus the Open311 columns) by work-order number.

        ``status_notes`` is the latest note of an event whose action is in ``note_actions``.
        """
        async with self._engine.connect() as conn:
            row = (await conn.execute(self._joined().where(work_orders.c.number == number))).first()
            if row is None:
                return None
            found = dict(row._mapping)
            found["status_notes"] = (await self._last_notes(conn, [found["id"]], note_actions)).get(found["id"])
        return found

    async def search(self, spec: RequestFilter, note_actions: Collection[str]) -> list[dict[str, Any]]:
        """Open311 requests matching the filter, newest first, at most ``spec.limit``."""
        query = self._joined()
        if spec.numbers:
            query = query.where(work_orders.c.number.in_(spec.numbers))
        else:
            query = query.where(work_orders.c.created_at >= spec.start, work_orders.c.created_at <= spec.end)
            if spec.service_codes:
                query = query.where(work_orders.c.category.in_(spec.service_codes))
            if set(spec.statuses) == {CLOSED}:
                query = query.where(work_orders.c.state == CLOSED)
            elif set(spec.statuses) == {"open"}:
                query = query.where(work_orders.c.state != CLOSED)
        query = query.order_by(work_orders.c.created_at.desc(), work_orders.c.id.desc()).limit(spec.limit)
        async with self._engine.connect() as conn:
            found = [dict(r._mapping) for r in await conn.execute(query)]
            notes = await self._last_notes(conn, [r["id"] for r in found], note_actions)
        for r in found:
            r["status_notes"] = notes.get(r["id"])
        return found

    async def _last_notes(self, conn: Any, order_ids: list[int], actions: Collection[str]) -> dict[int, str]:
        """The latest non-empty event note of each order."""
        if not order_ids:
            return {}
        result = await conn.execute(
            sa.select(work_order_events.c.work_order_id, work_order_events.c.note)
            .where(
                work_order_events.c.work_order_id.in_(order_ids),
                work_order_events.c.action.in_(list(actions)),
                work_order_events.c.note.is_not(None),
                work_order_events.c.note != "",
            )
            .order_by(work_order_events.c.id)
        )
        return {order_id: note for order_id, note in result.tuples()}

    async def updates(
        self, start: datetime, end: datetime, actions: Collection[str], limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Events (with an action in ``actions``) of Open311 requests in [start, end], oldest first."""
        query = (
            sa.select(
                work_order_events.c.id,
                work_order_events.c.action,
                work_order_events.c.to_state,
                work_order_events.c.unit,
                work_order_events.c.note,
                work_order_events.c.created_at,
                work_orders.c.number,
                open311_requests.c.lang,
            )
            .select_from(
                work_order_events.join(work_orders, work_orders.c.id == work_order_events.c.work_order_id).join(
                    open311_requests, open311_requests.c.work_order_id == work_orders.c.id
                )
            )
            .where(
                work_order_events.c.created_at >= start,
                work_order_events.c.created_at <= end,
                work_order_events.c.action.in_(list(actions)),
            )
            .order_by(work_order_events.c.created_at, work_order_events.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]
