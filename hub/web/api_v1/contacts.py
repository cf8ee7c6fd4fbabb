"""``/api/v1/contacts``, ``/api/v1/search`` and ``/api/v1/me``.

Contacts are the centre's (agents, supervisors, administrators); search gives every caller the orders it may see,
and contacts and conversations to the inbox roles only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.models import INBOX_ROLES
from hub.web.api_v1.common import ApiError, Page, ctx_of, listing, orders_of, page_of, respond, user_of
from hub.web.api_v1.lookups import ConversationFilter, find_contacts, find_conversations
from hub.web.api_v1.serialize import contact_json, conversation_json, order_json, user_json
from hub.web.i18n_web import locale_of
from hub.work_orders.query import OrderQuery

SEARCH_LIMIT = 10


async def list_contacts(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/contacts?q=: citizens by name, phone, e-mail or Telegram id."""
    ctx = ctx_of(request)
    page = page_of(args)
    found, total = await find_contacts(ctx.work_orders.engine, args.get("q") or "", page)
    return respond(listing([contact_json(ctx, c) for c in found], total, page))


async def get_contact(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/contacts/{id}: the citizen with every conversation and order, across channels."""
    ctx = ctx_of(request)
    contact = await ctx.conversations.get_contact(args["id"])
    if contact is None:
        raise ApiError(404, "not_found")
    locale = locale_of(request)
    conversations = await ctx.conversations.list_for_contact(contact.id)
    orders = await ctx.work_orders.list_for_contact(contact.id)
    return respond(
        {
            **contact_json(ctx, contact),
            "conversations": [conversation_json(ctx, c, locale) for c in conversations],
            "work_orders": [order_json(ctx, o, locale) for o in orders],
        }
    )


async def search(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/search?q=: the first matches among orders, contacts and conversations."""
    ctx = ctx_of(request)
    user = user_of(request)
    q = (args.get("q") or "").strip()
    if not q:
        raise ApiError(400, "missing_parameter", parameter="q")
    service = orders_of(request)
    units = service.visible_units(user)
    query = OrderQuery(q=q, units=None if units is None else tuple(units), per_page=SEARCH_LIMIT)
    orders, order_total = await service.store.search(query)
    locale = locale_of(request)
    first = Page(1, SEARCH_LIMIT)
    result: dict[str, Any] = {
        "q": q,
        "work_orders": {"items": [order_json(ctx, o, locale) for o in orders], "total": order_total},
        "contacts": {"items": [], "total": 0},
        "conversations": {"items": [], "total": 0},
    }
    if user.role in INBOX_ROLES:
        engine = ctx.work_orders.engine
        contacts, contact_total = await find_contacts(engine, q, first)
        found, conversation_total = await find_conversations(engine, ConversationFilter(q=q), first)
        result["contacts"] = {"items": [contact_json(ctx, c) for c in contacts], "total": contact_total}
        result["conversations"] = {
            "items": [conversation_json(ctx, c, locale) for c in found],
            "total": conversation_total,
        }
    return respond(result)


async def me(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/me: the caller's account and the units whose orders it sees."""
    ctx = ctx_of(request)
    user = user_of(request)
    units = ctx.orders.visible_units(user) if ctx.orders is not None else []
    return respond({**user_json(ctx, user, locale_of(request)), "visible_units": units})
