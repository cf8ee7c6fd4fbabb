"""The indexed dispatch and position decide exactly as the straightforward ones (ReferenceRouter), in any scenario."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import CapacityPolicy, Offered, QueueConfig, Router, RoutingError, Strategy, WorkItem
from routing.engine.reference import ReferenceRouter
from routing.engine.waiting import WaitingItems, group_of

CHANNELS = ["voice", "web_chat", "telegram", "sms", "email"]
QUEUES = ["water", "gas", "complaint"]
SKILLS = ["lang:yue", "district:east", "industry:gas"]

queue_configs = st.builds(
    QueueConfig,
    name=st.just("water"),
    strategy=st.sampled_from(list(Strategy)),
    fallback=st.sampled_from([s for s in Strategy if s not in (Strategy.RING_ALL, Strategy.LAST_AGENT)]),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 2), max_size=1),
    sl_target_s=st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from([3.0, 7.0, 15.0, 60.0]), max_size=3),
    default_sl_target_s=st.sampled_from([3.0, 15.0]),
    auto_accept=st.booleans(),
    allow_pick=st.booleans(),
    call_while_chatting=st.booleans(),
    wrap_up_s=st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from([0.0, 2.0]), max_size=2),
    offer_timeout_s=st.sampled_from([2.0, 5.0]),
    max_wait_s=st.sampled_from([None, 6.0]),
)

agent_specs = st.lists(
    st.tuples(
        st.sets(st.sampled_from(QUEUES), min_size=1),  # queues served
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 2), max_size=2),  # skills
        st.sampled_from([None, 1, 2, 4]),  # capacity override
        st.booleans(),  # softphone registered
    ),
    min_size=1,
    max_size=6,
)

KINDS = (
    ["enqueue"] * 5
    + ["enqueue_twin"] * 2
    + ["accept"] * 4
    + ["finish"] * 3
    + ["tick"] * 2
    + ["enqueue_past", "decline", "break", "available", "available", "offline", "pick", "assign"]
    + ["transfer_queue", "transfer_agent", "abandon", "release", "register", "end_wrap"]
)

# (kind, index, channel, priority, skills, time step)
actions = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 40),
        st.sampled_from(CHANNELS),
        st.sampled_from([0, 0, 5]),
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 2), max_size=1),
        st.sampled_from([0.0, 0.05, 0.1, 0.7, 1.0, 3.0, 6.0]),
    ),
    min_size=10,
    max_size=80,
)


def snapshot(r: Router, now: float) -> dict[str, Any]:
    """Everything a decision may read or write, plus the answers of position and the wait estimate."""
    return {
        "items": {
            i: (w.queue, w.channel, w.enqueued_at, w.seq, w.priority, w.skills, dict(w.offers), set(w.tried))
            for i, w in r.items.items()
        },
        "held": dict(r.held),
        "agents": {a.id: vars(a).copy() for a in r.agents.values()},
        "round_robin": dict(r._round_robin),
        "positions": {i: r.position(i, now) for i in r.items},
        "estimates": {i: r.estimated_wait_s(i, now) for i in r.items},
        "next_deadline": r.next_deadline(),
    }


def check_index(items: WaitingItems) -> None:
    """The groups hold exactly the items, each group sorted."""
    rebuilt: dict[Any, list[Any]] = {}
    for item in items.values():
        rebuilt.setdefault(group_of(item), []).append((-item.priority, item.enqueued_at, item.seq, item))
    assert items.groups == {group: sorted(entries) for group, entries in rebuilt.items()}


def call(r: Router, action: tuple[str, int, str, int, dict[str, int], float], now: float, n: int) -> Any:
    """One action on ``r``; its events, or the RoutingError's text (the same on both routers)."""
    kind, index, channel, priority, skills, _ = action
    agent_id = index % n + 1
    offers = sorted((item_id, a) for item_id, item in r.items.items() for a in item.offers)
    waiting = sorted(r.items)
    held = sorted(r.held)
    try:
        if kind in ("enqueue", "enqueue_past"):
            # a restored conversation keeps its old time (at most back to the start), so arrival and time disagree
            at = [now - 1.0, now / 2, 0.0][index % 3] if kind == "enqueue_past" else now
            item_id = f"i{index}-{now}-{kind}"
            queue = QUEUES[index % len(QUEUES)]
            return r.enqueue(item_id, queue=queue, channel=channel, now=at, priority=priority, skills=skills)
        if kind == "enqueue_twin" and waiting:
            # like a waiting item but a ULP or two older and arriving later: once waits are as long as the times
            # themselves, the two waits round to one float and the key falls back to arrival (twin of the oldest)
            twin = (
                min(r.items.values(), key=lambda w: w.enqueued_at)
                if index % 3
                else r.items[waiting[index % len(waiting)]]
            )
            at = twin.enqueued_at
            for _ in range(1 + index % 2):
                at = math.nextafter(at, -math.inf)
            return r.enqueue(
                f"{twin.id}-twin{index}",
                queue=twin.queue,
                channel=twin.channel,
                now=at,
                priority=twin.priority,
                skills=twin.skills,
            )
        if kind in ("accept", "decline") and offers:
            item_id, a = offers[index % len(offers)]
            return (r.accept if kind == "accept" else r.decline)(item_id, a, now=now)
        if kind == "finish" and held:
            return r.finish(held[index % len(held)], now=now)
        if kind == "tick":
            return r.handle_timeout(now)
        if kind == "break":
            return r.set_status(agent_id, "break", now=now, reason="rest")
        if kind in ("available", "offline"):
            return r.set_status(agent_id, kind, now=now)
        if kind == "pick" and waiting:
            return r.pick(agent_id, waiting[index % len(waiting)], now=now)
        if kind == "assign" and waiting:
            return r.assign_to(waiting[index % len(waiting)], agent_id, now=now, anyway=bool(priority))
        if kind == "transfer_queue" and held:
            return r.transfer(held[index % len(held)], now=now, to_queue=QUEUES[index % len(QUEUES)])
        if kind == "transfer_agent" and held:
            return r.transfer(held[index % len(held)], now=now, to_agent=agent_id)
        if kind in ("abandon", "release") and waiting:
            return (r.abandon if kind == "abandon" else r.release)(waiting[index % len(waiting)], now=now)
        if kind == "register":
            return r.set_registered(agent_id, not r.agents[agent_id].registered, now=now)
        if kind == "end_wrap":
            return r.end_wrap_up(agent_id, now=now)
    except RoutingError as error:
        return str(error)
    return None


