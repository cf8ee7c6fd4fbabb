"""Strategies per queue: who is offered (or assigned) an item among the eligible agents."""

from __future__ import annotations

import pytest

from routing.engine import Assigned, Offered, OfferWithdrawn, QueueConfig, Router, Strategy

from .support import of, router, staff

DAY = 86_400.0


def three_agents(strategy: Strategy, **queue: object) -> Router:
    """Agents 1, 2, 3 signed in at 0, 10, 20 (so 1 is idle longest), with differing counters."""
    r = router(QueueConfig("general", strategy=strategy, **queue))  # type: ignore[arg-type]
    for agent_id, at in ((1, 0.0), (2, 10.0), (3, 20.0)):
        staff(r, agent_id, now=at)
    r.agents[1].handled_today, r.agents[2].handled_today, r.agents[3].handled_today = 9, 2, 5
    r.agents[1].talk_time_today, r.agents[2].talk_time_today, r.agents[3].talk_time_today = 500, 900, 100
    return r


@pytest.mark.parametrize(
    ("strategy", "chosen"),
    [
        (Strategy.LONGEST_IDLE, 1),
        (Strategy.FEWEST_HANDLED_TODAY, 2),
        (Strategy.LEAST_TALK_TIME, 3),
        (Strategy.ROUND_ROBIN, 1),
        (Strategy.LAST_AGENT, 1),  # no last agent: the fallback (longest idle)
        (Strategy.SKILLS, 1),  # no skills asked: longest idle
    ],
)
def test_each_strategy_chooses_its_agent_for_a_call(strategy: Strategy, chosen: int) -> None:
    r = three_agents(strategy)
    assert of(r.enqueue("a", queue="general", channel="voice", now=30), Offered) == [Offered("a", chosen, 50)]


@pytest.mark.parametrize(
    ("strategy", "chosen"),
    [(Strategy.LONGEST_IDLE, 1), (Strategy.FEWEST_HANDLED_TODAY, 2), (Strategy.LEAST_TALK_TIME, 3)],
)
def test_each_strategy_assigns_a_chat_directly(strategy: Strategy, chosen: int) -> None:
    r = three_agents(strategy)
    assert of(r.enqueue("a", queue="general", channel="web_chat", now=30), Assigned) == [
        Assigned("a", chosen, "general", 0, "auto")
    ]


def test_round_robin_goes_round() -> None:
    r = three_agents(Strategy.ROUND_ROBIN, auto_accept=True)
    chosen = [
        of(r.enqueue(f"t{n}", queue="general", channel="web_chat", now=30 + n), Assigned)[0].agent_id for n in range(6)
    ]
    assert chosen == [1, 2, 3, 1, 2, 3]


def test_ring_all_offers_every_eligible_agent_and_the_first_accept_wins() -> None:
    r = three_agents(Strategy.RING_ALL)
    events = r.enqueue("a", queue="general", channel="voice", now=30)
    assert {e.agent_id for e in of(events, Offered)} == {1, 2, 3}
    events = r.accept("a", 2, now=31)
    assert set(of(events, OfferWithdrawn)) == {OfferWithdrawn("a", 1), OfferWithdrawn("a", 3)}
    assert of(events, Assigned) == [Assigned("a", 2, "general", 1, "accepted")]
    assert r.agents[1].status.value == r.agents[3].status.value == "available"


def test_ring_all_for_text_falls_back() -> None:
    r = three_agents(Strategy.RING_ALL, fallback=Strategy.FEWEST_HANDLED_TODAY)
    assert of(r.enqueue("a", queue="general", channel="telegram", now=30), Assigned)[0].agent_id == 2


def test_ring_all_non_answers_count_against_nobody() -> None:
    r = three_agents(Strategy.RING_ALL)
    r.enqueue("a", queue="general", channel="voice", now=30)
    r.handle_timeout(50)
    assert [r.agents[i].missed_offers for i in (1, 2, 3)] == [0, 0, 0]


@pytest.mark.parametrize(
    ("last_agent", "served_days_ago", "eligible", "chosen"),
    [
        (3, 1.0, True, 3),
        (3, 6.9, True, 3),
        (3, 8.0, True, 1),  # too long ago: fallback
        (3, 1.0, False, 1),  # not eligible (on break): fallback
        (None, None, True, 1),
        (99, 1.0, True, 1),  # unknown agent
    ],
)
def test_last_agent_within_n_days(
    last_agent: int | None, served_days_ago: float | None, eligible: bool, chosen: int
) -> None:
    r = three_agents(Strategy.LAST_AGENT, last_agent_days=7)
    now = 10 * DAY
    if not eligible:
        r.set_status(3, "break", now=30, reason="meeting")
    served = None if served_days_ago is None else now - served_days_ago * DAY
    events = r.enqueue("a", queue="general", channel="voice", now=now, last_agent_id=last_agent, last_served_at=served)
    assert of(events, Offered)[0].agent_id == chosen


@pytest.mark.parametrize(
    ("required", "chosen"),
    [
        ({"language": 1}, 2),  # 2 and 3 speak it; 2 better (level 3)
        ({"language": 3}, 2),
        ({"district": 2}, 3),  # only 3 has district level 2
        ({"industry": 1}, 1),  # all have it at 1: longest idle
        ({"language": 1, "district": 1}, 3),  # 3 matches both; 2 has no district
        ({"language": 4}, None),  # nobody is good enough
    ],
)
def test_skills_with_levels(required: dict[str, int], chosen: int | None) -> None:
    r = router(QueueConfig("general", strategy=Strategy.SKILLS))
    staff(r, 1, skills={"industry": 1})
    staff(r, 2, now=1, skills={"industry": 1, "language": 3})
    staff(r, 3, now=2, skills={"industry": 1, "language": 1, "district": 2})
    offers = of(r.enqueue("a", queue="general", channel="voice", now=5, skills=required), Offered)
    assert [o.agent_id for o in offers] == ([] if chosen is None else [chosen])


def test_queue_skills_apply_to_every_item_of_the_queue() -> None:
    r = router(QueueConfig("gas_cantonese", skills={"industry_gas": 1, "cantonese": 2}))
    staff(r, 1, queues=("gas_cantonese",), skills={"industry_gas": 3, "cantonese": 1})
    staff(r, 2, now=1, queues=("gas_cantonese",), skills={"industry_gas": 1, "cantonese": 2})
    assert of(r.enqueue("a", queue="gas_cantonese", channel="sms", now=2), Assigned)[0].agent_id == 2


def test_declined_item_goes_to_the_next_agent_first() -> None:
    r = three_agents(Strategy.LONGEST_IDLE)
    r.enqueue("a", queue="general", channel="voice", now=30)
    assert of(r.decline("a", 1, now=31), Offered) == [Offered("a", 2, 51)]
    assert of(r.handle_timeout(51), Offered) == [Offered("a", 3, 71)]
