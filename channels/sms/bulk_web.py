"""The 群发 (bulk SMS) staff page and API (administrators and supervisors).

- ``GET /sms/bulk``: the form (numbers as textarea/CSV, text) and recent jobs with progress.
- ``POST /sms/bulk`` (form, CSRF): create a job, then redirect to its page.
- ``GET /sms/bulk/{id}``: one job's progress and per-number status.
- ``POST /api/sms/bulk`` ``{"numbers": [...] | "...", "text": "..."}`` (CSRF header): 201 ``{"id": ...}``;
  400 ``{"error": ..., "invalid": [...]}`` for bad input.
- ``GET /api/sms/bulk/{id}``: the job's counts and recipients as JSON.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from channels.sms.bulk import MAX_NUMBERS, MAX_TEXT, BulkRunner, parse_numbers
from channels.sms.store import BulkJob, SmsStore
from hub.localtime import CityTime
from hub.models import Role
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX

BULK_ROLES = (Role.ADMIN, Role.SUPERVISOR)
STORE: web.AppKey[SmsStore] = web.AppKey("sms_store", SmsStore)
RUNNER: web.AppKey[BulkRunner] = web.AppKey("sms_bulk_runner", BulkRunner)

OPT_OUT_SUFFIX = "回复TD退订"


class BulkInputError(ValueError):
    """Bad numbers or text for a job."""

    def __init__(self, code: str, invalid: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.invalid = invalid or []


def validate(numbers: object, text: object) -> tuple[list[str], str]:
    """The job's numbers and text (with the opt-out hint), or :class:`BulkInputError`."""
    if not isinstance(text, str) or not text.strip():
        raise BulkInputError("no_text")
    body = text.strip()
    if OPT_OUT_SUFFIX not in body:
        body = f"{body} {OPT_OUT_SUFFIX}"
    if len(body) > MAX_TEXT:
        raise BulkInputError("too_long")
    if not isinstance(numbers, (str, list)):
        raise BulkInputError("no_numbers")
    valid, invalid = parse_numbers(numbers)
    if invalid:
        raise BulkInputError("invalid_numbers", invalid)
    if not valid:
        raise BulkInputError("no_numbers")
    if len(valid) > MAX_NUMBERS:
        raise BulkInputError("too_many")
    return valid, body


def job_json(job: BulkJob, city: CityTime, recipients: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The wire form of a job (times with the city's offset)."""
    data: dict[str, Any] = {
        "id": job.id,
        "text": job.text,
        "status": job.status,
        "created_at": city.iso(job.created_at),
        "total": job.total,
        "counts": job.counts,
    }
    if recipients is not None:
        data["recipients"] = recipients
    return data


async def _create(request: web.Request, numbers: object, text: object) -> int:
    valid, body = validate(numbers, text)
    user = current_user(request)
    assert user is not None  # require_roles
    job_id = await request.app[STORE].create_job(user.id, body, valid)
    request.app[RUNNER].wake.set()
    return job_id


@require_roles(BULK_ROLES)
async def bulk_page(request: web.Request) -> web.StreamResponse:
    """GET /sms/bulk."""
    jobs = await request.app[STORE].jobs()
    return aiohttp_jinja2.render_template("sms_bulk.html", request, {"jobs": jobs, "error": None, "form": {}})


@require_roles(BULK_ROLES)
async def bulk_submit(request: web.Request) -> web.StreamResponse:
    """POST /sms/bulk (form)."""
    form = await request.post()
    numbers, text = str(form.get("numbers", "")), str(form.get("text", ""))
    try:
        job_id = await _create(request, numbers, text)
    except BulkInputError as exc:
        jobs = await request.app[STORE].jobs()
        error = {"code": exc.code, "invalid": exc.invalid[:50]}
        context = {"jobs": jobs, "error": error, "form": {"numbers": numbers, "text": text}}
        return aiohttp_jinja2.render_template("sms_bulk.html", request, context, status=400)
    raise web.HTTPSeeOther(f"/sms/bulk/{job_id}")


@require_roles(BULK_ROLES)
async def job_page(request: web.Request) -> web.StreamResponse:
    """GET /sms/bulk/{id}."""
    store = request.app[STORE]
    job = await store.job(int(request.match_info["id"]))
    if job is None:
        raise web.HTTPNotFound()
    recipients = await store.recipients(job.id)
    return aiohttp_jinja2.render_template("sms_bulk_job.html", request, {"job": job, "recipients": recipients})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@require_roles(BULK_ROLES, api=True)
async def api_create(request: web.Request) -> web.StreamResponse:
    """POST /api/sms/bulk."""
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "invalid_json"}, 400)
    if not isinstance(body, dict):
        return _json({"error": "invalid_json"}, 400)
    try:
        job_id = await _create(request, body.get("numbers"), body.get("text"))
    except BulkInputError as exc:
        return _json({"error": exc.code, "invalid": exc.invalid}, 400)
    return _json({"id": job_id}, 201)


@require_roles(BULK_ROLES, api=True)
async def api_job(request: web.Request) -> web.StreamResponse:
    """GET /api/sms/bulk/{id}."""
    store = request.app[STORE]
    job = await store.job(int(request.match_info["id"]))
    if job is None:
        return _json({"error": "not_found"}, 404)
    return _json(job_json(job, request.app[CTX].city, await store.recipients(job.id)))


def setup(app: web.Application, store: SmsStore, runner: BulkRunner) -> None:
    """Mount the bulk page and API."""
    app[STORE] = store
    app[RUNNER] = runner
    app.router.add_get("/sms/bulk", bulk_page)
    app.router.add_post("/sms/bulk", bulk_submit)
    app.router.add_get("/sms/bulk/{id:\\d+}", job_page)
    app.router.add_post("/api/sms/bulk", api_create)
    app.router.add_get("/api/sms/bulk/{id:\\d+}", api_job)
