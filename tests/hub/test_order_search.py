"""Finding work orders (hub.work_orders.query) on SQLite and PostgreSQL: search, filters, sort, pages, tab counts
and a department's scope. The orders are written as rows (every state at once); the pages' own tests register
them through the service (tests/hub/work_orders/test_search_pages.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.localtime import CityTime
from hub.models import WorkOrder
from hub.storage.engine import begin, create_engine, sqlite_url
from hub.storage.schema import contacts, work_order_extensions, work_orders
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.query import TABS, OrderQuery, find_page, tab_condition
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database

NOW = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SOON = NOW + timedelta(days=1)
CITY = CityTime()
STATES = ["received", "dispatched", "signed", "in_progress", "replied", "returned", "closed"]
KINDS = [  # industry, category, unit
    ("municipal", "municipal.streetlight", "streetlight_office"),
    ("water", "water.outage", "water_group.east"),
    ("water", "water.pipe_burst", "water_group"),
    ("drainage", "drainage.blockage", "drainage_company"),
]
SOURCES = ["voice", "phone", "web_chat", "letter", "walk_in"]
TYPES = ["complaint", "repair", "consult"]
ROADS = ["幸福路", "人民路", "解放街", "长江路"]
COUNT = 56


def order_row(i: int) -> dict[str, Any]:
    """Order ``i``: one hour apart (the newest last), attributes cycling so that every filter has a few matches."""
    industry, category, unit = KINDS[i % len(KINDS)]
    state = STATES[i % len(STATES)]
    created = NOW - timedelta(hours=COUNT - i)
    handling = state in ("signed", "in_progress")
    return {
        "number": f"2026120{7 + (i >= COUNT // 2)}{i:04d}",
        "contact_id": 1 if i % 10 == 3 else None,
        "request_type": TYPES[i % len(TYPES)],
        "industry": industry,
        "category": category,
        "district": "chengdong",
        "address": f"城东区{ROADS[i % len(ROADS)]}{i}号",
        "phone": f"1380000{i:04d}",
        "description": "路灯不亮 100%亮度" if i == 5 else f"第{i}号诉求",
        "unit": None if state == "received" else unit,
        "state": state,
        "urgent": i % 9 == 0,
        "created_at": created,
        "updated_at": created + timedelta(minutes=(i * 37) % 500),
        "due_at": NOW + timedelta(hours=(i % 5) * 10 - 20) if handling else None,
        "supervised": i % 8 == 0,
        "source": SOURCES[i % len(SOURCES)],
        "citizen_name": "欧阳娜" if i == 11 else None,
    }


ROWS = [order_row(i) for i in range(COUNT)]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """One filled database per backend for the whole module (the tests only read)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("search"))
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    db = create_engine(url)
    await migrate(db)
    await load_demo(db, UserStore(db))
    async with begin(db) as conn:
        await conn.execute(contacts.insert().values(id=1, name="诸葛明", phone="13999990000", created_at=NOW))
        await conn.execute(work_orders.insert(), ROWS)
        ids = dict((await conn.execute(sa.select(work_orders.c.number, work_orders.c.id))).tuples().all())
        pending = [ids[r["number"]] for r in ROWS[2:12] if r["state"] in ("signed", "in_progress")]
        await conn.execute(
            work_order_extensions.insert(),
            [
                {"work_order_id": i, "days": 3, "reason": "协调", "status": "pending", "requested_at": NOW}
                for i in pending
            ],
        )
    try:
        yield db
    finally:
        await db.dispose()


async def numbers(engine: AsyncEngine, **query: Any) -> list[str]:
    items, total = await WorkOrderStore(engine).search(OrderQuery(per_page=200, **query))
    assert total == len(items)
    return [o.number for o in items]


def expect(predicate: Callable[[dict[str, Any]], bool]) -> list[str]:
    """The numbers of the rows matching ``predicate``, newest first."""
    return [r["number"] for r in reversed(ROWS) if predicate(r)]


def overdue(r: dict[str, Any]) -> bool:
    return r["state"] in ("signed", "in_progress") and r["due_at"] < NOW


