"""The floor over a real hub: the page and its roles, the live socket (a snapshot after each event, the transcript of
a watched chat), ``GET /api/v1/floor`` with bearer tokens against its documented schemas, and figures that survive a
restart (the restored conversation's ``connect`` is not a second answer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from hub.intake import ContactHints, Inbound
from hub.models import Conversation
from hub.web.context import CTX
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD, Switchboard
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.hub.api_v1_support import call, token_for, user_id

# -- helpers (the other floor tests use them too) -----------------------------------------------------------------


def board_of(hub: RunningHub) -> Switchboard:
    """The hub's one switchboard."""
    return hub.hub.app[SWITCHBOARD]


async def queued(hub: RunningHub, text: str, phone: str) -> Conversation:
    """An SMS conversation handed to a human (it joins the text queue)."""
    stored = await hub.hub.service.receive(
        Inbound("sms", text, ref=phone, hints=ContactHints(phone=phone), for_bot=False)
    )
    conversation = await hub.hub.service.queue(stored.conversation.id, "requested")
    assert conversation is not None
    return conversation


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds (fails after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.05)


async def entries(hub: RunningHub, **filters: Any) -> list[LogEntry]:
    """The queue log of the last hour (written ones: the log is flushed first)."""
    return await board_of(hub).log.entries(datetime.now(UTC) - timedelta(hours=1), **filters)


async def kinds(hub: RunningHub, item_id: str) -> list[QueueEvent]:
    """The events of one item, oldest first."""
    return [e.event for e in await entries(hub, item_id=item_id)]


