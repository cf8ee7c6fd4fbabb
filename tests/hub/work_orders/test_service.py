"""The work-order lifecycle over the real store (SQLite and PostgreSQL): permissions, deadlines, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.events import EventBus, WorkOrderChanged
from hub.localtime import DEFAULT_ZONE as CENTRE_TZ
from hub.models import Role, User, WorkOrder
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.calendar import WorkingCalendar, calendar_from_rows
from hub.work_orders.service import NotFound, Params, WorkOrderError, WorkOrderService
from hub.work_orders.states import Action, IllegalTransition
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database
from tests.fixtures.work_orders import register_streetlight


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, engine: AsyncEngine, service: WorkOrderService, clock: Clock, users: dict[str, User]) -> None:
        self.engine, self.service, self.clock, self.users = engine, service, clock, users
        self.events: list[WorkOrderChanged] = []

    async def new_order(self, unit: str | None = "streetlight_office", category: str = "municipal.streetlight") -> str:
        order = await register_streetlight(self.service, unit=unit, category=category)
        return order.number

    async def act(self, number: str, action: Action, who: str | None, **params: object) -> WorkOrder:
        return await self.service.act(number, action, None if who is None else self.users[who], Params(**params))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    user_store = UserStore(engine)
    await load_demo(engine, user_store)
    users = {
        name: u
        for name in ("agent1", "supervisor", "leader", "dept", "kb", "admin")
        if (u := await user_store.authenticate(name, f"{'agent' if name == 'agent1' else name}123")) is not None
    }
    users["water"] = await user_store.create("water1", "water123", "供水 员工", Role.DEPARTMENT, "water_group")
    users["municipal"] = await user_store.create("muni1", "muni1234", "市政 员工", Role.DEPARTMENT, "municipal_office")
    clock = Clock()
    taxonomy = await load_taxonomy(engine)
    store = WorkOrderStore(engine, clock=clock)
    calendar = calendar_from_rows(await store.calendar_days())
    bus = EventBus()
    service = WorkOrderService(store, lambda: taxonomy, lambda: calendar, bus, clock=clock)
    w = World(engine, service, clock, users)

    async def record(event: object) -> None:
        assert isinstance(event, WorkOrderChanged)
        w.events.append(event)

    bus.subscribe(WorkOrderChanged, record)
    try:
        yield w
    finally:
        await engine.dispose()


async def test_full_lifecycle_records_who_when_and_notes(world: World) -> None:
    number = await world.new_order()
    order = await world.act(number, Action.SIGN, "dept", note="已签收")
    assert order.state == "signed" and order.signed_at == world.clock.now
    # complaint in municipal.streetlight: the category's deadline (working days from sign-for)
    days = world.service.deadline_days(order)
    expected_day = WorkingCalendar().add_working_days(date(2026, 11, 23), days)
    assert order.due_at is not None and order.due_at.astimezone(CENTRE_TZ).date() == expected_day
    await world.act(number, Action.START, "dept")
    order = await world.act(number, Action.REPLY, "dept", note="已更换灯泡，恢复照明")
    assert order.state == "replied" and order.result == "已更换灯泡，恢复照明"
    order = await world.act(number, Action.CLOSE, "agent1", note="核实办结")
    assert order.state == "closed" and order.closed_at is not None
    history = await world.service.store.history(order.id)
    assert [h["action"] for h in history] == ["receive", "dispatch", "sign", "start", "reply", "close"]
    assert history[2]["actor_name"] == "路灯所 刘洋" and history[2]["note"] == "已签收"
    assert [(e.action, e.automatic) for e in world.events] == [
        ("dispatch", True),  # by rule at registration
        ("sign", False),
        ("start", False),
        ("reply", False),
        ("close", False),
    ]


async def test_a_department_cannot_see_or_act_on_another_units_orders(world: World) -> None:
    number = await world.new_order()
    for who in ("water", "kb"):
        with pytest.raises(NotFound):
            await world.act(number, Action.SIGN, who)
        with pytest.raises(NotFound):
            await world.service.get_for(world.users[who], number)
    # the parent unit (市政设施管理处) sees its sub-unit's (路灯所) orders
    assert (await world.service.get_for(world.users["municipal"], number)).number == number
    assert await world.service.store.find(units=world.service.visible_units(world.users["water"])) == []


async def test_illegal_transitions_are_refused_with_clear_errors(world: World) -> None:
    number = await world.new_order()
    with pytest.raises(IllegalTransition, match="reply is not allowed when the order is dispatched"):
        await world.act(number, Action.REPLY, "dept", note="x")
    with pytest.raises(IllegalTransition, match="close is not allowed by department"):
        await world.act(number, Action.CLOSE, "dept")
    with pytest.raises(NotFound):  # a knowledge manager has no business with work orders
        await world.act(number, Action.NOTE, "kb", note="x")
    await world.act(number, Action.SIGN, "dept")
    with pytest.raises(WorkOrderError, match="result"):
        await world.act(number, Action.REPLY, "dept", note="   ")


async def test_return_with_reason_and_final_arbitration(world: World) -> None:
    number = await world.new_order()
    with pytest.raises(WorkOrderError, match="reason code"):
        await world.act(number, Action.RETURN, "dept", reason="bored")
    order = await world.act(number, Action.RETURN, "dept", reason="not_our_jurisdiction", note="属于物业管理范围")
    assert order.state == "returned" and order.returns == 1
    order = await world.act(number, Action.ARBITRATE, "supervisor", unit="streetlight_office", note="仲裁：路灯所负责")
    assert order.state == "dispatched" and order.return_locked
    with pytest.raises(IllegalTransition, match="final"):
        await world.act(number, Action.RETURN, "dept", reason="duplicate")
    assert Action.RETURN not in world.service.actions_for(world.users["dept"], order)


async def test_forward_to_sub_unit_and_redispatch(world: World) -> None:
    number = await world.new_order(unit="municipal_office", category="municipal.road_damage")
    with pytest.raises(WorkOrderError, match="sub-unit"):
        await world.act(number, Action.FORWARD, "municipal", unit="water_group")
    order = await world.act(number, Action.FORWARD, "municipal", unit="streetlight_office", note="转路灯所")
    assert order.unit == "streetlight_office" and order.state == "dispatched"
    order = await world.act(number, Action.REDISPATCH, "agent1", unit="water_group", note="二次派单")
    assert order.unit == "water_group"
    with pytest.raises(NotFound):
        await world.act(number, Action.SIGN, "dept")  # no longer theirs
    with pytest.raises(WorkOrderError, match="unit"):
        await world.act(number, Action.REDISPATCH, "agent1", unit="centre")


async def test_extension_moves_the_deadline_when_approved(world: World) -> None:
    number = await world.new_order()
    order = await world.act(number, Action.SIGN, "dept")
    assert order.due_at is not None
    with pytest.raises(WorkOrderError, match="working days"):
        await world.act(number, Action.REQUEST_EXTENSION, "dept", days=0, note="x")
    await world.act(number, Action.REQUEST_EXTENSION, "dept", days=3, note="需采购配件")
    with pytest.raises(WorkOrderError, match="already waiting"):
        await world.act(number, Action.REQUEST_EXTENSION, "dept", days=2, note="again")
    with pytest.raises(IllegalTransition):
        await world.act(number, Action.APPROVE_EXTENSION, "dept")
    extended = await world.act(number, Action.APPROVE_EXTENSION, "supervisor", note="同意")
    assert extended.due_at is not None
    old_day = order.due_at.astimezone(CENTRE_TZ).date()
    assert extended.due_at.astimezone(CENTRE_TZ).date() == WorkingCalendar().add_working_days(old_day, 3)
    assert [e["status"] for e in await world.service.store.extensions(order.id)] == ["approved"]
    await world.act(number, Action.REQUEST_EXTENSION, "dept", days=5, note="再延")
    refused = await world.act(number, Action.REFUSE_EXTENSION, "agent1")
    assert refused.due_at == extended.due_at
    with pytest.raises(WorkOrderError, match="no pending"):
        await world.act(number, Action.REFUSE_EXTENSION, "agent1")


async def test_deadline_watch_warns_then_reminds_and_supervises(world: World) -> None:
    number = await world.new_order()
    order = await world.act(number, Action.SIGN, "dept")
    assert order.due_at is not None
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 0, "reminded": 0}
    world.clock.now = order.due_at - timedelta(hours=5)
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 1, "reminded": 0}
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 0, "reminded": 0}  # once per deadline
    world.clock.now = order.due_at + timedelta(hours=1)
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 0, "reminded": 1}
    overdue = await world.service.store.get_by_number(number)
    assert overdue is not None and overdue.supervised and overdue.reminded_at == world.clock.now
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 0, "reminded": 0}  # at most daily
    world.clock.now += timedelta(days=1, minutes=1)
    assert await world.service.watch_deadlines() == {"escalated": 0, "warned": 0, "reminded": 1}
    supervised = await world.service.store.find(supervised=True)
    assert [o.number for o in supervised] == [number]


async def test_leader_instructions_and_callback_rehandle(world: World) -> None:
    number = await world.new_order()
    with pytest.raises(IllegalTransition):
        await world.act(number, Action.INSTRUCT, "agent1", note="x")
    await world.act(number, Action.INSTRUCT, "leader", note="请尽快处理，注意夜间安全")
    order = await world.service.store.get_by_number(number)
    assert order is not None
    instructions = await world.service.store.instructions(order.id)
    assert [(i["text"], i["author_name"]) for i in instructions] == [("请尽快处理，注意夜间安全", "主任 陈建国")]
    await world.act(number, Action.SIGN, "dept")
    await world.act(number, Action.REPLY, "dept", note="已修复")
    await world.act(number, Action.CLOSE, "agent1")
    with pytest.raises(WorkOrderError, match="satisfaction"):
        await world.act(number, Action.CALLBACK, None, satisfaction="meh")
    order = await world.act(number, Action.CALLBACK, None, satisfaction="unsatisfied", department_at_fault=True)
    assert order.state == "dispatched" and order.unit == "streetlight_office" and order.rehandles == 1
    assert order.satisfaction == "unsatisfied" and order.signed_at is None and order.closed_at is None


async def test_kpis_per_department_and_month(world: World) -> None:
    from hub.reports.kpis import unit_kpis

    on_time = await world.new_order()
    await world.act(on_time, Action.SIGN, "dept")
    world.clock.now += timedelta(hours=6)
    await world.act(on_time, Action.REPLY, "dept", note="修好了")
    await world.act(on_time, Action.CLOSE, "agent1")
    await world.act(on_time, Action.CALLBACK, None, satisfaction="satisfied")
    late = await world.new_order()
    order = await world.act(late, Action.SIGN, "dept")
    await world.act(late, Action.REQUEST_EXTENSION, "dept", days=1, note="配件")
    await world.act(late, Action.APPROVE_EXTENSION, "agent1")
    assert order.due_at is not None
    world.clock.now = order.due_at + timedelta(days=5)
    await world.act(late, Action.REPLY, "dept", note="迟到的修复")
    await world.act(late, Action.CLOSE, "agent1")
    await world.act(late, Action.CALLBACK, None, satisfaction="unsatisfied")
    returned = await world.new_order()
    await world.act(returned, Action.RETURN, "dept", reason="duplicate")
    [kpi] = await unit_kpis(world.engine, 2026, 11, CENTRE_TZ, units=["streetlight_office"])
    assert (kpi.received, kpi.closed, kpi.returns, kpi.extensions) == (3, 2, 1, 1)
    assert kpi.closure_rate == round(2 / 3, 4) and kpi.on_time_rate == 0.5 and kpi.satisfaction_rate == 0.5
    assert kpi.first_time_rate == 1.0 and kpi.avg_handling_hours is not None and kpi.avg_handling_hours > 6
    assert await unit_kpis(world.engine, 2026, 10, CENTRE_TZ) == []