def build(cls: type[Router], water: QueueConfig, specs: list[Any], weight: int) -> Router:
    queues = [
        water,
        QueueConfig("gas", Strategy.SKILLS, skills={"industry:gas": 1}, sl_target_s={"voice": 7.0}),
        QueueConfig("complaint", Strategy.RING_ALL, auto_accept=False, default_sl_target_s=3.0, max_wait_s=4.0),
    ]
    r = cls(queues, CapacityPolicy(capacity=3, text_weight={"email": weight}, max_missed_offers=2))
    for agent_id, (served, skills, cap, registered) in enumerate(specs, 1):
        r.set_registered(agent_id, registered, now=0.0)
        r.sign_in(agent_id, now=0.0, queues=served, skills=skills, capacity_override=cap)
    return r


@settings(max_examples=200, deadline=None)
@given(water=queue_configs, specs=agent_specs, weight=st.integers(1, 3), script=actions)
def test_indexed_router_decides_as_the_reference(
    water: QueueConfig, specs: list[Any], weight: int, script: list[tuple[str, int, str, int, dict[str, int], float]]
) -> None:
    fast, slow = build(Router, water, specs, weight), build(ReferenceRouter, water, specs, weight)
    assert snapshot(fast, 0.0) == snapshot(slow, 0.0)
    now = 0.0
    for action in script:
        now += action[5]
        assert call(fast, action, now, len(specs)) == call(slow, action, now, len(specs)), action
        check_index(fast.items)
        assert snapshot(fast, now) == snapshot(slow, now), action


