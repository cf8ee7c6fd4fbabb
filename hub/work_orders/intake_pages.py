"""The desk's registration pages (受理): a new order from a conversation or by hand, the live preview, and
editing an order before dispatch.

- ``GET /orders/new`` (blank, choose a source) and ``GET /orders/new?conversation=ID[&message=MID]`` (prefilled,
  with the transcript beside the form); ``POST /orders/new`` registers (and dispatches) and shows the order.
- ``GET /api/orders/preview?...`` (the form's fields): JSON of the dispatch target and likely duplicates, for
  ``static/order_form.js``.
- ``GET/POST /orders/{number}/edit``: only while the order is received (受理); every change is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.models import Role, User
from hub.taxonomy import Named, Taxonomy
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of, ui
from hub.work_orders.intake_prefill import is_citizen
from hub.work_orders.refusals import Refusal
from hub.work_orders.registration import (
    LEADER_SOURCE,
    DeskRegistration,
    Preview,
    RegistrationError,
    RegistrationForm,
)
from hub.work_orders.service import EDITABLE, NotFound
from hub.work_orders.sources import MANUAL_SOURCES, SOURCES
from hub.work_orders.states import State

log = logging.getLogger(__name__)

REGISTER_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER]
TEXT_FIELDS = ("request_type", "industry", "category", "address", "phone", "citizen_name", "description")
EDIT_FIELDS = (*TEXT_FIELDS, "forward_text")
URGENT = {"": None, "yes": True, "no": False}


def _desk(request: web.Request) -> DeskRegistration:
    desk = request.app[CTX].registration
    if desk is None:
        raise web.HTTPServiceUnavailable(text="registration is not configured")
    return desk


def _user(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None
    return user


def form_from(fields: Mapping[str, str], ctx: HubContext) -> RegistrationForm:
    """The registration form from submitted fields (a page's POST or the preview's query).

    Raises:
        RegistrationError: a malformed message id, urgency or time.
    """

    def text(name: str) -> str | None:
        return str(fields.get(name, "")).strip() or None

    message = text("message_id")
    if message is not None and not message.isdigit():
        raise RegistrationError("unknown_message", "message_id")
    urgent = str(fields.get("urgent", ""))
    if urgent not in URGENT:
        raise RegistrationError("invalid_value", "urgent")
    try:
        occurred = ctx.city.parse(text("occurred_at"))
    except ValueError:
        raise RegistrationError("invalid_date", "occurred_at") from None
    return RegistrationForm(
        source=text("source") or "",
        request_type=text("request_type") or "",
        description=str(fields.get("description", "")),
        industry=text("industry"),
        category=text("category"),
        address=text("address"),
        phone=text("phone"),
        citizen_name=text("citizen_name"),
        urgent=URGENT[urgent],
        conversation_id=text("conversation_id"),
        message_id=int(message) if message else None,
        unit=text("unit"),
        dispatch=fields.get("mode", "dispatch") != "register_only",
        forward_text=text("forward_text"),
        occurred_at=occurred,
    )


def preview_json(preview: Preview, tax: Taxonomy, ctx: HubContext, locale: str) -> dict[str, Any]:
    """The preview as the form's script shows it: codes with their labels in ``locale``."""
    unit = tax.units.get(preview.unit or "")
    district = tax.districts.get(preview.district or "")
    return {
        "unit": preview.unit,
        "unit_name": unit.name(locale) if unit else None,
        "unit_from": preview.unit_from,
        "unit_from_label": ui(f"intake.preview.by_{preview.unit_from}", locale) if preview.unit_from else None,
        "reason": preview.reason,
        "reason_text": ui(f"intake.preview.reason.{preview.reason}", locale) if preview.reason else None,
        "district": preview.district,
        "district_name": district.name(locale) if district else ui("intake.preview.district_unknown", locale),
        "urgent": preview.urgent,
        "urgent_label": ui("intake.preview.urgent", locale) if preview.urgent else None,
        "duplicates": [
            {
                "number": d.number,
                "url": f"/orders/{d.number}",
                "state": d.state,
                "state_label": ui(f"state.{d.state}", locale),
                "address": d.address,
                "created_at": ctx.city.format(d.created_at),
            }
            for d in preview.duplicates
        ],
    }


