"""The call-back and voicemail API on a real hub (127.0.0.1): who may call which number, voicemail played, deleted
and answered by SMS through the real SMSC simulator, and every action recorded."""

from __future__ import annotations

import asyncio
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.voice.call_store import CallStore
from channels.voice.hub_port import VoiceHub
from channels.voice.outbound_store import OutboundStore
from hub.intake import ContactHints, Inbound
from hub.models import SenderKind
from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc

CITIZEN = "13912345678"
OTHER = "13700001111"


async def post(session: aiohttp.ClientSession, url: str, body: Any, csrf: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    async with session.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def case(live_hub: RunningHub) -> dict[str, Any]:
    """A voice conversation of the citizen with a message naming a second number and an order naming a third."""
    service = live_hub.hub.service
    conversation = await service.open("voice", hints=ContactHints(phone=CITIZEN))
    await service.post(conversation, "坐席说：请拨打 13600002222", sender=SenderKind.AGENT)
    await service.receive(
        Inbound("voice", "我的另一个电话是 138-0000-3333", conversation_id=conversation.id, for_bot=False)
    )
    order = await WorkOrderStore(live_hub.hub.engine).create(
        request_type="repair", description="停水", industry="water", category=None, district="chengdong",
        address="幸福路1号", phone="13500004444", urgent=False, conversation_id=conversation.id, contact_id=None,
    )  # fmt: skip
    loose = await WorkOrderStore(live_hub.hub.engine).create(
        request_type="repair", description="井盖", industry="municipal", category=None, district="chengdong",
        address="幸福路2号", phone="13400005555", urgent=False, conversation_id=None, contact_id=None,
    )  # fmt: skip
    return {"conversation": conversation.id, "order": order.number, "loose": loose.number}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"conversation": True, "number": OTHER}, 403, "number_not_allowed"),
        ({"conversation": True, "number": "13600002222"}, 403, "number_not_allowed"),  # typed by the agent: no
        ({"conversation": True, "number": "abc"}, 400, "bad_number"),
        ({"number": CITIZEN}, 400, "no_case"),
        ({"conversation_id": "nope", "number": CITIZEN}, 404, "unknown_conversation"),
        ({"order_number": "209912310001", "number": CITIZEN}, 404, "unknown_order"),
        ({"loose": True, "number": CITIZEN}, 403, "number_not_allowed"),
        # allowed numbers get past the check; this hub has no voice channel, so no trunk
        ({"conversation": True, "number": CITIZEN}, 503, "no_trunk"),
        ({"conversation": True, "number": "+86 139 1234 5678"}, 503, "no_trunk"),
        ({"conversation": True, "number": "13800003333"}, 503, "no_trunk"),  # written by the citizen
        ({"conversation": True, "number": "13500004444"}, 503, "no_trunk"),  # the phone of its order
        ({"order": True, "number": "13500004444"}, 503, "no_trunk"),
        ({"loose": True, "number": "13400005555"}, 503, "no_trunk"),
    ],
)
async def test_only_numbers_of_the_case_may_be_called(
    live_hub: RunningHub, case: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    request = dict(body)
    if request.pop("conversation", None):
        request["conversation_id"] = case["conversation"]
    if request.pop("order", None):
        request["order_number"] = case["order"]
    if request.pop("loose", None):
        request["order_number"] = case["loose"]
    session, csrf = await live_hub.login("agent1", "agent123")
    async with session:
        got, answer = await post(session, f"{live_hub.url}/api/voice/callback", request, csrf)
    assert (got, answer["error"]) == (status, code), answer
    assert answer["message"] and answer["message"] != code  # a sentence for the agent, not the code
    assert await OutboundStore(live_hub.hub.engine).count_since(1) == 0


@pytest.mark.parametrize(
    ("user", "password", "with_csrf", "status"),
    [
        (None, None, False, 401),
        ("agent1", "agent123", False, 403),
        ("dept", "dept123", True, 403),
        ("leader", "leader123", True, 403),
    ],
)
async def test_only_a_signed_in_agent_with_the_csrf_token_may_call(
    live_hub: RunningHub, case: dict[str, Any], user: str | None, password: str | None, with_csrf: bool, status: int
) -> None:
    body = {"conversation_id": case["conversation"], "number": CITIZEN}
    if user is None:
        got, _ = await post(live_hub.session, f"{live_hub.url}/api/voice/callback", body, None)
    else:
        assert password is not None
        session, csrf = await live_hub.login(user, password)
        async with session:
            got, _ = await post(session, f"{live_hub.url}/api/voice/callback", body, csrf if with_csrf else None)
    assert got == status


def _wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 1000) * int(8000 * seconds))
    return path


