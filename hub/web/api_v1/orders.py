"""``/api/v1/work-orders``: find orders, read one with its history, act on it (the lifecycle of the pages).

A department sees its own and its sub-units' orders only; any other order is 404, as a missing one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.localtime import CityTime
from hub.models import User
from hub.web.api_v1.common import (
    ApiError,
    bool_field,
    ctx_of,
    date_arg,
    int_field,
    json_body,
    listing,
    orders_of,
    page_of,
    respond,
    text_field,
    user_of,
)
from hub.web.api_v1.serialize import event_json, order_json
from hub.web.i18n_web import locale_of
from hub.work_orders.query import OrderQuery
from hub.work_orders.refusals import Refusal
from hub.work_orders.service import NotFound, Params, WorkOrderError, WorkOrderService
from hub.work_orders.states import Action, IllegalTransition

CONFLICT_CODES = frozenset({"changed_meanwhile", "extension_pending", "no_pending_extension"})


def order_query(service: WorkOrderService, user: User, args: dict[str, Any], city: CityTime) -> OrderQuery:
    """The :class:`OrderQuery` of the list's parameters, within the user's visibility."""
    first, last = date_arg(args, "from"), date_arg(args, "to")
    created_from = created_to = None
    if first is not None:
        created_from = city.start_of(first)
    if last is not None:
        created_to = city.day_range(last, last)[1]
    if first is not None and last is not None and last < first:
        raise ApiError(400, "invalid_parameter", parameter="to", value=str(last))
    units = service.visible_units(user)
    page = page_of(args)
    return OrderQuery(
        q=args.get("q") or "",
        phone=args.get("phone"),
        states=tuple(args.get("state") or ()),
        unit=args.get("unit"),
        units=None if units is None else tuple(units),
        industry=args.get("industry"),
        category=args.get("category"),
        request_type=args.get("type"),
        source=args.get("source"),
        created_from=created_from,
        created_to=created_to,
        overdue_at=service.now() if args.get("overdue") else None,
        supervised=args.get("supervised"),
        urgent=args.get("urgent"),
        sort=args.get("sort") or "newest",
        page=page.page,
        per_page=page.per_page,
    )


async def list_work_orders(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/work-orders."""
    service = orders_of(request)
    ctx = ctx_of(request)
    query = order_query(service, user_of(request), args, ctx.city)
    items, total = await service.store.search(query)
    locale = locale_of(request)
    tax = ctx.taxonomy()
    return respond(listing([order_json(ctx, o, locale, tax) for o in items], total, page_of(args)))


async def _visible(request: web.Request, number: str) -> Any:
    try:
        return await orders_of(request).get_for(user_of(request), number)
    except NotFound:
        raise ApiError(404, "not_found") from None


async def detail_json(request: web.Request, number: str) -> dict[str, Any]:
    """An order with its history and the actions the caller may take now."""
    service = orders_of(request)
    ctx = ctx_of(request)
    user = user_of(request)
    order = await _visible(request, number)
    locale = locale_of(request)
    return {
        **order_json(ctx, order, locale),
        "actions": [a.value for a in service.actions_for(user, order)],
        "history": [event_json(ctx, e, locale) for e in await service.store.history(order.id)],
    }


async def get_work_order(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/work-orders/{number}."""
    return respond(await detail_json(request, args["number"]))


def _params(body: dict[str, Any]) -> Params:
    days = int_field(body, "days")
    extension = int_field(body, "extension_id")
    return Params(
        note=text_field(body, "note"),
        unit=text_field(body, "unit"),
        reason=text_field(body, "reason"),
        days=days,
        extension_id=extension,
        satisfaction=text_field(body, "satisfaction"),
        target=text_field(body, "target"),
        department_at_fault=bool(bool_field(body, "department_at_fault")),
    )


def refusal_error(exc: Refusal, request: web.Request) -> ApiError:
    """A refused action as an API error: 403 for the caller's side, 409 for the order's state, else 400."""
    message = exc.text(locale_of(request))
    if isinstance(exc, IllegalTransition):
        status = 403 if exc.side is not None or exc.code == "role_not_allowed" else 409
    else:
        status = 409 if exc.code in CONFLICT_CODES else 400
    return ApiError(status, exc.code, message=message)


async def act_on_work_order(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/work-orders/{number}/actions/{action}."""
    service = orders_of(request)
    user = user_of(request)
    order = await _visible(request, args["number"])
    body = await json_body(request) if request.can_read_body else {}
    try:
        action = Action(args["action"])
    except ValueError:
        raise ApiError(400, "unknown_action", action=args["action"]) from None
    try:
        await service.act(order.number, action, user, _params(body))
    except NotFound:
        raise ApiError(404, "not_found") from None
    except (IllegalTransition, WorkOrderError) as exc:
        raise refusal_error(exc, request) from None
    return respond(await detail_json(request, order.number))