@pytest.mark.parametrize(
    ("q", "predicate"),
    [
        (ROWS[17]["number"], lambda r: r is ROWS[17]),  # the full number
        ("20261208", lambda r: r["number"].startswith("20261208")),  # a number's prefix
        ("13800000031", lambda r: r is ROWS[31]),  # a phone
        ("138 0000 0031", lambda r: r is ROWS[31]),  # a phone as typed with spaces
        ("欧阳娜", lambda r: r is ROWS[11]),  # the citizen's name on the order
        ("诸葛", lambda r: r["contact_id"] == 1),  # the contact's name
        ("人民路", lambda r: "人民路" in r["address"]),  # an address fragment
        ("长江路7号", lambda r: r is ROWS[7]),
        ("路灯不亮", lambda r: r is ROWS[5]),  # the description
        ("100%", lambda r: r is ROWS[5]),  # LIKE wildcards are literal
        ("%", lambda r: r is ROWS[5]),
        ("_", lambda r: False),
        ("不存在的地址", lambda r: False),
    ],
)
async def test_the_search_box_finds_number_phone_name_address_and_text(
    engine: AsyncEngine, q: str, predicate: Callable[[dict[str, Any]], bool]
) -> None:
    assert await numbers(engine, q=q) == expect(predicate)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ({"states": ("dispatched",)}, lambda r: r["state"] == "dispatched"),
        ({"unit": "water_group.east"}, lambda r: r["unit"] == "water_group.east"),
        ({"industry": "water"}, lambda r: r["industry"] == "water"),
        ({"category": "water.pipe_burst"}, lambda r: r["category"] == "water.pipe_burst"),
        ({"request_type": "consult"}, lambda r: r["request_type"] == "consult"),
        ({"source": "letter"}, lambda r: r["source"] == "letter"),
        ({"overdue_at": NOW}, overdue),
        ({"supervised": True}, lambda r: r["supervised"]),
        ({"urgent": True}, lambda r: r["urgent"]),
        (
            {"industry": "water", "states": ("closed", "replied"), "q": "人民路"},
            lambda r: r["industry"] == "water" and r["state"] in ("closed", "replied") and "人民路" in r["address"],
        ),
    ],
)
async def test_filters(engine: AsyncEngine, query: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> None:
    found = await numbers(engine, **query)
    assert found == expect(predicate) and found


async def test_created_dates_are_the_citys_local_days(engine: AsyncEngine) -> None:
    # 2026-12-08 in Shanghai starts at 2026-12-07 16:00 UTC: the rows created from then on
    start, end = CITY.day_range(date(2026, 12, 8), date(2026, 12, 8))
    found = await numbers(engine, created_from=start, created_to=end)
    assert found == expect(lambda r: start <= r["created_at"] < end)
    assert len(found) == 12  # 16:00 .. 03:00 UTC, hourly (NOW is 04:00 UTC)
    assert await numbers(engine, created_to=CITY.start_of(date(2026, 12, 6))) == []


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("newest", lambda r: (-r["created_at"].timestamp(),)),
        ("oldest", lambda r: (r["created_at"].timestamp(),)),
        ("updated", lambda r: (-r["updated_at"].timestamp(), -ROWS.index(r))),
        ("due", lambda r: (r["due_at"] is None, r["due_at"] or NOW, -ROWS.index(r))),
    ],
)
async def test_sorts(engine: AsyncEngine, sort: str, key: Callable[[dict[str, Any]], tuple[Any, ...]]) -> None:
    assert await numbers(engine, sort=sort) == [r["number"] for r in sorted(ROWS, key=key)]


async def test_pages_cover_every_match_once(engine: AsyncEngine) -> None:
    store = WorkOrderStore(engine)
    seen: list[str] = []
    for page in (1, 2, 3):
        items, total = await store.search(OrderQuery(industry="water", per_page=12, page=page))
        assert total == 28
        seen += [o.number for o in items]
        assert len(items) == (12 if page < 3 else 4)
    assert seen == expect(lambda r: r["industry"] == "water")
    items, total = await store.search(OrderQuery(industry="water", per_page=12, page=9))
    assert items == [] and total == 28


def tabs() -> dict[str, Any]:
    return {t: tab_condition(t, NOW, SOON) for t in TABS}


TAB_RULES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "unassigned": lambda r: r["state"] == "received",
    "to_sign": lambda r: r["state"] == "dispatched",
    "in_progress": lambda r: r["state"] in ("signed", "in_progress"),
    "due_soon": lambda r: r["state"] in ("signed", "in_progress") and NOW <= r["due_at"] < SOON,
    "overdue": overdue,
    "supervision": lambda r: r["supervised"] and r["state"] != "closed",
    "returned": lambda r: r["state"] == "returned",
    "replied": lambda r: r["state"] == "replied",
    "extensions": lambda r: r in ROWS[2:12] and r["state"] in ("signed", "in_progress"),
    "closed": lambda r: r["state"] == "closed",
    "all": lambda r: True,
}


@pytest.mark.parametrize("tab", TABS)
async def test_every_tab_is_counted_and_listed(engine: AsyncEngine, tab: str) -> None:
    page = await find_page(engine, OrderQuery(per_page=200), tabs(), tab)
    for name, rule in TAB_RULES.items():
        assert page.counts[name] == len(expect(rule)), name
    assert [o.number for o in page.items] == expect(TAB_RULES[tab]) and page.total == len(page.items)
    assert all(isinstance(o, WorkOrder) for o in page.items)


async def test_tab_counts_follow_the_filters(engine: AsyncEngine) -> None:
    page = await find_page(engine, OrderQuery(industry="water", q="人民路", per_page=5), tabs(), "all")
    for name, rule in TAB_RULES.items():
        assert page.counts[name] == len(
            expect(lambda r, rule=rule: rule(r) and r["industry"] == "water" and "人民路" in r["address"])
        )
    assert page.total == page.counts["all"] and len(page.items) == min(5, page.total)


@pytest.mark.parametrize("q", ["number", "phone", "address"])
async def test_a_department_cannot_find_another_units_order(engine: AsyncEngine, q: str) -> None:
    water = ROWS[1]  # water_group.east
    text = water[q] if q != "address" else water["address"]
    streetlight = ("streetlight_office",)
    assert await numbers(engine, q=text) == [water["number"]]
    assert await numbers(engine, q=text, units=streetlight) == []
    assert await numbers(engine, q=text, units=streetlight, unit="water_group.east") == []
    assert await numbers(engine, phone=water["phone"], units=streetlight) == []
    assert await numbers(engine, q=text, units=()) == []  # no unit at all: nothing
    water_group = ("water_group", "water_group.east", "water_group.west")
    assert await numbers(engine, q=text, units=water_group) == [water["number"]]
    page = await find_page(engine, OrderQuery(q=text, units=streetlight), tabs(), "all")
    assert page.items == [] and set(page.counts.values()) == {0}
