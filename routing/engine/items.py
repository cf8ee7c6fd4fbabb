"""Waiting items: a call or a text conversation that needs a human, and the order they are served in."""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.engine.queues import VOICE


@dataclass
class WorkItem:
    """A call or conversation in a queue.

    Attributes:
        id: the call id or conversation id.
        queue: the queue's code.
        channel: "voice" or a text channel (web_chat, telegram, sms, email ...).
        enqueued_at: when it entered the queue.
        seq: arrival order (ties).
        priority: higher first (e.g. 0 normal, 5 urgent, 10 VIP).
        skills: skills this item needs on top of the queue's, code → minimum level.
        last_agent_id / last_served_at: who last served this citizen and when (for ``last_agent``).
        offers: agent id → offer deadline (several only for ring-all).
        tried: agents that let this item's offer time out or declined it (offered again only if nobody else).
    """

    id: str
    queue: str
    channel: str
    enqueued_at: float
    seq: int
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    last_agent_id: int | None = None
    last_served_at: float | None = None
    offers: dict[int, float] = field(default_factory=dict)
    tried: set[int] = field(default_factory=set)

    @property
    def is_voice(self) -> bool:
        """A phone call (takes the agent whole, rings a softphone)."""
        return self.channel == VOICE


def service_key(item: WorkItem, now: float, sl_target_s: float) -> tuple[int, float, int]:
    """The order items are served in: priority, then waiting time against the SL target, then arrival.

    Items compare by ``wait / target`` (larger first): the item furthest over — or closest to — its service-level
    target goes first, so a call with a 15 s target waiting 10 s (0.67) goes before a chat with a 60 s target
    waiting 30 s (0.5). Within one channel and queue this is oldest first. Ties keep arrival order.
    """
    return (-item.priority, -(now - item.enqueued_at) / sl_target_s, item.seq)
