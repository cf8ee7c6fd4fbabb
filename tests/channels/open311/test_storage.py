"""Open311 storage on both backends (SQLite and a real PostgreSQL 15), and the key/request path end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.open311.store import Open311Store, RequestExtras, RequestFilter, hash_key, open311_api_keys
from hub.events import EventBus
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.calendar import WorkingCalendar
from hub.work_orders.service import WorkOrderService
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.channels.open311.helpers import call, check_request, check_update, post_request
from tests.fixtures.hub import ScriptedNlu, running_hub
from tests.fixtures.postgres import fresh_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    await migrate(eng)
    await load_demo(eng, UserStore(eng))
    try:
        yield eng
    finally:
        await eng.dispose()


async def test_keys_are_stored_as_hashes_only(engine: AsyncEngine) -> None:
    store = Open311Store(engine)
    key, secret = await store.create_key("  city app  ")
    assert key.name == "city app"
    assert len(secret) >= 43
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(open311_api_keys))).one()
    assert stored.key_hash == hash_key(secret) and secret not in stored.key_hash
    found = await store.verify_key(secret)
    assert found is not None and found.id == key.id
    assert await store.verify_key(secret + "x") is None
    _other, other_secret = await store.create_key("second")
    assert other_secret != secret
    async with engine.begin() as conn:
        await conn.execute(
            open311_api_keys.update().where(open311_api_keys.c.id == key.id).values(revoked_at=key.created_at)
        )
    assert await store.verify_key(secret) is None
    assert await store.verify_key(other_secret) is not None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_key_names_are_checked(engine: AsyncEngine, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        await Open311Store(engine).create_key(name)


async def test_request_side_rows_search_and_updates(engine: AsyncEngine) -> None:
    store = Open311Store(engine)
    key, _ = await store.create_key("app")
    taxonomy = await load_taxonomy(engine)
    service = WorkOrderService(WorkOrderStore(engine), lambda: taxonomy, WorkingCalendar, EventBus())
    order = await service.register(
        request_type="complaint",
        description="路灯不亮",
        industry="municipal",
        category="municipal.streetlight",
        district=None,
        address="人民路1号",
        phone=None,
        unit="streetlight_office",
        urgent=False,
        conversation_id=None,
        contact_id=None,
    )
    extras = RequestExtras(31.5, 121.25, "人民路1号", "a@b.cn", "明", "王", "https://x.cn/1.jpg", "en")
    await store.record(order.id, key.id, extras)
    row = await store.get(order.number, ("close",))
    assert row is not None
    assert (row["lat"], row["long"], row["address_string"], row["lang"]) == (31.5, 121.25, "人民路1号", "en")
    assert row["status_notes"] is None
    now = datetime.now(UTC)
    window = RequestFilter(now - timedelta(days=1), now + timedelta(days=1))
    assert [r["number"] for r in await store.search(window, ())] == [order.number]
    closed_only = RequestFilter(window.start, window.end, statuses=("closed",))
    assert await store.search(closed_only, ()) == []
    by_code = RequestFilter(window.start, window.end, service_codes=("municipal.manhole",))
    assert await store.search(by_code, ()) == []
    updates = await store.updates(window.start, window.end, ("receive", "dispatch"))
    assert [(u["action"], u["number"]) for u in updates] == [("receive", order.number), ("dispatch", order.number)]
    assert await store.updates(window.start, window.end, ("close",)) == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_post_and_get_through_the_hub(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    url = None if backend == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, database_url=url) as running:
        _, secret = await Open311Store(running.hub.engine).create_key("app")
        status, body = await post_request(
            running,
            secret,
            service_code="municipal.streetlight",
            address_string="城西区解放路3号",
            lat="30",
            long="120",
        )
        assert status == 200, body
        number = body[0]["service_request_id"]
        status, found, _ = await call(running, "GET", f"/open311/v2/requests.json?service_request_id={number}")
        assert status == 200
        check_request(found[0])
        assert found[0]["agency_responsible"] == "市路灯管理所"
        _, updates, _ = await call(running, "GET", "/open311/v2/servicerequestupdates.json")
        for update in updates:
            check_update(update)
        assert {u["service_request_id"] for u in updates} == {number}
