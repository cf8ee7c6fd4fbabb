"""The agents' shared inbox: page, live WebSocket and JSON API (login with an inbox role required).

The queue it shows and takes from is :class:`routing.chat_queue.ChatQueue`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from hub.conversation_service import InvalidMessage, NotAllowed
from hub.events import (
    CallFinished,
    CallOffered,
    ConversationAssigned,
    ConversationClosed,
    ConversationQueued,
    MessageStored,
    MessageUpdated,
    Subscription,
)
from hub.logsafe import mask
from hub.models import INBOX_ROLES, Conversation, ConversationStatus, User
from hub.storage.conversations import ConversationNotFound
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import labels, locale_of
from routing.chat_queue import ChatQueue

log = logging.getLogger(__name__)

CallRecords = Callable[[web.Request, str], Awaitable[list[dict[str, Any]]]]
CALL_RECORDS: web.AppKey[CallRecords] = web.AppKey("call_records")  # set by the voice channel's web module
QUEUE: web.AppKey[ChatQueue] = web.AppKey("chat_queue", ChatQueue)
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


async def conversation_summary(ctx: HubContext, conversation: Conversation) -> dict[str, Any]:
    """What the inbox list shows for a conversation (times with the city's offset, as every staff API)."""
    last = await ctx.conversations.last_message(conversation.id)
    tax = ctx.taxonomy()
    industry = tax.industries.get(conversation.industry or "")
    subject_of = ctx.subjects.get(conversation.channel)
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status.value,
        "assignee_id": conversation.assignee_id,
        "handoff_reason": conversation.handoff_reason,
        "request_type": conversation.request_type,
        "industry": conversation.industry,
        "industry_name": industry.name_zh if industry else None,
        "queued_at": ctx.city.iso(conversation.queued_at),
        "updated_at": ctx.city.iso(conversation.updated_at),
        "last_text": (last.text[:80] if last else ""),
        "subject": await subject_of(conversation.id) if subject_of is not None else None,
    }


@require_roles(INBOX_ROLES)
async def inbox_page(request: web.Request) -> web.StreamResponse:
    """GET /agent: the inbox page."""
    locale = locale_of(request)
    tax = request.app[CTX].taxonomy()
    choices = {
        "types": [[t.code, t.name(locale)] for t in tax.request_types.values()],
        "industries": [[i.code, i.name(locale)] for i in tax.industries.values()],
    }
    strings = labels(locale, "voice.", "telegram.", "inbox.subject")
    return aiohttp_jinja2.render_template("agent.html", request, {"labels": strings, "choices": choices})


@require_roles(INBOX_ROLES, api=True)
async def inbox_list(request: web.Request) -> web.StreamResponse:
    """GET /api/inbox: the queue and the agent's own open conversations."""
    ctx = request.app[CTX]
    user = current_user(request)
    assert user is not None
    queue = request.app[QUEUE]
    queued = await queue.waiting()
    mine = await queue.held_by(user)
    return _json(
        {
            "queue": [await conversation_summary(ctx, c) for c in queued],
            "mine": [await conversation_summary(ctx, c) for c in mine],
        }
    )


async def _load(request: web.Request) -> Conversation:
    try:
        return await request.app[CTX].conversations.get(request.match_info["id"])
    except ConversationNotFound:
        raise web.HTTPNotFound(text='{"error": "unknown_conversation"}', content_type="application/json") from None


@require_roles(INBOX_ROLES, api=True)
async def conversation_detail(request: web.Request) -> web.StreamResponse:
    """GET /api/conversations/{id}: transcript, NLU result, the citizen's history and work orders."""
    ctx = request.app[CTX]
    conversation = await _load(request)
    messages = await ctx.conversations.messages(conversation.id)
    nlu = next((m.nlu for m in reversed(messages) if m.nlu), None)
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    history: list[dict[str, Any]] = []
    orders = await ctx.work_orders.list_for_conversation(conversation.id)
    if contact is not None:
        for earlier in await ctx.conversations.list_for_contact(contact.id, exclude=conversation.id):
            history.append(await conversation_summary(ctx, earlier))
        known = {o.id for o in orders}
        orders += [o for o in await ctx.work_orders.list_for_contact(contact.id) if o.id not in known]
    tax = ctx.taxonomy()
    last_citizen = next((m.text for m in reversed(messages) if m.sender_kind.value == "citizen"), None)
    suggestions = []
    if ctx.kb is not None and last_citizen:
        suggestions = [
            {"article_id": s.article_id, "question": s.question, "answer": s.answer, "confidence": s.confidence}
            for s in ctx.kb.search(last_citizen, k=3)
        ]
    call_records = request.app.get(CALL_RECORDS)
    return _json(
        {
            "conversation": await conversation_summary(ctx, conversation),
            "calls": await call_records(request, conversation.id) if call_records is not None else [],
            "kb_suggestions": suggestions,
            "messages": [m.to_json(ctx.city) for m in messages],
            "nlu": nlu,
            "contact": None
            if contact is None
            else {
                "id": contact.id,
                "name": contact.name,
                "phone": contact.phone,
                "email": contact.email,
                "vip": contact.vip,
                "preferred_channel": contact.preferred_channel,
            },
            "notice_channels": list(ctx.notice_routes.channels) if ctx.notice_routes is not None else [],
            "history": history,
            "work_orders": [
                {
                    "number": o.number,
                    "state": o.state,
                    "request_type": o.request_type,
                    "industry": o.industry,
                    "unit": o.unit,
                    "unit_name": tax.units[o.unit].name_zh if o.unit in tax.units else None,
                    "address": o.address,
                    "created_at": ctx.city.iso(o.created_at),
                }
                for o in orders
            ],
        }
    )


