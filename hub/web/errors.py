"""Error responses: a styled page in the user's language for pages, ``{"error", "message"}`` JSON for APIs.

:func:`error_pages` (a middleware) turns every raised 4xx/5xx :class:`aiohttp.web.HTTPException` and every
unexpected exception (500, logged) into:

- on ``/api/...`` (and for a script that asks for JSON only): ``{"error": code, "message": text}`` in the
  request's language, keeping the other fields of a JSON error body (``invalid`` ...);
- on any other path: ``error.html`` (extends ``base.html``) with the localised title, a hint and a link back;
- on endpoints that speak their own protocol (Open311, webhooks, ``/healthz``): the response as it was.

Responses a handler *returns* (rather than raises) are left alone: a handler that returns an error status chose
its body (a form shown again with its errors, a JSON validation report).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.web.auth import Handler, current_user
from hub.web.i18n_web import locale_of, ui

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/",)
OWN_FORMAT_PREFIXES = ("/open311/", "/webhooks/", "/healthz")
CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    500: "server_error",
}
KNOWN_CODES = frozenset({*CODES.values(), "csrf"})  # codes with their own title and hint in the catalog
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def wants_json(request: web.Request) -> bool:
    """An API path, or a script that accepts JSON and not HTML."""
    if request.path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _body_of(exc: web.HTTPException) -> dict[str, Any]:
    if exc.content_type != "application/json" or not exc.text:
        return {}
    try:
        body = json.loads(exc.text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _code(status: int, body: dict[str, Any]) -> str:
    given = body.get("error")
    if isinstance(given, str) and given:
        return given
    return CODES.get(status, "server_error" if status >= 500 else "bad_request")


def _title_key(status: int, code: str) -> str:
    if code in KNOWN_CODES:
        return code
    return CODES.get(status, "other")


def error_json(request: web.Request, status: int, code: str, extra: dict[str, Any] | None = None) -> web.Response:
    """The API's error shape, the message in the request's language."""
    message = ui(f"error.{_title_key(status, code)}", locale_of(request))
    body = {"error": code, "message": message, **(extra or {})}
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def error_page(request: web.Request, status: int, code: str) -> web.Response:
    """The styled error page (``error.html``); plain text if even that cannot be rendered."""
    key = _title_key(status, code)
    user = current_user(request)
    context = {
        "status": status,
        "title_key": f"error.{key}",
        "hint_key": f"error.{key}.hint",
        "back": "/staff" if user is not None else "/",
        "back_key": "error.back_staff" if user is not None else "error.back_home",
        "login": status == 401 and user is None,
        "next": request.path_qs,
    }
    try:
        return aiohttp_jinja2.render_template("error.html", request, context, status=status)
    except Exception:
        log.exception("cannot render the error page for %s %s", request.method, request.path)
        return web.Response(status=status, text=ui(f"error.{key}", locale_of(request)))


def _respond(request: web.Request, status: int, code: str, extra: dict[str, Any]) -> web.Response:
    if wants_json(request):
        return error_json(request, status, code, extra)
    return error_page(request, status, code)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Localise raised errors (see the module docstring)."""
    if request.path.startswith(OWN_FORMAT_PREFIXES) or request.headers.get("Upgrade", "").lower() == "websocket":
        return await handler(request)  # their own formats; a WebSocket has already answered when it fails
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        body = _body_of(exc)
        extra = {k: v for k, v in body.items() if k != "error"}
        response = _respond(request, exc.status, _code(exc.status, body), extra)
        for name in KEPT_HEADERS:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _respond(request, 500, "server_error", {})
