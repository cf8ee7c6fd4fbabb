"""The citizen web chat channel: the chat page and its WebSocket.

WebSocket protocol (JSON text frames):
  client → hub  {"type": "hello", "conversation_id": str | null, "last_id": int}
                {"type": "message", "text": str, "client_id": str}   (client_id: the client's dedupe id)
                {"type": "location", "lat": float, "lon": float, "accuracy": float | null, "client_id": str}
                {"type": "ping"}
  hub → client  {"type": "ready", "conversation_id": str, "status": str}
                {"type": "message", "message": {...}}     (history after last_id, then live; a bot message
                                                            that asks for a phone has "asks_phone": true)
                {"type": "ack", "client_id": str, "id": int}   (sent only after the message is stored)
                {"type": "status", "status": str}
                {"type": "error", "code": str, "message": str, "client_id"?: str}
                {"type": "pong"}

The page's language (``?lang=`` on the socket's URL, sent by the page) becomes the conversation's locale, so the
bot answers in the language the page shows. Photos are uploaded over HTTP (uploads.py), not this socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from channels.web_chat import uploads
from hub.conversation_service import ConversationNotFound, InvalidMessage
from hub.events import ConversationAssigned, ConversationClosed, ConversationQueued, MessageStored, Subscription
from hub.i18n import normalise_locale, t, texts
from hub.intake import Inbound, Stored
from hub.models import Conversation, SenderKind
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from hub.work_orders.reply_photos import photo_path

log = logging.getLogger(__name__)

CHANNEL_WEB = uploads.CHANNEL_WEB
WS_MAX_FRAME = 256 * 1024
STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
# A bot message asking for the citizen's phone (the page shows its privacy notice again).
_PHONE_ASK = re.compile(
    r"联系电话|联系方式|手机号|电话号码|留.{0,6}电话|(phone|contact) number|your (phone|number)", re.IGNORECASE
)
# The text of a shared location: readable, and what the dialogue engine takes as the place.
LOCATION_TEXT = "位置：纬度{lat:.5f}, 经度{lon:.5f}"
LOCATION_PATTERN = re.compile(r"位置[：:]\s*纬度\s*(-?\d{1,2}(?:\.\d+)?)\s*[,，]\s*经度\s*(-?\d{1,3}(?:\.\d+)?)")


def asks_for_phone(message_json: dict[str, Any], dialogue_state: object = None) -> bool:
    """Whether a bot message asks the citizen for a phone (the dialogue is asking for it, or its text does)."""
    if message_json.get("sender") != SenderKind.BOT.value:
        return False
    if isinstance(dialogue_state, dict) and dialogue_state.get("asking") == "phone":
        return True
    return bool(_PHONE_ASK.search(str(message_json.get("text", ""))))


def location_text(lat: float, lon: float) -> str:
    """The message text of a shared location (``位置：纬度30.27460, 经度120.15510``)."""
    return LOCATION_TEXT.format(lat=lat, lon=lon)


def _coordinate(value: object, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and -bound <= number <= bound else None


async def chat_page(request: web.Request) -> web.StreamResponse:
    """GET /chat: the citizen chat page."""
    ctx = request.app[CTX]
    limit = request.app[uploads.CHAT_CONFIG].max_upload_bytes
    return aiohttp_jinja2.render_template(
        "web_chat/chat.html",
        request,
        {"max_chars": ctx.service.limits.max_chars, "max_upload_bytes": limit,
         "max_upload_mib": uploads.mib(limit), "strings": texts(locale_of(request), "chat.")},
    )  # fmt: skip


async def privacy_page(request: web.Request) -> web.StreamResponse:
    """GET /chat/privacy: how the chat uses citizens' personal data."""
    return aiohttp_jinja2.render_template("web_chat/privacy.html", request, {})


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

    async def send_message(self, message_json: dict[str, Any], dialogue_state: object = None) -> None:
        if message_json["id"] in self.sent_ids:
            return
        self.sent_ids.add(message_json["id"])
        self.last_sent = max(self.last_sent, message_json["id"])
        if asks_for_phone(message_json, dialogue_state):
            message_json = {**message_json, "asks_phone": True}
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
            chosen = self.request.query.get("lang")
            if chosen and normalise_locale(chosen) != conversation.locale:  # the page's language switch
                conversation = await self.ctx.conversations.update(conversation.id, locale=normalise_locale(chosen))
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

    async def _open_conversation(self, client_id: object) -> Conversation | None:
        """The conversation a citizen's message with ``client_id`` goes to; None (the error sent) if it cannot."""
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
            await self.send(_error("invalid_client_id", "client_id must be a short string"))
            return None
        if self.conversation is None:
            await self.send(_error("no_conversation", "send hello first", client_id=client_id))
        return self.conversation

    def _acknowledger(self, client_id: object) -> Callable[[Stored], Awaitable[None]]:
        """Acknowledges a citizen's message once it is stored (not yet answered: the bot turn comes after)."""

        async def acknowledge(stored: Stored) -> None:
            await self.send({"type": "ack", "client_id": client_id, "id": stored.message.id})
            await self.send_message(stored.message.to_json(self.ctx.city))

        return acknowledge

    async def message(self, data: dict[str, Any]) -> None:
        client_id = data.get("client_id")
        if (conversation := await self._open_conversation(client_id)) is None:
            return

        try:
            text = self.ctx.service.validate_text(data.get("text"))
            inbound = Inbound(CHANNEL_WEB, text, conversation_id=conversation.id, external_id=client_id)
            await self.ctx.service.receive(inbound, on_stored=self._acknowledger(client_id))
        except InvalidMessage as exc:
            await self.send(_error("invalid_message", str(exc), client_id=client_id))

    async def location(self, data: dict[str, Any]) -> None:
        """The citizen shared the browser's position: a message with a location attachment, for the bot too."""
        client_id = data.get("client_id")
        if (conversation := await self._open_conversation(client_id)) is None:
            return
        lat, lon = _coordinate(data.get("lat"), 90.0), _coordinate(data.get("lon"), 180.0)
        accuracy = _coordinate(data.get("accuracy"), 1e7) if data.get("accuracy") is not None else None
        if lat is None or lon is None or (accuracy is not None and accuracy < 0):
            await self.send(_error("invalid_location", "lat, lon (and accuracy) must be numbers", client_id=client_id))
            return
        record = {"kind": "location", "lat": round(lat, 6), "lon": round(lon, 6),
                  "accuracy": None if accuracy is None else round(accuracy, 1)}  # fmt: skip

        inbound = Inbound(
            CHANNEL_WEB, location_text(lat, lon), conversation_id=conversation.id, external_id=client_id,
            attachments=(record,),
        )  # fmt: skip
        await self.ctx.service.receive(inbound, on_stored=self._acknowledger(client_id))

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
                await self.send_message(event.message.to_json(self.ctx.city), event.conversation.dialogue_state)
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
        elif kind == "location":
            await self.location(data)
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.send(_error("unknown_type", "type must be hello, message, location or ping"))


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
    """GET /chat/photos/{message_id}/{index}?c=CONVERSATION: a photo of the chat (a department's reply, or the
    citizen's own upload).

    The conversation id (known only to the citizen's browser) must be the message's, on the web chat.
    """
    ctx = request.app[CTX]
    index = int(request.match_info["index"])
    message = await ctx.service.reads.message(int(request.match_info["message_id"]))
    if message is None or message.conversation_id != request.query.get("c") or index >= len(message.attachments):
        raise web.HTTPNotFound()
    conversation = await ctx.service.reads.get(message.conversation_id)
    record = message.attachments[index]
    if conversation.channel != CHANNEL_WEB:
        raise web.HTTPNotFound()
    if isinstance(record, dict) and record.get("source") == uploads.SOURCE:  # the citizen's own photo
        own = uploads.photo_file(request.app[uploads.CHAT_CONFIG], record)
        if own is None:
            raise web.HTTPNotFound()
        return uploads.photo_response(own, record)
    path = photo_path(ctx.outbound_files, record)
    if path is None:
        raise web.HTTPNotFound()
    headers = {
        "Content-Type": str(record["content_type"]),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=86400",
    }
    return web.FileResponse(path, headers=headers)


def setup(app: web.Application, *, data_dir: Path, max_upload_bytes: int | None = None) -> None:
    """Mount the web chat on the hub's app and report its health.

    Citizens' photos go to ``<data_dir>/attachments/web_chat``; the largest accepted is ``max_upload_bytes``
    (default ``$REXIAN_CHAT_MAX_UPLOAD_MB`` MiB, else 10 MiB).
    """
    uploads.setup(app, data_dir, max_upload_bytes)
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/chat/privacy", privacy_page)
    app.router.add_get("/chat/ws", chat_socket)
    app.router.add_get(r"/chat/photos/{message_id:\d{1,12}}/{index:\d{1,3}}", notice_photo)
    app.router.add_static("/static/web_chat", STATIC_DIR, name="web_chat_static", append_version=True)

    async def health() -> dict[str, Any]:
        return {"status": "ok", "path": "/chat/ws"}

    app[CTX].channel_health[CHANNEL_WEB] = health
