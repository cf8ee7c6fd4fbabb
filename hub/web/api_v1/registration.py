"""``POST /api/v1/work-orders``: register (受理) a work order through the desk, as the registration page does.

The body's fields are those of :class:`hub.work_orders.registration.RegistrationForm` (``type`` is the request
type); unknown fields are refused, so that a misspelt field is not silently dropped.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.web.api_v1.common import (
    ApiError,
    bool_field,
    ctx_of,
    int_field,
    json_body,
    respond,
    text_field,
    user_of,
)
from hub.web.api_v1.serialize import order_json
from hub.web.i18n_web import locale_of
from hub.work_orders.registration import RegistrationError, RegistrationForm

FIELDS = frozenset(
    {
        "source",
        "type",
        "description",
        "industry",
        "category",
        "address",
        "phone",
        "citizen_name",
        "urgent",
        "conversation_id",
        "message_id",
        "unit",
        "dispatch",
        "forward_text",
        "occurred_at",
    }
)
FORBIDDEN_CODES = frozenset({"role_not_allowed"})


def registration_form(request: web.Request, body: dict[str, Any]) -> RegistrationForm:
    """The form of a JSON body (400 for an unknown field or a value of the wrong type)."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ApiError(400, "unknown_field", field=unknown[0])
    occurred_text = text_field(body, "occurred_at")
    try:
        occurred = ctx_of(request).city.parse(occurred_text)
    except ValueError:
        raise ApiError(400, "invalid_field", field="occurred_at") from None
    dispatch = bool_field(body, "dispatch")
    return RegistrationForm(
        source=text_field(body, "source", required=True) or "",
        request_type=text_field(body, "type", required=True) or "",
        description=text_field(body, "description") or "",
        industry=text_field(body, "industry"),
        category=text_field(body, "category"),
        address=text_field(body, "address"),
        phone=text_field(body, "phone"),
        citizen_name=text_field(body, "citizen_name"),
        urgent=bool_field(body, "urgent"),
        conversation_id=text_field(body, "conversation_id"),
        message_id=int_field(body, "message_id"),
        unit=text_field(body, "unit"),
        dispatch=True if dispatch is None else dispatch,
        forward_text=text_field(body, "forward_text"),
        occurred_at=occurred,
    )


async def create_work_order(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/work-orders: 201 with the order (dispatched unless ``dispatch`` is false or no unit fits)."""
    ctx = ctx_of(request)
    desk = ctx.registration
    if desk is None:
        raise ApiError(503, "unavailable")
    form = registration_form(request, await json_body(request))
    try:
        order = await desk.register(form, user_of(request))
    except RegistrationError as exc:
        status = 403 if exc.code in FORBIDDEN_CODES else 422
        raise ApiError(status, exc.code, message=exc.text(locale_of(request)), field=exc.field) from None
    response = respond(order_json(ctx, order, locale_of(request)), status=201)
    response.headers["Location"] = f"/api/v1/work-orders/{order.number}"
    return response
