"""Citizens' photos in the web chat: the upload, and the routes that show a stored photo.

``POST /chat/upload`` (multipart: ``conversation_id``, ``client_id``, optional ``caption``, ``file``) streams the
file with a size limit (:class:`ChatConfig`, default 10 MiB), checks by its magic bytes that it is a JPEG, PNG,
WebP or HEIC/HEIF image, writes it content-addressed under ``<data dir>/attachments/web_chat`` and stores the
citizen message with the attachment record::

    {"kind": "photo", "source": "web_chat", "sha256": str, "size": int, "content_type": str, "name": str}

Only then does it answer ``200 {"id", "client_id"}``: an acknowledged photo is on disk and in the database. The
stored message reaches the page over the chat's WebSocket like any other. A photo with a caption goes to the
bot (the caption is the message text); a photo alone is for agents (text ``[图片]``), as on Telegram.

Errors are JSON ``{"error": code, "message": text in the page's language}``: 413 ``too_large``, 415
``not_an_image``, 400 ``invalid_upload`` / ``invalid_message``, 404 ``unknown_conversation``.

The photo is shown to the citizen at ``GET /chat/photos/{message_id}/{index}?c=CONVERSATION`` (socket.py) and to
inbox staff at ``GET /api/web_chat/photos/{message_id}/{index}``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from hub.conversation_service import ConversationNotFound, InvalidMessage
from hub.file_store import ContentStore, image_type
from hub.i18n import t
from hub.intake import Inbound
from hub.models import INBOX_ROLES
from hub.web.auth import require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of

CHANNEL_WEB = "web_chat"
SOURCE = "web_chat"
PHOTO_TEXT = "[图片]"  # the text of a photo sent without a caption (the same as Telegram's)
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_ENV = "REXIAN_CHAT_MAX_UPLOAD_MB"
UPLOAD_ROUTE = "/chat/upload"
STAFF_ROUTE = "/api/web_chat/photos/{message_id:\\d{1,12}}/{index:\\d{1,3}}"
BROWSER_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # shown inline; HEIC is offered as a download


@dataclass
class ChatConfig:
    """The web chat's settings (``max_upload_bytes``: the largest photo accepted)."""

    files: ContentStore
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES


CHAT_CONFIG: web.AppKey[ChatConfig] = web.AppKey("web_chat_config", ChatConfig)


