"""Staff API of call-backs and voicemail answers (mounted by :func:`channels.voice.web.setup`; UI: callback.js).

- ``POST /api/voice/callback`` ``{"conversation_id"?, "order_number"?, "number"}``: the signed-in agent calls a
  citizen back (202 ``{"call_id", "callback_id", "state"}``). Only numbers of that conversation or order
  (:mod:`.callback_numbers`), at most ``callback_hourly_cap`` per agent and hour, only with a registered softphone
  and a configured trunk. ``GET /api/voice/callbacks/{id}``: its state.
- ``GET /api/voice/voicemail/{message_id}``: who played, answered or deleted a voicemail, and when.
- ``POST /api/voice/voicemail/{message_id}/sms`` ``{"text"}``: an SMS answer to the caller's mobile through the SMS
  notice route (the hub's :class:`~hub.notices.NoticeRoutes`: channels never import each other).
- ``DELETE /api/voice/voicemail/{message_id}`` (or ``POST .../delete``): removes the audio file, keeps the message
  (its attachment becomes ``audio_deleted`` with who and when) and the audit row.
- ``GET /api/voice/strings``: the call-back UI's strings in the page's locale.

Errors are ``{"error": code, "message": text}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.clock import utc_now
from hub.conversation_service import ConversationNotFound, InvalidMessage
from hub.i18n import t, texts
from hub.logsafe import mask
from hub.models import INBOX_ROLES, Conversation, Message, Role, SenderKind, User
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.extensions import INBOX_PAGE, ORDER_PAGE, add_page_script
from hub.web.i18n_web import locale_of

from .callback import CallbackDesk, CallbackError
from .callback_numbers import allowed_for_conversation, allowed_for_order, is_mobile, normalise
from .outbound_store import OutboundStore

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
CALLBACKS: web.AppKey[Any] = web.AppKey("voice_callbacks")  # () -> CallbackDesk | None (voice on and started)
OUTBOUND: web.AppKey[OutboundStore] = web.AppKey("voice_outbound", OutboundStore)
AUDIT_ROLES = INBOX_ROLES | {Role.SUPERVISOR, Role.LEADER}
_locks: dict[int, asyncio.Lock] = {}


def error(request: web.Request, status: int, code: str, **params: Any) -> web.Response:
    """``{"error": code, "message": text}`` in the user's language."""
    message = t(f"voice.callback.error.{code}", locale_of(request), **params)
    return web.json_response({"error": code, "message": message}, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    return body if isinstance(body, dict) else {}


def _user(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None
    return user


@require_roles(INBOX_ROLES, api=True)
async def start_callback(request: web.Request) -> web.StreamResponse:
    """POST /api/voice/callback: ring the agent's softphone, then the citizen."""
    ctx = request.app[CTX]
    user = _user(request)
    body = await _body(request)
    number = normalise(body.get("number"))
    conversation_id, order_number = body.get("conversation_id"), body.get("order_number")
    if number is None:
        return error(request, 400, "bad_number")
    if not isinstance(conversation_id, str) and not isinstance(order_number, str | int):
        return error(request, 400, "no_case")
    conversation: Conversation | None = None
    order_key: str | None = None
    if isinstance(conversation_id, str):
        try:
            conversation = await ctx.conversations.get(conversation_id)
        except ConversationNotFound:
            return error(request, 404, "unknown_conversation")
        allowed = await allowed_for_conversation(request.app, conversation)
    else:
        order = await ctx.work_orders.get_by_number(str(order_number))
        if order is None:
            return error(request, 404, "unknown_order")
        order_key = order.number
        allowed = await allowed_for_order(request.app, order)
        if order.conversation_id is not None:  # recorded with the order's conversation (README, ADR 0028)
            conversation = await ctx.conversations.get(order.conversation_id)
    if number not in allowed:
        log.warning("user %s refused a call-back to %s: not a number of the case", user.username, mask(number))
        return error(request, 403, "number_not_allowed")
    desk: CallbackDesk | None = request.app[CALLBACKS]()
    if desk is None:
        return error(request, 503, "no_trunk")
    settings = desk.settings
    lock = _locks.setdefault(user.id, asyncio.Lock())
    async with lock:  # the cap is counted and the row written under one lock per agent
        if await desk.store.count_since(user.id) >= settings.callback_hourly_cap:
            return error(request, 429, "hourly_cap", cap=settings.callback_hourly_cap)
        try:
            row = await desk.start(user, number, conversation, order_key)
        except CallbackError as exc:
            return error(request, exc.status, exc.code)
    log.info("user %s calls %s back (call-back %s)", user.username, mask(number), row.id)
    return web.json_response({"call_id": row.call_id, "callback_id": row.id, "state": row.state}, status=202)


@require_roles(INBOX_ROLES, api=True)
async def callback_state(request: web.Request) -> web.StreamResponse:
    """GET /api/voice/callbacks/{id}: the call-back's state (its agent, supervisors and admins)."""
    user = _user(request)
    try:
        row = await request.app[OUTBOUND].get(int(request.match_info["id"]))
    except LookupError:
        return error(request, 404, "unknown_callback")
    if row.agent_id != user.id and user.role is Role.AGENT:
        return error(request, 404, "unknown_callback")
    locale = locale_of(request)
    cause = t(f"voice.cause.{row.cause}", locale) if row.cause else None
    return web.json_response(
        {
            "id": row.id,
            "state": row.state,
            "cause": row.cause,
            "cause_text": cause,
            "sip_status": row.sip_status,
            "call_id": row.call_id,
            "conversation_id": row.conversation_id,
            "work_order_number": row.work_order_number,
            "requested_at": request.app[CTX].city.iso(row.requested_at),
        },
        dumps=_dumps,
    )


# -- voicemail ---------------------------------------------------------------------------------------------------


def voicemail_index(message: Message) -> int | None:
    """Index of the voicemail audio (present or deleted) among the message's attachments."""
    for index, attachment in enumerate(message.attachments):
        voicemail = isinstance(attachment, dict) and attachment.get("label") == "voicemail"
        if voicemail and attachment.get("kind") in ("audio", "audio_deleted"):
            return index
    return None


async def _voicemail(request: web.Request) -> tuple[Message, int] | web.Response:
    message = await request.app[CTX].service.reads.message(int(request.match_info["message_id"]))
    index = voicemail_index(message) if message is not None else None
    if message is None or index is None:
        return error(request, 404, "unknown_voicemail")
    return message, index


@require_roles(AUDIT_ROLES, api=True)
async def voicemail_audit(request: web.Request) -> web.StreamResponse:
    """GET /api/voice/voicemail/{message_id}: plays, SMS answers and the deletion, with who and when."""
    found = await _voicemail(request)
    if isinstance(found, web.Response):
        return found
    message, index = found
    ctx = request.app[CTX]
    actions = await request.app[OUTBOUND].voicemail_actions(message.id)
    found_users = {uid: await ctx.users.get(uid) for uid in {a.user_id for a in actions}}
    users = {uid: u.display_name for uid, u in found_users.items() if u is not None}
    items = [
        {
            "action": a.action,
            "user": users.get(a.user_id, str(a.user_id)),
            "at": ctx.city.iso(a.at),
            "at_local": ctx.city.format(a.at, "%Y-%m-%d %H:%M"),
            "detail": a.detail if a.action == "sms" else None,
        }
        for a in actions
    ]
    deleted = message.attachments[index].get("kind") == "audio_deleted"
    return web.json_response({"message_id": message.id, "deleted": deleted, "actions": items}, dumps=_dumps)


@require_roles(INBOX_ROLES, api=True)
async def voicemail_sms(request: web.Request) -> web.StreamResponse:
    """POST /api/voice/voicemail/{message_id}/sms {"text"}: answer the caller by SMS."""
    found = await _voicemail(request)
    if isinstance(found, web.Response):
        return found
    message, _index = found
    ctx, user = request.app[CTX], _user(request)
    try:
        text = ctx.service.validate_text((await _body(request)).get("text"))
    except InvalidMessage:
        return error(request, 400, "bad_text")
    routes = ctx.notice_routes
    if routes is None or not routes.can_push("sms"):
        return error(request, 503, "sms_unavailable")
    conversation = await ctx.conversations.get(message.conversation_id)
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    address = routes.address("sms", contact) if contact is not None else None
    if contact is None or not address or not is_mobile(address):
        return error(request, 409, "no_mobile")
    target = await ctx.service.conversation_for("sms", address, contact)
    await ctx.service.post(target, text, sender=SenderKind.AGENT)
    await request.app[OUTBOUND].voicemail_action(message.id, user.id, "sms", text)
    note = t("voice.voicemail.sms_sent", conversation.locale, agent=user.display_name, number=address, text=text)
    await ctx.service.post(conversation, note)
    log.info("user %s answered voicemail %s by SMS to %s", user.username, message.id, mask(address))
    return web.json_response({"conversation_id": target.id, "number": address}, status=202)


@require_roles(INBOX_ROLES, api=True)
async def voicemail_delete(request: web.Request) -> web.StreamResponse:
    """DELETE /api/voice/voicemail/{message_id} (or POST .../delete): remove the audio, keep the record."""
    from .web import STATE, resolve_audio

    found = await _voicemail(request)
    if isinstance(found, web.Response):
        return found
    message, index = found
    ctx, user = request.app[CTX], _user(request)
    attachment = dict(message.attachments[index])
    if attachment.get("kind") == "audio_deleted":
        return error(request, 409, "already_deleted")
    data_dir: Path = request.app[STATE].data_dir
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(None, lambda: resolve_audio(data_dir, attachment.get("file")))
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            await loop.run_in_executor(None, path.unlink)
    now = ctx.city.iso(utc_now())
    attachment.pop("file", None)
    attachment.update(kind="audio_deleted", deleted_by=user.display_name, deleted_at=now)
    attachments = [dict(a) for a in message.attachments]
    attachments[index] = attachment
    await ctx.service.set_attachments(message.id, attachments)
    await request.app[OUTBOUND].voicemail_action(message.id, user.id, "delete")
    conversation = await ctx.conversations.get(message.conversation_id)
    await ctx.service.post(conversation, t("voice.voicemail.deleted", conversation.locale, agent=user.display_name))
    log.info("user %s deleted the audio of voicemail %s", user.username, message.id)
    return web.json_response({"message_id": message.id, "deleted": True})


@require_roles(list(Role), api=True)
async def strings(request: web.Request) -> web.StreamResponse:
    """GET /api/voice/strings: the call-back UI's strings."""
    return web.json_response(texts(locale_of(request), "voice.callback.ui.", "voice.cause."), dumps=_dumps)


def setup(app: web.Application, outbound: OutboundStore) -> None:
    """Mount the routes (the channel sets ``app[CALLBACKS]`` when voice is on; else call-backs answer 503)."""
    app[OUTBOUND] = outbound
    app.setdefault(CALLBACKS, lambda: None)
    app.router.add_post("/api/voice/callback", start_callback)
    app.router.add_get("/api/voice/callbacks/{id:\\d{1,12}}", callback_state)
    app.router.add_get("/api/voice/voicemail/{message_id:\\d{1,12}}", voicemail_audit)
    app.router.add_post("/api/voice/voicemail/{message_id:\\d{1,12}}/sms", voicemail_sms)
    app.router.add_delete("/api/voice/voicemail/{message_id:\\d{1,12}}", voicemail_delete)
    app.router.add_post("/api/voice/voicemail/{message_id:\\d{1,12}}/delete", voicemail_delete)
    app.router.add_get("/api/voice/strings", strings)
    app.router.add_static("/static/voice", STATIC_DIR, name="voice_static", append_version=True)
    script = str(app.router["voice_static"].url_for(filename="callback.js"))
    add_page_script(app, INBOX_PAGE, script)
    add_page_script(app, ORDER_PAGE, script)
