"""Citizen-facing endpoints: the web chat page and WebSocket, and the Rasa-compatible REST channel.

WebSocket protocol (JSON text frames):
  client → hub  {"type": "hello", "conversation_id": str | null, "last_id": int}
                {"type": "message", "text": str, "client_id": str}   (client_id: the client's dedupe id)
                {"type": "ping"}
  hub → client  {"type": "ready", "conversation_id": str, "status": str}
                {"type": "message", "message": {...}}     (history after last_id, then live)
                {"type": "ack", "client_id": str, "id": int}   (sent only after the message is stored)
                {"type": "status", "status": str}
                {"type": "error", "code": str, "message": str, "client_id"?: str}
                {"type": "pong"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from hub.conversation_service import InvalidMessage
from hub.events import ConversationAssigned, ConversationClosed, ConversationQueued, Event, MessageStored
from hub.i18n import t
from hub.models import Conversation, SenderKind
from hub.storage.conversations import ConversationNotFound
from hub.web.context import CTX
from hub.web.i18n_web import locale_of

log = logging.getLogger(__name__)

CHANNEL_WEB = "web_chat"
CHANNEL_REST = "rest"
WS_MAX_FRAME = 256 * 1024


async def chat_page(request: web.Request) -> web.StreamResponse:
    """GET /chat: the citizen chat page."""
    return aiohttp_jinja2.render_template("chat.html", request, {})


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


class ChatSocket:
    """One citizen WebSocket connection."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request = request
        self.ws = ws
        self.ctx = request.app[CTX]
        self.conversation: Conversation | None = None
        self.sent_ids: set[int] = set()
        self.last_sent = 0

    async def send(self, payload: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(payload, ensure_ascii=False))

    async def send_message(self, message_json: dict[str, Any]) -> None:
        if message_json["id"] in self.sent_ids:
            return
        self.sent_ids.add(message_json["id"])
        self.last_sent = max(self.last_sent, message_json["id"])
        await self.send({"type": "message", "message": message_json})

    async def hello(self, data: dict[str, Any]) -> None:
        conversation_id = data.get("conversation_id")
        last_id = data.get("last_id") or 0
        if not isinstance(last_id, int) or last_id < 0:
            last_id = 0
        if conversation_id is None:
            locale = locale_of(self.request)
            conversation = await self.ctx.conversations.create(CHANNEL_WEB, locale=locale)
            await self.ctx.conversations.add_message(
                conversation.id, direction="out", sender_kind=SenderKind.BOT, text=t("bot.welcome", locale)
            )
            last_id = 0
        else:
            if not isinstance(conversation_id, str) or len(conversation_id) > 64:
                await self.send(_error("invalid_conversation_id", "conversation_id must be a string"))
                return
            try:
                conversation = await self.ctx.conversations.get(conversation_id)
            except ConversationNotFound:
                await self.send(_error("unknown_conversation", "no such conversation; start a new one"))
                return
            if conversation.channel != CHANNEL_WEB:
                await self.send(_error("unknown_conversation", "no such conversation; start a new one"))
                return
        self.conversation = conversation
        self.sent_ids.clear()
        self.last_sent = last_id
        await self.send({"type": "ready", "conversation_id": conversation.id, "status": conversation.status.value})
        for message in await self.ctx.conversations.messages(conversation.id, after_id=last_id):
            await self.send_message(message.to_json())
        # Anything stored but not yet handled (e.g. the hub restarted mid-turn) is handled now.
        self.ctx.service.schedule_turn(conversation.id)

    async def message(self, data: dict[str, Any]) -> None:
        client_id = data.get("client_id")
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
            await self.send(_error("invalid_client_id", "client_id must be a short string"))
            return
        if self.conversation is None:
            await self.send(_error("no_conversation", "send hello first", client_id=client_id))
            return
        try:
            conversation = await self.ctx.conversations.get(self.conversation.id)
            stored = await self.ctx.service.accept(conversation, data.get("text"), client_id)
        except InvalidMessage as exc:
            await self.send(_error("invalid_message", str(exc), client_id=client_id))
            return
        await self.send({"type": "ack", "client_id": client_id, "id": stored.id})
        await self.send_message(stored.to_json())
        self.ctx.service.schedule_turn(conversation.id)

    async def forward(self, queue: asyncio.Queue[Event | None]) -> None:
        """Push live events of this conversation to the citizen."""
        while True:
            event = await queue.get()
            if event is None:  # overflowed: close so the client reconnects and resyncs
                await self.ws.close(code=4000, message=b"resync")
                return
            conv = self.conversation
            if conv is None:
                continue
            if isinstance(event, MessageStored) and event.conversation.id == conv.id:
                await self.send_message(event.message.to_json())
            elif (
                isinstance(event, ConversationQueued | ConversationAssigned | ConversationClosed)
                and event.conversation.id == conv.id
            ):
                await self.send({"type": "status", "status": event.conversation.status.value})

    async def run(self) -> None:
        async with self.ctx.bus.stream() as queue:
            forwarder = asyncio.create_task(self.forward(queue))
            try:
                async for frame in self.ws:
                    if frame.type is not WSMsgType.TEXT:
                        if frame.type is WSMsgType.BINARY:
                            await self.send(_error("binary_not_supported", "send JSON text frames"))
                        continue
                    await self.dispatch(frame.data)
            finally:
                forwarder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarder

    async def dispatch(self, raw: str) -> None:
        try:
            data = json.loads(raw)
        except ValueError:
            await self.send(_error("invalid_json", "frames must be JSON objects"))
            return
        if not isinstance(data, dict):
            await self.send(_error("invalid_json", "frames must be JSON objects"))
            return
        kind = data.get("type")
        if kind == "hello":
            await self.hello(data)
        elif kind == "message":
            await self.message(data)
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.send(_error("unknown_type", "type must be hello, message or ping"))


