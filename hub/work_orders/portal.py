"""Work-order pages: the centre's list, the department portal, the detail page with its actions."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import aiohttp_jinja2
from aiohttp import BodyPartReader, web

from hub.models import Role, User, WorkOrder
from hub.reports.kpis import unit_kpis
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from hub.work_orders import intake_pages, print_page
from hub.work_orders.forwarding import forwarded
from hub.work_orders.order_lists import list_context
from hub.work_orders.refusals import Refusal
from hub.work_orders.service import RETURN_REASONS, SATISFACTION, NotFound, Params, WorkOrderError, WorkOrderService
from hub.work_orders.states import Action

log = logging.getLogger(__name__)

CENTRE_PAGE_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER]
ORDER_ROLES = [*CENTRE_PAGE_ROLES, Role.DEPARTMENT]
DEPT_TABS = ("to_sign", "in_progress", "due_soon", "overdue", "replied", "returned", "closed", "all")
CENTRE_TABS = ("unassigned", "supervision", "overdue", "returned", "replied", "extensions", "all")
MAX_FILE = 5 * 1024 * 1024
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"  # served at /static/orders (route name "orders_static")
MAX_FILES = 5
ATTACHMENTS_KEY: web.AppKey[Path] = web.AppKey("attachments_dir", Path)


def _service(request: web.Request) -> WorkOrderService:
    service = request.app[CTX].orders
    if service is None:
        raise web.HTTPServiceUnavailable(text="work orders are not configured")
    return service


def _user(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None
    return user


async def _list(request: web.Request, template: str, tabs: tuple[str, ...]) -> web.StreamResponse:
    service = _service(request)
    user = _user(request)
    if "tab" in request.query and request.query["tab"] not in tabs:
        raise web.HTTPBadRequest(text="unknown tab")
    ctx = request.app[CTX]
    data = await list_context(service, user, request.query, tabs, ctx.city)
    local = data["now"].astimezone(service.tz)
    units = service.visible_units(user)
    data["kpis"] = await unit_kpis(service.store.engine, local.year, local.month, service.tz, units)
    data["tax"] = ctx.taxonomy()
    return aiohttp_jinja2.render_template(template, request, data)


@require_roles(CENTRE_PAGE_ROLES)
async def centre_list(request: web.Request) -> web.StreamResponse:
    """GET /orders: the centre's view of every order."""
    return await _list(request, "orders_list.html", CENTRE_TABS)


@require_roles([Role.DEPARTMENT])
async def department_list(request: web.Request) -> web.StreamResponse:
    """GET /dept: a department's own (and sub-units') orders."""
    return await _list(request, "orders_list.html", DEPT_TABS)


async def _order(request: web.Request) -> WorkOrder:
    try:
        return await _service(request).get_for(_user(request), request.match_info["number"])
    except NotFound:
        raise web.HTTPNotFound(text="no such work order") from None


@require_roles(ORDER_ROLES)
async def detail(request: web.Request) -> web.StreamResponse:
    """GET /orders/{number}: everything about an order, and the actions the user may take."""
    service = _service(request)
    user = _user(request)
    order = await _order(request)
    ctx = request.app[CTX]
    tax = ctx.taxonomy()
    # a department sees the centre's forwarded text (or the citizen's own messages of this request), never the chat
    dept_user = user.role is Role.DEPARTMENT
    forward = await forwarded(order, ctx.conversations, service.store)
    chat = order.conversation_id if not dept_user else None
    messages = await ctx.conversations.messages(chat) if chat else []
    sub_units = tax.unit_subtree(order.unit)[1:] if order.unit else []
    return aiohttp_jinja2.render_template(
        "order_detail.html",
        request,
        {
            "order": order,
            "tax": tax,
            "history": await service.store.history(order.id),
            "instructions": await service.store.instructions(order.id),
            "extensions": await service.store.extensions(order.id),
            "messages": messages,
            "forward": forward,
            "actions": [a.value for a in service.actions_for(user, order)],
            "duplicates": await service.likely_duplicates(order) if user.role is not Role.DEPARTMENT else [],
            "units": [u for u in tax.units.values() if u.kind != "centre"],
            "sub_units": [tax.units[c] for c in sub_units],
            "reasons": RETURN_REASONS,
            "satisfactions": SATISFACTION,
            "now": service.now(),
            "flash": request.query.get("done"),
            "error": request.query.get("error"),
            "back": "/dept" if user.role is Role.DEPARTMENT else "/orders",
        },
    )