def test_items_whose_waits_round_to_the_same_float_go_by_arrival() -> None:
    """A restored item a ULP older than a later one but with a higher seq: the key falls back to arrival."""
    early, late, now, target = 0.1, math.nextafter(0.1, math.inf), 0.2, 3.0
    assert -(now - early) / target == -(now - late) / target  # the tie this test is about
    for cls in (Router, ReferenceRouter):
        r = cls([QueueConfig("general", default_sl_target_s=target, auto_accept=False)], CapacityPolicy(capacity=1))
        r.enqueue("late", queue="general", channel="sms", now=late)  # seq 0
        r.enqueue("early", queue="general", channel="sms", now=early)  # seq 1, sorted first in its group
        r.enqueue("other", queue="general", channel="sms", now=0.15)
        assert [r.position(i, now) for i in ("late", "early", "other")] == [1, 2, 3]
        r.set_registered(1, True, now=now)
        events = r.sign_in(1, now=now, queues=["general"])
        assert [e.item_id for e in events if isinstance(e, Offered)] == ["late"]
        r.accept("late", 1, now=now)
        assert [e.item_id for e in r.finish("late", now=now) if isinstance(e, Offered)] == ["early"]


def test_the_index_follows_every_mutation() -> None:
    def item(n: int, queue: str = "a", channel: str = "sms", priority: int = 0) -> WorkItem:
        return WorkItem(f"i{n}", queue, channel, float(n % 3), n, priority, {"lang:yue": 1} if n % 4 == 0 else {})

    items = WaitingItems()
    for n in range(12):
        items[f"i{n}"] = item(n, queue="ab"[n % 2], priority=n % 2 * 5)
    check_index(items)
    items["i3"] = item(3, queue="c")  # replaced: moves to another group
    del items["i0"]
    assert items.pop("i1").id == "i1" and items.pop("missing", None) is None
    assert items.setdefault("i2", item(99)).seq == 2 and items.setdefault("i20", item(20)).seq == 20
    items.update({"i21": item(21)}, i22=item(22))
    items |= {"i23": item(23)}
    items.popitem()
    check_index(items)
    for copied in (copy.copy(items), copy.deepcopy(items), pickle.loads(pickle.dumps(items))):
        assert isinstance(copied, WaitingItems) and set(copied) == set(items)
        check_index(copied)
    items.clear()
    assert items == {} and items.groups == {}


NEAR = [0.0, math.nextafter(0.0, -math.inf)] + [
    t for base in (0.1, 0.7, 1.3) for t in (base, math.nextafter(base, math.inf), math.nextafter(base, -math.inf))
]


@settings(max_examples=300, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.sampled_from(NEAR), st.sampled_from(["sms", "voice"]), st.sampled_from([0, 0, 5])),
        min_size=2,
        max_size=12,
    ),
    now=st.sampled_from([0.2, 1.5, 3.1, 10.0]),
    target=st.sampled_from([3.0, 7.0]),
    slots=st.integers(1, 4),
    auto_accept=st.booleans(),
)
def test_near_equal_waits_are_served_as_the_reference_serves_them(
    arrivals: list[tuple[float, str, int]], now: float, target: float, slots: int, auto_accept: bool
) -> None:
    """Times a ULP apart, arriving in any order: positions, and the order served in one and in many dispatches."""
    results = []
    for cls in (Router, ReferenceRouter):
        queue = QueueConfig("general", default_sl_target_s=target, auto_accept=auto_accept)
        r = cls([queue, QueueConfig("other", sl_target_s={"sms": 2.0})], CapacityPolicy(capacity=slots))
        for n, (at, channel, priority) in enumerate(arrivals):
            r.enqueue(f"i{n}", queue=("general", "other")[n % 3 == 2], channel=channel, now=at, priority=priority)
        positions = {i: r.position(i, now) for i in r.items}
        r.set_registered(1, True, now=now)
        events = r.sign_in(1, now=now, queues=["general", "other"])
        for _ in range(len(arrivals)):
            for item_id in [i for i, item in r.items.items() if 1 in item.offers][:1]:
                events += r.accept(item_id, 1, now=now)
            for item_id in sorted(r.held):
                events += r.finish(item_id, now=now)
        results.append((positions, events, set(r.items)))
    assert results[0] == results[1]