async def leave_voicemail(hub: RunningHub, nlu: ScriptedNlu, caller: str) -> tuple[int, Path]:
    """A voicemail left through the voice channel's hub port (conversation, call record, audio message)."""
    ctx = hub.hub.app[CTX]
    port = VoiceHub(
        conversations=hub.hub.service, work_orders=ctx.work_orders, calls=CallStore(hub.hub.engine), nlu=nlu,
        taxonomy=ctx.taxonomy, notices=None, data_dir=hub.hub.settings.data_dir,
    )  # fmt: skip
    call = await port.call_arrived(f"vm-{caller}", caller, "12319")
    path = _wav(port.voice_dir / "recordings" / f"vm-{caller}-voicemail-caller.wav")
    await port.voicemail(call, path, 1.0, "家里停水了，请回电")
    messages = await hub.hub.service.store.messages(call.conversation.id)
    (message,) = [m for m in messages if m.attachments]
    return message.id, path


async def test_voicemail_plays_and_the_deletion_are_recorded_and_shown(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu
) -> None:
    message_id, path = await leave_voicemail(live_hub, scripted_nlu, CITIZEN)
    audio = f"{live_hub.url}/voice/audio/{message_id}/0"
    agent, agent_csrf = await live_hub.login("agent1", "agent123")
    supervisor, _ = await live_hub.login("supervisor", "supervisor123")
    async with agent, supervisor:
        for session, headers in ((agent, {}), (agent, {"Range": "bytes=0-"}), (agent, {"Range": "bytes=4000-"}),
                                 (supervisor, {"Range": "bytes=0-"})):  # fmt: skip
            async with session.get(audio, headers=headers) as resp:
                assert resp.status in (200, 206)
        async with agent.delete(f"{live_hub.url}/api/voice/voicemail/{message_id}") as resp:
            assert resp.status == 403  # no CSRF token
        async with agent.delete(
            f"{live_hub.url}/api/voice/voicemail/{message_id}", headers={"X-CSRF-Token": agent_csrf}
        ) as resp:
            assert resp.status == 200, await resp.text()
        assert not path.exists(), "the audio file is removed"
        async with agent.get(audio) as resp:
            assert resp.status == 404
        status, again = await post(agent, f"{live_hub.url}/api/voice/voicemail/{message_id}/delete", {}, agent_csrf)
        assert (status, again["error"]) == (409, "already_deleted")
        async with supervisor.get(f"{live_hub.url}/api/voice/voicemail/{message_id}") as resp:
            audit = await resp.json()
    # one play per listening (not per byte range, not twice within a minute), then the deletion: who and when
    assert [(a["action"], a["user"]) for a in audit["actions"]] == [
        ("play", "座席 张敏"),
        ("play", "班长 王强"),
        ("delete", "座席 张敏"),
    ]
    assert audit["deleted"] is True and all(a["at"].endswith("+08:00") for a in audit["actions"])
    message = await live_hub.hub.service.store.message(message_id)
    assert message is not None and message.text == "家里停水了，请回电"  # the message itself is kept
    assert message.attachments[0]["kind"] == "audio_deleted" and "file" not in message.attachments[0]
    assert message.attachments[0]["deleted_by"] == "座席 张敏"
    texts = [m.text for m in await live_hub.hub.service.store.messages(message.conversation_id)]
    assert "座席 张敏 删除了留言录音（留言记录保留）" in texts


@pytest.fixture
async def sms_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, sms=smsc.settings()) as hub:
        yield hub


async def test_a_voicemail_is_answered_by_sms_through_the_smsc(
    sms_hub: RunningHub, scripted_nlu: ScriptedNlu, smsc: Smsc
) -> None:
    message_id, _path = await leave_voicemail(sms_hub, scripted_nlu, CITIZEN)
    landline_id, _ = await leave_voicemail(sms_hub, scripted_nlu, "057188886666")
    session, csrf = await sms_hub.login("agent2", "agent123")
    text = "您好，已安排维修人员今天下午上门，请保持电话畅通。"
    async with session:
        url = f"{sms_hub.url}/api/voice/voicemail"
        assert (await post(session, f"{url}/{message_id}/sms", {"text": "  "}, csrf))[0] == 400
        status, body = await post(session, f"{url}/{landline_id}/sms", {"text": text}, csrf)
        assert (status, body["error"]) == (409, "no_mobile")
        status, body = await post(session, f"{url}/{message_id}/sms", {"text": text}, csrf)
        assert status == 202, body
        for _ in range(100):
            if text in await smsc.texts_to(CITIZEN):
                break
            await asyncio.sleep(0.1)
        assert await smsc.texts_to(CITIZEN) == [text]
        async with session.get(f"{url}/{message_id}") as resp:
            audit = await resp.json()
    assert [(a["action"], a["user"], a["detail"]) for a in audit["actions"]] == [("sms", "座席 李娜", text)]
    message = await sms_hub.hub.service.store.message(message_id)
    assert message is not None
    texts = [m.text for m in await sms_hub.hub.service.store.messages(message.conversation_id)]
    assert f"座席 李娜 已短信答复 {CITIZEN}：{text}" in texts