def max_upload_from_env(environ: dict[str, str] | None = None) -> int:
    """``$REXIAN_CHAT_MAX_UPLOAD_MB`` (MiB, decimals allowed) in bytes, else 10 MiB.

    Raises:
        ValueError: the variable is set but is not a positive number.
    """
    raw = (environ if environ is not None else dict(os.environ)).get(MAX_UPLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_BYTES
    mib = float(raw)
    if not mib > 0:
        raise ValueError(f"{MAX_UPLOAD_ENV} must be a positive number of MiB")
    return int(mib * 1024 * 1024)


def _extension(content_type: str) -> str:
    return content_type.rsplit("/", 1)[1].replace("jpeg", "jpg")


def _safe_name(name: str | None, content_type: str, digest: str) -> str:
    """The citizen's file name without directories or odd characters, ending in the sniffed type's extension."""
    base = Path(unquote(name or "").replace("\\", "/")).name
    stem = re.sub(r"[^\w\-\u4e00-\u9fff]", "_", base.rsplit(".", 1)[0]).strip("_")[:60]
    return f"{stem or 'photo-' + digest[:12]}.{_extension(content_type)}"


class _Refused(Exception):
    """An upload refused with an HTTP status, an error code and a message for the citizen."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        """The JSON answer (returned, not raised: the error middleware keeps the message as it is)."""
        body = json.dumps({"error": self.code, "message": self.message}, ensure_ascii=False)
        return web.Response(status=self.status, text=body, content_type="application/json")


def _fail(status: type[web.HTTPException], code: str, message: str) -> _Refused:
    return _Refused(status.status_code, code, message)


class _Upload:
    """The parts of one upload request."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.data: bytes | None = None
        self.filename: str | None = None


async def _read(request: web.Request, limit: int, locale: str) -> _Upload:
    """The form, the file read in chunks and refused as soon as it is larger than ``limit``."""
    if not request.content_type.startswith("multipart/"):
        raise _fail(web.HTTPBadRequest, "invalid_upload", t("chat.upload.invalid", locale))
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise _fail(web.HTTPRequestEntityTooLarge, "too_large", _too_large(limit, locale))
    upload = _Upload()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            if upload.data is not None:
                raise _fail(web.HTTPBadRequest, "invalid_upload", t("chat.upload.invalid", locale))
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data.extend(chunk)
                if len(data) > limit:
                    raise _fail(web.HTTPRequestEntityTooLarge, "too_large", _too_large(limit, locale))
            upload.data, upload.filename = bytes(data), part.filename
        elif part.name in ("conversation_id", "client_id", "caption"):
            value = await part.text()
            if len(value) > 20000:
                raise _fail(web.HTTPBadRequest, "invalid_upload", t("chat.upload.invalid", locale))
            upload.fields[part.name] = value
    return upload


def mib(limit: int) -> str:
    """A byte limit in MiB as the citizen reads it (``10``, ``2.5``, ``0.01``)."""
    return f"{round(limit / (1024 * 1024), 2):g}"


def _too_large(limit: int, locale: str) -> str:
    return t("chat.upload.too_large", locale, max_mib=mib(limit))


async def upload(request: web.Request) -> web.StreamResponse:
    """POST /chat/upload: a citizen's photo (with an optional caption), stored before it is acknowledged."""
    try:
        return await _upload(request)
    except _Refused as refused:
        return refused.response()


async def _upload(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    config = request.app[CHAT_CONFIG]
    locale = locale_of(request)
    form = await _read(request, config.max_upload_bytes, locale)
    conversation_id = form.fields.get("conversation_id", "")
    client_id = form.fields.get("client_id") or None
    if client_id is not None and len(client_id) > 100:
        raise _fail(web.HTTPBadRequest, "invalid_upload", t("chat.upload.invalid", locale))
    try:
        conversation = await ctx.service.reads.get(conversation_id) if 0 < len(conversation_id) <= 64 else None
    except ConversationNotFound:
        conversation = None
    if conversation is None or conversation.channel != CHANNEL_WEB:
        raise _fail(web.HTTPNotFound, "unknown_conversation", t("chat.upload.invalid", locale))
    if not form.data:
        raise _fail(web.HTTPBadRequest, "invalid_upload", t("chat.upload.invalid", locale))
    content_type = image_type(form.data)
    if content_type is None:
        raise _fail(web.HTTPUnsupportedMediaType, "not_an_image", t("chat.upload.not_image", locale))
    caption = form.fields.get("caption", "").strip()
    try:
        text = ctx.service.validate_text(caption) if caption else PHOTO_TEXT
    except InvalidMessage:
        raise _fail(
            web.HTTPBadRequest, "invalid_message", t("chat.too_long", locale, max=ctx.service.limits.max_chars)
        ) from None
    digest = await config.files.save_bytes(form.data)  # on disk (fsynced) before the message row
    record: dict[str, Any] = {
        "kind": "photo",
        "source": SOURCE,
        "sha256": digest,
        "size": len(form.data),
        "content_type": content_type,
        "name": _safe_name(form.filename, content_type, digest),
    }
    inbound = Inbound(
        CHANNEL_WEB, text, conversation_id=conversation.id, external_id=client_id,
        attachments=(record,), for_bot=bool(caption),
    )  # fmt: skip
    try:
        stored = await ctx.service.receive(inbound)
    except ConversationNotFound:
        raise _fail(web.HTTPNotFound, "unknown_conversation", t("chat.upload.invalid", locale)) from None
    return web.json_response({"id": stored.message.id, "client_id": client_id})


def photo_file(config: ChatConfig, record: object) -> Path | None:
    """The stored file of a citizen's web-chat photo record (None: not such a record, or the file is gone)."""
    if not isinstance(record, dict) or record.get("source") != SOURCE or record.get("kind") != "photo":
        return None
    try:
        path = config.files.path_of(str(record.get("sha256", "")))
    except ValueError:
        return None
    return path if path.is_file() else None


def photo_response(path: Path, record: dict[str, Any]) -> web.FileResponse:
    """The photo, inline only for the types browsers show (never sniffed, sandboxed)."""
    content_type = str(record.get("content_type", ""))
    inline = content_type in BROWSER_TYPES
    if not inline and not content_type.startswith("image/hei"):
        content_type = "application/octet-stream"
    download = f'attachment; filename="photo-{str(record.get("sha256", ""))[:12]}.{_extension(content_type)}"'
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": "inline" if inline else download,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )


@require_roles(INBOX_ROLES, api=True)
async def staff_photo(request: web.Request) -> web.StreamResponse:
    """GET /api/web_chat/photos/{message_id}/{index}: a citizen's web-chat photo, for logged-in inbox staff."""
    record = await request.app[CTX].service.reads.attachment(
        int(request.match_info["message_id"]), int(request.match_info["index"]), CHANNEL_WEB
    )
    path = photo_file(request.app[CHAT_CONFIG], record)
    if path is None or record is None:
        raise web.HTTPNotFound(text='{"error": "no_such_photo"}', content_type="application/json")
    return photo_response(path, record)


def setup(app: web.Application, data_dir: Path, max_upload_bytes: int | None = None) -> ChatConfig:
    """Mount the upload and the staff photo route; photos go to ``<data_dir>/attachments/web_chat``."""
    limit = max_upload_bytes if max_upload_bytes is not None else max_upload_from_env()
    config = ChatConfig(ContentStore(data_dir / "attachments" / "web_chat"), limit)
    app[CHAT_CONFIG] = config
    app.router.add_post(UPLOAD_ROUTE, upload)
    app.router.add_get(STAFF_ROUTE, staff_photo)
    return config