def _safe_name(name: str) -> str:
    """A file name without directories or odd characters (some clients percent-encode names)."""
    base = Path(unquote(name).replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", base).lstrip(".")[:80]
    return cleaned or "file"


async def _read_form(request: web.Request, number: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Form fields and uploaded files (multipart streams are read with per-file limits)."""
    if not request.content_type.startswith("multipart/"):
        form = await request.post()
        return {k: str(v) for k, v in form.items()}, []
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    reader = await request.multipart()
    directory = request.app[ATTACHMENTS_KEY] / number
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename:
            if len(files) >= MAX_FILES:
                raise WorkOrderError("too_many_files", max=MAX_FILES)
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data.extend(chunk)
                if len(data) > MAX_FILE:
                    raise WorkOrderError("file_too_large", max_mib=MAX_FILE // (1024 * 1024))
            if not data:
                continue
            stored = f"{uuid.uuid4().hex[:12]}_{_safe_name(part.filename)}"
            directory.mkdir(parents=True, exist_ok=True)
            (directory / stored).write_bytes(bytes(data))
            files.append({"name": _safe_name(part.filename), "file": stored, "size": len(data)})
        elif part.name:
            fields[part.name] = (await part.text())[:5000]
    return fields, files


@require_roles(ORDER_ROLES)
async def act(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/act: one action from the detail page's forms."""
    service = _service(request)
    user = _user(request)
    order = await _order(request)
    base = f"/orders/{order.number}"
    try:
        fields, files = await _read_form(request, order.number)
        action = Action(fields.get("action", ""))
        days = fields.get("days", "").strip()
        ext = fields.get("extension_id", "").strip()
        params = Params(
            note=fields.get("note"),
            unit=fields.get("unit") or None,
            reason=fields.get("reason") or None,
            days=int(days) if days.isdigit() else None,
            extension_id=int(ext) if ext.isdigit() else None,
            satisfaction=fields.get("satisfaction") or None,
            target=fields.get("target") or None,
            department_at_fault=fields.get("at_fault") == "on",
            attachments=tuple(files),
            forward_text=fields.get("forward_text"),
        )
        await service.act(order.number, action, user, params)
    except ValueError as exc:  # WorkOrderError, IllegalTransition (refusals), bad Action value
        refusal = exc if isinstance(exc, Refusal) else Refusal("unknown_action")
        raise web.HTTPSeeOther(f"{base}?error={quote(refusal.text(locale_of(request)))}") from None
    except NotFound:
        raise web.HTTPNotFound(text="no such work order") from None
    raise web.HTTPSeeOther(f"{base}?done={action.value}")


@require_roles(ORDER_ROLES)
async def attachment(request: web.Request) -> web.StreamResponse:
    """GET /orders/{number}/files/{file}: an attachment, for those who may see the order."""
    order = await _order(request)
    name = request.match_info["file"]
    if "/" in name or name.startswith("."):
        raise web.HTTPNotFound()
    path = request.app[ATTACHMENTS_KEY] / order.number / name
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"})


@require_roles([Role.ADMIN, Role.SUPERVISOR])
async def calendar_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/calendar: holidays and adjusted working days that deadlines count with."""
    service = _service(request)
    return aiohttp_jinja2.render_template(
        "calendar.html",
        request,
        {"entries": await service.store.calendar_entries(), "error": request.query.get("error")},
    )


@require_roles([Role.ADMIN, Role.SUPERVISOR])
async def calendar_change(request: web.Request) -> web.StreamResponse:
    """POST /admin/calendar: set or clear one day."""
    form = await request.post()
    try:
        day = date.fromisoformat(str(form.get("day", "")))
        kind = str(form.get("kind", "")) or None
        await _service(request).set_calendar_day(day, None if kind == "normal" else kind, str(form.get("name", "")))
    except ValueError as exc:  # a refusal, or a malformed date
        refusal = exc if isinstance(exc, Refusal) else Refusal("invalid_date")
        raise web.HTTPSeeOther(f"/admin/calendar?error={quote(refusal.text(locale_of(request)))}") from None
    raise web.HTTPSeeOther("/admin/calendar")


def setup(app: web.Application, attachments_dir: Path) -> None:
    """Mount the work-order pages."""
    app[ATTACHMENTS_KEY] = attachments_dir
    app.router.add_static("/static/orders", STATIC_DIR, name="orders_static", append_version=True)
    intake_pages.setup(app)  # /orders/new and /orders/{number}/edit (registration, before /orders/{number})
    app.router.add_get("/orders", centre_list)
    app.router.add_get("/dept", department_list)
    app.router.add_get("/orders/{number}", detail)
    app.router.add_post("/orders/{number}/act", act)
    app.router.add_get("/orders/{number}/files/{file}", attachment)
    app.router.add_get("/orders/{number}/print", print_page.print_order)
    app.router.add_get("/admin/calendar", calendar_page)
    app.router.add_post("/admin/calendar", calendar_change)
