"""Work orders across the city's midnight: numbers, deadlines, "due soon" and extensions use the local day, not the
UTC one (docs/adr/0024-time-zones.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.events import EventBus
from hub.models import User
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.calendar import WorkingCalendar, calendar_from_rows
from hub.work_orders.service import Params, WorkOrderService
from hub.work_orders.states import Action
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database
from tests.fixtures.work_orders import register_streetlight

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
AFTER_MIDNIGHT = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # Tue 2026-12-08 00:30 in Shanghai; Mon 12-07 in UTC
STREETLIGHT_DAYS = 2  # municipal.streetlight's time limit in the demo taxonomy (working days from 签收)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class City:
    engine: AsyncEngine
    service: WorkOrderService
    calendar: WorkingCalendar
    clock: Clock
    users: dict[str, User]

    async def new_order(self) -> str:
        order = await register_streetlight(self.service)
        return order.number

    def service_in(self, zone: ZoneInfo) -> WorkOrderService:
        """A service over the same store whose city is ``zone``."""
        store = WorkOrderStore(self.engine, clock=self.clock, tz=zone)
        service = self.service
        return WorkOrderService(store, service.taxonomy, service.calendar, EventBus(), clock=self.clock, tz=zone)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    await load_demo(engine, UserStore(engine))
    try:
        yield engine
    finally:
        await engine.dispose()


async def city_of(engine: AsyncEngine, zone: ZoneInfo, now: datetime) -> City:
    users = UserStore(engine)
    found = {
        "dept": await users.authenticate("dept", "dept123"),
        "supervisor": await users.authenticate("supervisor", "supervisor123"),
    }
    clock = Clock(now)
    taxonomy = await load_taxonomy(engine)
    store = WorkOrderStore(engine, clock=clock, tz=zone)
    calendar = calendar_from_rows(await store.calendar_days())
    service = WorkOrderService(store, lambda: taxonomy, lambda: calendar, EventBus(), clock=clock, tz=zone)
    return City(engine, service, calendar, clock, {k: u for k, u in found.items() if u is not None})


def end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


async def test_an_order_after_local_midnight_is_numbered_with_the_local_day(engine: AsyncEngine) -> None:
    city = await city_of(engine, SHANGHAI, AFTER_MIDNIGHT)
    number = await city.new_order()
    assert number == "202612080001"  # the city's 12-08, though it is still 12-07 in UTC
    city.clock.now = datetime(2026, 12, 8, 15, 59, 59, tzinfo=UTC)  # 23:59:59 local: the same local day
    assert await city.new_order() == "202612080002"
    city.clock.now = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # local midnight: a new day, a new sequence
    assert await city.new_order() == "202612090001"
    order = await city.service.store.get_by_number(number)
    assert order is not None and order.created_at == AFTER_MIDNIGHT  # stored as the UTC instant


async def test_the_day_of_the_number_is_the_configured_citys(engine: AsyncEngine) -> None:
    city = await city_of(engine, SHANGHAI, AFTER_MIDNIGHT)
    utc = city.service_in(ZoneInfo("UTC"))
    new_york = city.service_in(NEW_YORK)
    for service, expected in ((utc, "202612070001"), (new_york, "202612070002"), (city.service, "202612080001")):
        order = await register_streetlight(service, request_type="consult", description="咨询", unit=None)
        assert order.number == expected, service.tz


async def test_the_deadline_counts_from_the_local_day_of_sign_for(engine: AsyncEngine) -> None:
    city = await city_of(engine, SHANGHAI, AFTER_MIDNIGHT)
    number = await city.new_order()
    order = await city.service.act(number, Action.SIGN, city.users["dept"], Params(note="已签收"))
    assert city.service.deadline_days(order) == STREETLIGHT_DAYS
    # Signed Tue 12-08 00:30 local: 2 working days after Tue 12-08 is Thu 12-10, ending at 23:59:59 local.
    expected = end_of(date(2026, 12, 10), SHANGHAI)
    assert city.calendar.add_working_days(date(2026, 12, 8), STREETLIGHT_DAYS) == date(2026, 12, 10)
    assert order.due_at == expected == datetime(2026, 12, 10, 15, 59, 59, tzinfo=UTC)
    # Counted from the UTC day (Mon 12-07) it would have ended a day early.
    assert order.due_at != end_of(city.calendar.add_working_days(date(2026, 12, 7), STREETLIGHT_DAYS), SHANGHAI)
    stored = await city.service.store.get_by_number(number)
    assert stored is not None and stored.due_at == expected and stored.signed_at == AFTER_MIDNIGHT


async def test_due_soon_means_by_the_end_of_the_next_local_working_day(engine: AsyncEngine) -> None:
    city = await city_of(engine, SHANGHAI, AFTER_MIDNIGHT)
    assert city.service.due_soon_before(AFTER_MIDNIGHT) == end_of(date(2026, 12, 9), SHANGHAI)
    friday_night = datetime(2026, 12, 11, 16, 30, tzinfo=UTC)  # Sat 12-12 00:30 local: next working day Mon 12-14
    assert city.service.due_soon_before(friday_night) == end_of(date(2026, 12, 14), SHANGHAI)


async def test_a_city_west_of_utc_ends_its_deadlines_on_its_own_evening(engine: AsyncEngine) -> None:
    evening = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # Mon 12-07 22:00 EST; already Tue 12-08 in UTC
    city = await city_of(engine, NEW_YORK, evening)
    number = await city.new_order()
    assert number == "202612070001"
    order = await city.service.act(number, Action.SIGN, city.users["dept"], Params())
    expected = end_of(date(2026, 12, 9), NEW_YORK)  # Mon + 2 working days = Wed 12-09, 23:59:59 EST
    assert order.due_at == expected == datetime(2026, 12, 10, 4, 59, 59, tzinfo=UTC)  # 12-10 in UTC
    assert order.due_at is not None and order.due_at.astimezone(NEW_YORK).date() == date(2026, 12, 9)
    # an extension adds working days to the local due day (Wed 12-09 + 1 = Thu 12-10), not to the UTC one (12-10)
    await city.service.act(number, Action.REQUEST_EXTENSION, city.users["dept"], Params(days=1, note="需采购配件"))
    extended = await city.service.act(number, Action.APPROVE_EXTENSION, city.users["supervisor"], Params(note="同意"))
    assert extended.due_at == end_of(date(2026, 12, 10), NEW_YORK)
