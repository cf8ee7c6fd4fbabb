"""The Open311 GeoReport v2 endpoint against a real hub on 127.0.0.1 (SQLite, demo taxonomy)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from channels.open311.store import Open311Store, open311_api_keys, open311_requests
from hub.storage.schema import work_order_events, work_orders
from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from tests.channels.open311.helpers import (
    CREATED_FIELDS,
    SERVICE_FIELDS,
    call,
    check_error,
    check_request,
    check_update,
    post_request,
)
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

STREETLIGHT = {
    "service_code": "municipal.streetlight",
    "address_string": "城东区人民路12号",
    "description": "路灯不亮已经三天了\n晚上很黑",
}


@pytest.fixture
async def hub_and_key(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[tuple[RunningHub, str]]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu) as running:
        _key, secret = await Open311Store(running.hub.engine).create_key("test client")
        yield running, secret


async def close_order(running: RunningHub, number: str, note: str, action: str = "close") -> None:
    """Close an order the way the lifecycle does (state + history event), straight in the store."""
    now = datetime.now(UTC)
    async with running.hub.engine.begin() as conn:
        order_id = (await conn.execute(sa.select(work_orders.c.id).where(work_orders.c.number == number))).scalar_one()
        if action == "close":
            await conn.execute(
                work_orders.update().where(work_orders.c.id == order_id).values(state="closed", updated_at=now)
            )
        await conn.execute(
            work_order_events.insert().values(
                work_order_id=order_id,
                action=action,
                from_state="replied",
                to_state="closed" if action == "close" else "dispatched",
                note=note,
                created_at=now,
            )
        )


async def test_services_list_has_every_field_of_the_spec(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    status, body, headers = await call(running, "GET", "/open311/v2/services.json")
    assert status == 200
    assert headers["Content-Language"] == "zh-CN"
    assert len(body) == len(running.hub.app[CTX].taxonomy().categories)
    for service in body:
        assert set(SERVICE_FIELDS) <= set(service)
        for name, kind in SERVICE_FIELDS.items():
            assert isinstance(service[name], kind), (name, service)
        assert service["metadata"] is False
        assert service["type"] == "realtime"
    by_code = {s["service_code"]: s for s in body}
    light = by_code["municipal.streetlight"]
    assert light["service_name"] == "路灯故障"
    assert light["group"] == "市政设施"
    assert "路灯不亮" in light["keywords"].split(", ")


async def test_services_in_english(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    status, body, headers = await call(running, "GET", "/open311/v2/services.json?lang=en")
    assert status == 200
    assert headers["Content-Language"] == "en"
    light = next(s for s in body if s["service_code"] == "municipal.streetlight")
    assert light["service_name"] == "Street light fault"


async def test_service_definition(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    status, body, _ = await call(running, "GET", "/open311/v2/services/municipal.streetlight.json")
    assert status == 200
    assert body == {"service_code": "municipal.streetlight", "attributes": []}
    status, body, _ = await call(running, "GET", "/open311/v2/services/no.such.service.json")
    assert status == 404
    assert "no.such.service" in check_error(body, 404)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/open311/v2/services.xml", 400),
        ("/open311/v2/requests.xml", 400),
        ("/open311/v2/services/municipal.streetlight.xml", 400),
        ("/open311/v2/servicerequestupdates.xml", 400),
        ("/open311/v2/services.yaml", 404),
        ("/open311/v2/nothing.json", 404),
        ("/open311/v3/services.json", 404),
    ],
)
async def test_only_json_is_served(hub_and_key: tuple[RunningHub, str], path: str, status: int) -> None:
    running, _ = hub_and_key
    got, body, _ = await call(running, "GET", path)
    assert got == status
    description = check_error(body, status)
    if path.endswith(".xml"):
        assert "JSON only" in description


async def test_post_xml_is_refused_clearly(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, body, _ = await call(running, "POST", "/open311/v2/requests.xml", data={"api_key": key, **STREETLIGHT})
    assert status == 400
    assert "JSON only" in check_error(body, 400)


async def test_discovery_document(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    status, body, _ = await call(running, "GET", "/open311/discovery.json")
    assert status == 200
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert endpoint["formats"] == ["application/json"]


@pytest.mark.parametrize("api_key", [None, "", "not-a-key"])
async def test_post_needs_a_valid_api_key(hub_and_key: tuple[RunningHub, str], api_key: str | None) -> None:
    running, _ = hub_and_key
    status, body = await post_request(running, api_key, **STREETLIGHT)
    assert status == 403
    description = check_error(body, 403)
    assert "api_key" in description
    async with running.hub.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(work_orders))).scalar() == 0


async def test_revoked_key_is_refused(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    async with running.hub.engine.begin() as conn:
        await conn.execute(open311_api_keys.update().values(revoked_at=datetime.now(UTC)))
    status, body = await post_request(running, key, **STREETLIGHT)
    assert status == 403
    check_error(body, 403)


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "no.such"}, 404, "service_code"),
        ({"address_string": None}, 400, "location"),
        ({"address_string": None, "address_id": "545483"}, 400, "address_id"),
        ({"address_string": None, "lat": "31.2"}, 400, "lat and long"),
        ({"lat": "91", "long": "121.4"}, 400, "lat"),
        ({"lat": "31.2", "long": "east"}, 400, "long"),
        ({"lat": "nan", "long": "121.4"}, 400, "lat"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"phone": "call me"}, 400, "phone"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"description": "长" * 4001}, 400, "4000"),
        ({"first_name": "x\x00y"}, 400, "control"),
        ({"address_string": "a" * 501}, 400, "address_string"),
        ({"lang": "fr"}, 400, "lang"),
    ],
)
async def test_post_validation_errors(
    hub_and_key: tuple[RunningHub, str], change: dict[str, str | None], status: int, words: str
) -> None:
    running, key = hub_and_key
    fields: dict[str, Any] = {**STREETLIGHT, **change}
    status_got, body = await post_request(running, key, **{k: v for k, v in fields.items() if v is not None})
    assert status_got == status, body
    assert words in check_error(body, status)
    async with running.hub.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(work_orders))).scalar() == 0


async def test_post_json_body_is_refused(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, body, _ = await call(running, "POST", "/open311/v2/requests.json", json={"api_key": key, **STREETLIGHT})
    assert status == 400
    assert "x-www-form-urlencoded" in check_error(body, 400)


async def test_post_creates_a_dispatched_work_order(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, body = await post_request(
        running,
        key,
        **STREETLIGHT,
        lat="31.230416",
        long="121.473701",
        first_name="小明",
        last_name="王",
        phone="138-1234-5678",
        email="wang@example.com",
        media_url="https://img.example.com/light.jpg",
        jurisdiction_id="12319.example.gov.cn",
        device_id="abc",
    )
    assert status == 200, body
    assert len(body) == 1 and set(body[0]) == CREATED_FIELDS
    created = body[0]
    assert created["account_id"] is None
    number = created["service_request_id"]
    assert isinstance(number, str) and number.isdigit()
    assert "市路灯管理所" in created["service_notice"] and number in created["service_notice"]

    order = await WorkOrderStore(running.hub.engine).get_by_number(number)
    assert order is not None
    assert order.state == "dispatched"
    assert order.unit == "streetlight_office"
    assert order.category == "municipal.streetlight" and order.industry == "municipal"
    assert order.request_type == "complaint" and not order.urgent
    assert order.district is not None  # 城东区 detected from the address
    assert order.phone == "13812345678"
    assert order.contact_id is not None
    assert order.conversation_id is None
    assert order.description == STREETLIGHT["description"]
    history = await WorkOrderStore(running.hub.engine).history(order.id)
    assert [e["action"] for e in history][:2] == ["receive", "dispatch"]

    status, found, _ = await call(running, "GET", f"/open311/v2/requests/{number}.json")
    assert status == 200
    assert len(found) == 1
    doc = found[0]
    check_request(doc)
    assert doc["service_request_id"] == number
    assert doc["status"] == "open"
    assert doc["service_code"] == "municipal.streetlight"
    assert doc["service_name"] == "路灯故障"
    assert doc["agency_responsible"] == "市路灯管理所"
    assert doc["description"] == STREETLIGHT["description"]  # stored and returned as sent, nothing escaped
    assert doc["address"] == STREETLIGHT["address_string"]
    assert doc["lat"] == pytest.approx(31.230416) and doc["long"] == pytest.approx(121.473701)
    assert doc["media_url"] == "https://img.example.com/light.jpg"
    assert doc["lang"] == "zh-CN"
    # contact details are never published
    assert "13812345678" not in str(doc) and "wang@example.com" not in str(doc)

    status, english, _ = await call(running, "GET", f"/open311/v2/requests/{number}.json?lang=en")
    assert english[0]["agency_responsible"] == "Street Lighting Office"
    assert english[0]["service_name"] == "Street light fault"


async def test_lat_long_only_and_urgent_category(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, body = await post_request(
        running, key, service_code="municipal.manhole", lat="31.2", long="121.5", lang="en"
    )
    assert status == 200, body
    number = body[0]["service_request_id"]
    assert "urgent" in body[0]["service_notice"]
    order = await WorkOrderStore(running.hub.engine).get_by_number(number)
    assert order is not None
    assert order.request_type == "repair" and order.urgent
    assert order.address == "WGS84 31.200000,121.500000"
    assert order.description == "Missing or broken manhole cover"  # no description: the service's name
    _, found, _ = await call(running, "GET", f"/open311/v2/requests/{number}.json")
    check_request(found[0])
    assert found[0]["address"] is None
    assert found[0]["lang"] == "en"
    assert found[0]["service_name"] == "Missing or broken manhole cover"  # the request's own language


async def test_html_is_neither_escaped_nor_interpreted(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    text = '<script>alert("x")</script> & 路灯'
    status, body = await post_request(running, key, **{**STREETLIGHT, "description": text})
    assert status == 200
    async with running.session.get(f"{running.url}/open311/v2/requests/{body[0]['service_request_id']}.json") as resp:
        assert resp.content_type == "application/json"
        found = await resp.json()
    assert found[0]["description"] == text


async def test_unknown_request_is_404(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    for number in ("202001010001", "abc"):
        status, body, _ = await call(running, "GET", f"/open311/v2/requests/{number}.json")
        assert status == 404
        check_error(body, 404)


async def test_hotline_orders_are_not_published(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    order = await WorkOrderStore(running.hub.engine).create(
        request_type="complaint",
        description="邻居张三家漏水",
        industry="water",
        category=None,
        district=None,
        address="城东区人民路1号",
        phone="13900000000",
        urgent=False,
        conversation_id=None,
        contact_id=None,
    )
    status, body, _ = await call(running, "GET", f"/open311/v2/requests/{order.number}.json")
    assert status == 404
    check_error(body, 404)
    _, listed, _ = await call(running, "GET", "/open311/v2/requests.json")
    assert listed == []


async def test_request_filters(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    numbers = []
    for code in ("municipal.streetlight", "municipal.streetlight", "municipal.manhole"):
        status, body = await post_request(running, key, **{**STREETLIGHT, "service_code": code})
        assert status == 200
        numbers.append(body[0]["service_request_id"])
    await close_order(running, numbers[0], "灯已修复")

    async def ids(query: str) -> list[str]:
        status, body, _ = await call(running, "GET", "/open311/v2/requests.json" + query)
        assert status == 200, body
        for doc in body:
            check_request(doc)
        return [doc["service_request_id"] for doc in body]

    assert sorted(await ids("")) == sorted(numbers)
    assert sorted(await ids("?service_code=municipal.streetlight")) == sorted(numbers[:2])
    assert sorted(await ids("?service_code=municipal.manhole,municipal.streetlight")) == sorted(numbers)
    assert await ids("?status=closed") == [numbers[0]]
    assert sorted(await ids("?status=open")) == sorted(numbers[1:])
    assert sorted(await ids("?status=open,closed")) == sorted(numbers)
    assert sorted(await ids(f"?service_request_id={numbers[0]},{numbers[2]}")) == sorted([numbers[0], numbers[2]])
    # service_request_id overrides every other argument
    assert await ids(f"?service_request_id={numbers[0]}&status=open&start_date=2001-01-01T00:00:00Z") == [numbers[0]]
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await ids(f"?start_date={future}") == []
    past_end = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await ids(f"?end_date={past_end}") == []
    start = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    query = f"?start_date={start}&end_date={end}".replace("+", "%2B")
    assert sorted(await ids(query)) == sorted(numbers)

    _, body, _ = await call(running, "GET", f"/open311/v2/requests.json?service_request_id={numbers[0]}")
    assert body[0]["status"] == "closed"
    assert body[0]["status_notes"] == "灯已修复"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?start_date=yesterday", "start_date"),
        ("?start_date=2026-01-01T00:00:00", "timezone"),
        ("?start_date=2026-01-01", "start_date"),
        ("?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90 days"),
        ("?start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "start_date"),
        ("?status=pending", "status"),
        ("?service_request_id=1,abc", "service_request_id"),
        ("?lang=fr", "lang"),
    ],
)
async def test_request_filter_errors(hub_and_key: tuple[RunningHub, str], query: str, words: str) -> None:
    running, _ = hub_and_key
    status, body, _ = await call(running, "GET", "/open311/v2/requests.json" + query)
    assert status == 400
    assert words in check_error(body, 400)


async def test_updates_list_public_events(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, body = await post_request(running, key, **STREETLIGHT)
    number = body[0]["service_request_id"]
    await close_order(running, number, "张科长：下周再说", action="instruct")  # internal: never published
    await close_order(running, number, "灯已修复")

    status, updates, _ = await call(running, "GET", "/open311/v2/servicerequestupdates.json")
    assert status == 200
    for update in updates:
        check_update(update)
    mine = [u for u in updates if u["service_request_id"] == number]
    assert [u["status"] for u in mine] == ["open", "open", "closed"]
    assert mine[0]["description"] == "已受理"
    assert mine[1]["description"] == "已派单至市路灯管理所"
    assert mine[2]["description"] == "已办结：灯已修复"
    assert len({u["update_id"] for u in mine}) == 3
    assert "张科长" not in str(updates)

    _, english, _ = await call(running, "GET", "/open311/v2/servicerequestupdates.json?lang=en")
    assert [u["description"] for u in english] == [
        "Received",
        "Dispatched to Street Lighting Office",
        "Closed: 灯已修复",
    ]

    _, found, _ = await call(running, "GET", f"/open311/v2/requests/{number}.json")
    assert found[0]["status_notes"] == "灯已修复"

    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, later, _ = await call(running, "GET", f"/open311/v2/servicerequestupdates.json?start_date={future}")
    assert later == []
    status, body, _ = await call(running, "GET", "/open311/v2/servicerequestupdates.json?end_date=soon")
    assert status == 400
    check_error(body, 400)


async def test_open311_side_row_holds_contact_details(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    status, _ = await post_request(running, key, **STREETLIGHT, email="a@b.cn", first_name="明", last_name="王")
    assert status == 200
    async with running.hub.engine.connect() as conn:
        row = (await conn.execute(sa.select(open311_requests))).one()
    assert (row.email, row.first_name, row.last_name, row.lang) == ("a@b.cn", "明", "王", "zh-CN")


async def test_health_lists_the_channel(hub_and_key: tuple[RunningHub, str]) -> None:
    running, _ = hub_and_key
    async with running.session.get(f"{running.url}/healthz") as resp:
        health = await resp.json()
    assert "open311" in str(health)


async def test_oversized_body_gets_a_spec_error(hub_and_key: tuple[RunningHub, str]) -> None:
    running, key = hub_and_key
    form = urlencode({"api_key": key, **STREETLIGHT, "description": "长" * (200 * 1024)}).encode()
    assert len(form) > 1024 * 1024
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body, _ = await call(running, "POST", "/open311/v2/requests.json", data=io.BytesIO(form), headers=headers)
    assert status == 413
    check_error(body, 413)
