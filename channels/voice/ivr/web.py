"""The IVR flow admin page (administrators): view the active flow, edit, validate, save, history, activate.

- ``GET /admin/ivr`` (``?version=<id>`` loads that version into the editor): the page.
- ``POST /admin/ivr/validate``, ``POST /admin/ivr/save`` (form: ``document``, ``comment``, ``csrf``): check the
  YAML (errors listed with their paths, nothing changes) or store it as a new active version.
- ``POST /admin/ivr/versions/{id}/activate``: make an older version active again.
- ``GET /api/admin/ivr``: the active version, its warnings and the history as JSON (each warning as
  ``{path, code, params, message}``, the message in the request's locale).
- ``GET /api/admin/ivr/versions/{id}/prompt-check``: how well a recogniser understood that version's prompts
  (checked in the background after every save, :mod:`channels.voice.prompt_checks`); ``GET
  /admin/ivr/versions/{id}/prompt-check`` is the same as the page's HTML section (the page polls it).

Problems are shown in the page's locale: each :class:`~channels.voice.ivr.flow.FlowIssue` has a code (catalog key
``ivr.issue.<code>``) and parameters.

Saving or activating replaces the flow in :class:`~channels.voice.ivr.store.FlowHolder`: the next call uses it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from channels.voice.ivr.flow import Flow, FlowError, FlowIssue
from channels.voice.ivr.flow_store import FlowVersion, FlowVersionNotFound
from channels.voice.ivr.loader import MAX_DOCUMENT_CHARS
from channels.voice.ivr.store import IvrFlows
from channels.voice.prompt_checks import PromptChecks
from hub.models import Role
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
FLOWS: web.AppKey[IvrFlows] = web.AppKey("ivr_flows", IvrFlows)
CHECKS: web.AppKey[PromptChecks | None] = web.AppKey("ivr_prompt_checks", object)  # type: ignore[arg-type]
ADMINS = [Role.ADMIN]


def _summary(flow: Flow) -> dict[str, int]:
    return dict(sorted(Counter(node.type for node in flow.nodes.values()).items()))


async def _page(
    request: web.Request,
    *,
    document: str | None = None,
    comment: str = "",
    errors: tuple[FlowIssue, ...] = (),
    warnings: tuple[FlowIssue, ...] = (),
    msg: str | None = None,
    status: int = 200,
) -> web.Response:
    flows = request.app[FLOWS]
    history = await flows.history()
    active = next((v for v in history if v.active), None)
    viewing: FlowVersion | None = None
    if document is None:
        wanted = request.query.get("version", "")
        viewing = next((v for v in history if str(v.id) == wanted), None) or active
        document = viewing.document if viewing else ""
        if viewing is not None and not warnings:
            try:
                warnings = flows.validate(document).warnings
            except FlowError as exc:
                errors = exc.issues
    shown = viewing or active
    users = request.app[CTX].users
    authors = {uid: await users.get(uid) for uid in {v.created_by for v in history if v.created_by is not None}}
    context: dict[str, Any] = {
        "authors": {uid: u.display_name for uid, u in authors.items() if u is not None},
        "document": document,
        "comment": comment,
        "errors": errors,
        "warnings": warnings,
        "msg": msg or request.query.get("msg"),
        "history": history,
        "active": active,
        "viewing": viewing,
        "summary": _summary(flows.holder()),
        "check_version": shown.id if shown else None,
        "check": _check_of(request, shown.id if shown else None),
    }
    return aiohttp_jinja2.render_template("ivr_admin.html", request, context, status=status)


def _check_of(request: web.Request, version_id: int | None) -> dict[str, Any]:
    checks = request.app.get(CHECKS)
    if checks is None or version_id is None:
        return {"state": "off"}
    return checks.result(version_id)


async def _form(request: web.Request) -> tuple[str, str]:
    form = await request.post()
    document = form.get("document")
    if not isinstance(document, str):
        raise web.HTTPBadRequest(text=json.dumps({"error": "document_missing"}), content_type="application/json")
    comment = form.get("comment")
    return document.replace("\r\n", "\n"), (comment if isinstance(comment, str) else "")[:200]


@require_roles(ADMINS)
async def admin_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/ivr."""
    return await _page(request)