def _choices(tax: Taxonomy) -> dict[str, Any]:
    return {
        "tax": tax,
        "request_types": list(tax.request_types.values()),
        "industries": list(tax.industries.values()),
        "categories": sorted(tax.categories.values(), key=lambda c: (c.industry, c.code)),
        "units": [u for u in tax.units.values() if u.kind != "centre"],
    }


async def _render_new(
    request: web.Request, values: dict[str, Any], *, error: RegistrationError | None = None, status: int = 200
) -> web.StreamResponse:
    ctx, desk, user = request.app[CTX], _desk(request), _user(request)
    locale = locale_of(request)
    tax = ctx.taxonomy()
    conversation, messages = None, []
    if values.get("conversation_id"):
        conversation = await ctx.service.reads.get(str(values["conversation_id"]))
        messages = await ctx.service.reads.messages(conversation.id)
    if conversation is not None:
        sources = [SOURCES[values["source"]]] if values.get("source") in SOURCES else []
    elif user.role is Role.LEADER:
        sources = [SOURCES[LEADER_SOURCE]]
    else:
        sources = [SOURCES[code] for code in MANUAL_SOURCES]
    try:
        preview = await desk.preview(form_from({k: str(v) for k, v in values.items() if v is not None}, ctx), user)
    except RegistrationError:
        preview = None
    data = {
        **_choices(tax),
        "values": values,
        "sources": sources,
        "conversation": conversation,
        "messages": messages,
        "citizen_ids": {m.id for m in messages if is_citizen(m)},
        "segment_ids": set(values.get("segment_ids") or ()),
        "preview": preview_json(preview, tax, ctx, locale) if preview else None,
        "error": error.text(locale) if error else None,
        "error_field": error.field if error else None,
    }
    return aiohttp_jinja2.render_template("order_new.html", request, data, status=status)


@require_roles(REGISTER_ROLES)
async def new_order(request: web.Request) -> web.StreamResponse:
    """GET /orders/new[?conversation=ID[&message=MID]]: the registration form, blank or prefilled."""
    desk, user = _desk(request), _user(request)
    conversation_id = request.query.get("conversation")
    if not conversation_id:
        source = LEADER_SOURCE if user.role is Role.LEADER else request.query.get("source", "")
        return await _render_new(request, {"source": source if source in MANUAL_SOURCES else ""})
    message = request.query.get("message", "")
    try:
        draft = await desk.draft_from_conversation(conversation_id, int(message) if message.isdigit() else None, user)
    except RegistrationError as exc:
        if exc.code == "role_not_allowed":
            raise web.HTTPForbidden(text=exc.text(locale_of(request))) from None
        if exc.code == "unknown_conversation":
            raise web.HTTPNotFound(text=exc.text(locale_of(request))) from None
        draft = await desk.draft_from_conversation(conversation_id, None, user)
        return await _render_new(request, draft, error=exc, status=400)
    return await _render_new(request, draft)


@require_roles(REGISTER_ROLES)
async def create_order(request: web.Request) -> web.StreamResponse:
    """POST /orders/new: register (and dispatch) in one step, then show the order."""
    ctx, desk, user = request.app[CTX], _desk(request), _user(request)
    fields = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
    try:
        order = await desk.register(form_from(fields, ctx), user)
    except RegistrationError as exc:
        values: dict[str, Any] = dict(fields)
        if exc.code == "unknown_conversation":
            values.pop("conversation_id", None)
        return await _render_new(request, values, error=exc, status=422)
    raise web.HTTPSeeOther(f"/orders/{order.number}?done=receive")


