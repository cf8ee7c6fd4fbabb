"""The agent's side of the switchboard over a real hub: status endpoints, live status and offer frames on the inbox
socket, accepting and declining text offers, the no-answer break, wrap-up, and taking from the queue as a pick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, ConversationStatus
from routing.queue_log import QueueEvent
from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD, Switchboard
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.hub.test_web_channels import recv, recv_until

OFFERED = {"defaults": {"auto_accept": False, "offer_timeout_s": 600}}  # offers answered by the tests, not the clock


@pytest.fixture
async def offer_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    """A hub whose text queue offers conversations (accept / decline) instead of assigning them."""
    async with running_hub(
        tmp_path / "data", nlu=scripted_nlu, routing=RoutingSettings.from_mapping(OFFERED)
    ) as running:
        yield running


async def until(check: Callable[[], Awaitable[bool]], rounds: int = 200) -> None:
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def queued(hub: RunningHub, text: str, phone: str, name: str | None = None) -> Conversation:
    stored = await hub.hub.service.receive(
        Inbound("sms", text, ref=phone, hints=ContactHints(phone=phone, name=name), for_bot=False)
    )
    conversation = await hub.hub.service.queue(stored.conversation.id, "requested")
    assert conversation is not None
    return conversation


async def agent(hub: RunningHub, username: str = "agent1") -> tuple[aiohttp.ClientSession, dict[str, str], int]:
    session, csrf = await hub.login(username, "agent123" if username.startswith("agent") else f"{username}123")
    async with session.get(hub.url + "/api/agent/status") as r:
        assert r.status == 200
        body = await r.json()
    return session, {"X-CSRF-Token": csrf}, body.get("agent_id", 0)


async def post(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_the_agent_sets_their_status_and_sees_it(live_hub: RunningHub) -> None:
    session, headers, me = await agent(live_hub)
    url = live_hub.url + "/api/agent/status"
    async with session:
        async with session.get(url) as r:
            first = await r.json()
        assert (first["routed"], first["status"], first["status_name"], first["offers"]) == (
            True,
            "offline",
            "离线",
            [],
        )
        assert datetime.fromisoformat(first["since"]).utcoffset() == timedelta(hours=8)  # the city's offset
        assert (first["load"], first["capacity"], first["no_answer"]) == (0, 3, False)
        status, body = await post(session, url, headers, {"status": "available"})
        assert (status, body["status"], body["presence"], body["reason"]) == (200, "available", "available", None)
        status, body = await post(session, url, headers, {"status": "break", "reason": "meal"})
        assert (status, body["status"], body["reason"], body["reason_name"]) == (200, "break", "meal", "用餐")
        assert live_hub.hub.app[SWITCHBOARD].router.agents[me].reason == "meal"
        for wrong, code in [
            ({"status": "busy"}, "unknown_status"),  # the system's, not the agent's
            ({"status": "break"}, "unknown_reason"),
            ({"status": "break", "reason": "no_answer"}, "unknown_reason"),
            ({"status": "break", "reason": "nap"}, "unknown_reason"),
        ]:
            status, body = await post(session, url, headers, wrong)
            assert (status, body["error"]) == (400, code), wrong
            assert body["message"] in ("未知的状态", "未知的小休原因")
        async with session.post(url, json={"status": "available"}) as r:
            assert r.status == 403  # CSRF
        status, body = await post(session, url + "?lang=en", headers, {"status": "break", "reason": "x"})
        assert body["message"] == "Unknown break reason"
        async with session.get(url + "?lang=en") as r:
            assert (await r.json())["reason_name"] == "Meal"
        status, body = await post(session, live_hub.url + "/api/agent/wrap-up/end?lang=zh-CN", headers)
        assert (status, body["error"], body["message"]) == (409, "not_in_wrap_up", "当前不在话后处理中")
    admin, admin_headers, _ = await agent(live_hub, "admin")  # an inbox role the router does not know
    async with admin:
        async with admin.get(url) as r:
            assert await r.json() == {"routed": False, "offers": []}
        status, body = await post(admin, url, admin_headers, {"status": "available"})
        assert (status, body["error"]) == (409, "not_routed")
    async with live_hub.session.get(url) as r:
        assert r.status == 401
    leader, _csrf = await live_hub.login("leader", "leader123")
    async with leader, leader.get(url) as r:
        assert r.status == 403


async def test_the_inbox_socket_pushes_status_and_the_router_fills_mine(live_hub: RunningHub) -> None:
    session, headers, me = await agent(live_hub)
    async with session, session.ws_connect(live_hub.ws_url("/agent/ws")) as ws:
        await recv(ws, "hello")
        await post(session, live_hub.url + "/api/agent/status", headers, {"status": "available"})
        frame = await recv(ws, "agent_status")
        assert (frame["status"]["status"], frame["previous"]) == ("available", "offline")
        conversation = await queued(live_hub, "路灯坏了", "13700001001", "王先生")
        frames = await recv_until(ws, lambda f: f["type"] == "assigned")
        assert frames[-1]["conversation"]["assignee_id"] == me  # assigned, not claimed

        def busy(f: dict[str, Any]) -> bool:
            return f["type"] == "agent_status" and f["status"]["status"] == "busy"

        if not any(busy(f) for f in frames):  # the router decides first, the conversation follows
            frames += await recv_until(ws, busy)
        assert next(f for f in frames if busy(f))["status"]["load"] == 1
        async with session.get(live_hub.url + "/api/inbox?view=mine") as r:
            assert [i["id"] for i in (await r.json())["items"]] == [conversation.id]
        await post(session, live_hub.url + "/api/agent/status", headers, {"status": "break", "reason": "rest"})
        frame = await recv(ws, "agent_status")  # items in hand stay: still busy, the break shows when they end
        assert (frame["status"]["status"], frame["status"]["presence"], frame["status"]["reason"]) == (
            "busy",
            "break",
            "rest",
        )


async def test_text_offers_are_accepted_declined_and_missed_into_a_no_answer_break(offer_hub: RunningHub) -> None:
    board = offer_hub.hub.app[SWITCHBOARD]
    session, headers, me = await agent(offer_hub)
    base = offer_hub.url + "/api/agent"
    async with session, session.ws_connect(offer_hub.ws_url("/agent/ws")) as ws:
        await recv(ws, "hello")
        first = await queued(offer_hub, "水管爆了，联系我13912345678", "13700001002", "李女士")
        await post(session, base + "/status", headers, {"status": "available"})
        offer = (await recv(ws, "offer"))["offer"]
        assert (offer["item_id"], offer["channel"], offer["citizen"], offer["citizen_name"]) == (
            first.id,
            "sms",
            "137****1002",
            "李**",
        )
        assert offer["excerpt"] == "水管爆了，联系我139****5678"  # masked
        assert datetime.fromisoformat(offer["deadline"]) > datetime.fromisoformat(offer["now"])
        async with session.get(base + "/status") as r:
            status = await r.json()
        assert status["status"] == "offered" and [o["item_id"] for o in status["offers"]] == [first.id]
        status_code, accepted = await post(session, f"{base}/offers/{first.id}/accept", headers)
        assert status_code == 200 and accepted["conversation_id"] == first.id
        current = await offer_hub.hub.service.store.get(first.id)
        assert (current.status, current.assignee_id) == (ConversationStatus.ASSIGNED, me)  # in "mine" at once
        gone = await recv(ws, "offer_gone")
        assert (gone["item_id"], gone["reason"]) == (first.id, "assigned")
        status_code, body = await post(session, f"{base}/offers/{first.id}/decline", headers)
        assert (status_code, body["error"], body["message"]) == (409, "offer_gone", "该会话邀请已失效")

        second = await queued(offer_hub, "燃气味道很大", "13700001003")
        offered = (await recv(ws, "offer"))["offer"]
        assert offered["item_id"] == second.id
        status_code, body = await post(session, f"{base}/offers/{second.id}/decline", headers)
        assert status_code == 200 and body["missed_offers"] == 1
        again = (await recv(ws, "offer"))["offer"]  # nobody else: offered again, with a new deadline
        assert again["item_id"] == second.id and again["deadline"] != offered["deadline"]
        await post(session, f"{base}/offers/{second.id}/decline", headers)
        frames = await recv_until(ws, lambda f: f["type"] == "agent_status" and "no_answer" in f)
        assert frames[-1]["no_answer"] == {"missed": 2}
        assert board.router.agents[me].reason == "no_answer"
        async with session.get(base + "/status") as r:
            status = await r.json()
        assert (status["presence"], status["reason"], status["no_answer"], status["missed_offers"]) == (
            "break",
            "no_answer",
            True,
            2,
        )
        assert status["status"] == "busy" and status["offers"] == []  # the accepted one is still in hand
        since = datetime.now(UTC) - timedelta(hours=1)
        kinds = [e.event for e in await board.log.entries(since, item_id=second.id)]
        assert kinds.count(QueueEvent.DECLINE) == 2
        await post(session, base + "/status", headers, {"status": "available"})
        assert (await recv(ws, "offer"))["offer"]["item_id"] == second.id  # back: offered again, count reset
        assert board.router.agents[me].missed_offers == 0


async def test_taking_from_the_queue_is_a_pick(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    routing = RoutingSettings.from_mapping(
        {
            "policy": {"capacity": 1},
            "defaults": {"wrap_up_s": {"sms": 600}},
            "queues": {"closed": {"allow_pick": False}},
        }
    )
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, routing=routing) as hub:
        board: Switchboard = hub.hub.app[SWITCHBOARD]
        session, headers, me = await agent(hub)
        async with session:
            await post(session, hub.url + "/api/agent/status", headers, {"status": "break", "reason": "meeting"})
            first = await queued(hub, "路灯不亮", "13700001004")
            status, body = await post(session, f"{hub.url}/api/conversations/{first.id}/claim", headers)
            assert (status, body["status"], body["assignee_id"]) == (200, "assigned", me)  # a break allows a pick
            entries = await board.log.entries(datetime.now(UTC) - timedelta(hours=1), item_id=first.id)
            assert [(e.event, e.reason) for e in entries][-1] == (QueueEvent.CONNECT, "picked")

            second = await queued(hub, "井盖丢了", "13700001005")
            status, body = await post(session, f"{hub.url}/api/conversations/{second.id}/claim", headers)
            assert (status, body["reason"], body["message"]) == (
                409,
                "no_room",
                "您手上的会话已满，请先结束部分会话再接入",
            )
            assert (await hub.hub.service.store.get(second.id)).status is ConversationStatus.QUEUED

            status, body = await post(session, f"{hub.url}/api/conversations/{first.id}/close", headers, {})
            assert status == 200

            async def wrapping_up() -> bool:
                return board.router.agents[me].wrap_up_until is not None

            await until(wrapping_up)
            async with session.get(hub.url + "/api/agent/status") as r:
                assert (await r.json())["wrap_up_until"] is not None
            status, body = await post(session, hub.url + "/api/agent/wrap-up/end", headers)
            assert status == 200 and body["wrap_up_until"] is None and body["status"] == "break"

            status, body = await post(session, f"{hub.url}/api/conversations/{second.id}/claim", headers)
            assert status == 200 and body["assignee_id"] == me

            stored = await hub.hub.service.receive(
                Inbound("sms", "噪音扰民", ref="13700001006", hints=ContactHints(phone="13700001006"), for_bot=False)
            )
            board.enqueue_conversation(stored.conversation, queue="closed")  # a queue nobody may pick from
            third = await hub.hub.service.queue(stored.conversation.id, "requested")
            assert third is not None and board.router.items[third.id].queue == "closed"
            status, body = await post(session, f"{hub.url}/api/conversations/{third.id}/claim", headers)
            assert (status, body["reason"]) == (409, "not_allowed")
            assert body["message"] == "该队列不允许座席自行接入，请等待系统分配"
