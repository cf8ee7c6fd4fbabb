"""The citizen web chat channel: the chat page and its WebSocket.

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
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from hub.conversation_service import ConversationNotFound, InvalidMessage
from hub.events import ConversationAssigned, ConversationClosed, ConversationQueued, MessageStored, Subscription
from hub.i18n import t
from hub.intake import Inbound, Stored
from hub.models import Conversation, SenderKind
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from hub.work_orders.reply_photos import photo_path

log = logging.getLogger(__name__)

CHANNEL_WEB = "web_chat"
WS_MAX_FRAME = 256 * 1024
STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"


async def chat_page(request: web.Request) -> web.StreamResponse:
    """GET /chat: the citizen chat page."""
    return aiohttp_jinja2.render_template("web_chat/chat.html", request, {})


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
        self.subscription: Subscription | None = None

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
            conversation = await self.ctx.service.open(CHANNEL_WEB, locale=locale)
            await self.ctx.service.post(conversation, t("bot.welcome", locale), sender=SenderKind.BOT)
            last_id = 0
        else:
            if not isinstance(conversation_id, str) or len(conversation_id) > 64:
                await self.send(_error("invalid_conversation_id", "conversation_id must be a string"))
                return
            try:
                conversation = await self.ctx.service.reads.get(conversation_id)
            except ConversationNotFound:
                await self.send(_error("unknown_conversation", "no such conversation; start a new one"))
                return
            if conversation.channel != CHANNEL_WEB:
                await self.send(_error("unknown_conversation", "no such conversation; start a new one"))
                return
        self.conversation = conversation
        if self.subscription is not None:
            self.subscription.follow(conversation.id)
        self.sent_ids.clear()
        self.last_sent = last_id
        await self.send({"type": "ready", "conversation_id": conversation.id, "status": conversation.status.value})
        for message in await self.ctx.service.reads.messages(conversation.id, after_id=last_id):
            await self.send_message(message.to_json(self.ctx.city))
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

        async def acknowledge(stored: Stored) -> None:  # stored, not yet answered: the bot turn comes after
            await self.send({"type": "ack", "client_id": client_id, "id": stored.message.id})
            await self.send_message(stored.message.to_json(self.ctx.city))

        try:
            text = self.ctx.service.validate_text(data.get("text"))
            inbound = Inbound(CHANNEL_WEB, text, conversation_id=self.conversation.id, external_id=client_id)
            await self.ctx.service.receive(inbound, on_stored=acknowledge)
        except InvalidMessage as exc:
            await self.send(_error("invalid_message", str(exc), client_id=client_id))

    async def forward(self, subscription: Subscription) -> None:
        """Push live events of this conversation to the citizen."""
        while True:
            event = await subscription.get()
            if event is None:  # overflowed: close so the client reconnects and resyncs
                await self.ws.close(code=4000, message=b"resync")
                return
            conv = self.conversation
            if conv is None:
                continue
            if isinstance(event, MessageStored) and event.conversation.id == conv.id:
                await self.send_message(event.message.to_json(self.ctx.city))
            elif (
                isinstance(event, ConversationQueued | ConversationAssigned | ConversationClosed)
                and event.conversation.id == conv.id
            ):
                await self.send({"type": "status", "status": event.conversation.status.value})

    async def run(self) -> None:
        # Keyed to a conversation that does not exist yet: nothing arrives until hello() follows one.
        async with self.ctx.bus.stream(key="") as subscription:
            self.subscription = subscription
            forwarder = asyncio.create_task(self.forward(subscription))
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


async def notice_photo(request: web.Request) -> web.StreamResponse:
    """GET /chat/photos/{message_id}/{index}?c=CONVERSATION: a photo sent to the citizen (a department's reply).

    The conversation id (known only to the citizen's browser) must be the message's, on the web chat.
    """
    ctx = request.app[CTX]
    index = int(request.match_info["index"])
    message = await ctx.service.reads.message(int(request.match_info["message_id"]))
    if message is None or message.conversation_id != request.query.get("c") or index >= len(message.attachments):
        raise web.HTTPNotFound()
    conversation = await ctx.service.reads.get(message.conversation_id)
    record = message.attachments[index]
    path = photo_path(ctx.outbound_files, record) if conversation.channel == CHANNEL_WEB else None
    if path is None:
        raise web.HTTPNotFound()
    headers = {
        "Content-Type": str(record["content_type"]),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=86400",
    }
    return web.FileResponse(path, headers=headers)


def setup(app: web.Application) -> None:
    """Mount the web chat on the hub's app and report its health."""
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/chat/ws", chat_socket)
    app.router.add_get(r"/chat/photos/{message_id:\d{1,12}}/{index:\d{1,3}}", notice_photo)
    app.router.add_static("/static/web_chat", STATIC_DIR, name="web_chat_static", append_version=True)

    async def health() -> dict[str, Any]:
        return {"status": "ok", "path": "/chat/ws"}

    app[CTX].channel_health[CHANNEL_WEB] = health
