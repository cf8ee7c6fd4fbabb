"""JSON Schemas (OpenAPI 3.1 / JSON Schema 2020-12) of the staff API's bodies, by component name.

They describe what :mod:`hub.web.api_v1.serialize` writes and what the handlers read; the tests validate real
responses against them.
"""

from __future__ import annotations

from typing import Any

from hub.work_orders.service import RETURN_REASONS, SATISFACTION
from hub.work_orders.sources import SOURCES
from hub.work_orders.states import State

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _opt(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


STR = {"type": "string"}
OPT_STR = _opt("string")
TIME = _opt("string", format="date-time", description="ISO 8601 with the city's offset")
INT = {"type": "integer"}
BOOL = {"type": "boolean"}


def _object(properties: dict[str, Schema], required: list[str] | None = None, **more: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": required or list(properties), **more}


def _list(item: str, paged: bool = True) -> Schema:
    properties: dict[str, Schema] = {"items": {"type": "array", "items": ref(item)}, "total": INT}
    if paged:
        properties |= {"page": INT, "per_page": INT}
    return _object(properties)


ORDER = _object(
    {
        "number": STR,
        "state": {"type": "string", "enum": [s.value for s in State]},
        "state_name": STR,
        "request_type": STR,
        "request_type_name": OPT_STR,
        "industry": OPT_STR,
        "industry_name": OPT_STR,
        "category": OPT_STR,
        "category_name": OPT_STR,
        "district": OPT_STR,
        "district_name": OPT_STR,
        "address": OPT_STR,
        "phone": OPT_STR,
        "citizen_name": OPT_STR,
        "description": STR,
        "unit": OPT_STR,
        "unit_name": OPT_STR,
        "source": OPT_STR,
        "source_name": OPT_STR,
        "urgent": BOOL,
        "supervised": BOOL,
        "conversation_id": OPT_STR,
        "contact_id": _opt("integer"),
        "created_by": _opt("integer"),
        "forward_text": OPT_STR,
        "result": OPT_STR,
        "satisfaction": OPT_STR,
        "created_at": TIME,
        "updated_at": TIME,
        "dispatched_at": TIME,
        "signed_at": TIME,
        "due_at": TIME,
        "replied_at": TIME,
        "closed_at": TIME,
    }
)

EVENT = _object(
    {
        "action": STR,
        "action_name": STR,
        "from_state": OPT_STR,
        "to_state": STR,
        "actor_id": _opt("integer"),
        "actor_name": OPT_STR,
        "unit": OPT_STR,
        "note": OPT_STR,
        "data": {"type": ["object", "null"]},
        "created_at": TIME,
    }
)

ORDER_DETAIL: Schema = {
    "allOf": [
        ref("WorkOrder"),
        _object({"actions": {"type": "array", "items": STR}, "history": {"type": "array", "items": ref("Event")}}),
    ]
}

ORDER_CREATE = _object(
    {
        "source": {"type": "string", "enum": list(SOURCES), "description": "how the request reached the centre"},
        "type": {"type": "string", "description": "request type code (consult, complaint, repair ...)"},
        "description": {"type": "string", "minLength": 1},
        "industry": OPT_STR,
        "category": OPT_STR,
        "address": OPT_STR,
        "phone": OPT_STR,
        "citizen_name": OPT_STR,
        "urgent": _opt("boolean", description="null: from the category"),
        "conversation_id": OPT_STR,
        "message_id": _opt("integer"),
        "unit": _opt("string", description="the unit to dispatch to; null: the dispatch rules choose"),
        "dispatch": {"type": "boolean", "default": True, "description": "false: register only (受理)"},
        "forward_text": OPT_STR,
        "occurred_at": _opt("string", format="date-time"),
    },
    required=["source", "type", "description"],
    additionalProperties=False,
)

ACTION_BODY = _object(
    {
        "note": OPT_STR,
        "unit": OPT_STR,
        "reason": {"type": ["string", "null"], "enum": [*RETURN_REASONS, None]},
        "days": _opt("integer"),
        "extension_id": _opt("integer"),
        "satisfaction": {"type": ["string", "null"], "enum": [*SATISFACTION, None]},
        "target": _opt("string", description="merge: the number of the order that carries on"),
        "department_at_fault": BOOL,
    },
    required=[],
)

CONVERSATION = _object(
    {
        "id": STR,
        "channel": STR,
        "channel_name": STR,
        "external_ref": {**OPT_STR, "description": "the channel's sender reference (phone, chat id, e-mail ...)"},
        "status": {"type": "string", "enum": ["bot", "queued", "assigned", "closed"]},
        "status_name": STR,
        "assignee_id": _opt("integer"),
        "contact_id": _opt("integer"),
        "handoff_reason": OPT_STR,
        "request_type": OPT_STR,
        "request_type_name": OPT_STR,
        "industry": OPT_STR,
        "industry_name": OPT_STR,
        "outcome": OPT_STR,
        "outcome_name": OPT_STR,
        "locale": STR,
        "created_at": TIME,
        "updated_at": TIME,
        "queued_at": TIME,
        "assigned_at": TIME,
        "closed_at": TIME,
    }
)

MESSAGE = _object(
    {
        "id": INT,
        "conversation_id": STR,
        "direction": {"type": "string", "enum": ["in", "out"]},
        "sender": {"type": "string", "enum": ["citizen", "bot", "agent", "system"]},
        "sender_id": _opt("integer"),
        "text": STR,
        "attachments": {"type": "array", "items": {"type": "object"}},
        "client_id": OPT_STR,
        "created_at": TIME,
    }
)

CONTACT = _object(
    {
        "id": INT,
        "name": OPT_STR,
        "phone": OPT_STR,
        "email": OPT_STR,
        "telegram_id": OPT_STR,
        "vip": BOOL,
        "blacklisted": BOOL,
        "preferred_channel": OPT_STR,
        "created_at": TIME,
    }
)


NOTE = _object(
    {
        "id": INT,
        "conversation_id": STR,
        "author_id": INT,
        "author_name": STR,
        "text": STR,
        "created_at": TIME,
    }
)

CANNED_REPLY = _object(
    {
        "id": INT,
        "shortcut": {"type": "string", "description": "what the agent types after `/` in the composer"},
        "title": STR,
        "text": {"type": "string", "description": "may hold {name}, {order_number}, {agent}, {hotline}, {date}"},
        "shared": {"type": "boolean", "description": "true: the whole centre's; false: the caller's own"},
        "editable": {"type": "boolean", "description": "whether the caller may change or delete it"},
        "expanded": {"type": "string", "description": "only with ?conversation=: the text with variables filled"},
        "created_at": TIME,
        "updated_at": TIME,
    },
    required=["id", "shortcut", "title", "text", "shared", "editable", "created_at", "updated_at"],
)

_SHORTCUT = {"type": "string", "pattern": "^/?[0-9A-Za-z_\\-\u4e00-\u9fff]{1,32}$"}
_TITLE = {"type": "string", "minLength": 1, "maxLength": 100}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}


def _hits(item: str) -> Schema:
    return _list(item, paged=False)


SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {"error": {"type": "string", "description": "machine-readable code"}, "message": STR},
        additionalProperties=True,
    ),
    "User": _object(
        {
            "id": INT,
            "username": STR,
            "display_name": STR,
            "role": STR,
            "role_name": STR,
            "unit": OPT_STR,
            "unit_name": OPT_STR,
            "visible_units": {"type": ["array", "null"], "items": STR, "description": "null: every unit"},
        }
    ),
    "WorkOrder": ORDER,
    "Event": EVENT,
    "WorkOrderDetail": ORDER_DETAIL,
    "WorkOrderList": _list("WorkOrder"),
    "WorkOrderCreate": ORDER_CREATE,
    "ActionParams": ACTION_BODY,
    "Conversation": CONVERSATION,
    "ConversationDetail": {
        "allOf": [
            ref("Conversation"),
            _object(
                {
                    "contact": {"oneOf": [ref("Contact"), {"type": "null"}]},
                    "work_orders": {"type": "array", "items": ref("WorkOrder")},
                    "last_message": {"oneOf": [ref("Message"), {"type": "null"}]},
                }
            ),
        ]
    },
    "ConversationListItem": {
        "allOf": [
            ref("Conversation"),
            _object(
                {
                    "unread": {"type": "integer", "description": "the caller's unread citizen messages"},
                    "contact": {"oneOf": [ref("Contact"), {"type": "null"}]},
                }
            ),
        ]
    },
    "ConversationList": _list("ConversationListItem"),
    "Note": NOTE,
    "NoteList": _hits("Note"),
    "NoteCreate": _object({"text": {"type": "string", "minLength": 1, "maxLength": 2000}}, additionalProperties=False),
    "ReadParams": _object(
        {"message_id": _opt("integer", description="read up to this message; absent: up to the newest")},
        required=[],
    ),
    "ReadMarker": _object(
        {
            "conversation_id": STR,
            "last_read_id": {"type": "integer", "description": "the caller's marker: the last message read"},
            "unread_total": {
                "type": "integer",
                "description": "unread citizen messages in the caller's and the queue's",
            },
        }
    ),
    "CannedReply": CANNED_REPLY,
    "CannedReplyList": _hits("CannedReply"),
    "CannedReplyCreate": _object(
        {"shortcut": _SHORTCUT, "title": _TITLE, "text": _TEXT, "shared": {"type": "boolean", "default": False}},
        required=["shortcut", "title", "text"],
        additionalProperties=False,
    ),
    "CannedReplyUpdate": _object(
        {"shortcut": _SHORTCUT, "title": _TITLE, "text": _TEXT}, required=[], additionalProperties=False
    ),
    "Message": MESSAGE,
    "MessageList": _hits("Message"),
    "MessageCreate": _object({"text": {"type": "string", "minLength": 1}}, additionalProperties=False),
    "CloseParams": _object(
        {
            "outcome": _opt(
                "string",
                description="why it ended: resolved_by_answer, order_registered, transferred, no_response, spam, other",
            )
        },
        required=[],
    ),
    "Contact": CONTACT,
    "ContactDetail": {
        "allOf": [
            ref("Contact"),
            _object(
                {
                    "conversations": {"type": "array", "items": ref("Conversation")},
                    "work_orders": {"type": "array", "items": ref("WorkOrder")},
                }
            ),
        ]
    },
    "ContactList": _list("Contact"),
    "SearchResult": _object(
        {
            "q": STR,
            "work_orders": _hits("WorkOrder"),
            "contacts": _hits("Contact"),
            "conversations": _hits("Conversation"),
        }
    ),
    "OpenApiDocument": {"type": "object", "description": "this document"},
}
