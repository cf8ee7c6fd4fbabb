"""What every staff-API handler shares: JSON responses, errors, the caller, query parameters and JSON bodies.

Errors are ``{"error": code, "message": text}`` (the text in the request's language, from the ``api.error.*``
catalog keys or a work-order refusal's own text), with further fields where they help (``parameter``,
``field``). Handlers raise :class:`ApiError`; :func:`hub.web.api_v1.routes.setup` turns it into the response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from hub.models import User
from hub.web.auth import current_user
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of, ui
from hub.work_orders.service import WorkOrderService

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
MAX_BODY_TEXT = 5000  # longest accepted string field of a JSON body (the services check their own limits)


def dumps(obj: Any) -> str:
    """JSON as the API writes it (Chinese as it is, not ``\\u`` escapes)."""
    return json.dumps(obj, ensure_ascii=False, default=str)


def respond(data: Any, status: int = 200) -> web.Response:
    """A JSON response."""
    return web.json_response(data, status=status, dumps=dumps)


class ApiError(Exception):
    """An error answer: HTTP ``status``, machine ``code``, and either a catalog message or a ready ``message``."""

    def __init__(self, status: int, code: str, *, message: str | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self, request: web.Request) -> web.Response:
        """The error as ``{"error", "message", ...}``."""
        text = self.message
        if text is None:
            text = ui(f"api.error.{self.code}", locale_of(request), **{k: str(v) for k, v in self.extra.items()})
        return respond({"error": self.code, "message": text, **self.extra}, status=self.status)


def user_of(request: web.Request) -> User:
    """The authenticated caller (every handler runs behind ``require_roles``)."""
    user = current_user(request)
    assert user is not None
    return user


def ctx_of(request: web.Request) -> HubContext:
    """The hub's services."""
    return request.app[CTX]


def orders_of(request: web.Request) -> WorkOrderService:
    """The work-order service (503 when the hub runs without it)."""
    service = request.app[CTX].orders
    if service is None:
        raise ApiError(503, "unavailable")
    return service


@dataclass(frozen=True, slots=True)
class Page:
    """Which page of a list: ``page`` from 1, ``per_page`` from 1 to :data:`MAX_PER_PAGE`."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.per_page


def page_of(args: dict[str, Any]) -> Page:
    """The page asked for (already validated against the route's parameters)."""
    return Page(int(args.get("page") or 1), int(args.get("per_page") or DEFAULT_PER_PAGE))


def listing(items: list[Any], total: int, page: Page) -> dict[str, Any]:
    """The API's list shape."""
    return {"items": items, "total": total, "page": page.page, "per_page": page.per_page}


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (400 ``invalid_json`` for anything else)."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A string field of a body: trimmed, None when absent or empty (400 when of another type or too long)."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, "missing_field", field=name)
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", field=name)
    value = value.strip()
    if len(value) > MAX_BODY_TEXT:
        raise ApiError(400, "invalid_field", field=name)
    if not value and required:
        raise ApiError(400, "missing_field", field=name)
    return value or None


def bool_field(body: dict[str, Any], name: str) -> bool | None:
    """A boolean field of a body (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_field", field=name)
    return value


def int_field(body: dict[str, Any], name: str) -> int | None:
    """An integer field of a body (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid_field", field=name)
    return value


def date_arg(args: dict[str, Any], name: str) -> date | None:
    """A validated ``format: date`` query parameter."""
    value = args.get(name)
    return value if isinstance(value, date) else None
