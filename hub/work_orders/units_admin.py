"""``/admin/units``: how each unit is alerted of new and urgent orders, and its 抢险 sign-for minutes.

Administrators edit (CSRF-protected form, one unit at a time); supervisors may look. A unit is alerted by SMS to a
mobile (or landline) number, by e-mail, or not at all (its sub-units without a setting are alerted like it, see
:mod:`hub.work_orders.alerts`); ``emergency_sign_minutes`` (1-1440, empty: inherited or the hub's default) is how
long an urgent order may wait for it to sign before it escalates (:mod:`hub.work_orders.escalation`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.dialogue.slots import is_valid_phone
from hub.logsafe import mask
from hub.models import Role
from hub.storage.engine import begin
from hub.storage.schema import units
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from hub.work_orders.refusals import Refusal

log = logging.getLogger(__name__)

PATH = "/admin/units"
MAX_MINUTES = 24 * 60
_EMAIL = re.compile(r"[^@\s<>\"(),;:]{1,64}@[^@\s<>\"(),;:]{1,190}\.[A-Za-z0-9-]{1,63}")


@dataclass(frozen=True, slots=True)
class AlertSetting:
    """A unit's validated alert setting."""

    channel: str | None
    address: str | None
    minutes: int | None


def validate(channel: str, address: str, minutes: str) -> AlertSetting:
    """The setting from the form's fields; :class:`Refusal` (``wo.error.<code>``) when a field is invalid."""
    channel, address, minutes = channel.strip(), address.strip(), minutes.strip()
    if channel not in ("", "sms", "email"):
        raise Refusal("alert_channel")
    if channel == "sms":
        digits = re.sub(r"[\s-]", "", address)
        if digits.startswith("+86"):
            digits = digits[3:]
        if not is_valid_phone(digits):
            raise Refusal("alert_phone")
        address = digits
    elif channel == "email":
        if not _EMAIL.fullmatch(address):
            raise Refusal("alert_email")
    else:
        address = ""
    count: int | None = None
    if minutes:
        if not minutes.isdigit() or not 1 <= int(minutes) <= MAX_MINUTES:
            raise Refusal("alert_minutes", max=MAX_MINUTES)
        count = int(minutes)
    return AlertSetting(channel or None, address or None, count)


async def save(engine: AsyncEngine, code: str, setting: AlertSetting) -> bool:
    """Write ``setting`` to unit ``code``; False if there is no such unit."""
    async with begin(engine) as conn:
        result = await conn.execute(
            units.update()
            .where(units.c.code == code)
            .values(
                alert_channel=setting.channel,
                alert_address=setting.address,
                emergency_sign_minutes=setting.minutes,
            )
        )
    return bool(result.rowcount)


@require_roles([Role.ADMIN, Role.SUPERVISOR])
async def units_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/units: every unit's alert channel, address and 抢险 minutes (editable by administrators)."""
    ctx = request.app[CTX]
    user = current_user(request)
    assert user is not None
    tax = ctx.taxonomy()
    default = ctx.orders.emergency_sign_minutes if ctx.orders is not None else None
    return aiohttp_jinja2.render_template(
        "units_admin.html",
        request,
        {
            "units": sorted(tax.units.values(), key=lambda u: (u.kind != "centre", u.code)),
            "editable": user.role is Role.ADMIN,
            "default_minutes": default,
            "channels": ("sms", "email"),
            "configured": set(ctx.staff_alerts),
            "error": request.query.get("error"),
            "saved": request.query.get("saved"),
        },
    )


@require_roles([Role.ADMIN])
async def units_change(request: web.Request) -> web.StreamResponse:
    """POST /admin/units: set one unit's alert channel/address and minutes."""
    ctx = request.app[CTX]
    form = await request.post()
    code = str(form.get("unit", ""))
    if code not in ctx.taxonomy().units:
        raise web.HTTPNotFound(text="no such unit")
    try:
        setting = validate(str(form.get("alert_channel", "")), str(form.get("alert_address", "")),
                           str(form.get("emergency_sign_minutes", "")))  # fmt: skip
    except Refusal as refusal:
        raise web.HTTPSeeOther(f"{PATH}?error={quote(refusal.text(locale_of(request)))}#unit-{quote(code)}") from None
    await save(ctx.work_orders.engine, code, setting)
    if ctx.reload_taxonomy is not None:
        await ctx.reload_taxonomy()
    user = current_user(request)
    log.info(
        "unit %s alert set to %s %s, %s min by %s",
        code,
        setting.channel or "-",
        mask(setting.address or "-"),
        setting.minutes or "-",
        user.username if user else "?",
    )
    raise web.HTTPSeeOther(f"{PATH}?saved={quote(code)}#unit-{quote(code)}")


def setup(app: web.Application) -> None:
    """Mount the page."""
    app.router.add_get(PATH, units_page)
    app.router.add_post(PATH, units_change)
