"""Agent inbox: login, roles, CSRF, live events, claim/reply/close, citizen sees the reply live."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from tests.fixtures.hub import RunningHub
from tests.hub.test_web_channels import recv, recv_until


async def test_pages_and_apis_need_a_login(live_hub: RunningHub) -> None:
    async with live_hub.session.get(live_hub.url + "/agent", allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"].startswith("/login")
    for method, path in [
        ("GET", "/api/inbox"),
        ("GET", "/api/conversations/x"),
        ("POST", "/api/conversations/x/claim"),
    ]:
        async with live_hub.session.request(method, live_hub.url + path) as r:
            assert r.status == 401, path
    async with live_hub.session.get(live_hub.url + "/agent/ws") as r:
        assert r.status == 401


async def test_wrong_password_is_refused(live_hub: RunningHub) -> None:
    async with live_hub.session.post(
        live_hub.url + "/login", data={"username": "agent1", "password": "nope"}, allow_redirects=False
    ) as r:
        assert r.status == 401
        assert "用户名或密码错误" in await r.text()


@pytest.mark.parametrize("username,password", [("dept", "dept123"), ("kb", "kb123"), ("leader", "leader123")])
async def test_roles_without_inbox_access_are_forbidden(live_hub: RunningHub, username: str, password: str) -> None:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session:
        async with session.post(
            live_hub.url + "/login", data={"username": username, "password": password}, allow_redirects=False
        ) as r:
            assert r.status == 302
        async with session.get(live_hub.url + "/api/inbox") as r:
            assert r.status == 403
        async with session.get(live_hub.url + "/staff") as r:
            assert r.status == 200


async def test_post_without_csrf_token_is_refused(live_hub: RunningHub) -> None:
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session, session.post(live_hub.url + "/api/conversations/x/claim") as r:
        assert r.status == 403 and (await r.json())["error"] == "csrf"


async def test_open_redirect_after_login_is_prevented(live_hub: RunningHub) -> None:
    async with live_hub.session.post(
        live_hub.url + "/login",
        data={"username": "agent1", "password": "agent123", "next": "//evil.example/x"},
        allow_redirects=False,
    ) as r:
        assert r.status == 302 and r.headers["Location"] == "/staff"


async def _queued_conversation(live_hub: RunningHub) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    ws = await live_hub.session.ws_connect(live_hub.ws_url("/chat/ws"))
    await ws.send_json({"type": "hello", "conversation_id": None})
    conv_id = (await recv(ws, "ready"))["conversation_id"]
    await ws.send_json({"type": "message", "text": "路灯坏了三天了，转人工", "client_id": "c1"})
    await recv_until(ws, lambda f: f["type"] == "status" and f["status"] == "queued")
    return ws, conv_id


async def test_agent_claims_replies_and_closes_live(live_hub: RunningHub) -> None:
    session, csrf = await live_hub.login("agent1", "agent123")
    headers = {"X-CSRF-Token": csrf}
    async with session, session.ws_connect(live_hub.ws_url("/agent/ws")) as agent_ws:
        assert (await recv(agent_ws, "hello"))["user"]["name"] == "座席 张敏"
        citizen_ws, conv_id = await _queued_conversation(live_hub)
        async with citizen_ws:
            queued = await recv(agent_ws, "queued")  # pushed, no polling
            assert queued["conversation"]["id"] == conv_id
            assert queued["conversation"]["handoff_reason"] == "requested"
            async with session.get(live_hub.url + "/api/inbox") as r:
                assert conv_id in [c["id"] for c in (await r.json())["queue"]]
            async with session.post(
                f"{live_hub.url}/api/conversations/{conv_id}/reply", json={"text": "x"}, headers=headers
            ) as r:
                assert r.status == 409  # must claim first
            async with session.post(f"{live_hub.url}/api/conversations/{conv_id}/claim", headers=headers) as r:
                assert r.status == 200 and (await r.json())["status"] == "assigned"
            await recv_until(citizen_ws, lambda f: f["type"] == "message" and "座席" in f["message"]["text"])
            async with session.get(f"{live_hub.url}/api/conversations/{conv_id}") as r:
                detail = await r.json()
            assert [m["text"] for m in detail["messages"] if m["sender"] == "citizen"] == ["路灯坏了三天了，转人工"]
            async with session.post(
                f"{live_hub.url}/api/conversations/{conv_id}/reply",
                json={"text": "您好，已收到，马上为您登记 <b>工单</b>"},
                headers=headers,
            ) as r:
                assert r.status == 200
            frames = await recv_until(
                citizen_ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "agent"
            )
            assert frames[-1]["message"]["text"] == "您好，已收到，马上为您登记 <b>工单</b>"
            # the citizen answers; the agent sees it live
            await citizen_ws.send_json({"type": "message", "text": "好的谢谢", "client_id": "c2"})
            seen = await recv_until(agent_ws, lambda f: f["type"] == "message" and f["message"]["text"] == "好的谢谢")
            assert seen
            async with session.post(f"{live_hub.url}/api/conversations/{conv_id}/close", headers=headers) as r:
                assert r.status == 200 and (await r.json())["status"] == "closed"
            await recv_until(citizen_ws, lambda f: f["type"] == "status" and f["status"] == "closed")


async def test_only_one_agent_wins_a_claim_and_others_cannot_reply(live_hub: RunningHub) -> None:
    s1, csrf1 = await live_hub.login("agent1", "agent123")
    s2, csrf2 = await live_hub.login("agent2", "agent123")
    citizen_ws, conv_id = await _queued_conversation(live_hub)
    async with s1, s2, citizen_ws:
        url = f"{live_hub.url}/api/conversations/{conv_id}/claim"
        r1, r2 = await asyncio.gather(
            s1.post(url, headers={"X-CSRF-Token": csrf1}), s2.post(url, headers={"X-CSRF-Token": csrf2})
        )
        statuses = sorted([r1.status, r2.status])
        r1.release()
        r2.release()
        assert statuses == [200, 409]
        loser, csrf = (s2, csrf2) if r1.status == 200 else (s1, csrf1)
        async with loser.post(
            f"{live_hub.url}/api/conversations/{conv_id}/reply",
            json={"text": "抢答"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 409


async def test_agent_sees_citizen_history_and_work_orders(live_hub: RunningHub) -> None:
    async def post(text: str) -> list[dict[str, Any]]:
        async with live_hub.session.post(
            live_hub.url + "/webhooks/rest/webhook", json={"sender": "h1", "message": text}
        ) as r:
            return list(await r.json())

    await post("路灯坏了")
    await post("城南区黄河路1号")
    readback = await post("13600001111")
    assert "136****1111" in readback[-1]["text"]
    created = await post("确认")
    assert "工单号" in created[-1]["text"]
    await post("转人工")
    store = live_hub.hub.service.store
    conv = await store.find_open_by_ref("rest", "h1")
    assert conv is not None
    session, _ = await live_hub.login("supervisor", "supervisor123")
    async with session, session.get(f"{live_hub.url}/api/conversations/{conv.id}") as r:
        detail = await r.json()
    assert detail["contact"]["phone"] == "13600001111"
    assert detail["work_orders"][0]["unit_name"] == "市路灯管理所"
    assert detail["nlu"]["intent"]["name"] in {"human_handoff", "inform", "complaint", "out_of_scope"}
    text = json.dumps(detail, ensure_ascii=False)
    assert "黄河路1号" in text


async def test_department_sees_only_its_own_orders_escaped(live_hub: RunningHub) -> None:
    async def post(sender: str, text: str) -> list[str]:
        async with live_hub.session.post(
            live_hub.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}
        ) as r:
            return [m["text"] for m in await r.json()]

    await post("lamp", "路灯不亮了<script>alert(1)</script>")
    await post("lamp", "城东区幸福路12号")
    await post("lamp", "13800000001")
    lamp = (await post("lamp", "确认"))[-1]  # registered after the read-back
    await post("water", "停水了")
    await post("water", "城西区长江路8号")
    await post("water", "13800000002")
    water = (await post("water", "确认"))[-1]
    lamp_no = re.search(r"\d{12}", lamp)
    water_no = re.search(r"\d{12}", water)
    assert lamp_no and water_no
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session:
        async with session.post(
            live_hub.url + "/login", data={"username": "dept", "password": "dept123"}, allow_redirects=False
        ) as r:
            assert r.status == 302
        async with session.get(live_hub.url + "/staff") as r:
            page = await r.text()
    assert lamp_no.group(0) in page and water_no.group(0) not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    supervisor, _ = await live_hub.login("supervisor", "supervisor123")
    async with supervisor, supervisor.get(live_hub.url + "/staff") as r:
        summary = await r.text()
    assert 'id="live-summary"' in summary and "已派单" in summary and 'id="open-inbox"' in summary


async def test_agent_sees_kb_suggestions_for_the_citizens_question(live_hub: RunningHub) -> None:
    async with live_hub.session.post(
        live_hub.url + "/webhooks/rest/webhook", json={"sender": "kbq", "message": "燃气开户要带什么材料？转人工"}
    ) as r:
        assert r.status == 200
    conv = await live_hub.hub.service.store.find_open_by_ref("rest", "kbq")
    assert conv is not None
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session:
        async with session.get(f"{live_hub.url}/api/conversations/{conv.id}") as r:
            detail = await r.json()
        suggestions = detail["kb_suggestions"]
        assert suggestions and suggestions[0]["article_id"] == "kb-gas-001" and "身份证" in suggestions[0]["answer"]
