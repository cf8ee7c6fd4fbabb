"""The department portal's live feed: ``GET /dept/live`` (Server-Sent Events) for department staff.

A department user hears of orders dispatched (派单, 二次派单, 仲裁, 转派, 重办) to their own units and sub-units and of
their escalations (抢险超时); the centre's supervisors, leaders and administrators (``GET /orders/live``) hear of
escalations in every unit. Each event is ``event: order`` with JSON data::

    {"kind": "new" | "urgent" | "escalated", "number": str, "text": str (localised banner), "url": str,
     "counts": {"to_sign": int}}

``counts`` is the user's number of orders waiting to be signed (the portal's first tab). A comment line keeps the
connection open every :data:`KEEPALIVE_S` seconds. If the subscriber falls behind the bus it gets ``event: resync``
and the connection ends (the browser's EventSource reconnects and the page reloads its counts).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from hub.events import Event, WorkOrderChanged
from hub.i18n import t
from hub.models import Role, User
from hub.storage.schema import work_orders
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from hub.work_orders.service import WorkOrderService

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
DISPATCHES = frozenset({"dispatch", "redispatch", "arbitrate", "forward", "rehandle"})
ESCALATED = "escalate"
CENTRE_LIVE_ROLES = [Role.SUPERVISOR, Role.LEADER, Role.ADMIN]
STREAMS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("live_streams", set)


def event_kind(event: Event, units: list[str] | None) -> str | None:
    """What the user with visibility ``units`` (None: the centre) is told of ``event`` (None: nothing)."""
    if not isinstance(event, WorkOrderChanged):
        return None
    order = event.work_order
    if units is None:
        return "escalated" if event.action == ESCALATED else None
    if order.unit is None or order.unit not in units or order.state != "dispatched":
        return None
    if event.action == ESCALATED:
        return "escalated"
    if event.action in DISPATCHES:
        return "urgent" if order.urgent else "new"
    return None


async def waiting_count(service: WorkOrderService, units: list[str] | None) -> int:
    """Orders waiting to be signed in ``units`` (None: every unit)."""
    query = sa.select(sa.func.count()).select_from(work_orders).where(work_orders.c.state == "dispatched")
    if units is not None:
        query = query.where(work_orders.c.unit.in_(units))
    async with service.store.engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def payload(service: WorkOrderService, event: WorkOrderChanged, kind: str, user: User, locale: str) -> str:
    """The SSE frame of one event for ``user``."""
    order = event.work_order
    tax = service.taxonomy()
    category = tax.categories.get(order.category or "") or tax.industries.get(order.industry or "")
    unit = tax.units.get(order.unit or "")
    text = t(
        f"live.{kind}",
        locale,
        number=order.number,
        category=category.name(locale) if category else "-",
        address=order.address or "-",
        unit=unit.name(locale) if unit else "-",
    )
    data: dict[str, Any] = {
        "kind": kind,
        "number": order.number,
        "text": text,
        "url": f"/orders/{order.number}",
        "counts": {"to_sign": await waiting_count(service, service.visible_units(user))},
    }
    return f"event: order\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    service = ctx.orders
    if service is None:
        raise web.HTTPServiceUnavailable(text="work orders are not configured")
    user = current_user(request)
    assert user is not None
    units = service.visible_units(user)
    locale = locale_of(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    streams = request.app[STREAMS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)  # ended when the app shuts down (an open stream would hold the shutdown)
    try:
        async with ctx.bus.stream() as subscription:
            await response.write(b"retry: 3000\n: live\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:  # fell behind: the page reloads what it shows
                    await response.write(b"event: resync\ndata: {}\n\n")
                    break
                kind = event_kind(event, units)
                if kind is not None:
                    assert isinstance(event, WorkOrderChanged)
                    await response.write((await payload(service, event, kind, user, locale)).encode())
    except (ConnectionResetError, asyncio.CancelledError):
        log.debug("live feed of %s closed", user.username)
        raise
    finally:
        streams.discard(task)
    return response


@require_roles([Role.DEPARTMENT])
async def department_live(request: web.Request) -> web.StreamResponse:
    """GET /dept/live: dispatches and escalations of the user's own units, live."""
    return await _stream(request)


@require_roles(CENTRE_LIVE_ROLES)
async def centre_live(request: web.Request) -> web.StreamResponse:
    """GET /orders/live: escalations of every unit, for the centre's supervisors."""
    return await _stream(request)


def setup(app: web.Application) -> None:
    """Mount the live feeds (before the order pages: ``/orders/live`` is not an order number)."""
    streams: set[asyncio.Task[Any]] = set()
    app[STREAMS] = streams
    app.router.add_get("/dept/live", department_live)
    app.router.add_get("/orders/live", centre_live)

    async def end_streams(_app: web.Application) -> None:
        for task in list(streams):
            task.cancel()

    app.on_shutdown.append(end_streams)
