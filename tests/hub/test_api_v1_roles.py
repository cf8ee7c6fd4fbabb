"""Tokens of every role get exactly what the pages give that role: a department only its own units' orders (404
for the others, never 403), no conversations or contacts outside the inbox roles, 403 for a knowledge manager."""

from __future__ import annotations

from tests.fixtures.hub import RunningHub
from tests.hub.api_v1_support import ROLES_USERS, call, token_for, two_units

# GET path -> role -> status (the paths are filled in with the orders of two units)
READS = {
    "/api/v1/me": dict.fromkeys(ROLES_USERS, 200),
    "/api/v1/work-orders": {**dict.fromkeys(ROLES_USERS, 200), "knowledge_manager": 403},
    "/api/v1/work-orders/{mine}": {**dict.fromkeys(ROLES_USERS, 200), "knowledge_manager": 403},
    "/api/v1/work-orders/{other}": {**dict.fromkeys(ROLES_USERS, 200), "department": 404, "knowledge_manager": 403},
    "/api/v1/search?q=13900000002": {**dict.fromkeys(ROLES_USERS, 200), "knowledge_manager": 403},
    "/api/v1/conversations": {"agent": 200, "supervisor": 200, "admin": 200, "leader": 403, "department": 403},
    "/api/v1/contacts": {"agent": 200, "supervisor": 200, "admin": 200, "leader": 403, "department": 403},
}


async def test_every_role_reads_what_its_pages_show(live_hub: RunningHub) -> None:
    mine, other = await two_units(live_hub)
    tokens = {role: await token_for(live_hub, username) for role, username in ROLES_USERS.items()}
    for template, expected in READS.items():
        path = template.format(mine=mine.number, other=other.number)
        for role, token in tokens.items():
            reply = await call(live_hub, "GET", path, token)
            want = expected.get(role, 403)
            assert reply.status == want, (role, path, reply.body)
            if want >= 400:
                assert reply.body["error"] == {403: "forbidden", 404: "not_found"}[want], (role, path, reply.body)
                assert reply.body["message"], reply.body
    assert (await call(live_hub, "GET", "/api/v1/me", tokens["knowledge_manager"])).body["visible_units"] == []


async def test_a_department_finds_only_its_own_units_orders(live_hub: RunningHub) -> None:
    mine, other = await two_units(live_hub)
    dept = await token_for(live_hub, "dept")
    agent = await token_for(live_hub, "agent1")
    me = (await call(live_hub, "GET", "/api/v1/me", dept)).body
    assert me["unit"] == "streetlight_office" and me["unit_name"] == "市路灯管理所"
    assert me["visible_units"] == ["streetlight_office"]
    listed = (await call(live_hub, "GET", "/api/v1/work-orders", dept)).body
    assert [o["number"] for o in listed["items"]] == [mine.number] and listed["total"] == 1
    everything = (await call(live_hub, "GET", "/api/v1/work-orders", agent)).body
    assert {mine.number, other.number} <= {o["number"] for o in everything["items"]}
    for params in ({"unit": "water_group"}, {"q": other.number}, {"phone": "13900000002"}, {"q": "人民路"}):
        found = await call(live_hub, "GET", "/api/v1/work-orders", dept, params=params)
        assert found.status == 200 and found.body["total"] == 0 and found.body["items"] == [], params
        seen = await call(live_hub, "GET", "/api/v1/work-orders", agent, params=params)
        assert [o["number"] for o in seen.body["items"]] == [other.number], params
    for q in (other.number, "13900000002", "停水"):
        hits = (await call(live_hub, "GET", "/api/v1/search", dept, params={"q": q})).body
        assert hits["work_orders"] == {"items": [], "total": 0}, q
        assert hits["contacts"]["items"] == [] and hits["conversations"]["items"] == []
        agent_hits = (await call(live_hub, "GET", "/api/v1/search", agent, params={"q": q})).body
        assert [o["number"] for o in agent_hits["work_orders"]["items"]] == [other.number], q
    own = (await call(live_hub, "GET", "/api/v1/search", dept, params={"q": mine.number})).body
    assert [o["number"] for o in own["work_orders"]["items"]] == [mine.number]
    # Acting on another unit's order: 404, as if it did not exist; on its own: the department's actions.
    foreign = await call(live_hub, "POST", f"/api/v1/work-orders/{other.number}/actions/sign", dept, json={})
    assert foreign.status == 404 and foreign.body["error"] == "not_found"
    missing = await call(live_hub, "POST", "/api/v1/work-orders/000000000000/actions/sign", dept, json={})
    assert missing.status == 404 and missing.body == foreign.body
    signed = await call(live_hub, "POST", f"/api/v1/work-orders/{mine.number}/actions/sign", dept)
    assert signed.status == 200, signed.body
    assert signed.body["state"] == "signed" and signed.body["state_name"] == "已签收"
    assert "start" in signed.body["actions"] and "close" not in signed.body["actions"]


async def test_refusals_are_mapped_to_403_409_and_400(live_hub: RunningHub) -> None:
    mine, _other = await two_units(live_hub)
    agent = await token_for(live_hub, "agent1")
    leader = await token_for(live_hub, "leader")
    base = f"/api/v1/work-orders/{mine.number}/actions/"
    by_side = await call(live_hub, "POST", base + "sign", agent)  # the centre does not sign for the unit
    assert by_side.status == 403 and by_side.body["error"] == "not_allowed_by"
    assert by_side.body["message"] == "热线中心不能执行“签收”", by_side.body
    by_state = await call(live_hub, "POST", base + "close", agent)  # dispatched, not replied yet
    assert by_state.status == 409 and by_state.body["error"] == "not_allowed_in"
    unknown = await call(live_hub, "POST", base + "explode", agent)
    assert unknown.status == 400 and unknown.body["error"] == "unknown_action"
    reason = await call(live_hub, "POST", base + "redispatch", agent, json={"unit": "no_such_unit"})
    assert reason.status == 400, reason.body
    bad_type = await call(live_hub, "POST", base + "note", agent, json={"note": 5})
    assert bad_type.status == 400 and bad_type.body == {
        "error": "invalid_field",
        "message": "字段 note 无效。",
        "field": "note",
    }
    empty = await call(live_hub, "POST", base + "note", agent)
    assert empty.status == 400 and empty.body["error"] == "note_needs_text"
    broken = await call(live_hub, "POST", base + "note", agent, data="{", headers={"Content-Type": "application/json"})
    assert broken.status == 400 and broken.body["error"] == "invalid_json"
    # A leader's instruction (批示) works as on the page; a leader cannot close.
    instructed = await call(live_hub, "POST", base + "instruct", leader, json={"note": "尽快修复"})
    assert instructed.status == 200 and instructed.body["history"][-1]["action"] == "instruct"
    assert (await call(live_hub, "POST", base + "close", leader)).status == 403
