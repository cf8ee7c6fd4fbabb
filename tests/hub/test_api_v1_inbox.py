"""The inbox's private notes, read markers and canned replies through the staff API: notes reach the other open
inboxes live (same visibility as messages), unread counts follow the caller's marker, canned replies keep the
inbox's rules (shared ones for supervisors and administrators, personal ones for their owner)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fixtures.hub import RunningHub
from tests.hub.api_v1_support import call, token_for
from tests.hub.test_api_v1_conversations import waiting_citizen
from tests.hub.test_web_channels import recv, recv_until

OTHER_ROLES = ("leader", "dept", "kb")


async def _queued(hub: RunningHub, token: str) -> str:
    await waiting_citizen(hub)
    found = await call(hub, "GET", "/api/v1/conversations", token, params={"status": "queued"})
    return str(found.body["items"][0]["id"])


async def _no_note_before_pong(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Nothing but non-note frames arrive before the answer to a ping sent now."""
    await ws.send_str('{"type":"ping"}')
    frames = await recv_until(ws, lambda f: f["type"] == "pong")
    assert [f for f in frames if f["type"] == "note"] == []


async def test_notes_are_added_listed_and_pushed_to_who_may_see_them(live_hub: RunningHub) -> None:
    agent = await token_for(live_hub, "agent1")
    cid = await _queued(live_hub, agent)
    assert (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/notes", agent)).body == {"items": [], "total": 0}
    other, _ = await live_hub.login("agent2", "agent123")
    boss, _ = await live_hub.login("supervisor", "supervisor123")
    async with (
        other,
        boss,
        other.ws_connect(live_hub.ws_url("/agent/ws")) as other_ws,
        boss.ws_connect(live_hub.ws_url("/agent/ws")) as boss_ws,
    ):
        await recv(other_ws, "hello")
        await recv(boss_ws, "hello")
        path = f"/api/v1/conversations/{cid}/notes"
        added = await call(live_hub, "POST", path, agent, json={"text": "  市民说过 <b>投诉</b> 两次  "})
        assert added.status == 201, added.body
        assert added.body["text"] == "市民说过 <b>投诉</b> 两次" and added.body["author_name"] == "座席 张敏"
        for ws in (other_ws, boss_ws):  # queued: every inbox sees it
            pushed = (await recv(ws, "note"))["note"]
            assert pushed == added.body
        listed = await call(live_hub, "GET", path, agent)
        assert listed.body == {"items": [added.body], "total": 1}

        assert (await call(live_hub, "POST", f"/api/v1/conversations/{cid}/claim", agent)).status == 200
        await recv(other_ws, "assigned")
        second = await call(live_hub, "POST", path, agent, json={"text": "已联系路灯所"})
        assert second.status == 201
        assert (await recv(boss_ws, "note"))["note"]["id"] == second.body["id"]  # supervisors see every one
        await _no_note_before_pong(other_ws)  # another agent's conversation: not pushed to agent2

        # a note from the inbox page is pushed the same way
        page, csrf = await live_hub.login("agent1", "agent123")
        async with (
            page,
            page.post(
                f"{live_hub.url}/api/conversations/{cid}/notes",
                json={"text": "页面备注"},
                headers={"X-CSRF-Token": csrf},
            ) as r,
        ):
            assert r.status == 201
        assert (await recv(boss_ws, "note"))["note"]["text"] == "页面备注"
        await _no_note_before_pong(other_ws)

    texts = [n["text"] for n in (await call(live_hub, "GET", path, agent)).body["items"]]
    assert texts == ["市民说过 <b>投诉</b> 两次", "已联系路灯所", "页面备注"]
    messages = (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/messages", agent)).body["items"]
    assert not [m for m in messages if m["text"] in texts]  # never part of the citizen's transcript


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"text": "   "}, 400, "missing_field"),
        ({}, 400, "missing_field"),
        ({"text": 5}, 400, "invalid_field"),
        ({"text": "长" * 2001}, 400, "invalid_field"),
        ([1], 400, "invalid_json"),
    ],
)
async def test_a_note_must_be_text(live_hub: RunningHub, body: Any, status: int, error: str) -> None:
    agent = await token_for(live_hub, "agent1")
    cid = await _queued(live_hub, agent)
    reply = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/notes", agent, json=body)
    assert (reply.status, reply.body["error"]) == (status, error)
    assert (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/notes", agent)).body["total"] == 0


async def test_read_markers_drive_the_unread_counts(live_hub: RunningHub) -> None:
    agent = await token_for(live_hub, "agent1")
    boss = await token_for(live_hub, "supervisor")
    cid = await _queued(live_hub, agent)

    async def unread(token: str) -> int:
        found = await call(live_hub, "GET", "/api/v1/conversations", token, params={"q": cid})
        return int(found.body["items"][0]["unread"])

    assert await unread(agent) == 5 and await unread(boss) == 5  # the citizen's five messages (one confirms)
    items = (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/messages", agent)).body["items"]
    first = next(m["id"] for m in items if m["sender"] == "citizen")
    read = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/read", agent, json={"message_id": first})
    assert read.status == 200 and read.body["last_read_id"] == first and read.body["conversation_id"] == cid
    assert await unread(agent) == 4
    everything = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/read", agent)  # no body: all
    assert everything.body["last_read_id"] == items[-1]["id"] and everything.body["unread_total"] == 0
    assert await unread(agent) == 0 and await unread(boss) == 5  # each user's own marker
    back = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/read", agent, json={"message_id": first})
    assert back.body["last_read_id"] == items[-1]["id"]  # never backwards
    for bad in ({"message_id": "x"}, {"message_id": -1}, {"message_id": True}):
        reply = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/read", agent, json=bad)
        assert reply.status == 400 and reply.body["field"] == "message_id", bad
    assert (await call(live_hub, "POST", "/api/v1/conversations/nope/read", agent)).status == 404


async def test_canned_replies_keep_the_inbox_rules(live_hub: RunningHub) -> None:
    agent = await token_for(live_hub, "agent1")
    other = await token_for(live_hub, "agent2")
    boss = await token_for(live_hub, "supervisor")
    cid = await _queued(live_hub, agent)
    before = {r["id"] for r in (await call(live_hub, "GET", "/api/v1/canned-replies", agent)).body["items"]}
    text = "{name}您好，工单{order_number}已登记，可拨打{hotline}查询"
    mine = await call(
        live_hub, "POST", "/api/v1/canned-replies", agent, json={"shortcut": "/dj", "title": "登记", "text": text}
    )
    assert mine.status == 201 and mine.body["shortcut"] == "dj"
    assert mine.body["shared"] is False and mine.body["editable"] is True
    refused = await call(
        live_hub,
        "POST",
        "/api/v1/canned-replies",
        agent,
        json={"shortcut": "x", "title": "x", "text": "x", "shared": True},
    )
    assert refused.status == 403 and "班长" in refused.body["message"]
    shared = await call(
        live_hub,
        "POST",
        "/api/v1/canned-replies",
        boss,
        json={"shortcut": "bye", "title": "结束", "text": "感谢来电{agent}", "shared": True},
    )
    assert shared.status == 201 and shared.body["shared"] is True
    bad = await call(
        live_hub, "POST", "/api/v1/canned-replies", agent, json={"shortcut": "a b", "title": "t", "text": "x"}
    )
    assert bad.status == 400 and bad.body["field"] == "shortcut" and bad.body["message"]

    listed = {r["id"]: r for r in (await call(live_hub, "GET", "/api/v1/canned-replies", agent)).body["items"]}
    assert set(listed) == before | {mine.body["id"], shared.body["id"]}
    assert listed[shared.body["id"]]["editable"] is False and "expanded" not in listed[mine.body["id"]]
    theirs = {r["id"] for r in (await call(live_hub, "GET", "/api/v1/canned-replies", other)).body["items"]}
    assert mine.body["id"] not in theirs and shared.body["id"] in theirs

    order = (await call(live_hub, "GET", f"/api/v1/conversations/{cid}", agent)).body["work_orders"][0]["number"]
    expanded = await call(live_hub, "GET", "/api/v1/canned-replies", agent, params={"conversation": cid})
    by_id = {r["id"]: r for r in expanded.body["items"]}
    assert by_id[mine.body["id"]]["expanded"] == f"市民您好，工单{order}已登记，可拨打12319查询"
    assert by_id[shared.body["id"]]["expanded"] == "感谢来电座席 张敏"
    unknown = await call(live_hub, "GET", "/api/v1/canned-replies", agent, params={"conversation": "nope"})
    assert unknown.status == 404

    mine_path = f"/api/v1/canned-replies/{mine.body['id']}"
    shared_path = f"/api/v1/canned-replies/{shared.body['id']}"
    assert (await call(live_hub, "PATCH", mine_path, other, json={"title": "改"})).status == 404
    assert (await call(live_hub, "PATCH", shared_path, agent, json={"title": "改"})).status == 403
    changed = await call(live_hub, "PATCH", mine_path, agent, json={"title": "登记完成"})
    assert changed.status == 200 and changed.body["title"] == "登记完成" and changed.body["text"] == text
    empty = await call(live_hub, "PATCH", mine_path, agent, json={"text": ""})
    assert empty.status == 400 and empty.body["field"] == "text"
    assert (await call(live_hub, "PATCH", shared_path, boss, json={"text": "再见"})).body["text"] == "再见"
    assert (await call(live_hub, "DELETE", mine_path, other)).status == 404
    assert (await call(live_hub, "DELETE", shared_path, agent)).status == 403
    assert (await call(live_hub, "DELETE", mine_path, agent)).status == 204
    assert (await call(live_hub, "DELETE", shared_path, boss)).status == 204
    assert (await call(live_hub, "DELETE", mine_path, agent)).status == 404
    left = {r["id"] for r in (await call(live_hub, "GET", "/api/v1/canned-replies", agent)).body["items"]}
    assert left == before


@pytest.mark.parametrize("username", OTHER_ROLES)
async def test_roles_without_an_inbox_are_refused(live_hub: RunningHub, username: str) -> None:
    token = await token_for(live_hub, username)
    agent = await token_for(live_hub, "agent1")
    cid = await _queued(live_hub, agent)
    requests = [
        ("GET", f"/api/v1/conversations/{cid}/notes", None),
        ("POST", f"/api/v1/conversations/{cid}/notes", {"text": "x"}),
        ("POST", f"/api/v1/conversations/{cid}/read", {}),
        ("GET", "/api/v1/canned-replies", None),
        ("POST", "/api/v1/canned-replies", {"shortcut": "x", "title": "x", "text": "x"}),
        ("PATCH", "/api/v1/canned-replies/1", {"title": "x"}),
        ("DELETE", "/api/v1/canned-replies/1", None),
    ]
    for method, path, body in requests:
        assert (await call(live_hub, method, path, token, json=body)).status == 403, (method, path)
        assert (await call(live_hub, method, path, None, json=body)).status == 401, (method, path)
    assert (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/notes", agent)).body["total"] == 0
