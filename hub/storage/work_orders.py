"""Work orders (工单) and their history in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock, utc_now
from hub.localtime import DEFAULT_ZONE
from hub.models import WorkOrder
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import (
    calendar_days,
    counters,
    users,
    work_order_events,
    work_order_extensions,
    work_order_instructions,
    work_orders,
)
from hub.work_orders.query import OrderQuery, where_clauses

RECEIVED = "received"  # 受理: every order starts here; only the work-order service moves it on


async def _next_number(conn: AsyncConnection, now: datetime, tz: tzinfo) -> str:
    """Human-readable, unique per day: local ``YYYYMMDD`` + 4-digit sequence (e.g. 202611250007)."""
    day = now.astimezone(tz).strftime("%Y%m%d")
    name = f"work_order:{day}"
    result = await conn.execute(
        counters.update().where(counters.c.name == name).values(value=counters.c.value + 1).returning(counters.c.value)
    )
    value = result.scalar()
    if value is None:
        await conn.execute(counters.insert().values(name=name, value=1))
        value = 1
    return f"{day}{value:04d}"


class WorkOrderStore:
    """Persistence of work orders and their event history."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now, tz: tzinfo = DEFAULT_ZONE) -> None:
        """``tz``: the city's zone, whose local day numbers the orders (the composition root passes it)."""
        self._engine = engine
        self.engine = engine
        self._clock = clock
        self._tz = tz

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that several calls share by passing it as their ``conn``.

        The work-order service registers an order and dispatches it by rule in one transaction this way.
        """
        async with begin(self._engine) as conn:
            yield conn

    @asynccontextmanager
    async def _writing(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """The caller's transaction, or a new one of its own."""
        if conn is not None:
            yield conn
            return
        async with begin(self._engine) as own:
            yield own

    async def create(
        self,
        *,
        request_type: str,
        description: str,
        industry: str | None,
        category: str | None,
        district: str | None,
        address: str | None,
        phone: str | None,
        urgent: bool,
        conversation_id: str | None,
        contact_id: int | None,
        actor_id: int | None = None,
        source: str | None = None,
        citizen_name: str | None = None,
        forward_text: str | None = None,
        conn: AsyncConnection | None = None,
    ) -> WorkOrder:
        """Insert an order in 受理 (received, no unit) with its ``receive`` event, in one transaction.

        The store decides nothing: dispatching, even by rule right away, is an action of
        :class:`hub.work_orders.service.WorkOrderService` (``register``, ``act``).

        Args:
            conn: run inside the caller's transaction (see :meth:`transaction`) instead of a new one.
        """
        now = self._clock()
        async with self._writing(conn) as tx:
            number = await _next_number(tx, now, self._tz)
            values: dict[str, Any] = {
                "number": number,
                "conversation_id": conversation_id,
                "contact_id": contact_id,
                "request_type": request_type,
                "industry": industry,
                "category": category,
                "district": district,
                "address": address,
                "phone": phone,
                "description": description,
                "unit": None,
                "state": RECEIVED,
                "urgent": urgent,
                "created_at": now,
                "updated_at": now,
                "source": source,
                "created_by": actor_id,
                "citizen_name": citizen_name,
                "forward_text": forward_text,
            }
            row = (await tx.execute(work_orders.insert().values(**values).returning(work_orders))).one()
            await tx.execute(
                work_order_events.insert().values(
                    work_order_id=row.id,
                    action="receive",
                    from_state=None,
                    to_state=RECEIVED,
                    unit=None,
                    actor_id=actor_id,
                    created_at=now,
                )
            )
        return rows.work_order(row)

    async def apply(
        self,
        order: WorkOrder,
        *,
        action: str,
        to_state: str,
        actor_id: int | None,
        note: str | None,
        data: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        extra: Callable[[AsyncConnection], Awaitable[None]] | None = None,
        conn: AsyncConnection | None = None,
    ) -> WorkOrder | None:
        """Record an action: update the order only if it is still in ``order.state`` (None if it moved meanwhile).

        Nothing is written when the guard fails. Only the work-order service calls this (the single gateway of
        state changes, ADR 0021).

        Args:
            conn: run inside the caller's transaction (see :meth:`transaction`) instead of a new one.
        """
        now = self._clock()
        async with self._writing(conn) as tx:
            result = await tx.execute(
                work_orders.update()
                .where(work_orders.c.id == order.id, work_orders.c.state == order.state)
                .values(state=to_state, updated_at=now, **(values or {}))
                .returning(work_orders)
            )
            row = result.first()
            if row is None:
                return None
            await tx.execute(
                work_order_events.insert().values(
                    work_order_id=order.id,
                    action=action,
                    from_state=order.state,
                    to_state=to_state,
                    actor_id=actor_id,
                    unit=row.unit,
                    note=note,
                    data=data,
                    created_at=now,
                )
            )
            if extra is not None:
                await extra(tx)
        return rows.work_order(row)

    async def get(self, work_order_id: int) -> WorkOrder | None:
        """An order by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(work_orders).where(work_orders.c.id == work_order_id))).first()
        return None if row is None else rows.work_order(row)

    async def get_by_number(self, number: str) -> WorkOrder | None:
        """An order by its number."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(work_orders).where(work_orders.c.number == number))).first()
        return None if row is None else rows.work_order(row)

    async def list_for_contact(self, contact_id: int) -> list[WorkOrder]:
        """A citizen's orders, newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_orders)
                .where(work_orders.c.contact_id == contact_id)
                .order_by(work_orders.c.id.desc())
                .limit(50)
            )
            return [rows.work_order(r) for r in result]

    async def list_for_conversation(self, conversation_id: str) -> list[WorkOrder]:
        """Orders created from a conversation."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_orders)
                .where(work_orders.c.conversation_id == conversation_id)
                .order_by(work_orders.c.id)
            )
            return [rows.work_order(r) for r in result]

    async def history(self, work_order_id: int) -> list[dict[str, Any]]:
        """The order's events, oldest first, with the actor's display name."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_order_events, users.c.display_name.label("actor_name"))
                .outerjoin(users, users.c.id == work_order_events.c.actor_id)
                .where(work_order_events.c.work_order_id == work_order_id)
                .order_by(work_order_events.c.id)
            )
            return [dict(r._mapping) for r in result]

    async def find(
        self,
        *,
        units: list[str] | None = None,
        states: list[str] | None = None,
        supervised: bool | None = None,
        due_before: datetime | None = None,
        created_after: datetime | None = None,
        limit: int = 200,
    ) -> list[WorkOrder]:
        """Orders matching every given filter, newest first."""
        query = sa.select(work_orders)
        if created_after is not None:
            query = query.where(work_orders.c.created_at >= created_after)
        if units is not None:
            query = query.where(work_orders.c.unit.in_(units))
        if states is not None:
            query = query.where(work_orders.c.state.in_(states))
        if supervised is not None:
            query = query.where(work_orders.c.supervised == supervised)
        if due_before is not None:
            query = query.where(work_orders.c.due_at.is_not(None), work_orders.c.due_at < due_before)
        async with self._engine.connect() as conn:
            result = await conn.execute(query.order_by(work_orders.c.id.desc()).limit(limit))
            return [rows.work_order(r) for r in result]

    async def latest_for_contact(self, contact_id: int) -> WorkOrder | None:
        """A citizen's most recent order."""
        found = await self.list_for_contact(contact_id)
        return found[0] if found else None

    # -- extensions, instructions, calendar ------------------------------------------------------------

    async def extensions(self, work_order_id: int) -> list[dict[str, Any]]:
        """Extension requests of an order, oldest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_order_extensions)
                .where(work_order_extensions.c.work_order_id == work_order_id)
                .order_by(work_order_extensions.c.id)
            )
            return [dict(r._mapping) for r in result]

    async def pending_extensions(self) -> list[dict[str, Any]]:
        """Every extension request waiting for the centre, with its order number."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_order_extensions, work_orders.c.number, work_orders.c.unit)
                .join(work_orders, work_orders.c.id == work_order_extensions.c.work_order_id)
                .where(work_order_extensions.c.status == "pending")
                .order_by(work_order_extensions.c.id)
            )
            return [dict(r._mapping) for r in result]

    async def instructions(self, work_order_id: int) -> list[dict[str, Any]]:
        """Leaders' instructions (批示) on an order, oldest first, with the author's name."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_order_instructions, users.c.display_name.label("author_name"))
                .join(users, users.c.id == work_order_instructions.c.author_id)
                .where(work_order_instructions.c.work_order_id == work_order_id)
                .order_by(work_order_instructions.c.id)
            )
            return [dict(r._mapping) for r in result]

    async def set_calendar_day(self, day: date, kind: str | None, name: str | None) -> None:
        """Make ``day`` a holiday or a working day (``kind`` None removes the exception)."""
        async with begin(self._engine) as conn:
            await conn.execute(calendar_days.delete().where(calendar_days.c.day == day))
            if kind is not None:
                await conn.execute(calendar_days.insert().values(day=day, kind=kind, name=name))

    async def calendar_entries(self) -> list[dict[str, Any]]:
        """The calendar's exceptions with names, by day."""
        async with self._engine.connect() as conn:
            result = await conn.execute(sa.select(calendar_days).order_by(calendar_days.c.day))
            return [dict(r._mapping) for r in result]

    async def calendar_days(self) -> list[tuple[date, str]]:
        """The holiday calendar: (day, "holiday" | "workday")."""
        async with self._engine.connect() as conn:
            result = await conn.execute(sa.select(calendar_days.c.day, calendar_days.c.kind))
            return [(r.day, r.kind) for r in result]

    async def list_for_units(self, units: list[str], limit: int = 200) -> list[WorkOrder]:
        """Orders assigned to any of ``units`` (a department and its sub-units), newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_orders)
                .where(work_orders.c.unit.in_(units))
                .order_by(work_orders.c.id.desc())
                .limit(limit)
            )
            return [rows.work_order(r) for r in result]

    async def search(self, query: OrderQuery) -> tuple[list[WorkOrder], int]:
        """One page of the orders matching ``query`` in its order, and how many match in all."""
        where = where_clauses(query)
        page = sa.select(work_orders).where(*where).order_by(*query.order_by())
        total = sa.select(sa.func.count()).select_from(work_orders).where(*where)
        async with self._engine.connect() as conn:
            found = await conn.execute(page.limit(query.limit()).offset(query.offset()))
            items = [rows.work_order(r) for r in found]
            count = (await conn.execute(total)).scalar_one()
        return items, int(count)

    async def count_by_state(self) -> dict[str, int]:
        """How many orders are in each state."""
        async with self._engine.connect() as conn:
            result = await conn.execute(sa.select(work_orders.c.state, sa.func.count()).group_by(work_orders.c.state))
            return {state: count for state, count in result.tuples()}
