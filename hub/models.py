"""Domain records of the hub (plain frozen dataclasses; storage maps rows to them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.localtime import CityTime


class ConversationStatus(StrEnum):
    """Lifecycle of a conversation: the bot first, then the agent queue, an agent, closed."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class SenderKind(StrEnum):
    """Who wrote a message."""

    CITIZEN = "citizen"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Role(StrEnum):
    """Staff roles; citizens never log in."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    DEPARTMENT = "department"
    KNOWLEDGE_MANAGER = "knowledge_manager"
    ADMIN = "admin"


INBOX_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Contact:
    """A citizen as known from any channel."""

    id: int
    name: str | None
    phone: str | None
    email: str | None
    telegram_id: str | None
    vip: bool
    blacklisted: bool
    created_at: datetime
    preferred_channel: str | None = None  # where notices go; None: decided per notice (hub/notices.py)


@dataclass(frozen=True, slots=True)
class Conversation:
    """One thread between a citizen and the centre on one channel."""

    id: str
    channel: str
    external_ref: str | None
    contact_id: int | None
    status: ConversationStatus
    assignee_id: int | None
    locale: str
    dialogue_state: dict[str, Any]
    handoff_reason: str | None
    request_type: str | None
    industry: str | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = None
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    delivered_id: int | None = None
    outcome: str | None = None  # why an agent closed it (routing.outcomes)


@dataclass(frozen=True, slots=True)
class Message:
    """A message in a conversation; ``id`` orders messages and lets clients resume."""

    id: int
    conversation_id: str
    direction: str  # "in" | "out"
    sender_kind: SenderKind
    sender_id: int | None
    text: str
    created_at: datetime
    attachments: list[dict[str, Any]] = field(default_factory=list)
    external_id: str | None = None
    nlu: dict[str, Any] | None = None
    processed_at: datetime | None = None
    # Quick replies offered with a bot message, in order: [{"label": "是", "value": "1"}, ...]. Sending a
    # choice's ``value`` (or its label, or its 1-based number) as the citizen's next message picks it; each
    # channel shows them as it can (buttons, numbered lines in an SMS, keys on the phone).
    choices: list[dict[str, str]] = field(default_factory=list)

    def to_json(self, city: CityTime | None = None) -> dict[str, Any]:
        """The wire form used by the chat and inbox WebSockets and the REST API.

        ``created_at`` is ISO 8601 with the city's offset (``city``: the hub's configured zone; None: UTC).
        """
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "direction": self.direction,
            "sender": self.sender_kind.value,
            "text": self.text,
            "attachments": self.attachments,
            "client_id": self.external_id,
            "created_at": city.iso(self.created_at) if city is not None else self.created_at.isoformat(),
            "choices": self.choices,
        }


@dataclass(frozen=True, slots=True)
class User:
    """A staff account."""

    id: int
    username: str
    display_name: str
    role: Role
    unit: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A 工单: a request handed to the responsible department."""

    id: int
    number: str
    conversation_id: str | None
    contact_id: int | None
    request_type: str
    industry: str | None
    category: str | None
    district: str | None
    address: str | None
    phone: str | None
    description: str
    unit: str | None
    state: str
    urgent: bool
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    signed_at: datetime | None = None
    due_at: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    result: str | None = None
    supervised: bool = False
    return_locked: bool = False
    returns: int = 0
    rehandles: int = 0
    warned_at: datetime | None = None
    reminded_at: datetime | None = None
    satisfaction: str | None = None
    source: str | None = None  # hub.work_orders.sources: how the request reached the centre
    created_by: int | None = None  # the agent who registered it (None: the bot, Open311)
    citizen_name: str | None = None
    forward_text: str | None = None  # what the centre forwards to the department beyond the request fields
    escalated_at: datetime | None = None
