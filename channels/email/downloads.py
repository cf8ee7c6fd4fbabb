"""``GET /api/email/attachments/{message_id}/{index}``: an email attachment, for logged-in inbox staff only.

The file is looked up through the message (it must belong to an email conversation and list the attachment),
never by a path from the request, and is always sent as a download (``Content-Disposition: attachment``,
``application/octet-stream``, ``nosniff``): a citizen's HTML or SVG file is never rendered in the hub's origin.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from channels.email.ingest import AttachmentStore
from channels.email.store import EmailStore
from hub.models import INBOX_ROLES
from hub.web.auth import require_roles

ROUTE = "/api/email/attachments/{message_id:\\d{1,12}}/{index:\\d{1,4}}"
STORES: web.AppKey[tuple[EmailStore, AttachmentStore]] = web.AppKey("email_attachments", tuple)


@require_roles(INBOX_ROLES, api=True)
async def download(request: web.Request) -> web.StreamResponse:
    """Serve one attachment of one message."""
    emails, files = request.app[STORES]
    found = await emails.attachment(int(request.match_info["message_id"]), int(request.match_info["index"]))
    if found is None or not isinstance(found.get("sha256"), str):
        raise web.HTTPNotFound(text='{"error": "no_such_attachment"}', content_type="application/json")
    try:
        path = files.path_of(found["sha256"])
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


def setup(app: web.Application, emails: EmailStore, files: AttachmentStore) -> None:
    """Mount the download route."""
    app[STORES] = (emails, files)
    app.router.add_get(ROUTE, download)
