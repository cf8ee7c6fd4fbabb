"""What supervisors do from the floor, over a real hub: statuses (logged with ``by``), reassignment between agents'
"mine", watching, whispering and taking over a chat, routing profiles; who may (agents never, leaders only read)."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.web.context import CTX
from routing.demo import DEMO_PROFILES
from routing.queue_log import QueueEvent
from tests.fixtures.hub import RunningHub
from tests.routing.test_floor import board_of, entries, queued, until, user_id


async def post(
    hub: RunningHub, session: aiohttp.ClientSession, csrf: str | None, path: str, body: Any
) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    async with session.post(hub.url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def mine(hub: RunningHub, username: str) -> list[str]:
    """The conversation ids in the user's inbox view "mine" (the inbox's own list API)."""
    password = {"supervisor": "supervisor123"}.get(username, "agent123")
    session, _csrf = await hub.login(username, password)
    async with session, session.get(f"{hub.url}/api/inbox?view=mine") as resp:
        assert resp.status == 200
        body = await resp.json()
    return [item["id"] for item in body["items"]]


async def test_a_supervisor_sets_statuses_and_the_log_says_who(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent1")
    supervisor = await user_id(live_hub, "supervisor")
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    async with session:
        path = f"/api/floor/agents/{agent}/status"
        status, body = await post(live_hub, session, csrf, path, {"status": "available"})
        assert status == 200 and body["status"] == "available" and body["name"] == "座席 张敏"
        status, body = await post(live_hub, session, csrf, path, {"status": "break", "reason": "meal"})
        assert status == 200 and (body["status"], body["reason"]) == ("break", "meal")
        assert (board.router.agents[agent].presence.value, board.router.agents[agent].reason) == ("break", "meal")
        status, body = await post(live_hub, session, csrf, path, {"status": "offline"})  # signed out
        assert status == 200 and body["status"] == "offline"
        status, body = await post(live_hub, session, csrf, path, {"status": "break", "reason": "nap"})
        assert status == 400 and body["error"] == "invalid_status" and body["message"] == "无效的状态或小休原因"
        status, body = await post(live_hub, session, csrf, path, {"status": "busy"})
        assert status == 400 and body["error"] == "invalid_status"
        status, body = await post(live_hub, session, csrf, "/api/floor/agents/999999/status", {"status": "offline"})
        assert status == 404
        status, _ = await post(live_hub, session, None, path, {"status": "available"})  # no CSRF token
        assert status == 403
    logged = await entries(live_hub, agent_id=agent)
    by = {(e.event, e.reason): (e.data or {}).get("by") for e in logged if e.event is not QueueEvent.STATUS}
    assert by == {
        (QueueEvent.LOGIN, None): supervisor,
        (QueueEvent.PAUSE, "meal"): supervisor,
        (QueueEvent.LOGOUT, None): supervisor,
    }


async def test_agents_may_not_act_and_leaders_only_read(live_hub: RunningHub) -> None:
    agent = await user_id(live_hub, "agent2")
    conversation = await queued(live_hub, "垃圾没人收", "13700008888")
    for username, password in (("agent1", "agent123"), ("leader", "leader123")):
        session, csrf = await live_hub.login(username, password)
        async with session:
            for path, body in (
                (f"/api/floor/agents/{agent}/status", {"status": "available"}),
                (f"/api/floor/conversations/{conversation.id}/assign", {"agent_id": agent}),
                (f"/api/floor/conversations/{conversation.id}/takeover", {}),
                (f"/api/floor/conversations/{conversation.id}/watch", {"mode": "join"}),
                (f"/api/floor/conversations/{conversation.id}/whisper", {"text": "注意语气"}),
            ):
                status, _ = await post(live_hub, session, csrf, path, body)
                assert status == 403, (username, path)
            async with session.post(f"{live_hub.url}/supervisor/agents/{agent}", data={"csrf": csrf}) as resp:
                assert resp.status == 403
    assert board_of(live_hub).router.agents[agent].presence.value == "offline"


async def test_reassign_moves_a_conversation_from_one_agents_mine_to_anothers(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    first, second = await user_id(live_hub, "agent1"), await user_id(live_hub, "agent2")
    supervisor = await user_id(live_hub, "supervisor")
    store = live_hub.hub.service.store
    board.set_status(first, "available")
    conversation = await queued(live_hub, "路灯一直闪", "13700009999")

    async def with_first() -> bool:
        return (await store.get(conversation.id)).assignee_id == first

    await until(with_first)
    assert conversation.id in await mine(live_hub, "agent1")
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    async with session:
        path = f"/api/floor/conversations/{conversation.id}/assign"
        status, body = await post(live_hub, session, csrf, path, {"agent_id": second})
        assert status == 409 and body["error"] == "cannot_assign"  # agent2 is signed out
        board.set_status(second, "break", "rest")  # on break: a supervisor may still give them work
        status, body = await post(live_hub, session, csrf, path, {"agent_id": second})
        assert status == 200 and body == {
            "conversation_id": conversation.id,
            "agent_id": second,
            "previous_agent_id": first,
        }

        async def with_second() -> bool:
            return (await store.get(conversation.id)).assignee_id == second

        await until(with_second)
        assert conversation.id in await mine(live_hub, "agent2")
        assert conversation.id not in await mine(live_hub, "agent1")
        status, body = await post(live_hub, session, csrf, path, {"agent_id": second})
        assert status == 409 and body["error"] == "same_agent"
        status, body = await post(live_hub, session, csrf, path, {"agent_id": "agent1"})
        assert status == 400 and body["error"] == "unknown_agent"
        status, body = await post(live_hub, session, csrf, "/api/floor/conversations/nope/assign", {"agent_id": 1})
        assert status == 404
    logged = await entries(live_hub, item_id=conversation.id)
    transfer = next(e for e in logged if e.event is QueueEvent.TRANSFER)
    assert (transfer.agent_id, transfer.data) == (first, {"to_agent": second, "to_queue": None, "by": supervisor})
    moved = [e for e in logged if e.event is QueueEvent.CONNECT][-1]
    assert (moved.agent_id, moved.reason, (moved.data or {}).get("by")) == (second, "transferred", supervisor)


async def test_a_waiting_conversation_is_given_to_an_agent_on_break(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent2")
    board.set_status(agent, "break", "training")
    conversation = await queued(live_hub, "公交改线了吗", "13700001212")
    session, csrf = await live_hub.login("admin", "admin123")
    async with session:
        path = f"/api/floor/conversations/{conversation.id}/assign"
        status, _ = await post(live_hub, session, csrf, path, {"agent_id": agent})
        assert status == 200

    async def assigned() -> bool:
        return (await live_hub.hub.service.store.get(conversation.id)).assignee_id == agent

    await until(assigned)
    connect = next(e for e in await entries(live_hub, item_id=conversation.id) if e.event is QueueEvent.CONNECT)
    assert connect.reason == "supervisor" and connect.data == {"by": await user_id(live_hub, "admin")}


async def test_watch_whisper_and_take_over_a_chat(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent1")
    supervisor = await user_id(live_hub, "supervisor")
    board.set_status(agent, "available")
    conversation = await queued(live_hub, "物业乱收费", "13700003434")

    async def held() -> bool:
        return board.holder(conversation.id) == agent

    await until(held)
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    base = f"/api/floor/conversations/{conversation.id}"
    async with session:
        status, body = await post(live_hub, session, csrf, base + "/watch", {"mode": "join"})
        assert status == 200 and body == {"conversation_id": conversation.id, "mode": "join", "agent_id": agent}
        status, note = await post(live_hub, session, csrf, base + "/whisper", {"text": "先核实小区名称"})
        assert status == 201 and note["text"] == "先核实小区名称" and note["author_id"] == supervisor
        status, body = await post(live_hub, session, csrf, base + "/whisper", {"text": "  "})
        assert status == 400 and body["error"] == "invalid_note"
        status, body = await post(live_hub, session, csrf, base + "/watch", {"mode": "barge"})
        assert status == 400
        status, body = await post(live_hub, session, csrf, base + "/takeover", {})
        assert status == 200 and body["agent_id"] == supervisor and body["previous_agent_id"] == agent
        status, body = await post(live_hub, session, csrf, base + "/takeover", {})
        assert status == 409 and body["error"] == "already_yours"
    store = live_hub.hub.service.store

    async def supervisors() -> bool:
        return (await store.get(conversation.id)).assignee_id == supervisor

    await until(supervisors)
    assert conversation.id in await mine(live_hub, "supervisor")
    messages = await live_hub.hub.app[CTX].conversations.messages(conversation.id)
    assert not any("核实小区" in (m.text or "") for m in messages)  # the whisper never reaches the citizen
    monitors = [
        (e.reason, e.agent_id, (e.data or {}).get("agent_id"))
        for e in await entries(live_hub, item_id=conversation.id)
        if e.event is QueueEvent.MONITOR
    ]
    assert monitors == [("join", supervisor, agent), ("whisper", supervisor, agent), ("takeover", supervisor, agent)]
    admin, admin_csrf = await live_hub.login("admin", "admin123")  # an administrator is not routed
    async with admin:
        status, body = await post(live_hub, admin, admin_csrf, base + "/takeover", {})
        assert status == 409 and body["error"] == "not_an_agent"


async def test_profiles_are_edited_and_route_at_once(live_hub: RunningHub) -> None:
    board = board_of(live_hub)
    agent = await user_id(live_hub, "agent2")
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    async with session:
        async with session.get(f"{live_hub.url}/supervisor/agents") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert f'id="profile-{agent}"' in page and "李娜" in page
        assert "industry:water=2" in page  # the demo agents' skills
        assert board.profiles[agent].skills == DEMO_PROFILES["agent2"]
        form = {
            "csrf": csrf,
            "queues": "general",
            "skills": "industry:water=2，district:chengdong lang:yue",
            "capacity": "4",
            "text_weight": "web_chat=1, email=2",
        }
        async with session.post(f"{live_hub.url}/supervisor/agents/{agent}", data=form, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith(f"/supervisor/agents?saved={agent}")
        routed = board.router.agents[agent]
        assert routed.skills == {"industry:water": 2, "district:chengdong": 1, "lang:yue": 1}
        assert (routed.capacity, routed.text_weight, routed.queues) == (4, {"web_chat": 1, "email": 2}, {"general"})
        assert (await board.store.profiles())[agent].skills["industry:water"] == 2
        bad = {**form, "skills": "industry:water=99"}
        async with session.post(f"{live_hub.url}/supervisor/agents/{agent}", data=bad) as resp:
            assert resp.status == 400
            assert "技能格式应为" in await resp.text()
        every = {"csrf": csrf, "all_queues": "1", "skills": "", "capacity": "", "text_weight": ""}
        async with session.post(f"{live_hub.url}/supervisor/agents/{agent}", data=every) as resp:
            assert resp.status == 200 and "已保存" in await resp.text()
        assert board.profiles[agent].queues is None and board.router.agents[agent].capacity is None
    leader, _ = await live_hub.login("leader", "leader123")
    async with leader, leader.get(f"{live_hub.url}/supervisor/agents") as resp:
        page = await resp.text()
        assert resp.status == 200 and '<form method="post" action="/supervisor/agents/' not in page
