"""The REST channel, compatible with Rasa's REST input channel (``POST /webhooks/rest/webhook``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from hub.conversation_service import InvalidMessage
from hub.intake import Inbound
from hub.models import Message
from hub.web.context import CTX

log = logging.getLogger(__name__)

CHANNEL_REST = "rest"
PATH = "/webhooks/rest/webhook"


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
    message_id = body.get("message_id")
    stored, pending = await ctx.service.exchange(
        Inbound(CHANNEL_REST, text, ref=sender, external_id=message_id if isinstance(message_id, str) else None)
    )
    log.debug("rest message %s stored in %s", stored.message.id, stored.conversation.id)
    return web.json_response(
        [rest_reply(sender, m) for m in pending],
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


def rest_reply(recipient_id: str, message: Message) -> dict[str, Any]:
    """One outbound message in Rasa's REST format; quick replies become ``buttons`` (``title``, ``payload``).

    A client sends a button's ``payload`` back as the next ``message`` (the bot also takes its number or title).
    """
    reply: dict[str, Any] = {"recipient_id": recipient_id, "text": message.text}
    buttons = [
        {"title": str(c.get("label") or c.get("value")), "payload": str(c.get("value") or c.get("label"))}
        for c in message.choices
        if c.get("value") or c.get("label")
    ]
    if buttons:
        reply["buttons"] = buttons
    return reply


def setup(app: web.Application) -> None:
    """Mount the REST channel on the hub's app and report its health."""
    app.router.add_post(PATH, rest_webhook)

    async def health() -> dict[str, Any]:
        return {"status": "ok", "path": PATH}

    app[CTX].channel_health[CHANNEL_REST] = health
