"""A small local Telegram Bot API server (Telegram's cloud cannot be reached here).

Methods: getMe, sendMessage (its reply_markup kept), answerCallbackQuery (the ids kept in :attr:`answered`),
setWebhook/getWebhookInfo/deleteWebhook, getUpdates for polling (updates queued with :meth:`push`; confirmed ones
are dropped as Telegram does when a request asks for a higher offset), and getFile plus
``GET /file/bot<token>/<file_path>`` for the files put in :attr:`files` (an unknown ``file_id`` is the Bot API's
400 ``Bad Request: invalid file_id``).

``mode`` switches sendMessage to answer 500; :meth:`stop` and :meth:`start` take the server off the port and back
on the same port (connection refused in between).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_abc"


@dataclass
class SentMessage:
    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None = None  # an inline keyboard, as the Bot API received it


@dataclass
class SentPhoto:
    chat_id: int
    filename: str
    data: bytes


@dataclass
class FakeBotApi:
    token: str = TOKEN
    host: str = "127.0.0.1"
    port: int = 0
    fail_with_500: bool = False
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content
    downloads: list[str] = field(default_factory=list)  # file paths fetched
    photos: list[SentPhoto] = field(default_factory=list)  # sendPhoto uploads
    webhook: dict[str, Any] = field(default_factory=dict)  # what setWebhook registered
    answered: list[str] = field(default_factory=list)  # callback query ids of answerCallbackQuery
    _runner: web.AppRunner | None = None
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self.updates.append(update)
        self._new.set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        return {k: str(v) for k, v in form.items()}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if method == "sendPhoto":
            return await self._photo(request)
        params = await self._params(request)
        if method == "getMe":
            return _ok({"id": 123456, "is_bot": True, "first_name": "Rexian", "username": "rexian_bot"})
        if method == "deleteWebhook":
            self.webhook = {}
            return _ok(True)
        if method == "setWebhook":
            if not str(params.get("url", "")).startswith(("https://", "http://")):
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: invalid url"}, status=400
                )
            self.webhook = params
            return _ok(True)
        if method == "getWebhookInfo":
            return _ok({"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                        "pending_update_count": len(self.updates)})  # fmt: skip
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are gone
            if not self.updates:
                self._new.clear()
                wait = min(float(params.get("timeout") or 0), 0.5)  # a short long-poll keeps tests fast
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), wait)
            return _ok(list(self.updates))
        if method == "answerCallbackQuery":
            self.answered.append(str(params["callback_query_id"]))
            return _ok(True)
        if method == "getFile":
            file_id = str(params.get("file_id") or "")
            if file_id not in self.files:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}, status=400
                )
            return _ok(
                {
                    "file_id": file_id,
                    "file_unique_id": f"u-{file_id}",
                    "file_size": len(self.files[file_id]),
                    "file_path": f"photos/{file_id}.jpg",
                }
            )
        if method == "sendMessage":
            if self.fail_with_500:
                return web.json_response(
                    {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
                )
            chat_id = int(params["chat_id"])
            markup = params.get("reply_markup")
            markup = json.loads(markup) if isinstance(markup, str) else markup
            self.sent.append(SentMessage(chat_id, str(params["text"]), markup))
            return _ok(
                {
                    "message_id": len(self.sent),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": params["text"],
                }
            )
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _photo(self, request: web.Request) -> web.Response:
        """sendPhoto with an uploaded file (multipart/form-data, the way python-telegram-bot sends bytes)."""
        form = await request.post()
        upload = form.get("photo")
        if not isinstance(upload, web.FileField):
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: no photo"}, status=400
            )
        chat_id = int(str(form["chat_id"]))
        self.photos.append(SentPhoto(chat_id, upload.filename, upload.file.read()))
        size = {
            "file_id": f"sent-{len(self.photos)}",
            "file_unique_id": f"u{len(self.photos)}",
            "width": 1,
            "height": 1,
        }
        message = {
            "message_id": 1000 + len(self.photos),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
        }
        return _ok({**message, "photo": [size]})

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        file_id = path.removeprefix("photos/").removesuffix(".jpg")
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]


def _ok(result: Any) -> web.Response:
    return web.Response(text=json.dumps({"ok": True, "result": result}), content_type="application/json")
