"""Work orders through the staff API on SQLite and PostgreSQL: register (201) and find it, filters, sorting,
pagination bounds, clear validation errors, times with the city's offset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from hub.web.context import CTX
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.postgres import fresh_database
from tests.hub.api_v1_support import call, token_for, two_units

WALK_IN = {
    "source": "walk_in",
    "type": "complaint",
    "industry": "municipal",
    "category": "municipal.streetlight",
    "address": "城东区幸福路20号",
    "phone": "139 0000 0003",
    "citizen_name": "王先生",
    "description": "小区门口路灯一直不亮",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def api_hub(
    request: pytest.FixtureRequest, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> AsyncIterator[RunningHub]:
    """A demo hub on each database."""
    url = fresh_database(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else None
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, database_url=url) as hub:
        yield hub


async def test_register_then_find_it(api_hub: RunningHub) -> None:
    agent = await token_for(api_hub, "agent1")
    created = await call(api_hub, "POST", "/api/v1/work-orders", agent, json=WALK_IN)
    assert created.status == 201, created.body
    order = created.body
    assert order["state"] == "dispatched" and order["state_name"] == "已派单"
    assert order["unit"] == "streetlight_office" and order["unit_name"] == "市路灯管理所"
    assert order["source"] == "walk_in" and order["source_name"] == "来人"
    assert order["phone"] == "13900000003" and order["citizen_name"] == "王先生"
    assert order["created_at"].endswith("+08:00") and order["due_at"] is None
    assert created.headers["Location"] == f"/api/v1/work-orders/{order['number']}"
    listed = await call(api_hub, "GET", "/api/v1/work-orders", agent, params={"source": "walk_in"})
    assert [o["number"] for o in listed.body["items"]] == [order["number"]] and listed.body["total"] == 1
    for params in ({"q": "王先生"}, {"q": "幸福路20号"}, {"phone": "13900000003"}, {"q": order["number"]}):
        found = await call(api_hub, "GET", "/api/v1/work-orders", agent, params=params)
        assert [o["number"] for o in found.body["items"]] == [order["number"]], params
    detail = await call(api_hub, "GET", f"/api/v1/work-orders/{order['number']}", agent)
    dispatched = [e for e in detail.body["history"] if e["action"] == "dispatch"]
    assert (
        len(dispatched) == 1 and dispatched[0]["actor_name"] == "座席 张敏" and dispatched[0]["action_name"] == "派单"
    )
    assert dispatched[0]["unit"] == "streetlight_office" and dispatched[0]["created_at"].endswith("+08:00")
    assert "redispatch" in detail.body["actions"]
    hits = (await call(api_hub, "GET", "/api/v1/search", agent, params={"q": "13900000003"})).body
    assert [o["number"] for o in hits["work_orders"]["items"]] == [order["number"]]
    assert [c["phone"] for c in hits["contacts"]["items"]] == ["13900000003"]  # linked by phone at registration
    assert hits["conversations"] == {"items": [], "total": 0}
    # The department it went to sees it at once.
    dept = await call(api_hub, "GET", "/api/v1/work-orders", await token_for(api_hub, "dept"), params={"q": "王先生"})
    assert [o["number"] for o in dept.body["items"]] == [order["number"]]
    water = await call(api_hub, "GET", "/api/v1/search", await token_for(api_hub, "kb"), params={"q": "王先生"})
    assert water.status == 403
    # Register only (受理): it waits, undispatched, in the centre's list.
    held = await call(api_hub, "POST", "/api/v1/work-orders", agent, json={**WALK_IN, "dispatch": False})
    assert held.status == 201 and held.body["state"] == "received" and held.body["unit"] is None
    waiting = await call(api_hub, "GET", "/api/v1/work-orders", agent, params={"state": "received"})
    assert held.body["number"] in [o["number"] for o in waiting.body["items"]]


async def test_registration_refusals_are_clear(api_hub: RunningHub) -> None:
    agent = await token_for(api_hub, "agent1")
    leader = await token_for(api_hub, "leader")
    cases = [
        (agent, {**WALK_IN, "description": " "}, 422, "description_required", "description"),
        (agent, {**WALK_IN, "phone": "12345"}, 422, "phone_format", "phone"),
        (agent, {**WALK_IN, "industry": "nuclear"}, 422, "unknown_industry", "industry"),
        (agent, {**WALK_IN, "source": "sms"}, 422, "manual_source_only", "source"),
        (agent, {**WALK_IN, "source": "carrier_pigeon"}, 422, "unknown_source", "source"),
        (agent, {**WALK_IN, "colour": "red"}, 400, "unknown_field", "colour"),
        (agent, {**WALK_IN, "urgent": "yes"}, 400, "invalid_field", "urgent"),
        (agent, {k: v for k, v in WALK_IN.items() if k != "type"}, 400, "missing_field", "type"),
        (leader, WALK_IN, 422, "leader_source_only", "source"),
    ]
    for token, body, status, code, field in cases:
        reply = await call(api_hub, "POST", "/api/v1/work-orders", token, json=body)
        assert (reply.status, reply.body["error"], reply.body.get("field")) == (status, code, field), reply.body
        assert reply.body["message"] and code not in reply.body["message"], reply.body
    assigned = await call(api_hub, "POST", "/api/v1/work-orders", leader, json={**WALK_IN, "source": "leader"})
    assert assigned.status == 201 and assigned.body["source_name"] == "领导交办"
    for username in ("dept", "kb"):
        refused = await call(api_hub, "POST", "/api/v1/work-orders", await token_for(api_hub, username), json=WALK_IN)
        assert refused.status == 403 and refused.body["error"] == "forbidden"
    total = (await call(api_hub, "GET", "/api/v1/work-orders", agent)).body["total"]
    assert total == 1  # nothing refused was registered


async def test_filters_sorting_and_pagination(api_hub: RunningHub) -> None:
    mine, other = await two_units(api_hub)
    agent = await token_for(api_hub, "agent1")

    async def numbers(**params: str) -> list[str]:
        reply = await call(api_hub, "GET", "/api/v1/work-orders", agent, params=params)
        assert reply.status == 200, (params, reply.body)
        return [o["number"] for o in reply.body["items"]]

    assert await numbers() == [other.number, mine.number]
    assert await numbers(sort="oldest") == [mine.number, other.number]
    assert await numbers(per_page="1") == [other.number]
    page_two = await call(api_hub, "GET", "/api/v1/work-orders", agent, params={"per_page": "1", "page": "2"})
    assert page_two.body | {"items": None} == {"items": None, "total": 2, "page": 2, "per_page": 1}
    assert [o["number"] for o in page_two.body["items"]] == [mine.number]
    assert await numbers(page="3", per_page="1") == []
    assert await numbers(unit="water_group") == [other.number]
    assert await numbers(industry="water") == [other.number]
    assert await numbers(state="dispatched,received") == [other.number, mine.number]
    assert await numbers(state="closed") == []
    assert await numbers(overdue="true") == []
    assert await numbers(urgent="false") == [other.number, mine.number]
    city = api_hub.hub.app[CTX].city
    service = api_hub.hub.app[CTX].orders
    assert service is not None
    today = city.today(service.now())
    assert await numbers(**{"from": today.isoformat(), "to": today.isoformat()}) == [other.number, mine.number]
    assert await numbers(to=(today - timedelta(days=1)).isoformat()) == []
    assert await numbers(colour="red", state="") == [other.number, mine.number]  # unknown and empty: ignored
    for params, parameter in (
        ({"state": "lost"}, "state"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "201"}, "per_page"),
        ({"page": "x"}, "page"),
        ({"sort": "random"}, "sort"),
        ({"from": "2026-13-01"}, "from"),
        ({"overdue": "maybe"}, "overdue"),
        ({"source": "pigeon"}, "source"),
        ({"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()}, "to"),
    ):
        reply = await call(api_hub, "GET", "/api/v1/work-orders", agent, params=params)
        assert reply.status == 400, params
        assert reply.body["error"] == "invalid_parameter" and reply.body["parameter"] == parameter, reply.body
        assert parameter in reply.body["message"]
