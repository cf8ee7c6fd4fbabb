"""Turning the router's events into queue-log entries (see :mod:`routing.queue_log`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from routing.engine import (
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    QueueLeft,
    RoutingEvent,
    Transferred,
    WrapUpEnded,
)
from routing.queue_log import LogEntry, QueueEvent


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """What the switchboard knows of an item beyond the router: its conversation and channel."""

    item_id: str
    conversation_id: str
    channel: str
    queue: str
    priority: int = 0


def at(now: float) -> datetime:
    """The router's clock (epoch seconds) as an aware UTC time."""
    return datetime.fromtimestamp(now, UTC)


def entry_for(event: RoutingEvent, item: ItemInfo | None, now: float) -> LogEntry | None:
    """The log entry of one router event (None: the event is not logged on its own)."""
    entry = _bare_entry(event, item.queue if item else None, at(now))
    if entry is None or item is None:
        return entry
    return replace(entry, item_id=item.item_id, conversation_id=item.conversation_id, channel=item.channel)


def _bare_entry(event: RoutingEvent, queue: str | None, when: datetime) -> LogEntry | None:
    match event:
        case Offered(agent_id=agent_id):
            return LogEntry(when, QueueEvent.OFFER, queue, agent_id=agent_id)
        case OfferTimedOut(agent_id=agent_id):
            return LogEntry(when, QueueEvent.NO_ANSWER, queue, agent_id=agent_id)
        case OfferWithdrawn(agent_id=agent_id):
            return LogEntry(when, QueueEvent.WITHDRAW, queue, agent_id=agent_id)
        case Assigned(agent_id=agent_id, queue=assigned_queue, wait_s=wait_s, how=how):
            return LogEntry(when, QueueEvent.CONNECT, assigned_queue, agent_id=agent_id, wait_s=wait_s, reason=how)
        case QueueLeft(queue=left_queue, outcome=outcome, wait_s=wait_s):
            kind = QueueEvent.OVERFLOW if outcome == "overflow" else QueueEvent.ABANDON
            return LogEntry(when, kind, left_queue, wait_s=wait_s)
        case Transferred(from_agent=from_agent, to_agent=to_agent, to_queue=to_queue, talk_s=talk_s):
            data = {"to_agent": to_agent, "to_queue": to_queue}
            return LogEntry(when, QueueEvent.TRANSFER, queue, agent_id=from_agent, talk_s=talk_s, data=data)
        case AgentStatusChanged(agent_id=agent_id, status=status, previous=previous, reason=reason):
            data = {"previous": previous, "break_reason": reason}
            return LogEntry(when, QueueEvent.STATUS, agent_id=agent_id, reason=status, data=data)
        case NoAnswerBreak(agent_id=agent_id, missed=missed):
            return LogEntry(when, QueueEvent.PAUSE, agent_id=agent_id, reason="no_answer", data={"missed": missed})
        case WrapUpEnded(agent_id=agent_id, early=early):
            return LogEntry(when, QueueEvent.WRAP_UP_END, agent_id=agent_id, data={"early": early})
    return None
