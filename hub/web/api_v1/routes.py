"""The staff API's one route table: what :func:`setup` mounts and what ``/api/v1/openapi.json`` documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from hub.models import INBOX_ROLES, Role
from hub.storage.api_tokens import ApiTokenStore
from hub.storage.canned import CannedStore
from hub.storage.inbox_queries import InboxQueries
from hub.storage.notes import NoteStore
from hub.web.api_v1 import canned, contacts, conversations, notes, orders, registration
from hub.web.api_v1.common import ApiError, respond
from hub.web.api_v1.openapi import document
from hub.web.api_v1.schemas import Schema
from hub.web.api_v1.spec import PAGING, Endpoint, Param, choice, day, flag, parse_args, path, text
from hub.web.auth import TOKEN_AUTH, require_roles
from hub.web.context import CTX
from hub.work_orders.query import SORTS
from hub.work_orders.sources import SOURCES
from hub.work_orders.states import Action, State

API_TOKENS: web.AppKey[ApiTokenStore] = web.AppKey("api_tokens", ApiTokenStore)
PREFIX = "/api/v1"

EVERYONE = frozenset(Role)
ORDER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER, Role.DEPARTMENT})
REGISTER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER})
INBOX = frozenset(INBOX_ROLES)

STATES = Param(
    "state",
    {"type": "array", "items": {"type": "string", "enum": [s.value for s in State]}, "maxItems": 10},
    "Work-order states, comma-separated (any of them).",
)
ORDER_FILTERS = (
    text("q", "Number, phone, citizen's name, address or text.", 100),
    text("phone", "The citizen's phone number (exact).", 32),
    STATES,
    text("unit", "Responsible unit code (within the caller's units).", 100),
    text("industry", "Industry code.", 64),
    text("category", "Category code.", 100),
    text("type", "Request type code.", 32),
    choice("source", list(SOURCES), "How the request reached the centre."),
    day("from", "Created on or after this local day."),
    day("to", "Created on or before this local day."),
    flag("overdue", "Only orders being handled past their deadline."),
    flag("supervised", "Only (or, with false, no) orders under supervision (督办)."),
    flag("urgent", "Only urgent (or, with false, no urgent) orders."),
    choice("sort", list(SORTS), "Order of the list.", "newest"),
    *PAGING,
)
NUMBER = path("number", "The work order's number.")
CONVERSATION = path("id", "The conversation's id.")
REPLY = path("id", "The canned reply's id.", integer=True)
CONVERSATION_FILTERS = (
    Param(
        "status",
        {
            "type": "array",
            "items": {"type": "string", "enum": ["bot", "queued", "assigned", "closed"]},
            "maxItems": 4,
        },
        "Statuses, comma-separated (any of them).",
    ),
    text("channel", "Channel code (voice, sms, email, web_chat, telegram ...).", 32),
    text("assignee", "`me`, `none` (unassigned) or a user id.", 16),
    text("q", "The citizen's name, phone, e-mail or Telegram id, a message's text, or the conversation id.", 100),
    *PAGING,
)


async def openapi_json(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/openapi.json."""
    extra = request.app.get(API_EXTENSIONS, [])
    return respond(document((*ROUTES, *extra), request.app.get(API_SCHEMAS, {})))


