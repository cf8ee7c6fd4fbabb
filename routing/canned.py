"""Canned replies (快捷回复): the composer's ``/`` list with variables filled in, and the page that manages them.

- ``GET /api/conversations/{id}/canned``: the replies the agent may use, each with its text expanded for that
  conversation (``{name}`` the citizen's name or 市民, ``{order_number}`` the conversation's latest order,
  ``{agent}``, ``{hotline}``, ``{date}`` today in the city). A variable without a value stays as it is written,
  so the agent sees what to fill in before sending.
- ``GET /api/canned``: the same replies unexpanded; ``POST /api/canned``, ``POST /api/canned/{rid}`` (update),
  ``DELETE /api/canned/{rid}`` (JSON, CSRF header).
- ``GET /agent/canned``: the management page; ``POST /agent/canned`` (create), ``POST /agent/canned/{rid}``
  (update), ``POST /agent/canned/{rid}/delete`` (forms with the CSRF field).

Supervisors and administrators manage the shared replies; every agent manages their own.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.i18n import t
from hub.models import INBOX_ROLES, Conversation, User
from hub.storage.canned import VARIABLES, CannedError, CannedReply, clean_fields, expand, may_manage
from hub.web.api_v1.canned import canned_values
from hub.web.auth import require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from routing.inbox_common import (
    SETTINGS,
    STAFF_MANAGERS,
    STORES,
    agent_of,
    error,
    json_response,
    load_conversation,
    read_json,
)


async def variables_for(request: web.Request, conversation: Conversation, agent: User) -> dict[str, str | None]:
    """The values of the variables in ``conversation`` for ``agent``."""
    return await canned_values(request.app[CTX], conversation, agent, request.app[SETTINGS].hotline)


_clean = clean_fields


async def _create(request: web.Request, fields: dict[str, Any]) -> CannedReply:
    user = agent_of(request)
    shortcut, title, text = _clean(fields)
    shared = str(fields.get("shared") or "").lower() in ("1", "on", "true", "yes")
    if shared and user.role not in STAFF_MANAGERS:
        raise CannedError("shared_forbidden")
    return await request.app[STORES].canned.create(None if shared else user.id, shortcut, title, text)


async def _owned(request: web.Request) -> CannedReply:
    try:
        reply_id = int(request.match_info["rid"])
    except ValueError:
        raise web.HTTPNotFound() from None
    reply = await request.app[STORES].canned.get(reply_id)
    if reply is None:
        raise web.HTTPNotFound(text='{"error": "unknown_reply"}', content_type="application/json")
    if not may_manage(agent_of(request), reply):
        raise web.HTTPForbidden(text='{"error": "forbidden"}', content_type="application/json")
    return reply


async def _update(request: web.Request, fields: dict[str, Any]) -> CannedReply:
    reply = await _owned(request)
    shortcut, title, text = _clean(fields)
    updated = await request.app[STORES].canned.update(reply.id, shortcut=shortcut, title=title, text=text)
    if updated is None:
        raise web.HTTPNotFound()
    return updated


# -- JSON -----------------------------------------------------------------------------------------------------


@require_roles(INBOX_ROLES, api=True)
async def for_conversation(request: web.Request) -> web.StreamResponse:
    """GET /api/conversations/{id}/canned: the agent's replies expanded for the conversation."""
    conversation = await load_conversation(request)
    user = agent_of(request)
    values = await variables_for(request, conversation, user)
    replies = await request.app[STORES].canned.visible_to(user.id)
    return json_response({"items": [r.to_json(user, request.app[CTX].city, expand(r.text, values)) for r in replies]})


@require_roles(INBOX_ROLES, api=True)
async def api_list(request: web.Request) -> web.StreamResponse:
    """GET /api/canned: the replies the user sees (shared and own)."""
    user = agent_of(request)
    replies = await request.app[STORES].canned.visible_to(user.id)
    return json_response({"items": [r.to_json(user, request.app[CTX].city) for r in replies], "total": len(replies)})


