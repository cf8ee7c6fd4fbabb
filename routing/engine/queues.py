"""Queue settings and the capacity policy: plain configuration, no behaviour beyond small lookups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

VOICE = "voice"
"""The channel code of a phone call; every other channel (web_chat, telegram, sms, email, ...) is text."""


class Strategy(StrEnum):
    """How a queue chooses among the eligible agents."""

    LONGEST_IDLE = "longest_idle"
    FEWEST_HANDLED_TODAY = "fewest_handled_today"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"  # voice only; text items fall back to longest idle
    LAST_AGENT = "last_agent"  # the agent who last served the citizen, else ``fallback``
    SKILLS = "skills"  # highest skill level on the item's required skills, then longest idle


@dataclass(frozen=True)
class QueueConfig:
    """One queue (one skill set, every channel).

    Args:
        name: the queue's code.
        strategy: how an agent is chosen.
        skills: skills every item of this queue needs, code → minimum level (an item may add its own).
        sl_target_s: the service-level target, per channel (``default_sl_target_s`` for the others).
        default_sl_target_s: the target for channels not in ``sl_target_s``.
        offer_timeout_s: an offer not answered in this time times out (next agent).
        wrap_up_s: after-call work per channel after an item of this queue ends (0: none).
        auto_accept: text items are assigned directly instead of offered.
        allow_pick: agents may pick items from this queue themselves.
        call_while_chatting: a call may be offered to an agent busy with text conversations.
        last_agent_days: how far back :attr:`Strategy.LAST_AGENT` looks.
        fallback: the strategy used when ``last_agent`` (or ``ring_all`` for text) does not apply.
        max_wait_s: an item of ``overflow_channels`` waiting longer leaves the queue as "overflow" (None: never).
        overflow_channels: the channels that overflow (default: calls, which go to voicemail; text waits on).
        default_aht_s: average handle time assumed until enough items ended.
    """

    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    skills: Mapping[str, int] = field(default_factory=dict)
    sl_target_s: Mapping[str, float] = field(default_factory=dict)
    default_sl_target_s: float = 15.0
    offer_timeout_s: float = 20.0
    wrap_up_s: Mapping[str, float] = field(default_factory=dict)
    auto_accept: bool = True
    allow_pick: bool = True
    call_while_chatting: bool = False
    last_agent_days: float = 7.0
    fallback: Strategy = Strategy.LONGEST_IDLE
    max_wait_s: float | None = None
    overflow_channels: frozenset[str] = frozenset({VOICE})
    default_aht_s: float = 180.0

    def sl_target(self, channel: str) -> float:
        """The service-level target of ``channel`` in this queue (seconds, > 0)."""
        return max(self.sl_target_s.get(channel, self.default_sl_target_s), 1e-9)

    def max_wait(self, channel: str) -> float | None:
        """How long an item of ``channel`` may wait before it overflows (None: it waits on)."""
        return self.max_wait_s if channel in self.overflow_channels else None

    def wrap_up(self, channel: str) -> float:
        """After-call work after an item of ``channel`` ends (seconds)."""
        return self.wrap_up_s.get(channel, 0.0)


@dataclass(frozen=True)
class CapacityPolicy:
    """Weighted slots: a call takes the whole agent, a text conversation a share.

    Args:
        capacity: slots per agent (an agent's own ``capacity`` overrides it).
        text_weight: slots one text conversation takes, per channel (``default_text_weight`` otherwise); e.g.
            capacity 3 and weight 1 → up to 3 chats.
        default_text_weight: the weight of a text channel not in ``text_weight``.
        max_missed_offers: consecutive missed offers (timeouts and declines) before a "no_answer" break.
        break_reasons: the reason codes an agent may give for a break (休息 rest, 培训 training, 会议 meeting,
            用餐 meal, ...); "no_answer" is the system's own.
    """

    capacity: int = 3
    text_weight: Mapping[str, int] = field(default_factory=dict)
    default_text_weight: int = 1
    max_missed_offers: int = 2
    break_reasons: frozenset[str] = frozenset({"rest", "training", "meeting", "meal"})
