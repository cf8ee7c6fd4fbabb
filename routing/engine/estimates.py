"""Estimated wait for a waiting item: recent handle times over the capacity serving its queue.

The formula (documented for the citizens' "您前面还有N位，预计等待M分钟"):

    EWT = position × AHT / slots

- ``position``: the item's 1-based place in its queue (priority, then waiting time against the SL target);
- ``AHT``: mean handle time (assignment → end, wrap-up excluded) of the last ``window`` items of this queue and
  channel, or the queue's ``default_aht_s`` until one has ended;
- ``slots``: how many items of this channel the queue's staffed agents (presence available, any status) work on
  at once: 1 per agent for calls (softphone registered), ``capacity // weight`` per agent for text.

No staffed agent → no estimate (None): say "please wait" rather than a number.
"""

from __future__ import annotations

from collections import deque


class HandleTimes:
    """Recent handle times per (queue, channel).

    Args:
        window: how many of the latest handle times the average uses.
    """

    def __init__(self, window: int = 20) -> None:
        self.window = window
        self._times: dict[tuple[str, str], deque[float]] = {}

    def record(self, queue: str, channel: str, seconds: float) -> None:
        """One item of ``queue``/``channel`` ended after ``seconds`` with an agent."""
        self._times.setdefault((queue, channel), deque(maxlen=self.window)).append(max(seconds, 0.0))

    def aht(self, queue: str, channel: str, default: float) -> float:
        """Average handle time, or ``default`` when nothing ended yet."""
        times = self._times.get((queue, channel))
        return sum(times) / len(times) if times else default


def estimate_wait_s(position: int, aht_s: float, slots: int) -> float | None:
    """``position × aht_s / slots`` seconds, or None when nobody serves the queue.

    Args:
        position: 1-based place in the queue.
        aht_s: average handle time in seconds.
        slots: concurrent items the staffed agents can hold.
    """
    if slots <= 0:
        return None
    return position * aht_s / slots
