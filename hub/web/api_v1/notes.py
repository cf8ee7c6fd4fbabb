"""``/api/v1/conversations/{id}/notes`` and ``/read``: the inbox's private notes and the caller's read marker.

Notes are for staff only (never part of what the citizen receives); a new one is published as
:class:`hub.events.NoteAdded`, so every inbox that may see the conversation shows it at once. The read marker is
the caller's own: unread counts (``unread`` in the conversation list) are citizen messages after it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.events import NoteAdded
from hub.models import Conversation
from hub.storage.conversations import ConversationNotFound
from hub.storage.inbox_queries import InboxQueries
from hub.storage.notes import MAX_NOTE_CHARS, Note, NoteStore
from hub.web.api_v1.common import ApiError, ctx_of, int_field, json_body, respond, text_field, user_of
from hub.web.context import HubContext

NOTES: web.AppKey[NoteStore] = web.AppKey("api_v1_notes", NoteStore)
READS: web.AppKey[InboxQueries] = web.AppKey("api_v1_reads", InboxQueries)


async def add_note(ctx: HubContext, notes: NoteStore, conversation: Conversation, author_id: int, text: str) -> Note:
    """Store a note and publish :class:`NoteAdded` (the inbox page's and the API's one way to add one)."""
    note = await notes.add(conversation.id, author_id, text)
    await ctx.bus.publish(NoteAdded(conversation, note))
    return note


async def _load(request: web.Request, conversation_id: str) -> Conversation:
    try:
        return await ctx_of(request).conversations.get(conversation_id)
    except ConversationNotFound:
        raise ApiError(404, "not_found") from None


async def list_notes(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/conversations/{id}/notes: oldest first."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    found = await request.app[NOTES].for_conversation(conversation.id)
    return respond({"items": [n.to_json(ctx.city) for n in found], "total": len(found)})


async def create_note(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/conversations/{id}/notes {"text"}."""
    ctx = ctx_of(request)
    conversation = await _load(request, args["id"])
    text = text_field(await json_body(request), "text", required=True)
    assert text is not None
    if len(text) > MAX_NOTE_CHARS:
        raise ApiError(400, "invalid_field", field="text")
    note = await add_note(ctx, request.app[NOTES], conversation, user_of(request).id, text)
    return respond(note.to_json(ctx.city), status=201)


async def mark_read(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """POST /api/v1/conversations/{id}/read {"message_id"?}: move the caller's read marker (never backwards)."""
    conversation = await _load(request, args["id"])
    body = await json_body(request) if request.can_read_body else {}
    reads = request.app[READS]
    newest = await reads.last_message_id(conversation.id)
    wanted = int_field(body, "message_id")
    if wanted is not None and wanted < 0:
        raise ApiError(400, "invalid_field", field="message_id")
    user = user_of(request)
    await reads.mark_read(user.id, conversation.id, newest if wanted is None else min(wanted, newest))
    return respond(
        {
            "conversation_id": conversation.id,
            "last_read_id": await reads.read_marker(user.id, conversation.id),
            "unread_total": await reads.unread_total(user.id),
        }
    )
