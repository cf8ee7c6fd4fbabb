"""Department KPIs per month: on-time closure, closure, satisfaction, first-time resolution, returns,
extensions, average handling time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import as_utc
from hub.storage.schema import work_order_extensions, work_orders


@dataclass(frozen=True, slots=True)
class UnitKpis:
    """One unit's month. Rates are in [0, 1] or None when there is nothing to divide by."""

    unit: str
    received: int
    closed: int
    closure_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    first_time_rate: float | None
    returns: int
    extensions: int
    avg_handling_hours: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)


def month_bounds(year: int, month: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in the centre's time zone."""
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def unit_kpis(
    engine: AsyncEngine, year: int, month: int, tz: tzinfo, units: list[str] | None = None
) -> list[UnitKpis]:
    """KPIs of every unit (or of ``units``) for orders dispatched to them in the month."""
    start, end = month_bounds(year, month, tz)
    query = sa.select(work_orders).where(
        work_orders.c.unit.is_not(None), work_orders.c.created_at >= start, work_orders.c.created_at < end
    )
    if units is not None:
        query = query.where(work_orders.c.unit.in_(units))
    ext_query = (
        sa.select(work_orders.c.unit, sa.func.count())
        .join(work_order_extensions, work_order_extensions.c.work_order_id == work_orders.c.id)
        .where(
            work_order_extensions.c.status == "approved",
            work_order_extensions.c.requested_at >= start,
            work_order_extensions.c.requested_at < end,
        )
        .group_by(work_orders.c.unit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        extensions = {unit: count for unit, count in (await conn.execute(ext_query)).tuples()}
    by_unit: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_unit[row.unit].append(row)
    result = []
    for unit in sorted(set(by_unit) | set(extensions)):
        orders = by_unit.get(unit, [])
        closed = [o for o in orders if o.state == "closed"]
        on_time = [o for o in closed if o.due_at is None or as_utc(o.replied_at or o.closed_at) <= as_utc(o.due_at)]
        rated = [o for o in orders if o.satisfaction]
        pleased = [o for o in rated if o.satisfaction in ("satisfied", "basically_satisfied")]
        first_time = [o for o in closed if not o.returns and not o.rehandles]
        handled = [o for o in orders if o.signed_at is not None and o.replied_at is not None]
        hours = [(as_utc(o.replied_at) - as_utc(o.signed_at)).total_seconds() / 3600 for o in handled]
        result.append(
            UnitKpis(
                unit=unit,
                received=len(orders),
                closed=len(closed),
                closure_rate=_rate(len(closed), len(orders)),
                on_time_rate=_rate(len(on_time), len(closed)),
                satisfaction_rate=_rate(len(pleased), len(rated)),
                first_time_rate=_rate(len(first_time), len(closed)),
                returns=sum(o.returns for o in orders),
                extensions=extensions.get(unit, 0),
                avg_handling_hours=round(sum(hours) / len(hours), 2) if hours else None,
            )
        )
    return result
