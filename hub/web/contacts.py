"""Contact settings agents can change from the inbox: the channel that work-order notices go to."""

from __future__ import annotations

from aiohttp import web

from hub.models import INBOX_ROLES
from hub.web.auth import require_roles
from hub.web.context import CTX


@require_roles(INBOX_ROLES, api=True)
async def set_preferred_channel(request: web.Request) -> web.StreamResponse:
    """POST /api/contacts/{id}/preferred-channel {"channel": "sms" | "email" | "telegram" | null}.

    ``null`` (or "") goes back to the automatic choice (hub/notices.py). Only enabled push channels are accepted.
    """
    ctx = request.app[CTX]
    try:
        contact_id = int(request.match_info["id"])
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "invalid_request"}, status=400)
    if not isinstance(body, dict) or not (body.get("channel") is None or isinstance(body.get("channel"), str)):
        return web.json_response({"error": "invalid_request", "message": "channel: a string or null"}, status=400)
    channel = body.get("channel") or None
    enabled = ctx.notice_routes.channels if ctx.notice_routes is not None else ()
    if channel is not None and channel not in enabled:
        return web.json_response(
            {"error": "unknown_channel", "message": f"not an enabled notice channel: {channel}", "enabled": enabled},
            status=400,
        )
    try:
        contact = await ctx.conversations.set_preferred_channel(contact_id, channel)
    except LookupError:
        return web.json_response({"error": "unknown_contact"}, status=404)
    return web.json_response({"id": contact.id, "preferred_channel": contact.preferred_channel})
