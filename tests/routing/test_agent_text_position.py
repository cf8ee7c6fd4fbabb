"""What waiting text citizens are told: position and estimated wait (or "agents offline"), once on SMS (through the
real SMSC simulator) and with updates on web chat when their place improves; nothing when announcing is off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.models import Conversation, SenderKind
from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD
from routing.text_position import TEXT_POSITION, Place, Told, position_text, update_delay
from tests.channels.sms.helpers import bound, sms_settings
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc
from tests.hub.test_web_channels import recv, recv_until

# one queue, arrival order across channels (equal service-level targets), one conversation per agent
ROUTING = {"defaults": {"sl_target_s": {"sms": 60, "web_chat": 60}}, "policy": {"capacity": 1}}
QUEUE_TEXTS = ("您已进入人工排队", "排队更新", "当前暂无人工客服在线")


@pytest.mark.parametrize(
    ("place", "locale", "update", "expected"),
    [
        (Place(0, 100.0, True), "zh-CN", False, "您已进入人工排队，前面还有0位，预计等待约2分钟。"),
        (Place(3, 10.0, True), "zh-CN", False, "您已进入人工排队，前面还有3位，预计等待约1分钟。"),
        (Place(2, 180.0, True), "zh-CN", False, "您已进入人工排队，前面还有2位，预计等待约3分钟。"),
        (Place(2, None, True), "zh-CN", False, "您已进入人工排队，前面还有2位，请稍候。"),
        (Place(2, None, False), "zh-CN", False, "当前暂无人工客服在线，您的留言已保存，客服上线后会尽快回复您。"),
        (Place(1, 181.0, True), "zh-CN", True, "排队更新：前面还有1位，预计等待约4分钟。"),
        (Place(1, None, False), "zh-CN", True, "排队更新：前面还有1位，请稍候。"),
        (Place(1, 120.0, True), "en", False, "You are in the queue for an agent: 1 ahead of you, about 2 min to wait."),
        (
            Place(0, None, False),
            "en",
            False,
            "No agent is online right now. Your message is saved and will be answered as soon as an agent is back.",
        ),
    ],
)
def test_position_texts(place: Place, locale: str, update: bool, expected: str) -> None:
    assert position_text(place, locale, update=update) == expected


@pytest.mark.parametrize(
    ("told", "position", "now", "expected"),
    [
        (Told(3, 100.0), 3, 500.0, None),  # not better
        (Told(3, 100.0), 4, 500.0, None),  # worse (a higher priority arrived): nothing
        (Told(3, 100.0), 2, 500.0, 0.0),  # better, last told long ago: now
        (Told(3, 100.0), 2, 160.0, 0.0),  # exactly a minute later
        (Told(3, 100.0), 1, 130.0, 30.0),  # better, but told 30 s ago: in 30 s
    ],
)
def test_updates_come_at_most_once_a_minute(told: Told, position: int, now: float, expected: float | None) -> None:
    assert update_delay(told, position, now, 60.0) == expected


async def until(check: Callable[[], Awaitable[bool]], rounds: int = 300) -> None:
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def queue_texts(hub: RunningHub, conversation: Conversation) -> list[str]:
    messages = await hub.hub.service.store.messages(conversation.id)
    return [m.text for m in messages if m.sender_kind is SenderKind.SYSTEM and m.text.startswith(QUEUE_TEXTS)]


async def web_chat(hub: RunningHub, text: str) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    ws = await hub.session.ws_connect(hub.ws_url("/chat/ws"))
    await ws.send_json({"type": "hello", "conversation_id": None})
    conversation_id = (await recv(ws, "ready"))["conversation_id"]
    await ws.send_json({"type": "message", "text": text, "client_id": "c1"})
    await recv_until(ws, lambda f: f["type"] == "status" and f["status"] == "queued")
    return ws, conversation_id


def system_text(frame: dict[str, Any]) -> str:
    message = frame.get("message") or {}
    return str(message.get("text", "")) if frame["type"] == "message" and message.get("sender") == "system" else ""


@pytest.fixture
async def sms_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc) -> AsyncIterator[RunningHub]:
    routing = RoutingSettings.from_mapping(ROUTING)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, routing=routing, **sms_settings(smsc)) as running:
        await bound(running)
        yield running


async def sms_citizen(hub: RunningHub, smsc: Smsc, number: str) -> Conversation:
    await smsc.deliver(number, "转人工")

    async def queued() -> bool:
        found = await hub.hub.service.store.find_open_by_ref("sms", number)
        return found is not None and found.status.value == "queued"

    await until(queued)
    found = await hub.hub.service.store.find_open_by_ref("sms", number)
    assert found is not None
    return found


async def test_sms_gets_one_message_and_web_chat_its_updates(sms_hub: RunningHub, smsc: Smsc) -> None:
    board = sms_hub.hub.app[SWITCHBOARD]
    sms_hub.hub.app[TEXT_POSITION].min_interval_s = 0.0  # the once-a-minute pacing is tested above
    first_number, third_number = "13700003001", "13700003003"

    first = await sms_citizen(sms_hub, smsc, first_number)  # nobody signed in

    async def offline_told() -> bool:
        return any(t.startswith("当前暂无人工客服在线") for t in await smsc.texts_to(first_number))

    await until(offline_told)

    agent1, csrf1 = await sms_hub.login("agent1", "agent123")
    agent2, csrf2 = await sms_hub.login("agent2", "agent123")
    async with agent1, agent2:
        async with agent1.post(
            sms_hub.url + "/api/agent/status",
            json={"status": "break", "reason": "meal"},
            headers={"X-CSRF-Token": csrf1},
        ) as r:
            assert r.status == 200
        ws, second_id = await web_chat(sms_hub, "路灯坏了，转人工")  # staffed, but nobody free: no estimate
        async with ws:
            frames = await recv_until(ws, lambda f: system_text(f).startswith("您已进入人工排队"))
            assert system_text(frames[-1]) == "您已进入人工排队，前面还有1位，请稍候。"
            third = await sms_citizen(sms_hub, smsc, third_number)

            async def third_told() -> bool:
                return "您已进入人工排队，前面还有2位，请稍候。" in await smsc.texts_to(third_number)

            await until(third_told)

            async with agent2.post(
                sms_hub.url + "/api/agent/status", json={"status": "available"}, headers={"X-CSRF-Token": csrf2}
            ) as r:
                assert r.status == 200
            frames = await recv_until(ws, lambda f: system_text(f).startswith("排队更新"))
            # one free slot now: position 1 × the queue's default handle time (180 s) / 1 slot
            assert system_text(frames[-1]) == "排队更新：前面还有0位，预计等待约3分钟。"
            assert board.holder(first.id) is not None
            assert await queue_texts(sms_hub, third) == ["您已进入人工排队，前面还有2位，请稍候。"]  # SMS: once
            assert [t for t in await smsc.texts_to(first_number) if t.startswith(QUEUE_TEXTS)] == [
                "当前暂无人工客服在线，您的留言已保存，客服上线后会尽快回复您。"
            ]
            assert second_id in board.router.items


async def test_nothing_is_said_when_announcing_is_off(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    routing = RoutingSettings.from_mapping({"announce_text": False})
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, routing=routing) as hub:
        ws, conversation_id = await web_chat(hub, "转人工")
        async with ws:
            agent, csrf = await hub.login("agent1", "agent123")
            async with (
                agent,
                agent.post(
                    hub.url + "/api/agent/status", json={"status": "available"}, headers={"X-CSRF-Token": csrf}
                ) as r,
            ):
                assert r.status == 200
            frames = await recv_until(ws, lambda f: "座席" in system_text(f))  # assigned: "座席 张敏 为您服务"
        assert not [f for f in frames if system_text(f).startswith(QUEUE_TEXTS)]
        assert json.dumps(frames, ensure_ascii=False).count("人工排队") == 0
        assert hub.hub.app[SWITCHBOARD].holder(conversation_id) is not None
