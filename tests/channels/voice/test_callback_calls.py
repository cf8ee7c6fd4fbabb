"""Click-to-call with real peers: baresip is the agent's softphone (auto-answer), sipp is the carrier trunk (a UAS
that challenges with Digest, answers and sends RTP from a pcap, or refuses). The hub rings the agent, calls the
citizen, bridges and records both sides, reads a newly registered order number to the line, and reports failures.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from channels.voice.asr_whisper import WhisperRecognizer
from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.outbound_store import OutboundStore
from channels.voice.prompt_check import character_error_rate
from channels.voice.sip_accounts import SipAccountStore
from channels.voice.spoken_text import speakable
from hub.i18n import t
from hub.intake import ContactHints
from hub.storage.users import UserStore
from hub.web.context import CTX
from routing.engine import AgentStatus
from routing.switchboard import SWITCHBOARD
from tests.channels.voice.sipp_calls import HOST, SIPP, free_sip_port, silence, tone_pcm, write_rtp_pcap
from tests.channels.voice.sipp_trunk import TRUNK_PASSWORD, TRUNK_USER, answering_trunk, refusing_trunk, start_trunk
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.softphone import Softphone, SoftphoneFactory, tone_power, write_tone_wav

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (apt sip-tester) is not installed")

CITIZEN = "13912345678"


def voice_settings(prompt_cache: Path, **changes: Any) -> VoiceSettings:
    base = VoiceSettings(
        sip_port=free_sip_port(),
        asr_engine="off",
        prompt_cache_dir=prompt_cache,
        trunk_user=TRUNK_USER,
        trunk_password=TRUNK_PASSWORD,
        trunk_caller_id="12319",
    )
    return replace(base, **changes)


@pytest.fixture
async def hub_factory(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[Any]:
    hubs: list[Any] = []

    async def start(settings: VoiceSettings) -> RunningHub:
        context = running_hub(tmp_path / f"data{len(hubs)}", nlu=scripted_nlu, voice=settings)
        hubs.append(context)
        return await context.__aenter__()

    yield start
    for context in reversed(hubs):
        await context.__aexit__(None, None, None)


async def registered_agent(
    hub: RunningHub, softphone: SoftphoneFactory, tmp_path: Path, user: str
) -> tuple[int, Softphone]:
    voice = hub.hub.voice
    assert voice is not None
    agent = await UserStore(hub.hub.engine).authenticate(user, "agent123")
    assert agent is not None
    _, secret = await SipAccountStore(hub.hub.engine).reset(agent.id, voice.settings.realm)
    await voice._refresh_credentials()
    phone = await softphone(
        user=user,
        password=secret,
        registrar=(HOST, voice.port),
        play=write_tone_wav(tmp_path / f"{user}.wav", 1000.0, 60.0),
    )
    await phone.wait_registered()
    board = hub.hub.app[SWITCHBOARD]
    for _ in range(50):  # the registration reaches the router
        if board.router.agents[agent.id].registered:
            break
        await asyncio.sleep(0.1)
    return agent.id, phone


async def citizen_conversation(hub: RunningHub) -> str:
    conversation = await hub.hub.service.open("voice", hints=ContactHints(phone=CITIZEN))
    return conversation.id


async def wait_state(hub: RunningHub, callback_id: int, states: set[str], timeout: float = 40.0) -> Any:
    store = OutboundStore(hub.hub.engine)
    for _ in range(int(timeout * 10)):
        row = await store.get(callback_id)
        if row.state in states:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"call-back {callback_id} stayed {row.state}, expected {states}")


def wav_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


async def test_click_to_call_rings_the_agent_then_the_citizen_bridges_records_and_reads_the_order_number(
    hub_factory: Any,
    tmp_path: Path,
    softphone: SoftphoneFactory,
    prompt_cache: Path,
    whisper_recognizer: WhisperRecognizer,
) -> None:
    citizen_audio = write_rtp_pcap(tmp_path / "citizen.pcap", tone_pcm((440.0,), 3000) + silence(200))
    trunk = await start_trunk(answering_trunk(CITIZEN, citizen_audio), tmp_path)
    try:
        hub = await hub_factory(voice_settings(prompt_cache, trunk=trunk.address))
        agent_id, phone = await registered_agent(hub, softphone, tmp_path, "agent1")
        conversation_id = await citizen_conversation(hub)
        session, csrf = await hub.login("agent1", "agent123")
        async with session:
            async with session.post(
                f"{hub.url}/api/voice/callback",
                json={"conversation_id": conversation_id, "number": CITIZEN},
                headers={"X-CSRF-Token": csrf},
            ) as resp:
                body = await resp.json()
                assert resp.status == 202, body
            assert body["state"] == "ringing_agent" and body["call_id"]
            row = await wait_state(hub, body["callback_id"], {"connected", "failed"})
            assert row.state == "connected", row
            board = hub.hub.app[SWITCHBOARD]
            assert board.router.agents[agent_id].status is AgentStatus.BUSY  # nothing is offered while dialling
            await asyncio.sleep(3.5)  # the citizen's tone (3 s) reaches the agent and the recording
            order = await hub.hub.app[CTX].orders.register(
                request_type="complaint", description="路灯不亮", industry="municipal",
                category="municipal.streetlight", district="chengdong", address="城东区幸福路12号", phone=CITIZEN,
                urgent=False, conversation_id=conversation_id, contact_id=None,
            )  # fmt: skip
            voice = hub.hub.voice
            assert voice is not None
            for _ in range(100):  # the read-out is synthesised, then played on both legs
                if (conversation_id, order.number) in voice.readout.played:
                    break
                await asyncio.sleep(0.1)
            assert (conversation_id, order.number) in voice.readout.played
            await asyncio.sleep(9.0)  # the sentence is ~7 s long
            await phone.hangup()  # the agent ends the call: the hub sends BYE to the trunk
            code, output = await trunk.result()
            assert code == 0, output  # sipp checked the dialled number, our Digest answer and got our BYE
            row = await wait_state(hub, body["callback_id"], {"ended", "failed"})
            async with session.get(f"{hub.url}/api/voice/callbacks/{row.id}") as resp:
                shown = await resp.json()
        assert row.state == "ended" and row.cause == "agent_bye" and row.agent_id == agent_id and row.number == CITIZEN
        held = [("connect", "outbound"), ("complete", None)]  # the router held the call-back for the agent
        for _ in range(100):  # the queue log is written in the background
            logged = await board.log.entries(row.requested_at, agent_id=agent_id)
            if [(e.event.value, e.reason) for e in logged if e.queue == "outbound"] == held:
                break
            await asyncio.sleep(0.1)
        assert [(e.event.value, e.reason) for e in logged if e.queue == "outbound"] == held
        assert board.router.agents[agent_id].status is not AgentStatus.BUSY
        assert shown["state"] == "ended" and shown["cause_text"] == "坐席挂机"
        for _ in range(100):  # the call record is closed after the call-back's audit row
            call = await CallStore(hub.hub.engine).get(body["call_id"])
            if call.ended_at is not None:
                break
            await asyncio.sleep(0.1)
        assert call.direction == "outbound" and call.called == CITIZEN and call.caller == "12319"
        assert call.agent_id == agent_id and call.conversation_id == conversation_id and call.talk_s and call.talk_s > 5
        data_dir = hub.hub.settings.data_dir
        files = {Path(f).stem.rsplit("-", 1)[-1]: data_dir / f for f in call.recordings}
        assert set(files) == {"mixed", "caller", "agent"} and all(p.is_file() for p in files.values())
        assert tone_power(wav_pcm(files["caller"]), 440.0) > 0.05, "the citizen's side is recorded"
        assert tone_power(wav_pcm(files["agent"]), 1000.0) > 0.05, "the agent's side is recorded"
        messages = await hub.hub.service.store.messages(conversation_id)
        texts = [m.text for m in messages]
        assert any(text.startswith("坐席1 回拨 13912345678") or "回拨 13912345678" in text for text in texts), texts
        assert "回拨已接通，通话录音中" in texts and texts[-1] == "通话结束（坐席挂机）"
        labels = {a["label"] for m in messages for a in m.attachments if a.get("kind") == "audio"}
        assert labels == {"mixed", "caller", "agent"}
        # the agent stayed on the line and heard what the citizen heard: the order number, in groups
        await phone.wait_event("CALL_CLOSED")
        heard = tmp_path / "agent-heard.wav"
        with wave.open(str(heard), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(phone.received_pcm())
        transcript = await whisper_recognizer.transcribe_wav(heard)
        expected = speakable(t("voice.order_readout", "zh-CN", number=order.number))
        # Whisper base hears 工单 as 公单 and 幺 as 雅; the number's groups come through
        assert character_error_rate(expected, transcript)[0] <= 0.35, transcript
        assert speakable(order.number).split("，")[0] in transcript, transcript
    finally:
        await trunk.stop()


@pytest.mark.parametrize(
    ("status", "reason", "cause"), [(486, "Busy Here", "busy"), (403, "Forbidden", "trunk_refused")]
)
async def test_a_refusing_trunk_ends_the_agent_leg_with_the_reason_and_the_cap_counts_it(
    hub_factory: Any,
    tmp_path: Path,
    softphone: SoftphoneFactory,
    prompt_cache: Path,
    status: int,
    reason: str,
    cause: str,
) -> None:
    trunk = await start_trunk(refusing_trunk(status, reason), tmp_path)
    try:
        hub = await hub_factory(voice_settings(prompt_cache, trunk=trunk.address, callback_hourly_cap=1))
        _agent_id, phone = await registered_agent(hub, softphone, tmp_path, "agent2")
        conversation_id = await citizen_conversation(hub)
        session, csrf = await hub.login("agent2", "agent123")
        async with session:
            request = {"conversation_id": conversation_id, "number": CITIZEN}
            async with session.post(
                f"{hub.url}/api/voice/callback", json=request, headers={"X-CSRF-Token": csrf}
            ) as resp:
                body = await resp.json()
                assert resp.status == 202, body
            row = await wait_state(hub, body["callback_id"], {"ended", "failed"})
            code, output = await trunk.result()
            assert code == 0, output
            await phone.wait_event("CALL_CLOSED")  # the hub hung up the agent's leg after telling why
            async with session.post(
                f"{hub.url}/api/voice/callback", json=request, headers={"X-CSRF-Token": csrf}
            ) as resp:
                capped = await resp.json()
                assert resp.status == 429, capped
        assert row.state == "failed" and row.cause == cause and row.sip_status == status
        assert capped["error"] == "hourly_cap" and "1" in capped["message"]
        call = await CallStore(hub.hub.engine).get(body["call_id"])
        assert call.hangup_cause == cause and call.direction == "outbound" and call.recordings == []
        texts = [m.text for m in await hub.hub.service.store.messages(conversation_id)]
        expected = {"busy": "对方忙", "trunk_refused": "外呼线路拒绝呼叫"}[cause]
        assert texts[-1] == f"通话结束（{expected}）"
        # the agent heard why before the hub hung up (a prompt, not just a dead line)
        assert len(phone.received_pcm()) > 8000 * 2, "the agent's softphone received the failure prompt"
    finally:
        await trunk.stop()


async def test_agent_not_registered_and_no_trunk_are_refused(
    hub_factory: Any, tmp_path: Path, prompt_cache: Path
) -> None:
    hub = await hub_factory(voice_settings(prompt_cache, trunk=f"{HOST}:{free_sip_port()}"))
    conversation_id = await citizen_conversation(hub)
    session, csrf = await hub.login("agent1", "agent123")
    async with session:
        request = {"conversation_id": conversation_id, "number": CITIZEN}
        async with session.post(f"{hub.url}/api/voice/callback", json=request, headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 409 and (await resp.json())["error"] == "agent_not_registered"
    assert await OutboundStore(hub.hub.engine).count_since(1) == 0  # a refusal is not a call-back
    no_trunk = await hub_factory(voice_settings(prompt_cache, trunk=None))
    conversation_id = await citizen_conversation(no_trunk)
    session, csrf = await no_trunk.login("agent1", "agent123")
    async with session:
        request = {"conversation_id": conversation_id, "number": CITIZEN}
        async with session.post(
            f"{no_trunk.url}/api/voice/callback", json=request, headers={"X-CSRF-Token": csrf}
        ) as resp:
            body = await resp.json()
            assert (
                resp.status == 503 and body["error"] == "no_trunk" and body["message"] == "未配置外呼线路，暂不能回拨"
            )
