"""The centre's citizen pages: ``/contacts?q=`` finds a citizen by phone, e-mail, name or Telegram id;
``/contacts/{id}`` shows every conversation (all channels) and every work order of that citizen.

Staff see the citizen's data in full (the pages are for the centre's roles only); logs are masked by
:mod:`hub.logsafe`.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.models import INBOX_ROLES, Role
from hub.storage.contact_reads import contact_profile, search_contacts
from hub.web.auth import require_roles
from hub.web.context import CTX

CONTACT_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER]
MAX_QUERY = 100


@require_roles(CONTACT_ROLES)
async def contacts_page(request: web.Request) -> web.StreamResponse:
    """GET /contacts?q=: the citizens matching ``q``."""
    ctx = request.app[CTX]
    q = request.query.get("q", "").strip()[:MAX_QUERY]
    hits = await search_contacts(ctx.work_orders.engine, q) if q else []
    return aiohttp_jinja2.render_template("contacts.html", request, {"q": q, "hits": hits})


@require_roles(CONTACT_ROLES)
async def contact_page(request: web.Request) -> web.StreamResponse:
    """GET /contacts/{id}: one citizen's conversations and work orders."""
    ctx = request.app[CTX]
    raw = request.match_info["id"]
    profile = await contact_profile(ctx.work_orders.engine, int(raw)) if raw.isdigit() else None
    if profile is None:
        raise web.HTTPNotFound(text="no such contact")
    return aiohttp_jinja2.render_template(
        "contact.html",
        request,
        {"profile": profile, "tax": ctx.taxonomy(), "inbox_roles": [r.value for r in INBOX_ROLES]},
    )


def setup(app: web.Application) -> None:
    """Mount the citizen pages."""
    app.router.add_get("/contacts", contacts_page)
    app.router.add_get("/contacts/{id}", contact_page)
