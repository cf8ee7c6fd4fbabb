"""``POST /api/floor/monitor`` without a live call: who may call it, CSRF, bad bodies, and the 404 when the
conversation has no bridged call (voice off, or a conversation that is not on the phone). The calls themselves are
in test_monitor_calls.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.voice.config import VoiceSettings
from tests.channels.voice.sipp_calls import free_sip_port
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

URL = "/api/floor/monitor"


async def post(
    hub: RunningHub, session: aiohttp.ClientSession, body: Any, csrf: str | None, query: str = ""
) -> tuple[int, dict[str, Any]]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    async with session.post(f"{hub.url}{URL}{query}", json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("user", "password", "status", "error"),
    [
        (None, None, 401, "login_required"),
        ("agent1", "agent123", 403, "forbidden"),
        ("leader", "leader123", 403, "forbidden"),
        ("supervisor", "supervisor123", 404, "no_call"),
        ("admin", "admin123", 404, "no_call"),
    ],
)
async def test_only_supervisors_and_administrators_may_monitor(
    live_hub: RunningHub, user: str | None, password: str | None, status: int, error: str
) -> None:
    body = {"conversation_id": "c-1", "mode": "listen"}
    if user is None or password is None:
        got = await post(live_hub, live_hub.session, body, None)
    else:
        session, csrf = await live_hub.login(user, password)
        try:
            got = await post(live_hub, session, body, csrf)
        finally:
            await session.close()
    assert (got[0], got[1]["error"]) == (status, error)


async def test_the_csrf_token_is_required(live_hub: RunningHub) -> None:
    session, _csrf = await live_hub.login("supervisor", "supervisor123")
    try:
        got = await post(live_hub, session, {"conversation_id": "c-1", "mode": "listen"}, None)
    finally:
        await session.close()
    assert (got[0], got[1]["error"]) == (403, "csrf")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"conversation_id": "c-1", "mode": "spy"}, "bad_mode", "监听模式无效：应为监听、耳语、强插或结束"),
        ({"conversation_id": "c-1", "mode": "LISTEN"}, "bad_mode", "监听模式无效：应为监听、耳语、强插或结束"),
        ({"conversation_id": "c-1"}, "bad_mode", "监听模式无效：应为监听、耳语、强插或结束"),
        ({"mode": "listen"}, "bad_request", "请求缺少会话编号"),
        ({"conversation_id": "", "mode": "listen"}, "bad_request", "请求缺少会话编号"),
        ({"conversation_id": 7, "mode": "listen"}, "bad_request", "请求缺少会话编号"),
        (["listen"], "bad_request", "请求缺少会话编号"),
    ],
)
async def test_bad_bodies_are_400_with_a_chinese_message(
    live_hub: RunningHub, body: Any, error: str, message: str
) -> None:
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    try:
        got = await post(live_hub, session, body, csrf)
    finally:
        await session.close()
    assert got == (400, {"error": error, "message": message})


async def test_with_voice_off_no_conversation_has_a_call_in_either_language(live_hub: RunningHub) -> None:
    session, csrf = await live_hub.login("supervisor", "supervisor123")
    try:
        zh = await post(live_hub, session, {"conversation_id": "c-1", "mode": "barge"}, csrf)
        en = await post(live_hub, session, {"conversation_id": "c-1", "mode": "stop"}, csrf, "?lang=en")
    finally:
        await session.close()
    assert zh == (404, {"error": "no_call", "message": "这个会话当前没有接通的电话"})
    assert en == (404, {"error": "no_call", "message": "This conversation has no connected call"})


@pytest.fixture
async def voice_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    settings = VoiceSettings(sip_port=free_sip_port(), asr_engine="off", tts_engine="espeak")
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        yield hub


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge", "stop"])
async def test_a_conversation_that_is_not_on_the_phone_is_404(voice_hub: RunningHub, mode: str) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None and voice.monitors is not None
    conversation = await voice_hub.hub.service.open("web_chat")
    session, csrf = await voice_hub.login("supervisor", "supervisor123")
    try:
        got = await post(voice_hub, session, {"conversation_id": conversation.id, "mode": mode}, csrf)
    finally:
        await session.close()
    assert got == (404, {"error": "no_call", "message": "这个会话当前没有接通的电话"})
    assert voice.monitors.monitors == {}