def _agent(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None
    return user


@require_roles(INBOX_ROLES, api=True)
async def claim(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/claim."""
    conversation = await _load(request)
    try:
        claimed = await request.app[QUEUE].take(conversation.id, _agent(request))
    except NotAllowed as exc:
        return _json({"error": "conflict", "message": str(exc)}, status=409)
    return _json(await conversation_summary(request.app[CTX], claimed))


@require_roles(INBOX_ROLES, api=True)
async def reply(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/reply {"text": ...}."""
    conversation = await _load(request)
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "invalid_json"}, status=400)
    if not isinstance(body, dict):
        return _json({"error": "invalid_json"}, status=400)
    try:
        message = await request.app[CTX].service.agent_reply(conversation.id, _agent(request), body.get("text"))
    except InvalidMessage as exc:
        return _json({"error": "invalid_message", "message": str(exc)}, status=400)
    except NotAllowed as exc:
        return _json({"error": "conflict", "message": str(exc)}, status=409)
    return _json(message.to_json(request.app[CTX].city))


@require_roles(INBOX_ROLES, api=True)
async def close(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/close."""
    conversation = await _load(request)
    try:
        closed = await request.app[CTX].service.close(conversation.id, _agent(request))
    except NotAllowed as exc:
        return _json({"error": "conflict", "message": str(exc)}, status=409)
    return _json(await conversation_summary(request.app[CTX], closed))


@require_roles(INBOX_ROLES, api=True)
async def inbox_socket(request: web.Request) -> web.StreamResponse:
    """GET /agent/ws: live inbox events (queue changes and messages of visible conversations)."""
    ctx = request.app[CTX]
    user = _agent(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text='{"error": "cross_origin"}', content_type="application/json")
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)

    async def push(subscription: Subscription) -> None:
        while True:
            event = await subscription.get()
            if event is None:
                await ws.close(code=4000, message=b"resync")
                return
            payload: dict[str, Any] | None = None
            if isinstance(event, ConversationQueued):
                payload = {
                    "type": "queued",
                    "conversation": await conversation_summary(ctx, event.conversation),
                }
            elif isinstance(event, ConversationAssigned):
                payload = {
                    "type": "assigned",
                    "conversation": await conversation_summary(ctx, event.conversation),
                }
            elif isinstance(event, ConversationClosed):
                payload = {
                    "type": "closed",
                    "conversation": await conversation_summary(ctx, event.conversation),
                }
            elif isinstance(event, (MessageStored, MessageUpdated)):
                conv = event.conversation
                visible = conv.status is ConversationStatus.QUEUED or conv.assignee_id == user.id
                if visible or user.role.value in ("supervisor", "admin"):
                    kind = "message" if isinstance(event, MessageStored) else "message_updated"
                    payload = {"type": kind, "message": event.message.to_json(ctx.city)}
            elif isinstance(event, CallOffered) and event.agent_id == user.id:  # rings this agent's softphone
                payload = {
                    "type": "call_offered",
                    "conversation": await conversation_summary(ctx, event.conversation),
                    "caller": mask(event.caller) if event.caller else None,
                }
            elif isinstance(event, CallFinished):
                payload = {
                    "type": "call_finished",
                    "conversation_id": event.conversation.id,
                    "call_id": event.call_id,
                    "cause": event.cause,
                }
            if payload is not None and not ws.closed:
                await ws.send_str(_dumps(payload))

    async with ctx.bus.stream() as subscription:
        pusher = asyncio.create_task(push(subscription))
        try:
            await ws.send_str(_dumps({"type": "hello", "user": {"id": user.id, "name": user.display_name}}))
            async for frame in ws:
                if frame.type is WSMsgType.TEXT and frame.data == '{"type":"ping"}':
                    await ws.send_str('{"type":"pong"}')
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
    return ws


def setup(app: web.Application, queue: ChatQueue) -> None:
    """Mount the inbox page, its WebSocket and API on the hub's app."""
    app[QUEUE] = queue
    app.router.add_static("/static/routing", STATIC_DIR, name="routing_static", append_version=True)
    app.router.add_get("/agent", inbox_page)
    app.router.add_get("/agent/ws", inbox_socket)
    app.router.add_get("/api/inbox", inbox_list)
    app.router.add_get("/api/conversations/{id}", conversation_detail)
    app.router.add_post("/api/conversations/{id}/claim", claim)
    app.router.add_post("/api/conversations/{id}/reply", reply)
    app.router.add_post("/api/conversations/{id}/close", close)
