"""The citizen web chat WebSocket and the Rasa-compatible REST channel, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp

from tests.fixtures.hub import RunningHub

WEBHOOK = "/webhooks/rest/webhook"


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next frame of ``kind`` (other frames are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            data = json.loads(await ws.receive_str())
            if data["type"] == kind:
                return data


async def recv_until(ws: aiohttp.ClientWebSocketResponse, predicate: Any, timeout: float = 10) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            data = json.loads(await ws.receive_str())
            frames.append(data)
            if predicate(data):
                return frames


def bot_text(frame: dict[str, Any]) -> str:
    return frame["message"]["text"] if frame["type"] == "message" and frame["message"]["sender"] == "bot" else ""


async def test_rest_channel_is_rasa_compatible(live_hub: RunningHub) -> None:
    async with live_hub.session.post(
        live_hub.url + WEBHOOK, json={"sender": "u-1", "message": "燃气开户需要带什么材料"}
    ) as r:
        assert r.status == 200
        body = await r.json()
    assert isinstance(body, list) and body
    assert all(set(item) == {"recipient_id", "text"} and item["recipient_id"] == "u-1" for item in body)
    assert any("身份证" in item["text"] for item in body)


async def test_rest_work_order_dialogue_keeps_state_per_sender(live_hub: RunningHub) -> None:
    async def post(sender: str, text: str) -> list[str]:
        async with live_hub.session.post(live_hub.url + WEBHOOK, json={"sender": sender, "message": text}) as r:
            assert r.status == 200
            return [m["text"] for m in await r.json()]

    assert "地址" in (await post("a", "路灯坏了"))[-1]
    assert "您好" in (await post("b", "你好"))[-1]  # another sender, another conversation
    assert "电话" in (await post("a", "城西区长江路5号"))[-1]
    assert "请核对" in (await post("a", "13712345678"))[-1]  # read back before registering
    assert "工单号" in (await post("a", "确认"))[-1]


async def test_rest_bad_input_gets_clear_errors(live_hub: RunningHub) -> None:
    cases: list[tuple[Any, int, str]] = [
        (b"{not json", 400, "invalid_json"),
        (json.dumps([1, 2]).encode(), 400, "invalid_json"),
        (json.dumps({"message": "hi"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "x", "message": ""}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "x", "message": 5}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "x", "message": "长" * 2001}).encode(), 413, "invalid_message"),
    ]
    for payload, status, code in cases:
        async with live_hub.session.post(
            live_hub.url + WEBHOOK, data=payload, headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == status, payload
            assert (await r.json())["error"] == code
    async with live_hub.session.post(live_hub.url + WEBHOOK, data=io.BytesIO(b"x" * (2 * 1024 * 1024))) as r:
        assert r.status == 413
    # the hub still works afterwards
    async with live_hub.session.post(live_hub.url + WEBHOOK, json={"sender": "x", "message": "你好"}) as r:
        assert r.status == 200


async def test_web_chat_stores_before_ack_and_resumes_without_loss(live_hub: RunningHub) -> None:
    async with live_hub.session.ws_connect(live_hub.ws_url("/chat/ws")) as ws:
        await ws.send_json({"type": "hello", "conversation_id": None, "last_id": 0})
        ready = await recv(ws, "ready")
        conv_id = ready["conversation_id"]
        welcome = await recv(ws, "message")
        assert "12319" in welcome["message"]["text"]
        await ws.send_json({"type": "message", "text": "燃气开户需要带什么材料", "client_id": "m-1"})
        ack = await recv(ws, "ack")
        assert ack["client_id"] == "m-1"
        stored = await live_hub.hub.service.store.message_by_external_id(conv_id, "m-1")
        assert stored is not None and stored.id == ack["id"]
        frames = await recv_until(ws, lambda f: "身份证" in bot_text(f))
        last_seen = max(f["message"]["id"] for f in frames if f["type"] == "message")
    # Disconnected: meanwhile the citizen's retried message (same client id) and more arrive.
    async with live_hub.session.ws_connect(live_hub.ws_url("/chat/ws")) as ws:
        await ws.send_json({"type": "hello", "conversation_id": conv_id, "last_id": welcome["message"]["id"]})
        assert (await recv(ws, "ready"))["conversation_id"] == conv_id
        replayed = await recv_until(ws, lambda f: f["type"] == "message" and f["message"]["id"] == last_seen)
        ids = [f["message"]["id"] for f in replayed if f["type"] == "message"]
        assert ids == sorted(ids) and ack["id"] in ids
        await ws.send_json({"type": "message", "text": "燃气开户需要带什么材料", "client_id": "m-1"})
        again = await recv(ws, "ack")
        assert again["id"] == ack["id"]  # a resent message is not stored twice
    messages = await live_hub.hub.service.store.messages(conv_id)
    assert sum(1 for m in messages if m.external_id == "m-1") == 1


async def test_web_chat_bad_frames_get_errors_and_the_connection_survives(live_hub: RunningHub) -> None:
    async with live_hub.session.ws_connect(live_hub.ws_url("/chat/ws")) as ws:
        await ws.send_str("{oops")
        assert (await recv(ws, "error"))["code"] == "invalid_json"
        await ws.send_json({"type": "message", "text": "hi", "client_id": "x"})
        assert (await recv(ws, "error"))["code"] == "no_conversation"
        await ws.send_json({"type": "hello", "conversation_id": "00000000-0000-0000-0000-000000000000"})
        assert (await recv(ws, "error"))["code"] == "unknown_conversation"
        await ws.send_json({"type": "dance"})
        assert (await recv(ws, "error"))["code"] == "unknown_type"
        await ws.send_bytes(b"\x00\x01")
        assert (await recv(ws, "error"))["code"] == "binary_not_supported"
        await ws.send_json({"type": "hello", "conversation_id": None})
        await recv(ws, "ready")
        await ws.send_json({"type": "message", "text": "长" * 5000, "client_id": "big"})
        error = await recv(ws, "error")
        assert error["code"] == "invalid_message" and error["client_id"] == "big"
        await ws.send_json({"type": "message", "text": "   ", "client_id": "blank"})
        assert (await recv(ws, "error"))["code"] == "invalid_message"
        await ws.send_json({"type": "ping"})
        await recv(ws, "pong")
        await ws.send_json({"type": "message", "text": "你好", "client_id": "ok"})
        assert (await recv(ws, "ack"))["client_id"] == "ok"


async def test_healthz_reports_each_component(live_hub: RunningHub) -> None:
    async with live_hub.session.get(live_hub.url + "/healthz") as r:
        assert r.status == 200
        body = await r.json()
    assert body["status"] == "ok"
    components = body["components"]
    assert components["database"] == {"status": "ok", "backend": "sqlite"}
    assert components["nlu"]["status"] == "ok"
    assert components["knowledge_base"]["articles"] >= 30
    assert set(components["channels"]) >= {"web_chat", "rest"}


async def test_healthz_shows_nlu_degraded(live_hub: RunningHub, scripted_nlu: Any) -> None:
    scripted_nlu.down = True
    async with live_hub.session.get(live_hub.url + "/healthz") as r:
        body = await r.json()
    assert r.status == 200 and body["status"] == "degraded"
    assert body["components"]["nlu"]["status"] == "down"