@require_roles(INBOX_ROLES, api=True)
async def api_create(request: web.Request) -> web.StreamResponse:
    """POST /api/canned {"shortcut", "title", "text", "shared"}."""
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    try:
        reply = await _create(request, body)
    except CannedError as exc:
        status = 403 if exc.code == "shared_forbidden" else 400
        return error(status, exc.code, t(f"canned.error.{exc.code}", locale_of(request)))
    return json_response(reply.to_json(agent_of(request), request.app[CTX].city), status=201)


@require_roles(INBOX_ROLES, api=True)
async def api_update(request: web.Request) -> web.StreamResponse:
    """POST /api/canned/{rid} {"shortcut", "title", "text"}."""
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    try:
        reply = await _update(request, body)
    except CannedError as exc:
        return error(400, exc.code, t(f"canned.error.{exc.code}", locale_of(request)))
    return json_response(reply.to_json(agent_of(request), request.app[CTX].city))


@require_roles(INBOX_ROLES, api=True)
async def api_delete(request: web.Request) -> web.StreamResponse:
    """DELETE /api/canned/{rid}."""
    reply = await _owned(request)
    await request.app[STORES].canned.delete(reply.id)
    return web.Response(status=204)


# -- the page ------------------------------------------------------------------------------------------------


async def _render(request: web.Request, *, error_code: str | None = None, status: int = 200) -> web.StreamResponse:
    user = agent_of(request)
    replies = await request.app[STORES].canned.visible_to(user.id)
    return aiohttp_jinja2.render_template(
        "canned.html",
        request,
        {
            "replies": [(r, may_manage(user, r)) for r in replies],
            "may_share": user.role in STAFF_MANAGERS,
            "error_code": error_code,
            "msg": request.query.get("msg") if request.query.get("msg") in ("created", "saved", "deleted") else None,
            "variables": VARIABLES,
        },
        status=status,
    )


@require_roles(INBOX_ROLES)
async def page(request: web.Request) -> web.StreamResponse:
    """GET /agent/canned: list, create, edit and delete canned replies."""
    return await _render(request)


@require_roles(INBOX_ROLES)
async def page_create(request: web.Request) -> web.StreamResponse:
    """POST /agent/canned (form)."""
    try:
        await _create(request, dict(await request.post()))
    except CannedError as exc:
        return await _render(request, error_code=exc.code, status=403 if exc.code == "shared_forbidden" else 400)
    raise web.HTTPSeeOther("/agent/canned?msg=created")


@require_roles(INBOX_ROLES)
async def page_update(request: web.Request) -> web.StreamResponse:
    """POST /agent/canned/{rid} (form)."""
    try:
        await _update(request, dict(await request.post()))
    except CannedError as exc:
        return await _render(request, error_code=exc.code, status=400)
    raise web.HTTPSeeOther("/agent/canned?msg=saved")


@require_roles(INBOX_ROLES)
async def page_delete(request: web.Request) -> web.StreamResponse:
    """POST /agent/canned/{rid}/delete (form)."""
    reply = await _owned(request)
    await request.app[STORES].canned.delete(reply.id)
    raise web.HTTPSeeOther("/agent/canned?msg=deleted")


def setup(app: web.Application) -> None:
    """Mount the canned-reply API and page (after :func:`routing.inbox.setup` put the stores on the app)."""
    app.router.add_get("/api/conversations/{id}/canned", for_conversation)
    app.router.add_get("/api/canned", api_list)
    app.router.add_post("/api/canned", api_create)
    app.router.add_post("/api/canned/{rid:\\d+}", api_update)
    app.router.add_delete("/api/canned/{rid:\\d+}", api_delete)
    app.router.add_get("/agent/canned", page)
    app.router.add_post("/agent/canned", page_create)
    app.router.add_post("/agent/canned/{rid:\\d+}", page_update)
    app.router.add_post("/agent/canned/{rid:\\d+}/delete", page_delete)
