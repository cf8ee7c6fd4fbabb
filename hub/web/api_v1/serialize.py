"""The staff API's JSON forms of orders, conversations, messages, contacts and users.

Codes come with their names in the request's language (``state`` and ``state_name``, ``unit`` and ``unit_name``
...); times are ISO 8601 with the city's offset (``ctx.city.iso``).
"""

from __future__ import annotations

from typing import Any

from hub.i18n import lookup
from hub.models import Contact, Conversation, Message, User, WorkOrder
from hub.taxonomy import Named, Taxonomy
from hub.web.context import HubContext
from hub.work_orders.sources import SOURCES


def label(prefix: str, code: str | None, locale: str) -> str | None:
    """The catalog label ``prefix + code`` (the code itself when the catalog has none)."""
    if code is None:
        return None
    return lookup(prefix + code, locale) or code


def _name(table: dict[str, Any], code: str | None, locale: str) -> str | None:
    found: Named | None = table.get(code or "")
    return found.name(locale) if found is not None else None


def order_json(ctx: HubContext, order: WorkOrder, locale: str, tax: Taxonomy | None = None) -> dict[str, Any]:
    """An order as the list and the detail show it."""
    tax = tax or ctx.taxonomy()
    iso = ctx.city.iso
    source = SOURCES.get(order.source or "")
    return {
        "number": order.number,
        "state": order.state,
        "state_name": label("state.", order.state, locale),
        "request_type": order.request_type,
        "request_type_name": _name(tax.request_types, order.request_type, locale),
        "industry": order.industry,
        "industry_name": _name(tax.industries, order.industry, locale),
        "category": order.category,
        "category_name": _name(tax.categories, order.category, locale),
        "district": order.district,
        "district_name": _name(tax.districts, order.district, locale),
        "address": order.address,
        "phone": order.phone,
        "citizen_name": order.citizen_name,
        "description": order.description,
        "unit": order.unit,
        "unit_name": _name(tax.units, order.unit, locale),
        "source": order.source,
        "source_name": source.name(locale) if source is not None else order.source,
        "urgent": order.urgent,
        "supervised": order.supervised,
        "conversation_id": order.conversation_id,
        "contact_id": order.contact_id,
        "created_by": order.created_by,
        "forward_text": order.forward_text,
        "result": order.result,
        "satisfaction": order.satisfaction,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "dispatched_at": iso(order.dispatched_at),
        "signed_at": iso(order.signed_at),
        "due_at": iso(order.due_at),
        "replied_at": iso(order.replied_at),
        "closed_at": iso(order.closed_at),
    }


def event_json(ctx: HubContext, event: dict[str, Any], locale: str) -> dict[str, Any]:
    """One history event of an order (``WorkOrderStore.history`` row)."""
    return {
        "action": event["action"],
        "action_name": label("action.", event["action"], locale),
        "from_state": event["from_state"],
        "to_state": event["to_state"],
        "actor_id": event["actor_id"],
        "actor_name": event.get("actor_name"),
        "unit": event["unit"],
        "note": event["note"],
        "data": event["data"],
        "created_at": ctx.city.iso(event["created_at"]),
    }


def conversation_json(ctx: HubContext, conversation: Conversation, locale: str) -> dict[str, Any]:
    """A conversation's fields (the messages are a list of their own)."""
    iso = ctx.city.iso
    tax = ctx.taxonomy()
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "channel_name": label("channel.", conversation.channel, locale),
        "external_ref": conversation.external_ref,  # the channel's sender reference (phone, chat id, e-mail ...)
        "status": conversation.status.value,
        "status_name": label("status.", conversation.status.value, locale),
        "assignee_id": conversation.assignee_id,
        "contact_id": conversation.contact_id,
        "handoff_reason": conversation.handoff_reason,
        "request_type": conversation.request_type,
        "request_type_name": _name(tax.request_types, conversation.request_type, locale),
        "industry": conversation.industry,
        "industry_name": _name(tax.industries, conversation.industry, locale),
        "outcome": conversation.outcome,
        "outcome_name": label("outcome.", conversation.outcome, locale),
        "locale": conversation.locale,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "queued_at": iso(conversation.queued_at),
        "assigned_at": iso(conversation.assigned_at),
        "closed_at": iso(conversation.closed_at),
    }


def message_json(ctx: HubContext, message: Message) -> dict[str, Any]:
    """A message (the wire form of the inbox and chat, with the sender's id)."""
    return {**message.to_json(ctx.city), "sender_id": message.sender_id}


def contact_json(ctx: HubContext, contact: Contact) -> dict[str, Any]:
    """A citizen's record (staff see it in full; logs mask it)."""
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "telegram_id": contact.telegram_id,
        "vip": contact.vip,
        "blacklisted": contact.blacklisted,
        "preferred_channel": contact.preferred_channel,
        "created_at": ctx.city.iso(contact.created_at),
    }


def user_json(ctx: HubContext, user: User, locale: str) -> dict[str, Any]:
    """The caller's account."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "role_name": label("role.", user.role.value, locale),
        "unit": user.unit,
        "unit_name": _name(ctx.taxonomy().units, user.unit, locale),
    }
