"""The agents' shared inbox: page, live WebSocket and JSON API (login with an inbox role required).

Conversations wait in the hub's one switchboard (:mod:`routing.switchboard`), which assigns them to available
agents. The views, search, unread markers and notes are in :mod:`routing.inbox_views`, canned replies in
:mod:`routing.canned`, the agent's status and text offers in :mod:`routing.agent_status`.

- ``GET /agent``: the page; ``GET /agent/ws``: live events (queue changes, messages and private notes of the
  conversations the user may see; the agent's own status and text offers from the switchboard).
- ``GET /api/conversations/{id}``: transcript, private notes, NLU, KB suggestions above the floor, contact,
  history, orders (viewing it marks it read for the user).
- ``POST /api/conversations/{id}/claim`` (a pick through the switchboard, see :func:`claim`), ``/reply``
  ``{"text"}``, ``/close`` ``{"outcome"}`` (the outcome is optional for API clients; the page always asks for one,
  see :mod:`routing.outcomes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, WSMsgType, web

from hub.conversation_service import InvalidMessage, NotAllowed
from hub.dialogue.ports import KbAnswer
from hub.events import (
    CallFinished,
    CallOffered,
    ConversationAssigned,
    ConversationClosed,
    ConversationQueued,
    MessageStored,
    MessageUpdated,
    NoteAdded,
    Subscription,
)
from hub.i18n import t
from hub.logsafe import mask
from hub.models import INBOX_ROLES, Conversation, ConversationStatus
from hub.storage.canned import CannedStore
from hub.storage.inbox_queries import InboxQueries
from hub.storage.notes import NoteStore
from hub.web.api_v1.canned import HOTLINE
from hub.web.auth import require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import labels, locale_of
from routing import agent_status, api_agents, canned, inbox_views
from routing.agent_status import AgentFeed, await_assignment, break_choices, pick_refusal
from routing.engine import AgentStatus, RoutingError
from routing.inbox_common import (
    SETTINGS,
    STAFF_MANAGERS,
    STORES,
    InboxSettings,
    InboxStores,
    agent_of,
    dumps,
    error,
    json_response,
    load_conversation,
    read_json,
)
from routing.inbox_views import message_labels, names, nlu_display, unanswered
from routing.outcomes import OUTCOMES, is_outcome
from routing.switchboard import SWITCHBOARD

log = logging.getLogger(__name__)

CallRecords = Callable[[web.Request, str], Awaitable[list[dict[str, Any]]]]
CALL_RECORDS: web.AppKey[CallRecords] = web.AppKey("call_records")  # set by the voice channel's web module
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


_dumps = dumps
_json = json_response


async def conversation_summary(ctx: HubContext, conversation: Conversation, locale: str = "zh-CN") -> dict[str, Any]:
    """What the inbox list shows for a conversation (times with the city's offset, as every staff API)."""
    last = await ctx.conversations.last_message(conversation.id)
    subject_of = ctx.subjects.get(conversation.channel)
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status.value,
        "assignee_id": conversation.assignee_id,
        "handoff_reason": conversation.handoff_reason,
        "request_type": conversation.request_type,
        "industry": conversation.industry,
        **names(ctx, locale, conversation.request_type, conversation.industry),
        "outcome": conversation.outcome,
        "queued_at": ctx.city.iso(conversation.queued_at),
        "updated_at": ctx.city.iso(conversation.updated_at),
        "closed_at": ctx.city.iso(conversation.closed_at),
        "last_text": (last.text[:80] if last else ""),
        "subject": await subject_of(conversation.id) if subject_of is not None else None,
    }


def suggestions(request: web.Request, text: str | None, industry: str | None) -> list[KbAnswer]:
    """KB articles for the citizen's last question that reach the inbox's confidence floor."""
    kb = request.app[CTX].kb
    if kb is None or not text:
        return []
    floor = request.app[SETTINGS].kb_floor
    return [s for s in kb.search(text, k=3) if s.confidence >= floor]


@require_roles(INBOX_ROLES)
async def inbox_page(request: web.Request) -> web.StreamResponse:
    """GET /agent: the inbox page."""
    locale = locale_of(request)
    tax = request.app[CTX].taxonomy()
    strings = labels(locale, "voice.", "telegram.", "inbox.", "outcome.", "canned.")
    choices = {
        "types": [[t.code, t.name(locale)] for t in tax.request_types.values()],
        "industries": [[i.code, i.name(locale)] for i in tax.industries.values()],
        "channels": sorted([[k.split(".", 1)[1], v] for k, v in strings.items() if k.startswith("channel.")]),
        "statuses": [[code, strings.get(f"status.{code}", code)] for code in inbox_views.STATUSES],
        "waiting": list(inbox_views.WAITING_CHOICES),
        "outcomes": [[code, strings.get(f"outcome.{code}", code)] for code in OUTCOMES],
        "break_reasons": break_choices(request.app[SWITCHBOARD], locale),
    }
    user = agent_of(request)
    return aiohttp_jinja2.render_template(
        "agent.html",
        request,
        {
            "labels": strings,
            "choices": choices,
            "manager": user.role in STAFF_MANAGERS,
            "outcomes": choices["outcomes"],
        },
    )


