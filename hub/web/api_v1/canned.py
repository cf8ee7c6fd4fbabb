"""``/api/v1/canned-replies``: the shared canned replies (快捷回复) and the caller's own, as the inbox's composer.

The rules are the inbox's (:mod:`hub.storage.canned`): supervisors and administrators manage the shared replies,
everyone their own; another user's personal reply does not exist for the caller (404). With ``?conversation=ID``
each reply also carries ``expanded``: its text with the variables filled for that conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from hub.clock import utc_now
from hub.i18n import lookup, t
from hub.models import Conversation, User
from hub.storage.canned import MANAGERS, CannedError, CannedReply, CannedStore, clean_fields, expand, may_manage
from hub.storage.conversations import ConversationNotFound
from hub.web.api_v1.common import ApiError, bool_field, ctx_of, json_body, respond, user_of
from hub.web.context import HubContext
from hub.web.i18n_web import locale_of

DEFAULT_HOTLINE = "12319"
CANNED: web.AppKey[CannedStore] = web.AppKey("api_v1_canned", CannedStore)
# what {hotline} becomes: set by the inbox (routing) from its settings; the default without it
HOTLINE: web.AppKey[Callable[[], str]] = web.AppKey("api_v1_hotline")


async def canned_values(
    ctx: HubContext, conversation: Conversation, agent: User, hotline: str
) -> dict[str, str | None]:
    """The values of a canned reply's variables in ``conversation`` for ``agent``.

    ``{name}`` the citizen's name (or 市民), ``{order_number}`` the conversation's latest order, ``{agent}``,
    ``{hotline}``, ``{date}`` today in the city (written the Chinese way in a Chinese conversation).
    """
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    orders = await ctx.work_orders.list_for_conversation(conversation.id)
    latest = max(orders, key=lambda o: (o.created_at, o.id)) if orders else None
    today = ctx.city.local(utc_now())
    date = (
        f"{today.year}年{today.month}月{today.day}日"
        if conversation.locale.startswith("zh")
        else today.date().isoformat()
    )
    return {
        "name": (contact.name if contact and contact.name else None) or t("canned.var.citizen", conversation.locale),
        "order_number": latest.number if latest else None,
        "agent": agent.display_name,
        "hotline": hotline,
        "date": date,
    }


def _refusal(request: web.Request, exc: CannedError) -> ApiError:
    message = lookup(f"canned.error.{exc.code}", locale_of(request))
    if exc.code == "shared_forbidden":
        return ApiError(403, "forbidden", message=message or "forbidden")
    return ApiError(400, "invalid_field", message=message, field=exc.code)


async def list_canned_replies(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/canned-replies[?conversation=ID]."""
    user = user_of(request)
    replies = await request.app[CANNED].visible_to(user.id)
    conversation_id = args.get("conversation")
    if conversation_id is None:
        return respond(
            {"items": [r.to_json(user_of(request), ctx_of(request).city) for r in replies], "total": len(replies)}
        )
    ctx = ctx_of(request)
    try:
        conversation = await ctx.conversations.get(conversation_id)
    except ConversationNotFound:
        raise ApiError(404, "not_found") from None
    hotline = request.app[HOTLINE]() if HOTLINE in request.app else DEFAULT_HOTLINE
    values = await canned_values(ctx, conversation, user, hotline)
    items = [r.to_json(user_of(request), ctx_of(request).city, expand(r.text, values)) for r in replies]
    return respond({"items": items, "total": len(items)})


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    for name in ("shortcut", "title", "text"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "invalid_field", field=name)
    return body


async def create_canned_reply(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/canned-replies {"shortcut", "title", "text", "shared"}."""
    body = _fields(await json_body(request))
    user = user_of(request)
    shared = bool_field(body, "shared") or False
    try:
        shortcut, title, text = clean_fields(body)
        if shared and user.role not in MANAGERS:
            raise CannedError("shared_forbidden")
    except CannedError as exc:
        raise _refusal(request, exc) from None
    reply = await request.app[CANNED].create(None if shared else user.id, shortcut, title, text)
    return respond(reply.to_json(user_of(request), ctx_of(request).city), status=201)


async def _manageable(request: web.Request, args: dict[str, Any]) -> CannedReply:
    """The reply of the path if the caller sees it (404 otherwise) and may change it (403 otherwise)."""
    user = user_of(request)
    reply = await request.app[CANNED].get(int(args["id"]))
    if reply is None or (not reply.shared and reply.owner_id != user.id):
        raise ApiError(404, "not_found")
    if not may_manage(user, reply):
        raise _refusal(request, CannedError("shared_forbidden"))
    return reply


async def update_canned_reply(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """PATCH /api/v1/canned-replies/{id}: change some of shortcut, title and text."""
    reply = await _manageable(request, args)
    body = _fields(await json_body(request))
    merged = {"shortcut": reply.shortcut, "title": reply.title, "text": reply.text}
    merged.update({k: body[k] for k in merged if body.get(k) is not None})
    try:
        shortcut, title, text = clean_fields(merged)
    except CannedError as exc:
        raise _refusal(request, exc) from None
    updated = await request.app[CANNED].update(reply.id, shortcut=shortcut, title=title, text=text)
    if updated is None:
        raise ApiError(404, "not_found")
    return respond(updated.to_json(user_of(request), ctx_of(request).city))


async def delete_canned_reply(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """DELETE /api/v1/canned-replies/{id}."""
    reply = await _manageable(request, args)
    if not await request.app[CANNED].delete(reply.id):
        raise ApiError(404, "not_found")
    return web.Response(status=204)
