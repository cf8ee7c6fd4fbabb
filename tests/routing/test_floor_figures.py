"""The floor's figures from a hand-written queue log, against counts and rates worked out by hand.

The log (threshold 15 s unless a row says otherwise):

=====  =======  ========  ======================================================================================
item   queue    channel   what happened
=====  =======  ========  ======================================================================================
A      general  voice     entered, answered after 10 s, completed after 120 s of talk
B      general  voice     entered, answered after 20 s, transferred to another agent after 60 s (that agent's
                          ``connect`` is not a new answer), completed after 30 s more
C      general  voice     entered, abandoned after 5 s (a short abandon, within the threshold)
D      general  voice     entered, abandoned after 40 s
E      general  voice     entered, overflowed to voicemail after 300 s
F      general  web_chat  held across a restart: ``connect`` how=restored (not an answer), completed after 90 s
G      gas      web_chat  entered, answered after exactly 15 s (within), completed after 200 s
H      gas      sms       entered, answered after 8 s, transferred back to queue general after 50 s, entered
                          general, answered after 3 s, completed after 40 s
I      heating  voice     entered, still waiting
=====  =======  ========  ======================================================================================

Offers, status changes and monitor entries are in the log too and must change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing.floor_figures import Figures, compute
from routing.queue_log import LogEntry, QueueEvent

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
_clock = iter(range(10_000))


def e(event: QueueEvent, item: str, queue: str, channel: str, **more: Any) -> LogEntry:
    return LogEntry(T0 + timedelta(seconds=next(_clock)), event, queue, item, item, channel, agent_id=7, **more)


ENTER, CONNECT, ABANDON, OVERFLOW = QueueEvent.ENTER, QueueEvent.CONNECT, QueueEvent.ABANDON, QueueEvent.OVERFLOW
COMPLETE, TRANSFER = QueueEvent.COMPLETE, QueueEvent.TRANSFER

LOG = [
    e(ENTER, "A", "general", "voice"),
    e(QueueEvent.OFFER, "A", "general", "voice"),
    e(CONNECT, "A", "general", "voice", wait_s=10.0, reason="accepted"),
    e(QueueEvent.STATUS, "A", "general", "voice", reason="busy"),
    e(COMPLETE, "A", "general", "voice", talk_s=120.0),
    e(ENTER, "B", "general", "voice"),
    e(CONNECT, "B", "general", "voice", wait_s=20.0, reason="accepted"),
    e(TRANSFER, "B", "general", "voice", talk_s=60.0, data={"to_agent": 8, "to_queue": None}),
    e(CONNECT, "B", "general", "voice", wait_s=0.0, reason="transferred"),
    e(QueueEvent.MONITOR, "B", "general", "voice", reason="listen"),
    e(COMPLETE, "B", "general", "voice", talk_s=30.0),
    e(ENTER, "C", "general", "voice"),
    e(ABANDON, "C", "general", "voice", wait_s=5.0),
    e(ENTER, "D", "general", "voice"),
    e(QueueEvent.NO_ANSWER, "D", "general", "voice"),
    e(ABANDON, "D", "general", "voice", wait_s=40.0),
    e(ENTER, "E", "general", "voice"),
    e(OVERFLOW, "E", "general", "voice", wait_s=300.0),
    e(CONNECT, "F", "general", "web_chat", wait_s=0.0, reason="restored"),
    e(COMPLETE, "F", "general", "web_chat", talk_s=90.0),
    e(ENTER, "G", "gas", "web_chat"),
    e(CONNECT, "G", "gas", "web_chat", wait_s=15.0, reason="auto"),
    e(COMPLETE, "G", "gas", "web_chat", talk_s=200.0),
    e(ENTER, "H", "gas", "sms"),
    e(CONNECT, "H", "gas", "sms", wait_s=8.0, reason="auto"),
    e(TRANSFER, "H", "gas", "sms", talk_s=50.0, data={"to_agent": None, "to_queue": "general"}),
    e(ENTER, "H", "general", "sms", reason="transfer"),
    e(CONNECT, "H", "general", "sms", wait_s=3.0, reason="auto"),
    e(COMPLETE, "H", "general", "sms", talk_s=40.0),
    e(ENTER, "I", "heating", "voice"),
]

# entered, answered, abandoned, overflowed, answered_within, abandoned_within, SL1, SL2, SL3, ASA, AHT, abandon rate
EXPECTED = [
    ("total", None, (9, 5, 2, 1, 4, 1, 4 / 7, 4 / 6, 4 / 5, 56 / 5, 590 / 7, 2 / 7)),
    ("queue", "general", (6, 3, 2, 1, 2, 1, 2 / 5, 2 / 4, 2 / 3, 33 / 3, 340 / 5, 2 / 5)),
    ("queue", "gas", (2, 2, 0, 0, 2, 0, 1.0, 1.0, 1.0, 23 / 2, 250 / 2, 0.0)),
    ("queue", "heating", (1, 0, 0, 0, 0, 0, None, None, None, None, None, None)),
    ("channel", "voice", (6, 2, 2, 1, 1, 1, 1 / 4, 1 / 3, 1 / 2, 30 / 2, 210 / 3, 2 / 4)),
    ("channel", "web_chat", (1, 1, 0, 0, 1, 0, 1.0, 1.0, 1.0, 15.0, 290 / 2, 0.0)),
    ("channel", "sms", (2, 2, 0, 0, 2, 0, 1.0, 1.0, 1.0, 11 / 2, 90 / 2, 0.0)),
]


def _row(f: Figures) -> tuple[Any, ...]:
    return (
        f.entered,
        f.answered,
        f.abandoned,
        f.overflowed,
        f.answered_within,
        f.abandoned_within,
        f.sl1,
        f.sl2,
        f.sl3,
        f.asa_s,
        f.aht_s,
        f.abandon_rate,
    )


@pytest.mark.parametrize(("group", "name", "expected"), EXPECTED, ids=[f"{g}-{n}" for g, n, _ in EXPECTED])
def test_figures_per_queue_per_channel_and_in_total(group: str, name: str | None, expected: tuple[Any, ...]) -> None:
    figures = compute(LOG, 15.0)
    groups = {"queue": figures.queues, "channel": figures.channels}
    found = figures.total if name is None else groups[group][name]
    assert _row(found) == pytest.approx(expected)


def test_only_the_queues_and_channels_in_the_log_appear() -> None:
    figures = compute(LOG, 15.0)
    assert set(figures.queues) == {"general", "gas", "heating"}
    assert set(figures.channels) == {"voice", "web_chat", "sms"}


# threshold → answered within, abandoned within, SL1, SL2, SL3 (in total)
THRESHOLDS = [
    (15.0, 4, 1, 4 / 7, 4 / 6, 4 / 5),
    (20.0, 5, 1, 5 / 7, 5 / 6, 5 / 5),  # B's 20 s wait now counts
    (4.0, 1, 0, 1 / 7, 1 / 7, 1 / 5),  # only H's second answer (3 s); C's 5 s abandon is no longer short
    (40.0, 5, 2, 5 / 7, 5 / 5, 5 / 5),  # both abandons are short: SL2 leaves them out
]


@pytest.mark.parametrize(("threshold", "within", "abandoned_within", "sl1", "sl2", "sl3"), THRESHOLDS)
def test_the_threshold_decides_what_counts_as_within(
    threshold: float, within: int, abandoned_within: int, sl1: float, sl2: float, sl3: float
) -> None:
    total = compute(LOG, threshold).total
    assert (total.answered_within, total.abandoned_within) == (within, abandoned_within)
    assert (total.sl1, total.sl2, total.sl3) == pytest.approx((sl1, sl2, sl3))
    assert compute(LOG, threshold).threshold_s == threshold


def test_an_empty_period_has_no_rates() -> None:
    figures = compute([], 15.0)
    assert figures.total == Figures()
    assert figures.to_json() == {
        "threshold_s": 15.0,
        "total": {
            "entered": 0,
            "answered": 0,
            "abandoned": 0,
            "overflowed": 0,
            "answered_within": 0,
            "abandoned_within": 0,
            "sl1": None,
            "sl2": None,
            "sl3": None,
            "asa_s": None,
            "aht_s": None,
            "abandon_rate": None,
        },
        "queues": {},
        "channels": {},
    }


def test_only_short_abandons_leave_sl2_undefined() -> None:
    """Every offered item abandoned within the threshold: SL1 is 0, SL2 has nothing to count, SL3 nothing answered."""
    log = [e(ENTER, "X", "general", "voice"), e(ABANDON, "X", "general", "voice", wait_s=2.0)]
    total = compute(log, 15.0).total
    assert (total.sl1, total.sl2, total.sl3, total.abandon_rate) == (0.0, None, None, 1.0)


def test_the_wire_form_names_every_figure() -> None:
    shown = compute(LOG, 15.0).to_json()
    assert list(shown["queues"]) == ["gas", "general", "heating"]
    assert shown["total"]["sl2"] == pytest.approx(4 / 6)
    assert shown["channels"]["voice"]["overflowed"] == 1