@require_roles(ADMINS)
async def validate(request: web.Request) -> web.StreamResponse:
    """POST /admin/ivr/validate: check the document; show errors or warnings; change nothing."""
    document, comment = await _form(request)
    try:
        flow = request.app[FLOWS].validate(document)
    except FlowError as exc:
        return await _page(request, document=document, comment=comment, errors=exc.issues, status=422)
    return await _page(request, document=document, comment=comment, warnings=flow.warnings, msg="valid")


@require_roles(ADMINS)
async def save(request: web.Request) -> web.StreamResponse:
    """POST /admin/ivr/save: store a valid document as the new active version."""
    document, comment = await _form(request)
    if len(document) > MAX_DOCUMENT_CHARS:
        issue = FlowIssue("(document)", "too_long", {"limit": MAX_DOCUMENT_CHARS})
        return await _page(request, document="", comment=comment, errors=(issue,), status=422)
    user = current_user(request)
    flows = request.app[FLOWS]
    try:
        version = await flows.save(document, user_id=user.id if user else None, comment=comment or None)
    except FlowError as exc:
        return await _page(request, document=document, comment=comment, errors=exc.issues, status=422)
    checks = request.app.get(CHECKS)
    if checks is not None:
        checks.schedule(version.id, flows.holder())  # the editor shows the result when it is ready
    raise web.HTTPSeeOther("/admin/ivr?msg=saved")


@require_roles(ADMINS)
async def activate(request: web.Request) -> web.StreamResponse:
    """POST /admin/ivr/versions/{id}/activate."""
    user = current_user(request)
    try:
        await request.app[FLOWS].activate(int(request.match_info["id"]), user_id=user.id if user else None)
    except (FlowVersionNotFound, ValueError):
        raise web.HTTPNotFound() from None
    except FlowError:
        raise web.HTTPSeeOther("/admin/ivr?msg=invalid_version") from None
    raise web.HTTPSeeOther("/admin/ivr?msg=activated")


@require_roles(ADMINS, api=True)
async def status(request: web.Request) -> web.StreamResponse:
    """GET /api/admin/ivr: the active version, the loaded flow and the history."""
    flows = request.app[FLOWS]
    flow = flows.holder()
    history = await flows.history()
    body = {
        "loaded_version_id": flows.holder.version_id,
        "flow": {"name": flow.name, "start": flow.start, "nodes": _summary(flow)},
        "warnings": [w.as_json(locale_of(request)) for w in flow.warnings],
        "history": [
            {
                "id": v.id,
                "version": v.version,
                "active": v.active,
                "comment": v.comment,
                "created_by": v.created_by,
                "created_at": request.app[CTX].city.iso(v.created_at),
            }
            for v in history
        ],
    }
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _version_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@require_roles(ADMINS, api=True)
async def prompt_check_json(request: web.Request) -> web.StreamResponse:
    """GET /api/admin/ivr/versions/{id}/prompt-check: the version's prompt check (state and report)."""
    body = _check_of(request, _version_id(request))
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@require_roles(ADMINS)
async def prompt_check_section(request: web.Request) -> web.StreamResponse:
    """GET /admin/ivr/versions/{id}/prompt-check: the page's prompt check section (polled while it runs)."""
    version_id = _version_id(request)
    context = {"check": _check_of(request, version_id), "check_version": version_id}
    return aiohttp_jinja2.render_template("ivr_prompt_check.html", request, context)


def setup(app: web.Application, flows: IvrFlows, checks: PromptChecks | None = None) -> None:
    """Mount the IVR admin page (add :data:`TEMPLATE_DIR` to the app's template folders)."""
    app[FLOWS] = flows
    app[CHECKS] = checks
    app.router.add_static("/static/ivr", STATIC_DIR, name="ivr_static", append_version=True)
    app.router.add_get("/admin/ivr/versions/{id}/prompt-check", prompt_check_section)
    app.router.add_get("/api/admin/ivr/versions/{id}/prompt-check", prompt_check_json)
    app.router.add_get("/admin/ivr", admin_page)
    app.router.add_post("/admin/ivr/validate", validate)
    app.router.add_post("/admin/ivr/save", save)
    app.router.add_post("/admin/ivr/versions/{id:\\d+}/activate", activate)
    app.router.add_get("/api/admin/ivr", status)