@require_roles(REGISTER_ROLES, api=True)
async def preview(request: web.Request) -> web.StreamResponse:
    """GET /api/orders/preview?<form fields>: where the order would go and its likely duplicates (JSON)."""
    ctx = request.app[CTX]
    locale = locale_of(request)
    try:
        form = form_from(request.query, ctx)
    except RegistrationError as exc:
        return web.json_response({"error": exc.code, "message": exc.text(locale)}, status=400)
    found = await _desk(request).preview(form, _user(request))
    return web.json_response(preview_json(found, ctx.taxonomy(), ctx, locale))


async def _render_edit(
    request: web.Request, number: str, *, error: Refusal | None = None, values: dict[str, Any] | None = None
) -> web.StreamResponse:
    ctx, user = request.app[CTX], _user(request)
    if ctx.orders is None:
        raise web.HTTPServiceUnavailable(text="work orders are not configured")
    try:
        order = await ctx.orders.get_for(user, number)
    except NotFound:
        raise web.HTTPNotFound(text="no such work order") from None
    locale = locale_of(request)
    refused = order.state != State.RECEIVED.value
    if refused and error is None:
        error = RegistrationError("edit_after_dispatch", state=order.state)
    current = {f: getattr(order, f) for f in EDIT_FIELDS} | {"urgent": "yes" if order.urgent else "no"}
    data = {
        **_choices(ctx.taxonomy()),
        "order": order,
        "values": values or current,
        "refused": refused,
        "error": error.text(locale) if error else None,
        "error_field": getattr(error, "field", None),
    }
    status = 409 if refused else (422 if error else 200)
    return aiohttp_jinja2.render_template("order_edit.html", request, data, status=status)


@require_roles(REGISTER_ROLES)
async def edit_page(request: web.Request) -> web.StreamResponse:
    """GET /orders/{number}/edit: the request fields, editable while the order is received."""
    return await _render_edit(request, request.match_info["number"])


@require_roles(REGISTER_ROLES)
async def edit_submit(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/edit: save the changes (audited), back to the order."""
    number = request.match_info["number"]
    fields = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
    changes: dict[str, Any] = {k: fields[k] for k in EDIT_FIELDS if k in fields and k in EDITABLE}
    if fields.get("urgent") in ("yes", "no"):
        changes["urgent"] = fields["urgent"] == "yes"
    try:
        await _desk(request).edit(number, changes, _user(request))
    except NotFound:
        raise web.HTTPNotFound(text="no such work order") from None
    except Refusal as exc:  # RegistrationError, WorkOrderError (edit_after_dispatch, changed_meanwhile)
        return await _render_edit(request, number, error=exc, values=fields)
    raise web.HTTPSeeOther(f"/orders/{number}?done=edit")


def _shown(app: web.Application) -> Any:
    """A Jinja global: a changed field's value as the history shows it (names, not codes)."""

    def shown(field: str, value: Any, locale: str) -> str:
        if value is None or value == "":
            return ui("intake.empty", locale)
        if isinstance(value, bool):
            return ui("intake.yes" if value else "intake.no", locale)
        tax = app[CTX].taxonomy()
        tables: dict[str, Mapping[str, Named]] = {
            "request_type": tax.request_types,
            "industry": tax.industries,
            "category": tax.categories,
            "district": tax.districts,
        }
        table = tables.get(field)
        if table is not None and str(value) in table:
            return table[str(value)].name(locale)
        if field == "source" and str(value) in SOURCES:
            return SOURCES[str(value)].name(locale)
        return str(value)

    return shown


def setup(app: web.Application) -> None:
    """Mount the registration pages (called from ``hub.work_orders.portal.setup``, before ``/orders/{number}``)."""
    env = aiohttp_jinja2.get_env(app)
    env.globals["intake_value"] = _shown(app)
    env.globals["source_name"] = lambda code, locale: SOURCES[code].name(locale) if code in SOURCES else ""
    app.router.add_get("/orders/new", new_order)
    app.router.add_post("/orders/new", create_order)
    app.router.add_get("/api/orders/preview", preview)
    app.router.add_get("/orders/{number}/edit", edit_page)
    app.router.add_post("/orders/{number}/edit", edit_submit)
