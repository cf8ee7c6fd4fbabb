"""Alerts to departments (SMS/e-mail per unit) and 抢险 escalation, over the real store with an injected clock.

The staff-alert senders are the hub's port (the channels' own senders are tested against the real SMSC simulator
and SMTP server in tests/channels); here they record what they were asked to send, or fail.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.events import EventBus, WorkOrderChanged
from hub.models import Role, User
from hub.outbox import PermanentFailure, RetryPolicy
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.schema import units
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.alerts import UnitAlerts, alert_target
from hub.work_orders.calendar import calendar_from_rows
from hub.work_orders.escalation import ESCALATION_NOTE
from hub.work_orders.service import Params, WorkOrderService
from hub.work_orders.states import Action
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database
from tests.fixtures.work_orders import register_streetlight

CITIZEN = "13912345678"
GAS_LEAK = {
    "request_type": "repair",
    "description": "楼道里有很重的煤气味",
    "industry": "gas",
    "category": "gas.leak",
    "address": "城西区和平路8号2单元",
    "phone": CITIZEN,
    "unit": "gas_company.emergency",  # demo: alerted by e-mail, 15 minutes to sign
    "urgent": True,
}
BURST_MAIN = {**GAS_LEAK, "industry": "water", "category": "water.pipe_burst", "unit": "water_group.east"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Sender:
    """A staff-alert port that records (address, subject, text) and can fail."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # raised first, one per attempt

    async def __call__(self, address: str, subject: str, text: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((address, subject, text))


@dataclass
class World:
    engine: AsyncEngine
    clock: Clock
    service: WorkOrderService
    alerts: UnitAlerts
    senders: dict[str, Sender]
    users: dict[str, User]
    events: list[WorkOrderChanged]
    holder: list[Taxonomy]

    async def history(self, number: str) -> list[dict[str, object]]:
        order = await self.service.store.get_by_number(number)
        assert order is not None
        return await self.service.store.history(order.id)

    async def actions(self, number: str) -> list[str]:
        return [str(h["action"]) for h in await self.history(number)]

    async def set_unit(self, code: str, **values: object) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(units.update().where(units.c.code == code).values(**values))
        self.holder[0] = await load_taxonomy(self.engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    user_store = UserStore(engine)
    await load_demo(engine, user_store)
    users = {}
    for name, password in (("dept", "dept123"), ("agent1", "agent123")):
        user = await user_store.authenticate(name, password)
        assert user is not None
        users[name] = user
    clock = Clock()
    holder = [await load_taxonomy(engine)]
    store = WorkOrderStore(engine, clock=clock)
    calendar = calendar_from_rows(await store.calendar_days())
    bus = EventBus()
    service = WorkOrderService(store, lambda: holder[0], lambda: calendar, bus, clock=clock)
    senders = {"sms": Sender(), "email": Sender()}
    alerts = UnitAlerts(service, bus, senders, RetryPolicy(60.0, 600.0))
    alerts.attach()
    events: list[WorkOrderChanged] = []

    async def record(event: object) -> None:
        assert isinstance(event, WorkOrderChanged)
        events.append(event)

    bus.subscribe(WorkOrderChanged, record)
    try:
        yield World(engine, clock, service, alerts, senders, users, events, holder)
    finally:
        await engine.dispose()


async def test_a_dispatched_order_is_texted_to_the_units_phone_with_the_citizens_phone_masked(world: World) -> None:
    order = await register_streetlight(world.service, phone=CITIZEN, description="幸福路路灯不亮")
    assert world.alerts.pending == 1
    assert await world.alerts.send_due() is None
    [(address, subject, text)] = world.senders["sms"].sent
    assert address == "13800000000"  # demo: 市路灯管理所 by SMS
    assert order.number in subject and order.number in text
    for part in ("投诉", "路灯", "城东区幸福路12号", "签收后", "工作日", "市路灯管理所"):
        assert part in text
    assert CITIZEN not in text and "139****5678" in text  # a unit's shared phone: the citizen's number masked
    assert world.senders["email"].sent == []
    [alert] = [h for h in await world.history(order.number) if h["action"] == "alert"]
    assert alert["data"] == {"via": "sms", "to": "13800000000", "unit": "streetlight_office", "for": "dispatch"}
    assert alert["to_state"] == "dispatched"


async def test_an_urgent_order_is_mailed_in_full_with_its_sign_by_time(world: World) -> None:
    order = await world.service.register(**GAS_LEAK, district=None, conversation_id=None, contact_id=None)
    await world.alerts.send_due()
    [(address, subject, text)] = world.senders["email"].sent
    assert address == "qiangxian@gas.example.com"
    assert "紧急工单" in subject and order.number in subject
    assert CITIZEN in text  # e-mail to staff masks nothing
    assert "燃气泄漏" in text and "和平路8号2单元" in text and "煤气味" in text
    assert "10:15" in text and "15分钟" in text  # dispatched 10:00 Beijing time, 15 minutes to sign


async def test_a_sub_unit_without_a_setting_is_alerted_like_its_parent(world: World) -> None:
    await world.set_unit("streetlight_office", alert_channel=None, alert_address=None)
    assert alert_target(world.holder[0], "streetlight_office") is None
    await world.set_unit("municipal_office", alert_channel="email", alert_address="shizheng@city.example.com")
    await register_streetlight(world.service)
    await world.alerts.send_due()
    assert [a for a, _s, _t in world.senders["email"].sent] == ["shizheng@city.example.com"]


async def test_a_unit_without_alerts_gets_none(world: World) -> None:
    await register_streetlight(world.service, unit="sanitation_office", industry="sanitation", category=None)
    assert world.alerts.pending == 0
    assert await world.alerts.send_due() is None
    assert world.senders["sms"].sent == world.senders["email"].sent == []


async def test_a_failed_alert_is_logged_masked_and_retried_until_sent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.senders["sms"].failures.append(ConnectionError("SMSC down for 13800000000"))
    order = await register_streetlight(world.service)
    with caplog.at_level(logging.WARNING, logger="hub.work_orders.alerts"):
        wait = await world.alerts.send_due()
    assert wait == pytest.approx(60.0)  # the retry policy's first delay
    assert world.senders["sms"].sent == [] and world.alerts.pending == 1
    assert "attempt 1 failed" in caplog.text and "13800000000" not in caplog.text and "138****0000" in caplog.text
    assert "alert" not in await world.actions(order.number)
    assert await world.alerts.send_due() == pytest.approx(60.0)  # not due yet: nothing sent
    world.clock.now += timedelta(seconds=61)
    assert await world.alerts.send_due() is None
    assert len(world.senders["sms"].sent) == 1
    assert (await world.actions(order.number)).count("alert") == 1


async def test_a_refused_alert_is_recorded_and_not_retried(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.senders["sms"].failures.append(PermanentFailure("SMSC: invalid destination"))
    order = await register_streetlight(world.service)
    with caplog.at_level(logging.ERROR, logger="hub.work_orders.alerts"):
        assert await world.alerts.send_due() is None
    assert "refused for good" in caplog.text
    [failed] = [h for h in await world.history(order.number) if h["action"] == "alert_failed"]
    assert failed["data"]["error"] == "SMSC: invalid destination"  # type: ignore[index]
    assert world.alerts.pending == 0


async def test_a_channel_that_is_off_is_recorded_as_a_failed_alert(world: World) -> None:
    del world.senders["sms"]
    order = await register_streetlight(world.service)
    await world.alerts.send_due()
    assert "alert_failed" in await world.actions(order.number)


async def test_an_order_signed_before_the_retry_is_not_alerted_any_more(world: World) -> None:
    world.senders["sms"].failures.append(TimeoutError())
    order = await register_streetlight(world.service)
    await world.alerts.send_due()
    await world.service.act(order.number, Action.SIGN, world.users["dept"], Params())
    world.clock.now += timedelta(minutes=5)
    assert await world.alerts.send_due() is None
    assert world.senders["sms"].sent == []


async def test_a_redispatch_alerts_the_new_unit(world: World) -> None:
    order = await register_streetlight(world.service)
    await world.alerts.send_due()
    await world.service.act(
        order.number, Action.REDISPATCH, world.users["agent1"], Params(unit="gas_company.emergency")
    )
    await world.alerts.send_due()
    assert len(world.senders["sms"].sent) == 1
    [(address, _subject, _text)] = world.senders["email"].sent
    assert address == "qiangxian@gas.example.com"
    alerts = [h["data"] for h in await world.history(order.number) if h["action"] == "alert"]
    assert [a["for"] for a in alerts] == ["dispatch", "redispatch"]  # type: ignore[index]


async def test_alerts_not_sent_before_a_restart_are_sent_by_the_next_run(world: World) -> None:
    sent_before = await register_streetlight(world.service)
    await world.alerts.send_due()
    lost = await register_streetlight(world.service)  # queued in memory, then the process stopped
    await world.service.act(lost.number, Action.SIGN, world.users["dept"], Params())
    waiting = await register_streetlight(world.service)
    fresh = UnitAlerts(world.service, EventBus(), world.senders)
    assert await fresh.resync() == 1  # only the order still waiting to be signed; the alerted one is done
    world.senders["sms"].sent.clear()
    await fresh.send_due()
    [(_address, subject, _text)] = world.senders["sms"].sent
    assert waiting.number in subject
    assert (await world.actions(sent_before.number)).count("alert") == 1


async def test_an_urgent_order_not_signed_within_the_units_minutes_escalates_once(world: World) -> None:
    order = await world.service.register(**GAS_LEAK, district=None, conversation_id=None, contact_id=None)
    await world.alerts.send_due()
    world.clock.now += timedelta(minutes=14)
    assert (await world.service.watch_deadlines())["escalated"] == 0
    world.clock.now += timedelta(minutes=2)  # 16 minutes: the unit's 15 have passed
    assert (await world.service.watch_deadlines())["escalated"] == 1
    escalated = await world.service.store.get_by_number(order.number)
    assert escalated is not None and escalated.supervised and escalated.escalated_at == world.clock.now
    assert escalated.state == "dispatched"
    [event] = [h for h in await world.history(order.number) if h["action"] == "escalate"]
    assert event["note"] == ESCALATION_NOTE == "抢险超时未签收，已升级"
    assert [e.action for e in world.events][-1] == "escalate"
    # in the centre's supervision list
    assert order.number in {o.number for o in await world.service.store.find(supervised=True)}
    # a second alert to the unit
    await world.alerts.send_due()
    [_first, (address, subject, text)] = world.senders["email"].sent
    assert address == "qiangxian@gas.example.com" and "超时未签收" in subject and "已升级督办" in text
    # once per dispatch
    world.clock.now += timedelta(hours=1)
    assert (await world.service.watch_deadlines())["escalated"] == 0


async def test_escalation_alerts_the_centres_supervisors_when_the_centre_has_an_alert_address(world: World) -> None:
    await world.set_unit("centre", alert_channel="sms", alert_address="13900001111")
    order = await world.service.register(**GAS_LEAK, district=None, conversation_id=None, contact_id=None)
    world.clock.now += timedelta(minutes=20)
    await world.service.watch_deadlines()
    await world.alerts.send_due()
    [(address, _subject, text)] = world.senders["sms"].sent
    assert address == "13900001111" and order.number in text and CITIZEN not in text
    units_alerted = [h["data"]["unit"] for h in await world.history(order.number) if h["action"] == "alert"]  # type: ignore[index]
    assert sorted(units_alerted) == ["centre", "gas_company.emergency"]


async def test_the_default_minutes_apply_to_a_unit_without_its_own(world: World) -> None:
    order = await world.service.register(**BURST_MAIN, district=None, conversation_id=None, contact_id=None)
    world.clock.now += timedelta(minutes=29)
    assert (await world.service.watch_deadlines())["escalated"] == 0
    world.clock.now += timedelta(minutes=2)
    assert (await world.service.watch_deadlines())["escalated"] == 1
    assert "escalate" in await world.actions(order.number)


@pytest.mark.parametrize("signed", [True, False])
async def test_a_signed_or_ordinary_order_never_escalates(world: World, signed: bool) -> None:
    if signed:
        order = await world.service.register(**GAS_LEAK, district=None, conversation_id=None, contact_id=None)
        gas = await UserStore(world.engine).create("gas1", "gas12345", "燃气抢修", Role.DEPARTMENT, "gas_company")
        await world.service.act(order.number, Action.SIGN, gas, Params())
    else:
        order = await register_streetlight(world.service)  # not urgent
    world.clock.now += timedelta(hours=3)
    assert (await world.service.watch_deadlines())["escalated"] == 0
    assert "escalate" not in await world.actions(order.number)


async def test_a_redispatched_urgent_order_gets_the_new_units_minutes_again(world: World) -> None:
    order = await world.service.register(**GAS_LEAK, district=None, conversation_id=None, contact_id=None)
    world.clock.now += timedelta(minutes=16)
    assert (await world.service.watch_deadlines())["escalated"] == 1
    await world.service.act(order.number, Action.REDISPATCH, world.users["agent1"], Params(unit="gas_company"))
    world.clock.now += timedelta(minutes=20)
    assert (await world.service.watch_deadlines())["escalated"] == 0  # gas_company: the default 30 minutes
    world.clock.now += timedelta(minutes=11)
    assert (await world.service.watch_deadlines())["escalated"] == 1
    assert (await world.actions(order.number)).count("escalate") == 2


async def test_the_demo_data_sets_the_street_lighting_office_to_sms_and_another_unit_to_email(world: World) -> None:
    async with world.engine.connect() as conn:
        rows = (await conn.execute(sa.select(units).where(units.c.alert_channel.is_not(None)))).all()
    settings = {r.code: (r.alert_channel, r.alert_address) for r in rows}
    assert settings["streetlight_office"] == ("sms", "13800000000")
    assert any(channel == "email" for channel, _address in settings.values())
