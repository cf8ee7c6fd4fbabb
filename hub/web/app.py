"""Assembly of the aiohttp application from a :class:`HubContext`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hub.i18n import load_catalogs
from hub.localtime import DISPLAY
from hub.models import INBOX_ROLES, Role
from hub.storage.api_tokens import ApiTokenStore
from hub.web import auth, contact_pages, contacts, errors, health
from hub.web.api_v1 import routes as api_v1
from hub.web.context import CTX, HubContext
from hub.web.extensions import page_scripts
from hub.web.i18n_web import LANG_COOKIE, locale_of, ui

HERE = Path(__file__).parent
MAX_BODY = 1024 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """Security headers on every response; remember an explicit ``?lang=`` choice."""
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if "lang" in request.query:
            response.set_cookie(LANG_COOKIE, locale_of(request), samesite="Lax", path="/")
    return response


async def _template_context(request: web.Request) -> dict[str, object]:
    locale = locale_of(request)
    return {
        "locale": locale,
        "ui": lambda key, **params: ui(key, locale, **params),
        "user": auth.current_user(request),
        "csrf": request.get(auth.CSRF_KEY),
        "static": lambda name, route="static": str(request.app.router[route].url_for(filename=name)),
        "timezone": request.app[CTX].city.name,  # for pages whose scripts format times (Intl timeZone)
        "extension_scripts": lambda page: page_scripts(request.app, page),
    }


async def index(request: web.Request) -> web.StreamResponse:
    """GET /: citizens go to the web chat (when that channel is mounted)."""
    raise web.HTTPFound("/chat")


@auth.require_roles(list(Role))
async def staff_home(request: web.Request) -> web.StreamResponse:
    """GET /staff: where a staff member lands after login, by role."""
    user = auth.current_user(request)
    assert user is not None
    if user.role is Role.AGENT:
        raise web.HTTPFound("/agent")
    ctx = request.app[CTX]
    tax = ctx.taxonomy()
    data: dict[str, object] = {"inbox": user.role in INBOX_ROLES, "tax": tax}
    if user.role is Role.DEPARTMENT and user.unit:
        # A department sees only its own and its sub-units' orders.
        data["orders"] = await ctx.work_orders.list_for_units(tax.unit_subtree(user.unit))
        data["unit"] = tax.units.get(user.unit)
    if user.role in (Role.SUPERVISOR, Role.LEADER, Role.ADMIN):
        data["conversation_counts"] = await ctx.conversations.count_by_status()
        data["order_counts"] = await ctx.work_orders.count_by_state()
    return aiohttp_jinja2.render_template("staff.html", request, data)


def _time_filters(env: jinja2.Environment, ctx: HubContext) -> None:
    """``{{ ts|local }}`` (2026-12-08 07:30), ``|local_date`` and ``|local_input`` (datetime-local values):
    stored times shown in the city's zone (``ctx.city``, read at render time)."""
    env.filters["local"] = lambda value, fmt=DISPLAY: ctx.city.format(value, fmt)
    env.filters["local_date"] = lambda value: ctx.city.format_date(value)
    env.filters["local_input"] = lambda value: ctx.city.input_value(value)


def create_app(ctx: HubContext, template_dirs: Iterable[Path] = ()) -> web.Application:
    """The hub's web application; channels add their routes (and template folders) before it starts."""
    load_catalogs()  # fail fast when a compiled catalog is missing or stale (never show raw keys)
    middlewares = [security_headers, errors.error_pages, auth.session_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[CTX] = ctx
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader([str(HERE / "templates"), *map(str, template_dirs)]),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        context_processors=[_template_context],
    )
    _time_filters(env, ctx)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/login", auth.login_page)
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/api/contacts/{id}/preferred-channel", contacts.set_preferred_channel)
    api_v1.setup(app, ApiTokenStore(ctx.work_orders.engine))  # /api/v1: the staff API (bearer tokens)
    contact_pages.setup(app)
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    return app