async def chat_socket(request: web.Request) -> web.StreamResponse:
    """GET /chat/ws: the citizen WebSocket."""
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=WS_MAX_FRAME)
    await ws.prepare(request)
    try:
        await ChatSocket(request, ws).run()
    except ConnectionResetError:
        log.info("citizen websocket reset")
    return ws


async def rest_webhook(request: web.Request) -> web.StreamResponse:
    """POST /webhooks/rest/webhook: Rasa's REST input channel contract.

    Answers with every message the sender has not received yet: the bot's replies to this message, and
    agent or system messages written since the sender's previous request.
    """
    ctx = request.app[CTX]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "invalid_json", "message": "body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "invalid_json", "message": "body must be a JSON object"}, status=400)
    sender = body.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if not isinstance(sender, str) or not sender.strip() or len(sender) > 200:
        return web.json_response({"error": "invalid_sender", "message": "sender must be a string id"}, status=400)
    try:
        text = ctx.service.validate_text(body.get("message"))
    except InvalidMessage as exc:
        status = 413 if "longer" in str(exc) else 400
        return web.json_response({"error": "invalid_message", "message": str(exc)}, status=status)
    async with ctx.service.sender_lock(CHANNEL_REST, sender):
        conversation = await ctx.conversations.get_or_create_by_ref(CHANNEL_REST, sender)
        stored = await ctx.service.accept(
            conversation, text, body.get("message_id") if isinstance(body.get("message_id"), str) else None
        )
        await ctx.service.process_pending(conversation.id)
        cursor = max(conversation.delivered_id or 0, 0)
        pending = [
            m for m in await ctx.conversations.messages(conversation.id, after_id=cursor) if m.direction == "out"
        ]
        if pending:
            await ctx.conversations.update(conversation.id, delivered_id=pending[-1].id)
    log.debug("rest message %s stored in %s", stored.id, conversation.id)
    return web.json_response(
        [{"recipient_id": sender, "text": m.text} for m in pending],
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )
