"""``GET /api/email/attachments/{message_id}/{index}``: an email attachment, for logged-in inbox staff only.

The file is looked up through the message (it must belong to an email conversation and list the attachment),
never by a path from the request, and is always sent as a download (``Content-Disposition: attachment``,
``application/octet-stream``, ``nosniff``): a citizen's HTML or SVG file is never rendered in the hub's origin.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from channels.email.ingest import CHANNEL_EMAIL, AttachmentStore
from hub.models import INBOX_ROLES
from hub.web.auth import require_roles
from hub.web.context import CTX

ROUTE = "/api/email/attachments/{message_id:\\d{1,12}}/{index:\\d{1,4}}"
FILES: web.AppKey[AttachmentStore] = web.AppKey("email_attachments", AttachmentStore)


@require_roles(INBOX_ROLES, api=True)
async def download(request: web.Request) -> web.StreamResponse:
    """Serve one attachment of one message."""
    message_id, index = int(request.match_info["message_id"]), int(request.match_info["index"])
    found = await request.app[CTX].service.reads.attachment(message_id, index, CHANNEL_EMAIL)
    if found is None or not isinstance(found.get("sha256"), str):
        raise web.HTTPNotFound(text='{"error": "no_such_attachment"}', content_type="application/json")
    try:
        path = request.app[FILES].path_of(found["sha256"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not path.is_file():
        raise web.HTTPNotFound(text='{"error": "file_missing"}', content_type="application/json")
    name = str(found.get("name") or "attachment")
    ascii_name = name.encode("ascii", "ignore").decode() or "attachment"
    ascii_name = "".join(c for c in ascii_name if c.isalnum() or c in "._-") or "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def setup(app: web.Application, files: AttachmentStore) -> None:
    """Mount the download route."""
    app[FILES] = files
    app.router.add_get(ROUTE, download)
