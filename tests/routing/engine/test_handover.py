"""Assignment by a supervisor, transfer to an agent or a queue, and release of a waiting item."""

from __future__ import annotations

import pytest

from routing.engine import Assigned, Offered, QueueConfig, RoutingError, Transferred
from routing.engine.events import QueueLeft

from .support import of, router, staff


def test_a_supervisor_assigns_a_waiting_chat_to_a_chosen_agent_even_when_full() -> None:
    r = router(capacity=1)
    staff(r, 1)
    staff(r, 2)
    r.enqueue("c1", queue="general", channel="web_chat", now=1)
    r.enqueue("c2", queue="general", channel="web_chat", now=2)
    holder = r.holder("c1")
    assert holder is not None and r.holder("c2") is not None
    r.enqueue("c3", queue="general", channel="web_chat", now=3)
    events = r.assign_to("c3", holder, now=4)
    assert of(events, Assigned) == [Assigned("c3", holder, "general", 1, "supervisor")]
    assert r.holder("c3") == holder and "c3" not in r.items


def test_assigning_a_call_needs_a_registered_free_softphone() -> None:
    r = router()
    staff(r, 1, registered=False)
    r.enqueue("call", queue="general", channel="voice", now=0)
    with pytest.raises(RoutingError):
        r.assign_to("call", 1, now=1)
    r.set_status(1, "offline", now=1)
    with pytest.raises(RoutingError):
        r.assign_to("call", 1, now=1)


def test_transfer_to_an_agent_moves_the_load_and_counts_the_first_agents_work() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("c1", queue="general", channel="web_chat", now=0)
    assert r.holder("c1") == 1
    staff(r, 2, now=5)
    events = r.transfer("c1", now=10, to_agent=2)
    assert of(events, Transferred) == [Transferred("c1", 1, 2, None, 10, 10)]
    assert of(events, Assigned)[0].how == "transferred"
    assert r.holder("c1") == 2
    assert r.agents[1].load == {} and r.agents[1].handled_today == 1 and r.agents[1].talk_time_today == 10
    assert "c1" in r.agents[2].load


def test_transfer_to_a_queue_waits_again_with_its_priority_and_goes_to_a_member() -> None:
    r = router(QueueConfig("general"), QueueConfig("gas"))
    staff(r, 1)
    r.enqueue("c1", queue="general", channel="web_chat", now=0, priority=5)
    events = r.transfer("c1", now=3, to_queue="gas")
    assert of(events, Transferred)[0].to_queue == "gas"
    assert r.items["c1"].queue == "gas" and r.items["c1"].priority == 5 and r.items["c1"].enqueued_at == 3
    events = staff(r, 2, now=4, queues=("gas",))
    assert of(events, Assigned) == [Assigned("c1", 2, "gas", 1, "auto")]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [({}, "no target"), ({"to_agent": 1, "to_queue": "general"}, "two targets"), ({"to_queue": "nope"}, "queue")],
)
def test_bad_transfers_are_refused(kwargs: dict[str, object], why: str) -> None:
    r = router()
    staff(r, 1)
    r.enqueue("c1", queue="general", channel="web_chat", now=0)
    with pytest.raises(RoutingError):
        r.transfer("c1", now=1, **kwargs)  # type: ignore[arg-type]
    assert r.holder("c1") == 1, why


def test_transfer_to_the_holder_or_an_unheld_item_is_refused() -> None:
    r = router()
    staff(r, 1)
    r.enqueue("c1", queue="general", channel="web_chat", now=0)
    with pytest.raises(RoutingError):
        r.transfer("c1", now=1, to_agent=1)
    with pytest.raises(RoutingError):
        r.transfer("nope", now=1, to_queue="general")


def test_release_takes_a_waiting_item_out_without_an_outcome_and_withdraws_its_offer() -> None:
    r = router(QueueConfig("general", auto_accept=False))
    staff(r, 1)
    r.enqueue("c1", queue="general", channel="web_chat", now=0)
    assert r.items["c1"].offers
    events = r.release("c1", now=1)
    assert not of(events, QueueLeft) and "c1" not in r.items
    assert r.agents[1].offered == {}


def test_the_transferring_agent_gets_the_queues_wrap_up_and_is_not_offered_the_item_back() -> None:
    r = router(QueueConfig("general", wrap_up_s={"voice": 10}))
    staff(r, 1)
    r.enqueue("call", queue="general", channel="voice", now=0)
    r.accept("call", 1, now=1)
    events = r.transfer("call", now=5, to_queue="general")
    assert r.agents[1].wrap_up_until == 15 and r.agents[1].status.value == "wrap_up"
    assert not of(events, Assigned) and r.items["call"].offers == {}
    events = r.handle_timeout(15)
    assert [e.agent_id for e in of(events, Offered)] == [1]  # after the wrap-up the only agent may take it again
