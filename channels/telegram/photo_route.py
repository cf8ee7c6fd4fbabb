"""``GET /api/telegram/photos/{message_id}/{index}``: a citizen's Telegram photo, for logged-in inbox staff only.

The file is found through the message (a message of a Telegram conversation whose attachment ``index`` is a
downloaded photo), never by a path from the request. Only what :func:`channels.telegram.photos.image_type`
recognised is served, with that type, ``nosniff`` and a sandboxing CSP, so the inbox can show it inline.
"""

from __future__ import annotations

from aiohttp import web

from channels.telegram.photos import CHANNEL_TELEGRAM, READY
from hub.file_store import ContentStore
from hub.models import INBOX_ROLES
from hub.web.auth import require_roles
from hub.web.context import CTX

ROUTE = "/api/telegram/photos/{message_id:\\d{1,12}}/{index:\\d{1,4}}"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
PHOTO_FILES: web.AppKey[ContentStore] = web.AppKey("telegram_photo_files", ContentStore)


def _missing(code: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f'{{"error": "{code}"}}', content_type="application/json")


@require_roles(INBOX_ROLES, api=True)
async def photo(request: web.Request) -> web.StreamResponse:
    """Serve one downloaded photo."""
    found = await request.app[CTX].service.reads.attachment(
        int(request.match_info["message_id"]), int(request.match_info["index"]), CHANNEL_TELEGRAM
    )
    if found is None or found.get("kind") != "photo":
        raise _missing("no_such_photo")
    content_type = found.get("content_type")
    if found.get("download") != READY or content_type not in IMAGE_TYPES or not isinstance(found.get("sha256"), str):
        raise _missing("not_downloaded")
    try:
        path = request.app[PHOTO_FILES].path_of(found["sha256"])
    except ValueError:
        raise _missing("no_such_photo") from None
    if not path.is_file():
        raise _missing("file_missing")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": str(content_type),
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )


def setup(app: web.Application, files: ContentStore) -> None:
    """Mount the photo route."""
    app[PHOTO_FILES] = files
    app.router.add_get(ROUTE, photo)