_load = load_conversation


@require_roles(INBOX_ROLES, api=True)
async def conversation_detail(request: web.Request) -> web.StreamResponse:
    """GET /api/conversations/{id}: transcript, notes, NLU result, the citizen's history and work orders.

    Viewing a conversation marks its messages read for the user.
    """
    ctx = request.app[CTX]
    locale = locale_of(request)
    user = agent_of(request)
    stores = request.app[STORES]
    conversation = await _load(request)
    messages = await ctx.conversations.messages(conversation.id)
    if messages:
        await stores.queries.mark_read(user.id, conversation.id, messages[-1].id)
    nlu = next((m.nlu for m in reversed(messages) if m.nlu), None)
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    history: list[dict[str, Any]] = []
    orders = await ctx.work_orders.list_for_conversation(conversation.id)
    if contact is not None:
        for earlier in await ctx.conversations.list_for_contact(contact.id, exclude=conversation.id):
            history.append(await conversation_summary(ctx, earlier, locale))
        known = {o.id for o in orders}
        orders += [o for o in await ctx.work_orders.list_for_contact(contact.id) if o.id not in known]
    tax = ctx.taxonomy()
    last_citizen = next((m for m in reversed(messages) if m.sender_kind.value == "citizen"), None)
    found = suggestions(request, last_citizen.text if last_citizen else None, conversation.industry)
    call_records = request.app.get(CALL_RECORDS)
    shown = []
    for m in messages:
        item = m.to_json(ctx.city)
        if m.sender_kind.value == "citizen":
            item["labels"] = message_labels(ctx, m, locale)
        shown.append(item)
    return _json(
        {
            "conversation": await conversation_summary(ctx, conversation, locale),
            "calls": await call_records(request, conversation.id) if call_records is not None else [],
            "kb_suggestions": [
                {"article_id": s.article_id, "question": s.question, "answer": s.answer, "confidence": s.confidence}
                for s in found
            ],
            "kb_floor": request.app[SETTINGS].kb_floor,
            "messages": shown,
            "notes": [n.to_json(ctx.city) for n in await stores.notes.for_conversation(conversation.id)],
            "unanswered": unanswered(messages),
            "last_citizen_message_id": last_citizen.id if last_citizen else None,
            "nlu": nlu,
            "nlu_display": nlu_display(ctx, nlu, locale),
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
                    "unit_name": tax.units[o.unit].name(locale) if o.unit in tax.units else None,
                    "address": o.address,
                    "created_at": ctx.city.iso(o.created_at),
                }
                for o in orders
            ],
        }
    )


_agent = agent_of


