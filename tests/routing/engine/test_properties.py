"""Properties: capacity is never exceeded, no item starves, and higher-priority/older items go first."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import AgentStatus, Assigned, CapacityPolicy, QueueConfig, Router, RoutingError, Strategy
from routing.engine.capacity import capacity_of

CHANNELS = ["voice", "web_chat", "telegram", "sms", "email"]

queue_configs = st.builds(
    QueueConfig,
    name=st.just("general"),
    strategy=st.sampled_from(list(Strategy)),
    auto_accept=st.booleans(),
    call_while_chatting=st.booleans(),
    wrap_up_s=st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from([0.0, 5.0]), max_size=2),
    offer_timeout_s=st.sampled_from([3.0, 10.0]),
)

# one action: (kind, agent index or item index, value)
actions = st.lists(
    st.tuples(
        st.sampled_from(["enqueue", "accept", "decline", "finish", "tick", "break", "available", "pick", "end_wrap"]),
        st.integers(0, 30),
        st.sampled_from(CHANNELS),
        st.integers(0, 2),
    ),
    max_size=60,
)


def check_capacity(r: Router) -> None:
    for agent in r.agents.values():
        total = capacity_of(agent, r.policy)
        assert sum(agent.load.values()) + sum(agent.offered.values()) <= total
        assert len(agent.voice_items) <= 1
        assert not agent.voice_items or not agent.offered


def apply(r: Router, action: tuple[str, int, str, int], now: float, n_agents: int) -> None:
    kind, index, channel, priority = action
    agent_id = index % n_agents + 1
    offers = sorted((item_id, a) for item_id, item in r.items.items() for a in item.offers)
    if kind == "enqueue":
        item_id = f"i{len(r.items) + len(r.held)}-{now}"
        r.enqueue(item_id, queue="general", channel=channel, now=now, priority=priority)
    elif kind in ("accept", "decline") and offers:
        item_id, a = offers[index % len(offers)]
        (r.accept if kind == "accept" else r.decline)(item_id, a, now=now)
    elif kind == "finish" and r.held:
        r.finish(sorted(r.held)[index % len(r.held)], now=now)
    elif kind == "tick":
        r.handle_timeout(now)
    elif kind == "break":
        r.set_status(agent_id, "break", now=now, reason="rest")
    elif kind == "available":
        r.set_status(agent_id, "available", now=now)
    elif kind == "pick" and r.items:
        item_id = sorted(r.items)[index % len(r.items)]
        with contextlib.suppress(RoutingError):  # not allowed now: nothing changes
            r.pick(agent_id, item_id, now=now)
    elif kind == "end_wrap" and r.agents[agent_id].wrap_up_until is not None:
        r.end_wrap_up(agent_id, now=now)


@settings(max_examples=150, deadline=None)
@given(
    queue=queue_configs,
    capacities=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    weight=st.integers(1, 3),
    script=actions,
)
def test_weighted_load_never_exceeds_capacity(
    queue: QueueConfig, capacities: list[int], weight: int, script: list[tuple[str, int, str, int]]
) -> None:
    r = Router([queue], CapacityPolicy(default_text_weight=weight, max_missed_offers=2))
    for agent_id, cap in enumerate(capacities, 1):
        r.set_registered(agent_id, True, now=0)
        r.sign_in(agent_id, now=0, queues=["general"], capacity_override=cap)
    for step, action in enumerate(script, 1):
        apply(r, action, float(step), len(capacities))
        check_capacity(r)


@settings(max_examples=150, deadline=None)
@given(
    queue=queue_configs,
    capacities=st.lists(st.integers(3, 4), min_size=1, max_size=4),
    weight=st.integers(1, 3),
    script=actions,
)
def test_no_item_starves_once_agents_free_up(
    queue: QueueConfig, capacities: list[int], weight: int, script: list[tuple[str, int, str, int]]
) -> None:
    """Whatever happened before, agents that accept offers and finish their work end up serving every item."""
    r = Router([queue], CapacityPolicy(default_text_weight=weight, max_missed_offers=2))
    for agent_id, cap in enumerate(capacities, 1):
        r.set_registered(agent_id, True, now=0)
        r.sign_in(agent_id, now=0, queues=["general"], capacity_override=cap)
    now = 0.0
    for action in script:
        now += 1
        apply(r, action, now, len(capacities))
    waiting = set(r.items)
    assigned: set[str] = set()
    for _ in range(500):
        if not r.items:
            break
        now += 1
        events = r.handle_timeout(now)
        for agent in list(r.agents.values()):
            if agent.presence is not AgentStatus.AVAILABLE:
                events += r.set_status(agent.id, "available", now=now)
        for item_id, item in sorted(r.items.items()):
            for a in sorted(item.offers)[:1]:
                events += r.accept(item_id, a, now=now)
        for item_id in sorted(r.held):
            events += r.finish(item_id, now=now)
        assigned |= {e.item_id for e in events if isinstance(e, Assigned)}
        check_capacity(r)
    assert r.items == {}
    assert waiting <= assigned


@settings(max_examples=100, deadline=None)
@given(
    priorities=st.lists(st.integers(0, 3), min_size=1, max_size=15),
    channel=st.sampled_from(CHANNELS),
    strategy=st.sampled_from(list(Strategy)),
)
def test_higher_priority_then_older_first(priorities: list[int], channel: str, strategy: Strategy) -> None:
    """One agent serving one item at a time takes them by priority, then arrival."""
    r = Router([QueueConfig("general", strategy=strategy)], CapacityPolicy(capacity=1))
    for n, priority in enumerate(priorities):
        r.enqueue(f"i{n}", queue="general", channel=channel, now=float(n), priority=priority)
    r.set_registered(1, True, now=100)
    events = r.sign_in(1, now=100, queues=["general"])
    order: list[str] = []
    now = 100.0
    while r.items or r.held:
        now += 1
        for item_id, item in list(r.items.items()):
            if 1 in item.offers:
                events += r.accept(item_id, 1, now=now)
        order += [e.item_id for e in events if isinstance(e, Assigned)]
        events = [e for held in list(r.held) for e in r.finish(held, now=now)]
    expected = sorted(range(len(priorities)), key=lambda n: (-priorities[n], n))
    assert order == [f"i{n}" for n in expected]
