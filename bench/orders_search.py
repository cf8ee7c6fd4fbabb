"""Finding work orders among 100,000: the first page of the centre's list and the department portal.

Fills N orders (default 100,000; a realistic mix of states, units, industries, categories, sources, addresses and
phones, with repeat callers, contacts and pending extension requests) with Core bulk inserts into a migrated demo
store, on SQLite and on PostgreSQL, then times what a list page asks the database (``hub.work_orders.query.
find_page``: one page of 50 and the count of every tab under the same filters) for: no filter, two tabs (overdue,
to sign), a phone search, a text search (an address fragment), a multi-filter and a department's portal. The anchor
in the same run is a bare ``SELECT * FROM work_orders ORDER BY id DESC LIMIT 50`` on the same table. Prints one
JSON object with p50/p95 per query per database and the 300 ms target; logs go to stderr.

PostgreSQL: a throw-away cluster is started like the tests' (``tests/fixtures/postgres.py``: initdb, 127.0.0.1, a
free port) unless ``--database-url`` names an EMPTY database.

    python bench/orders_search.py [--orders 100000] [--rounds 30] [--database-url URL] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.localtime import CityTime  # noqa: E402
from hub.storage.engine import begin, create_engine, sqlite_url  # noqa: E402
from hub.storage.schema import contacts, work_order_extensions, work_orders  # noqa: E402
from hub.storage.taxonomy import load_taxonomy  # noqa: E402
from hub.storage.users import UserStore  # noqa: E402
from hub.taxonomy import Taxonomy  # noqa: E402
from hub.work_orders.portal import CENTRE_TABS, DEPT_TABS  # noqa: E402
from hub.work_orders.query import OrderQuery, find_page, tab_condition  # noqa: E402
from rexian.demo import load_demo  # noqa: E402
from rexian.schema import migrate  # noqa: E402

TARGET_MS = 300.0
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
CITY = CityTime()
ROADS = [
    "幸福路",
    "人民路",
    "解放街",
    "长江路",
    "黄河路",
    "和平路",
    "建设大道",
    "中山路",
    "新华街",
    "文化路",
    "光明巷",
    "胜利路",
]
COMPOUNDS = ["阳光小区", "锦绣花园", "翠湖苑", "金色家园", "绿城公寓", "和谐家园", "滨江花园", "书香名邸"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英"]
PROBLEMS = ["已经三天了", "反映多次无人处理", "请尽快处理", "影响居民正常生活", "夜间尤其严重", "老人小孩出行不便"]
# state, share (a hotline's list: most orders are closed)
STATES = [
    ("closed", 0.62),
    ("replied", 0.06),
    ("in_progress", 0.08),
    ("signed", 0.06),
    ("dispatched", 0.09),
    ("received", 0.04),
    ("returned", 0.05),
]
SOURCES = [("voice", 0.45), ("phone", 0.15), ("web_chat", 0.12), ("sms", 0.06), ("email", 0.04), ("telegram", 0.03)]
SOURCES += [
    ("walk_in", 0.03),
    ("letter", 0.03),
    ("media", 0.02),
    ("leader", 0.02),
    ("website", 0.03),
    ("open311", 0.02),
]
TYPES = [("complaint", 0.4), ("repair", 0.3), ("consult", 0.2), ("suggestion", 0.07), ("praise", 0.03)]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _unit_for(tax: Taxonomy, industry: str, category: str, district: str) -> str | None:
    for rule in tax.rules:
        if rule.industry == industry and rule.category in (None, category) and rule.district in (None, district):
            return rule.unit
    return None


def make_rows(count: int, tax: Taxonomy, seed: int = 12319) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` orders (oldest first, two years back from NOW) and the contacts of about a third of them."""
    rng = random.Random(seed)
    categories = list(tax.categories.values())
    districts = list(tax.districts.values())
    callers = [_phone(rng) for _ in range(max(count // 4, 1))]  # repeat callers: ~4 orders per phone on average
    contact_rows = [
        {"id": i + 1, "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "phone": phone, "created_at": NOW}
        for i, phone in enumerate(callers[: len(callers) // 3])
    ]
    contact_of = {row["phone"]: row["id"] for row in contact_rows}
    span = timedelta(days=730).total_seconds()
    orders: list[dict[str, Any]] = []
    per_day: dict[str, int] = {}
    for i in range(count):
        created = NOW - timedelta(seconds=span * (1 - i / count) + rng.randrange(60))
        category = rng.choice(categories)
        district = rng.choice(districts)
        state = _pick(rng, STATES)
        phone = rng.choice(callers)
        address = f"{district.name_zh}{rng.choice(ROADS)}{rng.randrange(1, 300)}号"
        if rng.random() < 0.6:
            address += f"{rng.choice(COMPOUNDS)}{rng.randrange(1, 30)}栋{rng.randrange(1, 6)}单元"
        day = CITY.local(created).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        dispatched = state != "received"
        signed = state not in ("received", "dispatched", "returned")
        # orders still being handled: deadlines around now (about a third overdue)
        due = (
            created + timedelta(days=5)
            if state not in ("in_progress", "signed")
            else NOW + timedelta(days=rng.randrange(-6, 12))
        )
        orders.append(
            {
                "number": f"{day}{per_day[day]:04d}",
                "contact_id": contact_of.get(phone),
                "request_type": _pick(rng, TYPES),
                "industry": category.industry,
                "category": category.code,
                "district": district.code,
                "address": address,
                "phone": phone,
                "description": f"{address}{category.name_zh}问题，{rng.choice(PROBLEMS)}。",
                "unit": _unit_for(tax, category.industry, category.code, district.code) if dispatched else None,
                "state": state,
                "urgent": category.urgent or rng.random() < 0.03,
                "created_at": created,
                "updated_at": min(created + timedelta(hours=rng.randrange(1, 200)), NOW),
                "dispatched_at": created + timedelta(minutes=5) if dispatched else None,
                "signed_at": created + timedelta(hours=2) if signed else None,
                "due_at": due if signed else None,
                "supervised": rng.random() < 0.02,
                "source": _pick(rng, SOURCES),
                "citizen_name": rng.choice(SURNAMES) + rng.choice(GIVEN) if rng.random() < 0.5 else None,
                "result": "已处理完毕" if state in ("replied", "closed") else None,
            }
        )
    return orders, contact_rows


async def fill(engine: AsyncEngine, count: int, tax: Taxonomy) -> dict[str, Any]:
    """Bulk-insert the orders, contacts and a few pending extension requests (Core, 2,000 rows a statement)."""
    orders, contact_rows = make_rows(count, tax)
    started = time.perf_counter()
    async with begin(engine) as conn:
        for start in range(0, len(contact_rows), 2000):
            await conn.execute(contacts.insert(), contact_rows[start : start + 2000])
        for start in range(0, len(orders), 2000):
            await conn.execute(work_orders.insert(), orders[start : start + 2000])
        handling = (
            await conn.execute(
                sa.select(work_orders.c.id).where(work_orders.c.state.in_(("signed", "in_progress"))).limit(300)
            )
        ).scalars()
        await conn.execute(
            work_order_extensions.insert(),
            [
                {"work_order_id": i, "days": 3, "reason": "需协调", "status": "pending", "requested_at": NOW}
                for i in handling
            ],
        )
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE"))
    sample = orders[len(orders) // 2]
    return {"fill_s": round(time.perf_counter() - started, 1), "phone": sample["phone"], "contacts": len(contact_rows)}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
    }


async def timed(rounds: int, call: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    await call(0)  # warm: the first run reads the pages into the cache
    latencies = []
    for i in range(rounds):
        started = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - started) * 1000)
    return percentiles(latencies)


def cases(tax: Taxonomy, phones: list[str]) -> dict[str, tuple[tuple[str, ...], str, Callable[[int], OrderQuery]]]:
    """Name -> (the page's tabs, the active tab, round -> query)."""
    dept_units = tuple(tax.unit_subtree("enforcement"))
    fragments = ["幸福路12号", "锦绣花园", "人民路8号", "翠湖苑3栋", "解放街", "长江路101号"]
    day_from, day_to = CITY.day_range(NOW.date() - timedelta(days=90), NOW.date())
    return {
        "no_filter": (CENTRE_TABS, "all", lambda i: OrderQuery()),
        "tab_overdue": (CENTRE_TABS, "overdue", lambda i: OrderQuery(sort="due")),
        "tab_to_sign_dept": (DEPT_TABS, "to_sign", lambda i: OrderQuery(units=dept_units)),
        "phone_search": (CENTRE_TABS, "all", lambda i: OrderQuery(q=phones[i % len(phones)])),
        "number_search": (CENTRE_TABS, "all", lambda i: OrderQuery(q="202612")),
        "text_search": (CENTRE_TABS, "all", lambda i: OrderQuery(q=fragments[i % len(fragments)])),
        "multi_filter": (
            CENTRE_TABS,
            "all",
            lambda i: OrderQuery(
                industry="water" if i % 2 else "municipal",
                request_type="complaint",
                source="voice",
                created_from=day_from,
                created_to=day_to,
                sort="updated",
            ),
        ),
        "dept_portal_search": (DEPT_TABS, "all", lambda i: OrderQuery(units=dept_units, q=fragments[i % 3])),
        "page_20": (CENTRE_TABS, "all", lambda i: OrderQuery(page=20)),
    }


async def measure(engine: AsyncEngine, count: int, rounds: int) -> dict[str, Any]:
    await migrate(engine)
    await load_demo(engine, UserStore(engine))
    tax = await load_taxonomy(engine)
    filled = await fill(engine, count, tax)
    async with engine.connect() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(work_orders))).scalar_one()
        phones = list((await conn.execute(sa.select(work_orders.c.phone).limit(rounds).offset(count // 3))).scalars())
    soon = NOW + timedelta(days=1)
    bare = sa.select(work_orders).order_by(work_orders.c.id.desc()).limit(50)

    async def anchor(_: int) -> None:
        async with engine.connect() as conn:
            list(await conn.execute(bare))

    result: dict[str, Any] = {"backend": engine.dialect.name, "orders": total, **filled}
    result["anchor_bare_select_limit_50"] = await timed(rounds, anchor)
    pages: dict[str, Any] = {}
    for name, (tab_names, active, make) in cases(tax, phones).items():
        tabs = {t: tab_condition(t, NOW, soon) for t in tab_names}
        found: dict[str, int] = {}

        async def run(i: int, make: Any = make, tabs: Any = tabs, active: str = active, found: Any = found) -> None:
            page = await find_page(engine, make(i), tabs, active)
            found["total"] = page.total
            found["rows"] = len(page.items)

        pages[name] = {**await timed(rounds, run), **found}
        pages[name]["under_target"] = pages[name]["p95_ms"] < TARGET_MS
    result["first_page"] = pages
    return result


async def run_sqlite(count: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(sqlite_url(Path(tmp)))
        try:
            return await measure(engine, count, rounds)
        finally:
            await engine.dispose()


async def run_postgres(count: int, rounds: int, url: str | None) -> dict[str, Any]:
    cluster = None
    if url is None:
        from tests.fixtures.postgres import PostgresCluster

        cluster = PostgresCluster()
        problem = cluster.check_binaries()
        if problem:
            return {"skipped": problem}
        cluster.start()
        url = cluster.url
    engine = create_engine(url)
    try:
        return await measure(engine, count, rounds)
    finally:
        await engine.dispose()
        if cluster is not None:
            cluster.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"target_ms": TARGET_MS, "orders": args.orders, "rounds": args.rounds, "per_page": 50}
    if args.only in (None, "sqlite"):
        out["sqlite"] = await run_sqlite(args.orders, args.rounds)
    if args.only in (None, "postgresql"):
        out["postgresql"] = await run_postgres(args.orders, args.rounds, args.database_url)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY PostgreSQL database; default: a throw-away cluster"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