@require_roles(INBOX_ROLES, api=True)
async def claim(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/claim: take a waiting conversation.

    A conversation waiting in the switchboard is *picked* (:meth:`Switchboard.pick`): the queue must allow it and
    the agent must be eligible and have room, else 409 with the reason (``{"error": "conflict", "reason": code,
    "message"}``). An agent who is offline in routing, or a conversation the router does not hold (a voice
    conversation), is claimed directly through the conversation service as before (the router lets the item go).
    """
    ctx = request.app[CTX]
    board = request.app[SWITCHBOARD]
    conversation = await _load(request)
    user = _agent(request)
    agent = board.router.agents.get(user.id)
    if conversation.id in board.router.items and agent is not None and agent.presence is not AgentStatus.OFFLINE:
        refusal = pick_refusal(board, user.id, conversation.id)
        if refusal is None:
            try:
                picked = await await_assignment(
                    ctx, conversation.id, user.id, lambda: board.pick(user.id, conversation.id)
                )
            except RoutingError:
                refusal = "not_waiting"
            else:
                refusal = None if picked else "not_waiting"
        if refusal is not None:
            message = t(f"inbox.pick.{refusal}", locale_of(request))
            return _json({"error": "conflict", "reason": refusal, "message": message}, status=409)
        claimed = await ctx.conversations.get(conversation.id)
    else:
        try:
            claimed = await ctx.service.claim(conversation.id, user)
        except NotAllowed as exc:
            return _json({"error": "conflict", "message": str(exc)}, status=409)
    return _json(await conversation_summary(ctx, claimed))


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
    """POST /api/conversations/{id}/close {"outcome": code} (outcome optional: one of routing.outcomes)."""
    conversation = await _load(request)
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    outcome = body.get("outcome")
    if outcome is not None and not is_outcome(outcome):
        return error(400, "unknown_outcome")
    try:
        closed = await request.app[CTX].service.close(conversation.id, _agent(request), outcome)
    except NotAllowed as exc:
        return _json({"error": "conflict", "message": str(exc)}, status=409)
    return _json(await conversation_summary(request.app[CTX], closed, locale_of(request)))


@require_roles(INBOX_ROLES, api=True)
async def inbox_socket(request: web.Request) -> web.StreamResponse:
    """GET /agent/ws: live inbox events (queue changes and messages of visible conversations)."""
    ctx = request.app[CTX]
    user = _agent(request)
    locale = locale_of(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text='{"error": "cross_origin"}', content_type="application/json")
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)

    def may_see(conv: Conversation) -> bool:  # what this user's inbox is told about live
        visible = conv.status is ConversationStatus.QUEUED or conv.assignee_id == user.id
        return visible or user.role in STAFF_MANAGERS

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
                    "conversation": await conversation_summary(ctx, event.conversation, locale),
                }
            elif isinstance(event, ConversationAssigned):
                payload = {
                    "type": "assigned",
                    "conversation": await conversation_summary(ctx, event.conversation, locale),
                }
            elif isinstance(event, ConversationClosed):
                payload = {
                    "type": "closed",
                    "conversation": await conversation_summary(ctx, event.conversation, locale),
                }
            elif isinstance(event, (MessageStored, MessageUpdated)):
                conv = event.conversation
                if may_see(conv):
                    kind = "message" if isinstance(event, MessageStored) else "message_updated"
                    payload = {
                        "type": kind,
                        "message": event.message.to_json(ctx.city),
                        "conversation_state": {
                            "id": conv.id,
                            "status": conv.status.value,
                            "assignee_id": conv.assignee_id,
                            "channel": conv.channel,
                        },
                    }
            elif isinstance(event, NoteAdded) and may_see(event.conversation):  # the page drops what it shows
                payload = {"type": "note", "note": event.note.to_json(ctx.city)}
            elif isinstance(event, CallOffered) and event.agent_id == user.id:  # rings this agent's softphone
                payload = {
                    "type": "call_offered",
                    "conversation": await conversation_summary(ctx, event.conversation, locale),
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

    async def send(payload: dict[str, Any]) -> None:
        if not ws.closed:
            await ws.send_str(_dumps(payload))

    board = request.app[SWITCHBOARD]
    feed = AgentFeed(board, ctx, user.id, locale)  # this agent's status and text offers
    stop_feed = board.listen(feed.on_change)
    sockets = request.app[INBOX_SOCKETS]
    sockets.add(ws)
    async with ctx.bus.stream() as subscription:
        tasks = [asyncio.create_task(push(subscription)), asyncio.create_task(feed.run(send))]
        try:
            await ws.send_str(_dumps({"type": "hello", "user": {"id": user.id, "name": user.display_name}}))
            async for frame in ws:
                if frame.type is WSMsgType.TEXT and frame.data == '{"type":"ping"}':
                    await ws.send_str('{"type":"pong"}')
        finally:
            sockets.discard(ws)
            stop_feed()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return ws


INBOX_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("inbox_sockets", set)


async def _close_sockets(app: web.Application) -> None:
    """Shutdown: close every open inbox socket so the server does not wait for them."""
    open_sockets: set[web.WebSocketResponse] = app[INBOX_SOCKETS]
    for ws in list(open_sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def setup(app: web.Application, settings: InboxSettings | None = None) -> None:
    """Mount the inbox page, its WebSocket and API (and the views, notes, canned replies, the agent's status and
    offers, and the agents' staff API) on the hub's app (after the switchboard is put on it)."""
    app[SETTINGS] = settings or InboxSettings()
    app[INBOX_SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
    app[HOTLINE] = lambda: app[SETTINGS].hotline  # {hotline} of the staff API's canned replies
    engine = app[CTX].conversations.engine
    app[STORES] = InboxStores(InboxQueries(engine), NoteStore(engine), CannedStore(engine))
    app.router.add_static("/static/routing", STATIC_DIR, name="routing_static", append_version=True)
    app.router.add_get("/agent", inbox_page)
    app.router.add_get("/agent/ws", inbox_socket)
    inbox_views.setup(app)
    canned.setup(app)
    agent_status.setup(app)
    api_agents.setup(app)
    app.router.add_get("/api/conversations/{id}", conversation_detail)
    app.router.add_post("/api/conversations/{id}/claim", claim)
    app.router.add_post("/api/conversations/{id}/reply", reply)
    app.router.add_post("/api/conversations/{id}/close", close)