async def next_snapshot(
    ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """The first snapshot from the floor's socket that satisfies ``wanted`` (other messages are skipped)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        left = end - loop.time()
        assert left > 0, "no such snapshot in time"
        message = await ws.receive(timeout=left)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        data = json.loads(message.data)
        if data.get("type") == "snapshot" and wanted(data):
            return data


def held_by(snapshot: dict[str, Any], agent_id: int) -> list[str]:
    """The conversation ids an agent holds in a snapshot."""
    agent = next(a for a in snapshot["agents"] if a["id"] == agent_id)
    return [i["conversation_id"] for i in agent["items"]]


# -- the page -----------------------------------------------------------------------------------------------------


async def test_the_page_is_for_supervisors_leaders_and_administrators(live_hub: RunningHub) -> None:
    for username, password in (("supervisor", "supervisor123"), ("leader", "leader123"), ("admin", "admin123")):
        session, _csrf = await live_hub.login(username, password)
        async with session, session.get(f"{live_hub.url}/supervisor/floor?lang=zh-CN") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "班长监控台" in page and 'id="agents-table"' in page
        assert ('id="read-only"' in page) is (username == "leader")  # leaders only read
        assert ('id="status-panel"' in page) is (username != "leader")
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session, session.get(f"{live_hub.url}/supervisor/floor") as resp:
        assert resp.status == 403
    async with live_hub.session.get(f"{live_hub.url}/supervisor/floor", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    session, _csrf = await live_hub.login("supervisor", "supervisor123")
    async with session:
        async with session.get(f"{live_hub.url}/supervisor/floor?lang=en") as resp:
            assert "Supervisor floor" in await resp.text()
        async with session.get(f"{live_hub.url}/staff") as resp:
            assert 'href="/supervisor/floor"' in await resp.text()


# -- the socket ---------------------------------------------------------------------------------------------------


async def test_the_socket_sends_a_snapshot_after_each_event(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent1")
    session, _csrf = await live_hub.login("supervisor", "supervisor123")
    async with session, session.ws_connect(live_hub.ws_url("/supervisor/floor/ws")) as ws:
        first = await next_snapshot(ws, lambda s: True)
        assert first["waiting"]["waiting"] == 0 and first["threshold_s"] == board.settings.sl_threshold_s
        assert {a["id"] for a in first["agents"]} == set(board.router.agents)
        conversation = await queued(live_hub, "路灯不亮了", "13700004444")
        waiting = await next_snapshot(ws, lambda s: s["waiting"]["waiting"] == 1)
        assert waiting["waiting"]["queues"]["general"]["channels"]["sms"]["waiting"] == 1
        assert [i["conversation_id"] for i in waiting["waiting_items"]] == [conversation.id]
        assert waiting["figures"]["total"]["entered"] == 1 and waiting["figures"]["channels"]["sms"]["entered"] == 1
        board.set_status(agent, "available")
        served = await next_snapshot(ws, lambda s: conversation.id in held_by(s, agent))
        assert served["waiting"]["waiting"] == 0 and served["waiting_items"] == []
        mine = next(a for a in served["agents"] if a["id"] == agent)
        assert mine["status"] == "busy" and mine["presence"] == "available" and mine["load"] == 1
        assert served["figures"]["total"]["answered"] == 1 and served["figures"]["total"]["answered_within"] == 1
        assert served["figures"]["total"]["sl1"] == 1.0
        later = await next_snapshot(ws, lambda s: s["now"] != served["now"])  # the times tick without events
        assert next(a for a in later["agents"] if a["id"] == agent)["in_status_s"] >= mine["in_status_s"]


async def test_a_threshold_in_the_query_counts_by_it(live_hub: RunningHub) -> None:
    session, _csrf = await live_hub.login("leader", "leader123")
    async with session, session.ws_connect(live_hub.ws_url("/supervisor/floor/ws?threshold=30")) as ws:
        snapshot = await next_snapshot(ws, lambda s: True)
        assert snapshot["threshold_s"] == 30 and snapshot["figures"]["threshold_s"] == 30


async def test_a_watched_chat_streams_to_supervisors_only(live_hub: RunningHub) -> None:
    conversation = await queued(live_hub, "小区停水了", "13700005555")
    leader, _ = await live_hub.login("leader", "leader123")
    session, _csrf = await live_hub.login("supervisor", "supervisor123")
    async with (
        session,
        leader,
        session.ws_connect(live_hub.ws_url("/supervisor/floor/ws")) as ws,
        leader.ws_connect(live_hub.ws_url("/supervisor/floor/ws")) as leader_ws,
    ):
        await leader_ws.send_str(json.dumps({"type": "follow", "conversation_id": conversation.id}))
        await ws.send_str(json.dumps({"type": "follow", "conversation_id": conversation.id}))
        while (data := json.loads((await ws.receive(timeout=10)).data))["type"] != "following":
            pass
        await live_hub.hub.service.receive(
            Inbound("sms", "什么时候来水", ref="13700005555", hints=ContactHints(phone="13700005555"), for_bot=False)
        )
        while (data := json.loads((await ws.receive(timeout=10)).data))["type"] != "chat_message":
            pass
        assert data["message"]["text"] == "什么时候来水" and data["message"]["conversation_id"] == conversation.id
        await ws.send_str(json.dumps({"type": "unfollow"}))
        snapshot = await next_snapshot(leader_ws, lambda s: True)  # the leader's socket carries snapshots only
        assert snapshot["waiting"]["waiting"] == 1
        await leader_ws.send_str(json.dumps({"type": "ping"}))
        while (data := json.loads((await leader_ws.receive(timeout=10)).data))["type"] != "pong":
            assert data["type"] == "snapshot"
        async with session.ws_connect(live_hub.ws_url("/supervisor/floor/ws")) as closing:
            await closing.send_str(json.dumps({"type": "follow", "conversation_id": conversation.id}))
            while json.loads((await closing.receive(timeout=10)).data)["type"] != "following":
                pass
    supervisor = await user_id(live_hub, "supervisor")

    async def stopped() -> bool:  # the page went away while watching: the watch ends in the log
        found = await entries(live_hub, item_id=conversation.id, events=frozenset({QueueEvent.MONITOR}))
        return [(e.reason, e.agent_id) for e in found] == [("stop", supervisor)]

    await until(stopped)


async def test_the_socket_refuses_agents_and_other_origins(live_hub: RunningHub) -> None:
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session, session.get(f"{live_hub.url}/supervisor/floor/ws") as resp:
        assert resp.status == 403
    session, _csrf = await live_hub.login("supervisor", "supervisor123")
    async with (
        session,
        session.get(f"{live_hub.url}/supervisor/floor/ws", headers={"Origin": "http://evil.example"}) as resp,
    ):
        assert resp.status == 403


# -- the staff API --------------------------------------------------------------------------------------------------


def _validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


async def test_the_api_gives_the_floor_to_supervisor_leader_and_admin_tokens(live_hub: RunningHub) -> None:
    doc = (await call(live_hub, "GET", "/api/v1/openapi.json")).body
    validate(doc)
    operation = doc["paths"]["/api/v1/floor"]["get"]
    assert operation["x-roles"] == ["admin", "leader", "supervisor"]
    assert {p["name"] for p in operation["parameters"]} == {"threshold", "day"}
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent2")
    board.set_status(agent, "break", "training")
    conversation = await queued(live_hub, "燃气有异味", "13700006666")
    for username in ("supervisor", "leader", "admin"):
        reply = await call(live_hub, "GET", "/api/v1/floor", await token_for(live_hub, username))
        assert reply.status == 200, reply.body
        errors = [e.message for e in _validator(doc, "FloorSnapshot").iter_errors(reply.body)]
        assert errors == []
    body = reply.body
    assert body["waiting"]["waiting"] == 1 and body["waiting"]["queues"]["general"]["waiting"] == 1
    assert body["waiting"]["channels"]["sms"]["longest_wait_s"] is not None
    assert body["waiting_items"][0]["conversation_id"] == conversation.id
    shown = next(a for a in body["agents"] if a["id"] == agent)
    assert (shown["status"], shown["reason"]) == ("break", "training")
    assert shown["since"].endswith("+08:00") and shown["in_status_s"] >= 0
    assert body["figures"]["total"]["entered"] == 1 and body["figures"]["total"]["sl1"] is None
    agent_token = await token_for(live_hub, "agent1")
    assert (await call(live_hub, "GET", "/api/v1/floor", agent_token)).status == 403
    assert (await call(live_hub, "GET", "/api/v1/floor")).status == 401
    sup = await token_for(live_hub, "supervisor")
    custom = await call(live_hub, "GET", "/api/v1/floor", sup, params={"threshold": "45"})
    assert custom.body["threshold_s"] == 45 and custom.body["figures"]["threshold_s"] == 45
    bad = await call(live_hub, "GET", "/api/v1/floor", sup, params={"threshold": "0"})
    assert bad.status == 400 and bad.body["error"] == "invalid_parameter"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).astimezone(board.city.zone).date().isoformat()
    past = await call(live_hub, "GET", "/api/v1/floor", sup, params={"day": yesterday})
    assert past.body["day"] == yesterday and past.body["figures"]["total"]["entered"] == 0
    assert past.body["waiting"]["waiting"] == 1  # what is live stays live
    assert _validator(doc, "FloorSnapshot").is_valid(past.body)


# -- figures over a restart -----------------------------------------------------------------------------------------


async def test_the_figures_survive_a_restart_without_counting_a_restored_conversation(
    tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    data = tmp_path / "data"
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = board_of(hub)
        agent = await user_id(hub, "agent1")
        conversation = await queued(hub, "井盖丢了", "13700007777")
        board.set_status(agent, "available")

        async def held() -> bool:
            return board.holder(conversation.id) == agent

        await until(held)
        token = await token_for(hub, "supervisor")
        before = (await call(hub, "GET", "/api/v1/floor", token)).body["figures"]["total"]
        assert (before["entered"], before["answered"]) == (1, 1)
        # on break over the restart: the conversation comes back into the agent's hands, is not routed again
        board.set_status(agent, "break", "meal")
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = board_of(hub)
        assert board.holder(conversation.id) == agent  # restored into the agent's hands
        token = await token_for(hub, "supervisor")
        after = (await call(hub, "GET", "/api/v1/floor", token)).body
        assert (after["figures"]["total"]["entered"], after["figures"]["total"]["answered"]) == (1, 1)
        assert conversation.id in held_by(after, agent)
        await hub.hub.service.close(conversation.id, await hub.hub.app[CTX].users.get(agent))  # type: ignore[arg-type]

        async def completed() -> bool:
            total = (await call(hub, "GET", "/api/v1/floor", token)).body["figures"]["total"]
            return bool(total["aht_s"] is not None)

        await until(completed)
        assert [e for e in await kinds(hub, conversation.id)].count(QueueEvent.COMPLETE) == 1
