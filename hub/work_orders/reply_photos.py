"""A department's photos of its work, sent to the citizen with the closure notice on channels that show pictures.

The department attaches files to its reply (反馈, stored under ``<data dir>/attachments/<order number>/``). When the
order is closed, :func:`reply_photos` picks the images among the latest reply's files (by their content, not their
name), copies them into the content-addressed outbound store and returns attachment records for the notice::

    {"kind": "photo", "source": "work_order", "name": str, "content_type": "image/png", "size": int,
     "sha256": str}

Channels that carry pictures (:data:`PICTURE_CHANNELS`: web chat shows them, Telegram sends them with
``sendPhoto``, e-mail attaches them) find the file with :func:`photo_path`. On the others (SMS, the phone) the
notice carries no photo and its text must not mention one: :func:`without_photo_mentions`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from hub.file_store import ContentStore
from hub.models import WorkOrder
from hub.storage.work_orders import WorkOrderStore

log = logging.getLogger(__name__)

PICTURE_CHANNELS = frozenset({"web_chat", "telegram", "email"})
SOURCE = "work_order"
MAX_PHOTOS = 5
MAX_BYTES = 10 * 1024 * 1024
_MENTION = re.compile(r"照片|图片|相片|附图|截图|见图|如图|图示|现场图|photo|picture|image|\bpic", re.IGNORECASE)
_CLAUSE = re.compile(r"([，。；！？,;!?\n]+)")


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its magic bytes (PNG, JPEG, GIF, WebP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) > 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def without_photo_mentions(text: str) -> str:
    """``text`` without the clauses that mention a photo or picture (for a notice that carries none)."""
    parts = _CLAUSE.split(text)
    kept: list[str] = []
    for i in range(0, len(parts), 2):
        clause, sep = parts[i], parts[i + 1] if i + 1 < len(parts) else ""
        if clause.strip() and _MENTION.search(clause):
            continue
        if clause.strip() or (kept and sep):
            kept.append(clause + sep)
    result = "".join(kept).strip().lstrip("，。；！？,;!? ").rstrip("，；,; ")
    end = text.strip()[-1:]
    if result and end in "。！？.!?" and result[-1] not in "。！？.!?":
        result += end
    return result


def mentions_photo(text: str) -> bool:
    """Whether ``text`` mentions a photo or picture."""
    return bool(_MENTION.search(text))


def photo_path(files: ContentStore | None, record: object) -> Path | None:
    """The file of a notice's photo record (None: not such a record, or the file is gone)."""
    if files is None or not isinstance(record, dict) or record.get("source") != SOURCE:
        return None
    if record.get("kind") != "photo" or not str(record.get("content_type", "")).startswith("image/"):
        return None
    try:
        path = files.path_of(str(record.get("sha256", "")))
    except ValueError:
        return None
    return path if path.is_file() else None


def _read(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


async def reply_photos(
    store: WorkOrderStore, order: WorkOrder, attachments_dir: Path, files: ContentStore
) -> list[dict[str, Any]]:
    """Records of the images the department attached to its latest reply (copied into ``files``)."""
    latest: list[Any] = []
    for event in await store.history(order.id):
        if event["action"] == "rehandle":
            latest = []  # a reply before a re-handling is not the result the citizen is told
        elif event["action"] == "reply":
            details = event.get("data") or {}
            latest = list(details.get("attachments") or [])
    loop = asyncio.get_running_loop()
    records: list[dict[str, Any]] = []
    for item in latest[:MAX_PHOTOS]:
        stored = str(item.get("file", "")) if isinstance(item, dict) else ""
        if not stored or "/" in stored or "\\" in stored or stored.startswith("."):
            continue
        data = await loop.run_in_executor(None, _read, attachments_dir / order.number / stored)
        kind = sniff(data) if data else None
        if data is None or kind is None:
            continue  # not an image (a PDF, a spreadsheet): the citizen is not sent it
        digest = await files.save_bytes(data)
        name = str(item.get("name") or stored)
        records.append(
            {"kind": "photo", "source": SOURCE, "name": name, "content_type": kind, "size": len(data), "sha256": digest}
        )
    return records
