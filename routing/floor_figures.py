"""The floor's figures, computed from the queue log alone (pure: a list of entries in, numbers out).

Per queue, per channel and in total, for one period (the floor shows today in the city's zone):

- ``entered``: ``enter`` entries (a conversation put back into a queue by a transfer enters again);
- ``answered``: ``connect`` entries of items that waited, i.e. not ``restored`` (a restart put a held
  conversation back in its agent's hands), ``outbound`` (the hub called the citizen) nor ``transferred`` (an agent
  handed an item they already held straight to another agent: the citizen was answered once, by the first);
- ``abandoned`` / ``overflowed``: ``abandon`` / ``overflow`` entries;
- ``answered_within`` / ``abandoned_within``: those whose wait was at most the threshold (GB/T 33358: 15 s);
- service level in the three formulas in common use, side by side (Asterisk's queue_log reports, Amazon Connect
  and Genesys each pick one):

  - SL1 = answered_within / (answered + abandoned)
  - SL2 = answered_within / (answered + abandoned − abandoned_within)  (short abandons excluded)
  - SL3 = answered_within / answered  (abandons ignored)

- ASA: the mean wait of the answered; AHT: the mean ``talk_s`` of ``complete`` and ``transfer`` entries (the time
  each agent held the item); abandon rate = abandoned / (answered + abandoned).

A ratio or mean whose denominator is 0 is None, never 0 or 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from routing.queue_log import LogEntry, QueueEvent

NOT_ANSWERS = frozenset({"restored", "outbound", "transferred"})
"""``connect`` reasons (``how``) that are not an answer to a waiting citizen."""

FIGURE_EVENTS = frozenset(
    {
        QueueEvent.ENTER,
        QueueEvent.CONNECT,
        QueueEvent.ABANDON,
        QueueEvent.OVERFLOW,
        QueueEvent.COMPLETE,
        QueueEvent.TRANSFER,
    }
)
"""The log entries the figures are made of (the floor keeps only these in memory)."""


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Figures:
    """The counts of one queue, one channel or the total, and the rates derived from them."""

    entered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    wait_total_s: float = 0.0  # the summed waits of the answered (ASA's numerator)
    handled: int = 0  # complete and transfer entries with a talk time (AHT's denominator)
    talk_total_s: float = 0.0

    @property
    def sl1(self) -> float | None:
        """answered_within / (answered + abandoned)."""
        return _ratio(self.answered_within, self.answered + self.abandoned)

    @property
    def sl2(self) -> float | None:
        """answered_within / (answered + abandoned − abandoned_within): short abandons do not count."""
        return _ratio(self.answered_within, self.answered + self.abandoned - self.abandoned_within)

    @property
    def sl3(self) -> float | None:
        """answered_within / answered: abandons are ignored."""
        return _ratio(self.answered_within, self.answered)

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer: the mean wait of the answered, in seconds."""
        return _ratio(self.wait_total_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        """Average handle time: the mean time an agent held an item, in seconds."""
        return _ratio(self.talk_total_s, self.handled)

    @property
    def abandon_rate(self) -> float | None:
        """abandoned / (answered + abandoned)."""
        return _ratio(self.abandoned, self.answered + self.abandoned)

    def to_json(self) -> dict[str, Any]:
        """The wire form of the floor page and the staff API."""
        return {
            "entered": self.entered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "overflowed": self.overflowed,
            "answered_within": self.answered_within,
            "abandoned_within": self.abandoned_within,
            "sl1": self.sl1,
            "sl2": self.sl2,
            "sl3": self.sl3,
            "asa_s": self.asa_s,
            "aht_s": self.aht_s,
            "abandon_rate": self.abandon_rate,
        }


@dataclass(frozen=True, slots=True)
class FloorFigures:
    """The figures of one period: in total, per queue and per channel, with the threshold they were counted by."""

    threshold_s: float
    total: Figures = field(default_factory=Figures)
    queues: dict[str, Figures] = field(default_factory=dict)
    channels: dict[str, Figures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The wire form of the floor page and the staff API."""
        return {
            "threshold_s": self.threshold_s,
            "total": self.total.to_json(),
            "queues": {name: f.to_json() for name, f in sorted(self.queues.items())},
            "channels": {name: f.to_json() for name, f in sorted(self.channels.items())},
        }


@dataclass(slots=True)
class _Tally:
    entered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    wait_total_s: float = 0.0
    handled: int = 0
    talk_total_s: float = 0.0

    def add(self, entry: LogEntry, threshold_s: float) -> None:
        wait = entry.wait_s or 0.0
        match entry.event:
            case QueueEvent.ENTER:
                self.entered += 1
            case QueueEvent.CONNECT if entry.reason not in NOT_ANSWERS:
                self.answered += 1
                self.wait_total_s += wait
                self.answered_within += int(wait <= threshold_s)
            case QueueEvent.ABANDON:
                self.abandoned += 1
                self.abandoned_within += int(wait <= threshold_s)
            case QueueEvent.OVERFLOW:
                self.overflowed += 1
            case QueueEvent.COMPLETE | QueueEvent.TRANSFER if entry.talk_s is not None:
                self.handled += 1
                self.talk_total_s += entry.talk_s

    def frozen(self) -> Figures:
        return Figures(**asdict(self))


def compute(entries: Iterable[LogEntry], threshold_s: float) -> FloorFigures:
    """The figures of ``entries`` (one period of the queue log) with the service-level ``threshold_s``.

    Entries of other kinds (offers, statuses, monitors ...) are ignored, so the whole log of a period may be given.
    """
    total = _Tally()
    queues: dict[str, _Tally] = {}
    channels: dict[str, _Tally] = {}
    for entry in entries:
        if entry.event not in FIGURE_EVENTS:
            continue
        total.add(entry, threshold_s)
        if entry.queue is not None:
            queues.setdefault(entry.queue, _Tally()).add(entry, threshold_s)
        if entry.channel is not None:
            channels.setdefault(entry.channel, _Tally()).add(entry, threshold_s)
    return FloorFigures(
        threshold_s,
        total.frozen(),
        {name: t.frozen() for name, t in queues.items()},
        {name: t.frozen() for name, t in channels.items()},
    )
