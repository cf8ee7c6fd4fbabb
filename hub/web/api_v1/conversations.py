"""``/api/v1/conversations``: the inbox's conversations, their messages, replies, claiming and closing.

Inbox roles only (agents, supervisors, administrators), as the inbox page. Every change goes through
:class:`hub.conversation_service.ConversationService`, the one gateway of a conversation's status.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.conversation_service import InvalidMessage, NotAllowed
from hub.i18n import lookup
from hub.models import Contact, Conversation
from hub.storage import rows
from hub.storage.conversations import ConversationNotFound
from hub.storage.schema import contacts
from hub.web.api_v1.common import ApiError, ctx_of, json_body, listing, page_of, respond, text_field, user_of
from hub.web.api_v1.lookups import ConversationFilter, count_messages, find_conversations, unread_counts
from hub.web.api_v1.serialize import contact_json, conversation_json, message_json, order_json
from hub.web.i18n_web import locale_of

MAX_MESSAGES = 500
OUTCOME_PREFIX = "outcome."  # the catalog labels of the outcome codes the inbox offers


async def _load(request: web.Request, conversation_id: str) -> Conversation:
    try:
        return await ctx_of(request).conversations.get(conversation_id)
    except ConversationNotFound:
        raise ApiError(404, "not_found") from None


def conversation_filter(request: web.Request, args: dict[str, Any]) -> ConversationFilter:
    """The list's filters; ``assignee=me`` is the caller, ``none`` the unassigned ones, a number that user."""
    assignee = args.get("assignee")
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = user_of(request).id
    elif assignee is not None and assignee != "none":
        if not assignee.isdigit():
            raise ApiError(400, "invalid_parameter", parameter="assignee", value=assignee[:100])
        assignee_id = int(assignee)
    return ConversationFilter(
        statuses=tuple(args.get("status") or ()),
        channel=args.get("channel"),
        assignee_id=assignee_id,
        unassigned=assignee == "none",
        q=args.get("q") or "",
    )


async def list_conversations(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/conversations."""
    ctx = ctx_of(request)
    page = page_of(args)
    found, total = await find_conversations(ctx.work_orders.engine, conversation_filter(request, args), page)
    locale = locale_of(request)
    unread = await unread_counts(ctx.work_orders.engine, user_of(request).id, [c.id for c in found])
    contacts = await _contacts(ctx.work_orders.engine, {c.contact_id for c in found if c.contact_id is not None})
    items = [
        {
            **conversation_json(ctx, c, locale),
            "unread": unread[c.id],
            "contact": contact_json(ctx, contacts[c.contact_id]) if c.contact_id in contacts else None,
        }
        for c in found
    ]
    return respond(listing(items, total, page))


async def _contacts(engine: AsyncEngine, ids: set[int]) -> dict[int, Contact]:
    """The contacts of a page of conversations, in one query."""
    if not ids:
        return {}
    async with engine.connect() as conn:
        found = (await conn.execute(sa.select(contacts).where(contacts.c.id.in_(ids)))).all()
    return {row.id: rows.contact(row) for row in found}


async def get_conversation(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/conversations/{id}: the conversation, its citizen and its work orders."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    locale = locale_of(request)
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    orders = await ctx.work_orders.list_for_conversation(conversation.id)
    last = await ctx.conversations.last_message(conversation.id)
    return respond(
        {
            **conversation_json(ctx, conversation, locale),
            "contact": None if contact is None else contact_json(ctx, contact),
            "work_orders": [order_json(ctx, o, locale) for o in orders],
            "last_message": None if last is None else message_json(ctx, last),
        }
    )


async def list_messages(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/conversations/{id}/messages: oldest first, after ``after_id``."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    after = int(args.get("after_id") or 0)
    limit = int(args.get("limit") or MAX_MESSAGES)
    found = await ctx.conversations.messages(conversation.id, after_id=after, limit=limit)
    total = await count_messages(ctx.work_orders.engine, conversation.id, after)
    return respond({"items": [message_json(ctx, m) for m in found], "total": total})


async def post_message(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/conversations/{id}/messages: the agent's reply (the conversation must be the agent's)."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    body = await json_body(request)
    try:
        message = await ctx.service.agent_reply(conversation.id, user_of(request), body.get("text"))
    except InvalidMessage as exc:
        raise ApiError(400, "invalid_message", message=str(exc)) from None
    except NotAllowed as exc:
        raise ApiError(409, "conflict", message=str(exc)) from None
    return respond(message_json(ctx, message), status=201)


async def claim_conversation(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/conversations/{id}/claim: take a queued conversation (one agent wins)."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    try:
        claimed = await ctx.service.claim(conversation.id, user_of(request))
    except NotAllowed as exc:
        raise ApiError(409, "conflict", message=str(exc)) from None
    return respond(conversation_json(ctx, claimed, locale_of(request)))


async def close_conversation(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/conversations/{id}/close, optionally with ``{"outcome": code}``."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    body = await json_body(request) if request.can_read_body else {}
    outcome = text_field(body, "outcome")
    if outcome is not None and lookup(OUTCOME_PREFIX + outcome, locale_of(request)) is None:
        raise ApiError(400, "invalid_field", field="outcome")  # the inbox's codes are those with a label
    try:
        closed = await ctx.service.close(conversation.id, user_of(request), outcome=outcome)
    except NotAllowed as exc:
        raise ApiError(409, "conflict", message=str(exc)) from None
    return respond(conversation_json(ctx, closed, locale_of(request)))
