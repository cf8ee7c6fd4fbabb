"""Mapping of table rows to domain records."""

from __future__ import annotations

from typing import Any

from hub.clock import as_utc
from hub.models import Contact, Conversation, ConversationStatus, Message, Role, SenderKind, User, WorkOrder


def _ts(value: Any) -> Any:
    return None if value is None else as_utc(value)


def conversation(row: Any) -> Conversation:
    m = row._mapping
    return Conversation(
        id=m["id"],
        channel=m["channel"],
        external_ref=m["external_ref"],
        contact_id=m["contact_id"],
        status=ConversationStatus(m["status"]),
        assignee_id=m["assignee_id"],
        locale=m["locale"],
        dialogue_state=dict(m["dialogue_state"] or {}),
        handoff_reason=m["handoff_reason"],
        delivered_id=m["delivered_id"],
        request_type=m["request_type"],
        industry=m["industry"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
        queued_at=_ts(m["queued_at"]),
        assigned_at=_ts(m["assigned_at"]),
        closed_at=_ts(m["closed_at"]),
        outcome=m["outcome"],
    )


def message(row: Any) -> Message:
    m = row._mapping
    return Message(
        id=m["id"],
        conversation_id=m["conversation_id"],
        direction=m["direction"],
        sender_kind=SenderKind(m["sender_kind"]),
        sender_id=m["sender_id"],
        text=m["text"],
        created_at=as_utc(m["created_at"]),
        attachments=list(m["attachments"] or []),
        external_id=m["external_id"],
        nlu=m["nlu"],
        processed_at=_ts(m["processed_at"]),
        choices=list(m["choices"] or []),
    )


def contact(row: Any) -> Contact:
    m = row._mapping
    return Contact(
        id=m["id"],
        name=m["name"],
        phone=m["phone"],
        email=m["email"],
        telegram_id=m["telegram_id"],
        vip=bool(m["vip"]),
        blacklisted=bool(m["blacklisted"]),
        created_at=as_utc(m["created_at"]),
        preferred_channel=m["preferred_channel"],
    )


def user(row: Any) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        username=m["username"],
        display_name=m["display_name"],
        role=Role(m["role"]),
        unit=m["unit"],
        active=bool(m["active"]),
    )


def work_order(row: Any) -> WorkOrder:
    m = row._mapping
    return WorkOrder(
        id=m["id"],
        number=m["number"],
        conversation_id=m["conversation_id"],
        contact_id=m["contact_id"],
        request_type=m["request_type"],
        industry=m["industry"],
        category=m["category"],
        district=m["district"],
        address=m["address"],
        phone=m["phone"],
        description=m["description"],
        unit=m["unit"],
        state=m["state"],
        urgent=bool(m["urgent"]),
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
        dispatched_at=_ts(m["dispatched_at"]),
        signed_at=_ts(m["signed_at"]),
        due_at=_ts(m["due_at"]),
        replied_at=_ts(m["replied_at"]),
        closed_at=_ts(m["closed_at"]),
        result=m["result"],
        supervised=bool(m["supervised"]),
        return_locked=bool(m["return_locked"]),
        returns=m["returns"] or 0,
        rehandles=m["rehandles"] or 0,
        warned_at=_ts(m["warned_at"]),
        reminded_at=_ts(m["reminded_at"]),
        source=m["source"],
        created_by=m["created_by"],
        citizen_name=m["citizen_name"],
        forward_text=m["forward_text"],
        escalated_at=_ts(m["escalated_at"]),
        satisfaction=m["satisfaction"],
    )
