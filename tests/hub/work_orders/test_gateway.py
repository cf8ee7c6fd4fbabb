"""Registration and every state change go through the work-order service (ADR 0021), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.dialogue.ports import WorkOrderDraft
from hub.events import Event, EventBus, WorkOrderChanged, WorkOrderCreated
from hub.models import Conversation, SenderKind, User, WorkOrder
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders import service as service_module
from hub.work_orders.actions import HANDLERS
from hub.work_orders.calendar import calendar_from_rows
from hub.work_orders.notifier import CitizenNotifier
from hub.work_orders.query import OrderQuery, tab_condition
from hub.work_orders.service import AUTO_DISPATCH_NOTE, Params, WorkOrderService
from hub.work_orders.states import Action, Side, State
from rexian.demo import load_demo
from rexian.schema import migrate
from routing.desk import RuleDispatchDesk
from tests.fixtures.conversations import conversation_service
from tests.fixtures.postgres import fresh_database
from tests.fixtures.work_orders import register_streetlight


async def _tab_orders(service: WorkOrderService, user: User, tab: str) -> list[WorkOrder]:
    """The orders ``user`` sees in list tab ``tab`` (what /orders and /dept show)."""
    now = service.now()
    visible = service.visible_units(user)
    condition = tab_condition(tab, now, service.due_soon_before(now))
    query = OrderQuery(units=None if visible is None else tuple(visible), extra=(condition,))
    items, _total = await service.store.search(query)
    return items


STREETLIGHT = WorkOrderDraft("complaint", "municipal", "municipal.streetlight", "路灯不亮", "城东区幸福路12号", None)
UNKNOWN = WorkOrderDraft("consult", None, None, "不知道该找谁", "城东区幸福路12号", None)  # no rule matches


@dataclasses.dataclass
class World:
    engine: AsyncEngine
    service: WorkOrderService
    desk: RuleDispatchDesk
    conversations: ConversationStore
    agent: User
    dept: User
    events: list[Event]

    @property
    def store(self) -> WorkOrderStore:
        return self.service.store

    async def chat(self) -> Conversation:
        return await self.conversations.create("web_chat")

    async def system_notices(self, conversation: Conversation) -> list[str]:
        messages = await self.conversations.messages(conversation.id)
        return [m.text for m in messages if m.sender_kind is SenderKind.SYSTEM]

    async def history(self, order: WorkOrder) -> list[tuple[Any, ...]]:
        return [
            (h["action"], h["from_state"], h["to_state"], h["unit"], h["actor_id"], h["note"], h["data"])
            for h in await self.store.history(order.id)
        ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    users = UserStore(engine)
    await load_demo(engine, users)
    agent = await users.authenticate("agent1", "agent123")
    dept = await users.authenticate("dept", "dept123")
    assert agent is not None and dept is not None
    taxonomy = await load_taxonomy(engine)
    store = WorkOrderStore(engine)
    bus = EventBus()
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    bus.subscribe(WorkOrderCreated, record)
    bus.subscribe(WorkOrderChanged, record)
    conversations = ConversationStore(engine)
    CitizenNotifier(conversation_service(conversations, bus), lambda: taxonomy, bus).attach()
    calendar = calendar_from_rows(await store.calendar_days())
    service = WorkOrderService(store, lambda: taxonomy, lambda: calendar, bus)
    desk = RuleDispatchDesk(store, conversations, lambda: taxonomy, bus, service)
    try:
        yield World(engine, service, desk, conversations, agent, dept, events)
    finally:
        await engine.dispose()


def test_every_action_has_a_handler() -> None:
    assert set(HANDLERS) == set(Action)


async def test_a_rule_dispatches_the_new_order_through_the_state_machine(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[tuple[State, Action, Side]] = []
    real_next_state = service_module.next_state

    def spy(state: State, action: Action, side: Side) -> State:
        looked_up.append((state, action, side))
        return real_next_state(state, action, side)

    monkeypatch.setattr(service_module, "next_state", spy)
    chat = await world.chat()
    order, unit_name = await world.desk.register(chat.id, STREETLIGHT)
    assert looked_up == [(State.RECEIVED, Action.DISPATCH, Side.CENTRE)]  # the state table, as the centre
    assert (order.state, order.unit, unit_name) == ("dispatched", "streetlight_office", "市路灯管理所")
    assert order.dispatched_at is not None and order.signed_at is None and order.due_at is None
    assert await world.store.get_by_number(order.number) == order
    assert await world.history(order) == [
        ("receive", None, "received", None, None, None, None),
        ("dispatch", "received", "dispatched", "streetlight_office", None, AUTO_DISPATCH_NOTE,
         {"unit": "streetlight_office", "auto": True}),
    ]  # fmt: skip
    created, dispatched = world.events
    assert isinstance(created, WorkOrderCreated) and created.work_order.state == "received"
    assert isinstance(dispatched, WorkOrderChanged) and dispatched.work_order == order
    assert (dispatched.action, dispatched.actor_id, dispatched.automatic) == ("dispatch", None, True)
    # the bot's reply names the unit: no second notice in the citizen's conversation
    assert await world.system_notices(chat) == []
    # the department has it to sign for
    assert [o.number for o in await _tab_orders(world.service, world.dept, "to_sign")] == [order.number]


async def test_automatic_and_manual_dispatch_write_the_same_order(world: World) -> None:
    automatic = await register_streetlight(world.service, phone=None, unit="streetlight_office")
    received = await register_streetlight(world.service, phone=None, unit=None)
    manual = await world.service.act(received.number, Action.DISPATCH, world.agent, Params(unit="streetlight_office"))
    columns = ("state", "unit", "returns", "rehandles", "signed_at", "due_at", "supervised", "return_locked")
    assert [getattr(automatic, c) for c in columns] == [getattr(manual, c) for c in columns]
    auto_event = (await world.history(automatic))[-1]
    manual_event = (await world.history(manual))[-1]
    assert auto_event[:4] == manual_event[:4] == ("dispatch", "received", "dispatched", "streetlight_office")
    assert (auto_event[4], manual_event[4]) == (None, world.agent.id)
    assert (auto_event[6], manual_event[6]) == (
        {"unit": "streetlight_office", "auto": True},
        {"unit": "streetlight_office"},
    )


async def test_without_a_rule_the_order_waits_in_the_centres_list(world: World) -> None:
    chat = await world.chat()
    order, unit_name = await world.desk.register(chat.id, UNKNOWN)
    assert (order.state, order.unit, order.dispatched_at, unit_name) == ("received", None, None, None)
    assert await world.history(order) == [("receive", None, "received", None, None, None, None)]
    assert [type(e) for e in world.events] == [WorkOrderCreated]
    assert [o.number for o in await _tab_orders(world.service, world.agent, "unassigned")] == [order.number]
    assert await _tab_orders(world.service, world.dept, "to_sign") == []
    # the centre dispatches by hand; the citizen is told, once
    await world.service.act(order.number, Action.DISPATCH, world.agent, Params(unit="streetlight_office"))
    notices = await world.system_notices(chat)
    assert len(notices) == 1 and order.number in notices[0] and "市路灯管理所" in notices[0]
    assert await _tab_orders(world.service, world.agent, "unassigned") == []


@pytest.mark.parametrize("fault", ["moved_meanwhile", "unknown_unit"])
async def test_a_refused_dispatch_leaves_a_clean_received_order(
    world: World, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    unit = "streetlight_office"
    if fault == "moved_meanwhile":  # the guard sees another state than the one the order was read in
        real_apply = world.store.apply

        async def stale_apply(order: WorkOrder, **kwargs: Any) -> WorkOrder | None:
            return await real_apply(dataclasses.replace(order, state="dispatched"), **kwargs)

        monkeypatch.setattr(world.store, "apply", stale_apply)
    else:  # a rule naming a unit that is no longer in the department tree
        unit = "no_such_unit"
    chat = await world.chat()
    order = await register_streetlight(world.service, phone=None, conversation_id=chat.id, unit=unit)
    assert (order.state, order.unit, order.dispatched_at) == ("received", None, None)
    assert await world.store.get_by_number(order.number) == order
    assert await world.history(order) == [("receive", None, "received", None, None, None, None)]
    assert [type(e) for e in world.events] == [WorkOrderCreated]
    assert [o.number for o in await _tab_orders(world.service, world.agent, "unassigned")] == [order.number]
    monkeypatch.undo()
    dispatched = await world.service.act(order.number, Action.DISPATCH, world.agent, Params(unit="streetlight_office"))
    assert (dispatched.state, dispatched.unit) == ("dispatched", "streetlight_office")


async def test_a_crash_between_insert_and_dispatch_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(order: WorkOrder, **kwargs: Any) -> WorkOrder | None:
        raise RuntimeError("process died")

    monkeypatch.setattr(world.store, "apply", crash)
    with pytest.raises(RuntimeError, match="died"):
        await world.desk.register(None, STREETLIGHT)
    assert await world.store.find() == [] and world.events == []
    monkeypatch.undo()
    order, _ = await world.desk.register(None, STREETLIGHT)
    assert order.number.endswith("0001") and order.state == "dispatched"  # the day's counter was rolled back too
