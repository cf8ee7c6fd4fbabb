"""What the inbox's handlers share: app keys, settings, JSON helpers and the conversation lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.models import Conversation, Role, User
from hub.storage.canned import CannedStore
from hub.storage.conversations import ConversationNotFound
from hub.storage.inbox_queries import InboxQueries
from hub.storage.notes import NoteStore
from hub.web.auth import current_user
from hub.web.context import CTX

KB_SUGGESTION_FLOOR = 0.3  # like the bot's offer threshold (hub.dialogue.engine.BotSettings.kb_offer_threshold)
STAFF_MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # see every conversation, manage shared replies


@dataclass
class InboxSettings:
    """Settings of the inbox (mutable: the composition root or a test may change them after set-up).

    Attributes:
        kb_floor: knowledge-base articles below this retrieval confidence are not suggested to agents.
        hotline: the number canned replies insert for ``{hotline}``.
    """

    kb_floor: float = KB_SUGGESTION_FLOOR
    hotline: str = "12319"


@dataclass(frozen=True)
class InboxStores:
    """The inbox's own reads and writes besides the conversation service."""

    queries: InboxQueries
    notes: NoteStore
    canned: CannedStore


SETTINGS: web.AppKey[InboxSettings] = web.AppKey("inbox_settings", InboxSettings)
STORES: web.AppKey[InboxStores] = web.AppKey("inbox_stores", InboxStores)


def dumps(obj: Any) -> str:
    """JSON with Chinese kept readable and datetimes as strings."""
    return json.dumps(obj, ensure_ascii=False, default=str)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response."""
    return web.json_response(data, status=status, dumps=dumps)


def error(status: int, code: str, message: str | None = None) -> web.Response:
    """A JSON error ``{"error": code[, "message": ...]}``."""
    body: dict[str, Any] = {"error": code}
    if message:
        body["message"] = message
    return json_response(body, status=status)


async def read_json(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object body; ``{}`` for an empty body; None if it is not a JSON object."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def load_conversation(request: web.Request) -> Conversation:
    """The conversation named by the ``{id}`` of the path, or a 404 JSON error."""
    try:
        return await request.app[CTX].conversations.get(request.match_info["id"])
    except ConversationNotFound:
        raise web.HTTPNotFound(text='{"error": "unknown_conversation"}', content_type="application/json") from None


def agent_of(request: web.Request) -> User:
    """The signed-in user (handlers behind ``require_roles`` always have one)."""
    user = current_user(request)
    assert user is not None
    return user
