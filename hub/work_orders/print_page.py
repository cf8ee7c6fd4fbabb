"""The printable 投诉单 (work-order form) of an order: an A4 page with the hotline's header, every field, the
handling history and signature boxes (``static/print.css`` holds the print stylesheet).

Who may print an order is who may open it (:meth:`WorkOrderService.get_for`): a department only its own units'.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.models import Role
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.work_orders.service import NotFound
from hub.work_orders.sources import SOURCES

# the roles of the order page (portal.ORDER_ROLES), repeated: the pages import this module, not the reverse
PRINT_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER, Role.DEPARTMENT]
SIGNATURES = ("receiver", "unit", "result", "review")  # 受理人, 承办单位签收, 办理结果, 审核


@require_roles(PRINT_ROLES)
async def print_order(request: web.Request) -> web.StreamResponse:
    """GET /orders/{number}/print: the order as a printable A4 form."""
    ctx = request.app[CTX]
    service = ctx.orders
    user = current_user(request)
    if service is None or user is None:
        raise web.HTTPServiceUnavailable(text="work orders are not configured")
    try:
        order = await service.get_for(user, request.match_info["number"])
    except NotFound:
        raise web.HTTPNotFound(text="no such work order") from None
    return aiohttp_jinja2.render_template(
        "order_print.html",
        request,
        {
            "order": order,
            "tax": ctx.taxonomy(),
            "source": SOURCES.get(order.source or ""),
            "history": await service.store.history(order.id),
            "signatures": SIGNATURES,
            "now": service.now(),
        },
    )