ROUTES: tuple[Endpoint, ...] = (
    Endpoint("GET", PREFIX + "/openapi.json", openapi_json, "This OpenAPI document", "meta", None, "OpenApiDocument"),
    Endpoint("GET", PREFIX + "/me", contacts.me, "The caller's account", "meta", EVERYONE, "User"),
    Endpoint(
        "GET",
        PREFIX + "/work-orders",
        orders.list_work_orders,
        "Find work orders",
        "work orders",
        ORDER_ROLES,
        "WorkOrderList",
        params=ORDER_FILTERS,
        errors=(400,),
        description="A department finds only its own and its sub-units' orders.",
    ),
    Endpoint(
        "POST",
        PREFIX + "/work-orders",
        registration.create_work_order,
        "Register (受理) a work order, and dispatch it",
        "work orders",
        REGISTER_ROLES,
        "WorkOrder",
        status=201,
        body="WorkOrderCreate",
        errors=(400, 422),
        description="Without `unit` the dispatch rules choose; `dispatch: false` registers only.",
    ),
    Endpoint(
        "GET",
        PREFIX + "/work-orders/{number}",
        orders.get_work_order,
        "A work order with its history and the caller's possible actions",
        "work orders",
        ORDER_ROLES,
        "WorkOrderDetail",
        params=(NUMBER,),
        errors=(404,),
    ),
    Endpoint(
        "POST",
        PREFIX + "/work-orders/{number}/actions/{action}",
        orders.act_on_work_order,
        "Take a lifecycle action on a work order",
        "work orders",
        ORDER_ROLES,
        "WorkOrderDetail",
        params=(NUMBER, path("action", "One of: " + ", ".join(a.value for a in Action) + ".")),
        body="ActionParams",
        errors=(400, 404, 409),
        description="The actions the pages offer; a refusal names its reason (`error`) in the caller's language.",
    ),
    Endpoint(
        "GET",
        PREFIX + "/conversations",
        conversations.list_conversations,
        "Find conversations",
        "conversations",
        INBOX,
        "ConversationList",
        params=CONVERSATION_FILTERS,
        description="`unread`: the caller's unread citizen messages in each (after their read marker).",
        errors=(400,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/conversations/{id}",
        conversations.get_conversation,
        "A conversation with its citizen and work orders",
        "conversations",
        INBOX,
        "ConversationDetail",
        params=(CONVERSATION,),
        errors=(404,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/conversations/{id}/messages",
        conversations.list_messages,
        "A conversation's messages, oldest first",
        "conversations",
        INBOX,
        "MessageList",
        params=(
            CONVERSATION,
            Param("after_id", {"type": "integer", "minimum": 0, "default": 0}, "Only messages after this id."),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 500}, "At most this many."),
        ),
        errors=(400, 404),
    ),
    Endpoint(
        "POST",
        PREFIX + "/conversations/{id}/messages",
        conversations.post_message,
        "Reply to the citizen (the conversation must be the caller's)",
        "conversations",
        INBOX,
        "Message",
        status=201,
        params=(CONVERSATION,),
        body="MessageCreate",
        errors=(400, 404, 409),
    ),
    Endpoint(
        "POST",
        PREFIX + "/conversations/{id}/claim",
        conversations.claim_conversation,
        "Take a queued conversation",
        "conversations",
        INBOX,
        "Conversation",
        params=(CONVERSATION,),
        errors=(404, 409),
    ),
    Endpoint(
        "POST",
        PREFIX + "/conversations/{id}/close",
        conversations.close_conversation,
        "Close a conversation the caller holds",
        "conversations",
        INBOX,
        "Conversation",
        params=(CONVERSATION,),
        body="CloseParams",
        errors=(400, 404, 409),
    ),
    Endpoint(
        "GET",
        PREFIX + "/conversations/{id}/notes",
        notes.list_notes,
        "A conversation's private notes (staff only), oldest first",
        "conversations",
        INBOX,
        "NoteList",
        params=(CONVERSATION,),
        errors=(404,),
    ),
    Endpoint(
        "POST",
        PREFIX + "/conversations/{id}/notes",
        notes.create_note,
        "Add a private note (never sent to the citizen)",
        "conversations",
        INBOX,
        "Note",
        status=201,
        params=(CONVERSATION,),
        body="NoteCreate",
        errors=(400, 404),
        description="Every open inbox that may see the conversation shows the note at once (WebSocket `note`).",
    ),
    Endpoint(
        "POST",
        PREFIX + "/conversations/{id}/read",
        notes.mark_read,
        "Mark the conversation read by the caller (up to the newest message by default)",
        "conversations",
        INBOX,
        "ReadMarker",
        params=(CONVERSATION,),
        body="ReadParams",
        errors=(400, 404),
        description="The marker only moves forward; `unread` in the conversation list counts citizen messages "
        "after it.",
    ),
    Endpoint(
        "GET",
        PREFIX + "/canned-replies",
        canned.list_canned_replies,
        "The shared canned replies and the caller's own",
        "canned replies",
        INBOX,
        "CannedReplyList",
        params=(text("conversation", "A conversation id: each reply's `expanded` text is filled for it.", 64),),
        errors=(400, 404),
        description="Variables: {name}, {order_number}, {agent}, {hotline}, {date}; one without a value stays "
        "as written.",
    ),
    Endpoint(
        "POST",
        PREFIX + "/canned-replies",
        canned.create_canned_reply,
        "Add a canned reply (shared: supervisors and administrators only)",
        "canned replies",
        INBOX,
        "CannedReply",
        status=201,
        body="CannedReplyCreate",
        errors=(400,),
    ),
    Endpoint(
        "PATCH",
        PREFIX + "/canned-replies/{id}",
        canned.update_canned_reply,
        "Change a canned reply (a shared one: supervisors and administrators; a personal one: its owner)",
        "canned replies",
        INBOX,
        "CannedReply",
        params=(REPLY,),
        body="CannedReplyUpdate",
        errors=(400, 404),
    ),
    Endpoint(
        "DELETE",
        PREFIX + "/canned-replies/{id}",
        canned.delete_canned_reply,
        "Delete a canned reply (a shared one: supervisors and administrators; a personal one: its owner)",
        "canned replies",
        INBOX,
        "",
        status=204,
        params=(REPLY,),
        errors=(404,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/contacts",
        contacts.list_contacts,
        "Find citizens by name, phone, e-mail or Telegram id",
        "contacts",
        INBOX,
        "ContactList",
        params=(text("q", "Name, phone, e-mail or Telegram id (part of it).", 100), *PAGING),
        errors=(400,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/contacts/{id}",
        contacts.get_contact,
        "A citizen with every conversation and work order",
        "contacts",
        INBOX,
        "ContactDetail",
        params=(path("id", "The contact's id.", integer=True),),
        errors=(404,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/search",
        contacts.search,
        "Search orders, citizens and conversations at once",
        "search",
        ORDER_ROLES,
        "SearchResult",
        params=(text("q", "What to look for (number, phone, name, address, text).", 100),),
        errors=(400,),
        description="Departments get their own units' orders only (no citizens, no conversations).",
    ),
)


def _mounted(endpoint: Endpoint) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await endpoint.handler(request, parse_args(request, endpoint.params))
        except ApiError as exc:
            return exc.response(request)

    handle.__name__ = handle.__qualname__ = endpoint.operation_id
    handle.__doc__ = endpoint.handler.__doc__
    if endpoint.roles is None:
        return handle
    return require_roles(endpoint.roles, api=True)(handle)


API_EXTENSIONS: web.AppKey[list[Endpoint]] = web.AppKey("api_v1_extensions", list)
API_SCHEMAS: web.AppKey[dict[str, Schema]] = web.AppKey("api_v1_schemas", dict)


def extend(app: web.Application, endpoints: Iterable[Endpoint], schemas: Mapping[str, Schema] | None = None) -> None:
    """Mount another package's operations under ``/api/v1`` and document them (with their component schemas).

    The hub imports no other package: routing and the channels add their operations here from their ``setup``.
    """
    extra = app.setdefault(API_EXTENSIONS, [])
    app.setdefault(API_SCHEMAS, {}).update(schemas or {})
    known = {e.operation_id for e in (*ROUTES, *extra)}
    for endpoint in endpoints:
        if endpoint.operation_id in known:
            raise ValueError(f"API operation {endpoint.operation_id} is defined twice")
        extra.append(endpoint)
        app.router.add_route(endpoint.method, endpoint.path, _mounted(endpoint), name="api_v1." + endpoint.operation_id)


def setup(app: web.Application, tokens: ApiTokenStore) -> None:
    """Mount every route of :data:`ROUTES` and accept ``tokens`` as bearer tokens on API paths."""
    app[API_TOKENS] = tokens
    engine = app[CTX].work_orders.engine
    app[notes.NOTES] = NoteStore(engine)
    app[notes.READS] = InboxQueries(engine)
    app[canned.CANNED] = CannedStore(engine)
    app[TOKEN_AUTH] = tokens.authenticate
    for endpoint in ROUTES:
        app.router.add_route(endpoint.method, endpoint.path, _mounted(endpoint), name="api_v1." + endpoint.operation_id)
