"""The inbox's list API (views, search, filters, counts, unread) and its staff-only additions (read markers, notes).

- ``GET /api/inbox?view=mine|unassigned|all|closed&q=&channel=&industry=&status=&waiting=5|30&offset=``:
  ``{"view", "items", "total", "counts", "unread_total", "now"}``. Without ``view`` the original form
  ``{"queue": [...], "mine": [...]}`` (plus ``counts`` and ``unread_total``).
- ``POST /api/conversations/{id}/read`` ``{"last_read_id": N}`` (optional): the user has seen the conversation.
- ``POST /api/conversations/{id}/notes`` ``{"text"}``: a private note (staff only, never sent to the citizen);
  published as :class:`hub.events.NoteAdded`, so other open inboxes show it at once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.clock import utc_now
from hub.i18n import lookup
from hub.models import INBOX_ROLES, Message
from hub.storage.inbox_queries import VIEWS, InboxFilter, InboxItem
from hub.storage.notes import MAX_NOTE_CHARS
from hub.web.api_v1.notes import add_note as store_note
from hub.web.auth import require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of
from routing.inbox_common import STORES, agent_of, error, json_response, load_conversation, read_json

WAITING_CHOICES = (5, 30)  # the waiting-time filter's thresholds in minutes
STATUSES = ("bot", "queued", "assigned", "closed")
PAGE_SIZE = 100
NLU_FIELDS = ("intent", "type", "industry", "category")


def names(ctx: HubContext, locale: str, request_type: str | None, industry: str | None) -> dict[str, str | None]:
    """The names of a request type and an industry in ``locale`` (None where there is no code)."""
    tax = ctx.taxonomy()
    kind = tax.request_types.get(request_type or "")
    trade = tax.industries.get(industry or "")
    return {
        "request_type_name": kind.name(locale) if kind else None,
        "industry_name": trade.name(locale) if trade else None,
    }


async def item_json(ctx: HubContext, item: InboxItem, locale: str) -> dict[str, Any]:
    """The wire form of an inbox row (times with the city's offset)."""
    c = item.conversation
    subject_of = ctx.subjects.get(c.channel)
    return {
        "id": c.id,
        "channel": c.channel,
        "status": c.status.value,
        "assignee_id": c.assignee_id,
        "assignee_name": item.assignee_name,
        "handoff_reason": c.handoff_reason,
        "request_type": c.request_type,
        "industry": c.industry,
        **names(ctx, locale, c.request_type, c.industry),
        "contact_name": item.contact_name,
        "contact_phone": item.contact_phone,
        "last_text": item.last_text[:80],
        "last_sender": item.last_sender,
        "last_at": ctx.city.iso(item.last_at),
        "waiting_since": ctx.city.iso(item.waiting_since),
        "unread": item.unread,
        "unanswered": item.unanswered,
        "outcome": c.outcome,
        "queued_at": ctx.city.iso(c.queued_at),
        "updated_at": ctx.city.iso(c.updated_at),
        "closed_at": ctx.city.iso(c.closed_at),
        "subject": await subject_of(c.id) if subject_of is not None else None,
    }


def nlu_display(ctx: HubContext, nlu: dict[str, Any] | None, locale: str) -> list[dict[str, Any]]:
    """What the NLU made of a message, every label by its name in ``locale`` (never a raw code)."""
    if not nlu:
        return []
    tax = ctx.taxonomy()
    shown: list[dict[str, Any]] = []
    for field in NLU_FIELDS:
        label = nlu.get(field)
        if not isinstance(label, dict) or not label.get("name"):
            continue
        code = str(label["name"])
        if field == "type":
            found = tax.request_types.get(code)
            value = found.name(locale) if found else None
        elif field == "industry":
            trade = tax.industries.get(code)
            value = trade.name(locale) if trade else None
        elif field == "category":
            category = tax.categories.get(code)
            value = category.name(locale) if category else None
        else:
            value = lookup(f"intent.{code}", locale) or lookup(f"type.{code}", locale)
        shown.append(
            {
                "field": lookup(f"inbox.nlu.{field}", locale) or field,
                "value": value or lookup("inbox.nlu.unknown", locale),
                "confidence": label.get("confidence"),
            }
        )
    for entity in nlu.get("entities") or []:
        if isinstance(entity, dict) and entity.get("value"):
            name = lookup(f"entity.{entity.get('entity')}", locale) or lookup("entity.other", locale)
            shown.append({"field": name, "value": str(entity["value"]), "confidence": None})
    return shown


def message_labels(ctx: HubContext, message: Message, locale: str) -> str | None:
    """A citizen message's request type and industry as the NLU classified it (names), e.g. 投诉 · 市政设施."""
    if not message.nlu:
        return None
    parts = [
        row["value"]
        for row in nlu_display(ctx, {k: message.nlu.get(k) for k in ("type", "industry")}, locale)
        if row["value"]
    ]
    return " · ".join(parts) or None


def unanswered(messages: list[Message]) -> bool:
    """Whether the citizen wrote after the last agent reply (or no agent has replied yet)."""
    for message in reversed(messages):
        if message.sender_kind.value == "agent":
            return False
        if message.sender_kind.value == "citizen":
            return True
    return False


def parse_filter(query: Any) -> InboxFilter:
    """The filters of a request's query string (unknown values are ignored, not errors)."""
    waiting = query.get("waiting", "")
    status = query.get("status") or None
    return InboxFilter(
        q=(query.get("q") or "").strip() or None,
        channel=query.get("channel") or None,
        industry=query.get("industry") or None,
        status=status if status in STATUSES else None,
        waiting_min=int(waiting) if waiting.isdigit() and int(waiting) in WAITING_CHOICES else None,
    )


@require_roles(INBOX_ROLES, api=True)
async def inbox_list(request: web.Request) -> web.StreamResponse:
    """GET /api/inbox: a view of the inbox (or the queue and the agent's own conversations)."""
    ctx = request.app[CTX]
    user = agent_of(request)
    queries = request.app[STORES].queries
    locale = locale_of(request)
    filters = parse_filter(request.query)
    view = request.query.get("view")
    data: dict[str, Any] = {
        "counts": await queries.counts(user.id, filters),
        "unread_total": await queries.unread_total(user.id),
        "now": ctx.city.iso(utc_now()),  # the server's clock: the page ticks waiting times from it
    }
    if view is None:
        for key, name in (("queue", "unassigned"), ("mine", "mine")):
            found, _ = await queries.items(name, user.id, filters, limit=200)
            data[key] = [await item_json(ctx, i, locale) for i in found]
        return json_response(data)
    if view not in VIEWS:
        return error(400, "unknown_view")
    offset = request.query.get("offset", "0")
    found, total = await queries.items(
        view, user.id, filters, limit=PAGE_SIZE, offset=int(offset) if offset.isdigit() else 0
    )
    data.update(view=view, total=total, items=[await item_json(ctx, i, locale) for i in found])
    return json_response(data)


@require_roles(INBOX_ROLES, api=True)
async def mark_read(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/read: move the user's read marker (to the newest message by default)."""
    conversation = await load_conversation(request)
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    queries = request.app[STORES].queries
    newest = await queries.last_message_id(conversation.id)
    wanted = body.get("last_read_id", newest)
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 0:
        return error(400, "invalid_last_read_id")
    user = agent_of(request)
    await queries.mark_read(user.id, conversation.id, min(wanted, newest))
    return json_response(
        {
            "last_read_id": await queries.read_marker(user.id, conversation.id),
            "unread_total": await queries.unread_total(user.id),
        }
    )


@require_roles(INBOX_ROLES, api=True)
async def add_note(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/notes {"text"}: a private note for staff."""
    conversation = await load_conversation(request)
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return error(400, "invalid_note", "empty note")
    if len(text.strip()) > MAX_NOTE_CHARS:
        return error(400, "invalid_note", f"note longer than {MAX_NOTE_CHARS} characters")
    note = await store_note(
        request.app[CTX], request.app[STORES].notes, conversation, agent_of(request).id, text.strip()
    )
    return json_response(note.to_json(request.app[CTX].city), status=201)


def setup(app: web.Application) -> None:
    """Mount the list, read-marker and note APIs."""
    app.router.add_get("/api/inbox", inbox_list)
    app.router.add_post("/api/conversations/{id}/read", mark_read)
    app.router.add_post("/api/conversations/{id}/notes", add_note)
