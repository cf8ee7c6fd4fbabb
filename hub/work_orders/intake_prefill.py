"""The registration form prefilled from a conversation: what the NLU and the citizen said about one request.

Which messages belong to the request (its *segment*): the anchor (the message the agent chose, else the latest
citizen message that states a request: a request type or industry the NLU is confident of, in a message that is
not mostly an address or a phone number answering the bot; else the latest labelled one; else the latest citizen
message) and the citizen's messages after it, up to the next one that states another request (another type or
industry). Greetings, thanks, requests for a human and a bare phone number are left out of the texts. Works
alike for every channel: a call's speech turns and its voicemail transcript, SMS, e-mail, web chat and Telegram
are all citizen messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hub.dialogue import slots
from hub.models import Contact, Conversation, Message, SenderKind
from hub.taxonomy import Taxonomy
from hub.work_orders.actions import MAX_TEXT
from hub.work_orders.sources import source_for_channel

# dialogue intents that carry no request content
CHATTER = frozenset({"greet", "thank", "goodbye", "affirm", "deny", "human_handoff", "bot_challenge", "status_query"})
_PHONE_ONLY = re.compile(r"^[\s\d+()（）-]{7,20}[。.!！]?$")
REQUEST_FLOOR = 0.5  # below it a label does not mark the start of a request (DIET spreads short replies thin)
SLOT_SHARE = 0.6  # a message this much address/phone entity answers the bot's question


def label(nlu: dict[str, Any] | None, key: str) -> str | None:
    """The name of the NLU label ``key`` (type, industry, category, intent) stored with a message."""
    found = (nlu or {}).get(key)
    return found.get("name") if isinstance(found, dict) and found.get("name") else None


def entity(nlu: dict[str, Any] | None, name: str) -> str | None:
    """The first value of entity ``name`` stored with a message."""
    for item in (nlu or {}).get("entities") or []:
        if isinstance(item, dict) and item.get("entity") == name and item.get("value"):
            return str(item["value"])
    return None


def request_type_of(nlu: dict[str, Any] | None, taxonomy: Taxonomy) -> str | None:
    """The request type the NLU saw (its type label, else an intent that is a request type)."""
    for key in ("type", "intent"):
        name = label(nlu, key)
        if name in taxonomy.request_types:
            return name
    return None


def is_citizen(message: Message) -> bool:
    """Written by the citizen (inbound)."""
    return message.sender_kind is SenderKind.CITIZEN and message.direction == "in"


def confident(nlu: dict[str, Any] | None, key: str) -> str | None:
    """The label ``key`` if the NLU was at least :data:`REQUEST_FLOOR` sure of it."""
    found = (nlu or {}).get(key)
    if not isinstance(found, dict) or not found.get("name"):
        return None
    return str(found["name"]) if float(found.get("confidence") or 0) >= REQUEST_FLOOR else None


def _slot_answer(message: Message) -> bool:
    """The text is mostly an address or a phone number (an answer to the bot's question, not a new request)."""
    text = message.text.strip()
    spans = [
        int(e.get("end", 0)) - int(e.get("start", 0))
        for e in (message.nlu or {}).get("entities") or []
        if isinstance(e, dict) and e.get("entity") in ("address", "phone")
    ]
    return bool(text) and sum(spans) >= SLOT_SHARE * len(text)


def starts_request(message: Message, taxonomy: Taxonomy) -> bool:
    """A citizen message that states a request: a confident request type or industry, not a slot answer."""
    nlu = message.nlu
    kind = next((v for k in ("type", "intent") if (v := confident(nlu, k)) in taxonomy.request_types), None)
    return bool(kind or confident(nlu, "industry")) and not _slot_answer(message)


def anchor_of(messages: Sequence[Message], taxonomy: Taxonomy, message_id: int | None = None) -> Message | None:
    """The message the form is filled from (see the module docstring); None without citizen messages.

    Raises:
        LookupError: ``message_id`` is not a citizen message of these messages.
    """
    citizen = [m for m in messages if is_citizen(m)]
    if message_id is not None:
        chosen = next((m for m in citizen if m.id == message_id), None)
        if chosen is None:
            raise LookupError(message_id)
        return chosen
    requests = [m for m in citizen if starts_request(m, taxonomy)]
    labelled = [m for m in citizen if (request_type_of(m.nlu, taxonomy) or label(m.nlu, "industry"))]
    for found in (requests, [m for m in labelled if not _slot_answer(m)], citizen):
        if found:
            return found[-1]
    return None


def _starts_another(message: Message, anchor: Message, taxonomy: Taxonomy) -> bool:
    if not starts_request(message, taxonomy):
        return False
    kind, industry = request_type_of(message.nlu, taxonomy), label(message.nlu, "industry")
    return (kind, industry) != (request_type_of(anchor.nlu, taxonomy), label(anchor.nlu, "industry"))


def segment(messages: Sequence[Message], anchor: Message, taxonomy: Taxonomy) -> list[Message]:
    """The anchor and the citizen's later messages about the same request."""
    out = [anchor]
    for message in messages:
        if message.id <= anchor.id or not is_citizen(message):
            continue
        if _starts_another(message, anchor, taxonomy):
            break
        out.append(message)
    return out


def _words(message: Message) -> str | None:
    """The message's text if it says something about the request."""
    text = message.text.strip()
    if not text or label(message.nlu, "intent") in CHATTER or slots.wants_human(text) or _PHONE_ONLY.match(text):
        return None
    return text


def _valid_phone(value: str | None) -> str | None:
    digits = re.sub(r"[\s()（）-]", "", value or "")
    return digits if digits and slots.is_valid_phone(digits) else None


def prefill(
    conversation: Conversation,
    messages: Sequence[Message],
    contact: Contact | None,
    taxonomy: Taxonomy,
    message_id: int | None = None,
) -> dict[str, Any]:
    """The registration form's values for ``conversation``.

    Labels: with a chosen message, its own NLU labels first, then the conversation's; without, the
    conversation's labels (an agent's correction lands there) first. The phone: an entity, else the contact's,
    else a number in the texts, else the SMS sender. The description and the forwarded text are the citizen's own
    words of this request; ``time`` is the time the citizen named (an entity, e.g. ``昨天晚上``).

    Returns:
        The form's fields (``source``, ``request_type``, ``industry``, ``category``, ``address``, ``phone``,
        ``citizen_name``, ``description``, ``forward_text``, ``time``, ``conversation_id``, ``message_id``) and
        ``segment_ids`` (the messages used).

    Raises:
        LookupError: ``message_id`` is not a citizen message of the conversation.
    """
    anchor = anchor_of(messages, taxonomy, message_id)
    used = segment(messages, anchor, taxonomy) if anchor is not None else []
    nlus = [m.nlu for m in used]
    theirs = (conversation.request_type, conversation.industry)
    mine = (request_type_of(anchor.nlu, taxonomy), label(anchor.nlu, "industry")) if anchor else (None, None)
    first, second = (mine, theirs) if message_id is not None else (theirs, mine)
    request_type = next((v for v in (first[0], second[0]) if v in taxonomy.request_types), None)
    industry = next((v for v in (first[1], second[1]) if v in taxonomy.industries), None)
    texts = [w for m in used if (w := _words(m))]
    category = label(anchor.nlu, "category") if anchor else None
    if category not in taxonomy.categories or (industry and taxonomy.industry_of_category(category) != industry):
        category = taxonomy.guess_category(industry, " ".join(texts))
    if industry is None and category is not None:
        industry = taxonomy.industry_of_category(category)
    phone = next((p for n in nlus if (p := _valid_phone(entity(n, "phone")))), None)
    phone = phone or _valid_phone(contact.phone if contact else None)
    phone = phone or next((p for t in texts if (p := _valid_phone(slots.normalise_phone(t)))), None)
    if phone is None and conversation.channel == "sms":
        phone = _valid_phone(conversation.external_ref)
    return {
        "conversation_id": conversation.id,
        "message_id": anchor.id if anchor else None,
        "source": source_for_channel(conversation.channel),
        "request_type": request_type,
        "industry": industry,
        "category": category,
        "address": next((a for n in nlus if (a := entity(n, "address"))), None),
        "phone": phone,
        "citizen_name": contact.name if contact else None,
        "description": "；".join(texts)[:MAX_TEXT],
        "forward_text": "\n".join(texts)[:MAX_TEXT],
        "time": next((v for n in nlus if (v := entity(n, "time"))), None),
        "segment_ids": [m.id for m in used],
    }
