"""Whole calls through the hub's voice channel with a real SIP peer (sipp): IVR menus by RFC 4733 keys, speech and
in-band keys from a WAV-like stream, voicemail, CANCEL before the answer, several calls at once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from channels.voice.asr import find_model_dir
from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.prompt_check import character_error_rate
from channels.voice.sip_accounts import SipAccountStore
from hub.events import CallOffered
from hub.i18n import t
from hub.models import ConversationStatus
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from routing.switchboard import SWITCHBOARD
from tests.channels.voice.sipp_calls import (
    HOST,
    SIPP,
    dtmf_pcap,
    free_sip_port,
    inband_digit,
    run_sipp,
    scenario,
    silence,
    tone_pcm,
    write_rtp_pcap,
)
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.softphone import SoftphoneFactory, tone_power, write_tone_wav

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (apt sip-tester) is not installed")

ALWAYS_OPEN = 'mon-sun: ["00:00-24:00"]'
CALLER = "13912345678"


async def always_open(hub: RunningHub) -> None:
    """The default flow, open around the clock (tests must not depend on the time of day)."""
    flows = hub.hub.ivr_flows
    assert flows is not None
    document = (await flows.active()).document  # type: ignore[union-attr]
    document = re.sub(r'mon-fri: \["08:30-12:00", "13:00-17:30"\]', ALWAYS_OPEN, document)
    document = document.replace("holidays: true", "holidays: false")
    await flows.save(document, user_id=None, comment="tests: always open")  # saved = active


@pytest.fixture
async def voice_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path) -> AsyncIterator[RunningHub]:
    settings = VoiceSettings(
        sip_port=free_sip_port(), asr_model_dir=find_model_dir(), max_wait_s=20, prompt_cache_dir=prompt_cache
    )
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        await always_open(hub)
        yield hub


async def finished_calls(hub: RunningHub, count: int = 1, timeout: float = 30.0) -> list:  # type: ignore[type-arg]
    store = CallStore(hub.hub.engine)
    for _ in range(int(timeout * 10)):
        calls = [c for c in await store.recent(50) if c.ended_at is not None]
        if len(calls) >= count:
            return calls
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} finished call(s) expected, got {len(calls)}")


def nodes(call) -> list[str]:  # type: ignore[no-untyped-def]
    return [step["node"] for step in call.ivr_path]


async def test_rfc4733_keys_walk_the_menus_to_the_order_status_by_caller_id(
    voice_hub: RunningHub, tmp_path: Path
) -> None:
    store = voice_hub.hub.service.store
    contact = await store.ensure_contact_by_phone(CALLER)
    order = await WorkOrderStore(voice_hub.hub.engine).create(
        request_type="repair", description="路灯不亮", industry="municipal", category="municipal.streetlight",
        district="chengdong", address="城东区幸福路12号", phone=CALLER, urgent=False,
        conversation_id=None, contact_id=contact.id,
    )  # fmt: skip
    steps: list[tuple[str, object]] = [
        ("pause", 2500),
        ("play", dtmf_pcap("2")),  # main menu (barge-in): 查询工单进度
        ("pause", 1500),
        ("play", dtmf_pcap("2")),  # order menu: 按本机号码查询
        ("pause", 3000),
    ]
    code, output = await run_sipp(scenario(steps, caller=CALLER), voice_hub.hub.voice.port, tmp_path)  # type: ignore[union-attr]
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert nodes(call)[:3] == ["welcome", "hours", "main"]
    assert "order_menu" in nodes(call) and "order_by_caller" in nodes(call)
    assert call.hangup_cause == "caller_bye" and call.caller == CALLER
    assert call.answered_at is not None and call.total_s is not None
    conversation = await voice_hub.hub.service.store.get(call.conversation_id)
    assert conversation.channel == "voice" and conversation.status is ConversationStatus.CLOSED
    contact = await voice_hub.hub.service.store.contact_by_phone(CALLER)
    assert contact is not None and conversation.contact_id == contact.id
    texts = [m.text for m in await voice_hub.hub.service.store.messages(conversation.id)]
    assert texts[0] == f"来电：{CALLER}" and texts[-1].startswith("通话结束")
    state = t(f"state.{order.state}", "zh-CN")
    assert f"来电人自助查询了工单 {order.number}（{state}）" in texts


async def test_speech_and_inband_keys_reach_the_ivr_and_the_transcript(
    voice_hub: RunningHub, tmp_path: Path, mandarin_say: Callable[[str], bytes]
) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None and voice.free_asr.available, "Whisper base hears free speech"
    # "1" (in-band tones, no telephone-event negotiated) → policy question by free speech, in Mandarin
    question = "我想咨询一下，水费应该怎么交？"
    spoken = mandarin_say(question)
    stream = silence(2500) + inband_digit("1") + silence(7000) + spoken + silence(4000)
    pcap = write_rtp_pcap(tmp_path / "caller.pcap", stream)
    steps: list[tuple[str, object]] = [("play", pcap), ("pause", len(stream) // 16 + 4000)]
    code, output = await run_sipp(scenario(steps, rfc4733=False), voice.port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert "ask_kb" in nodes(call), call.ivr_path
    messages = await voice_hub.hub.service.store.messages(call.conversation_id)
    asked = [m for m in messages if m.sender_kind.value == "citizen"]
    assert asked, "the caller's question was transcribed into the conversation"
    # Whisper base mishears some words on the phone (水费 → 水分): most of the question must come through
    assert character_error_rate(question, asked[0].text)[0] <= 0.5, asked[0].text
    assert asked[0].nlu is not None and asked[0].nlu.get("asr_confidence") is not None


async def test_voicemail_becomes_an_inbox_conversation_with_audio_and_a_mandarin_transcript(
    voice_hub: RunningHub, tmp_path: Path, mandarin_say: Callable[[str], bytes]
) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None
    pcm = mandarin_say("你好，我家的自来水管漏水了，地址是解放路一百二十号，请尽快派人来修。")
    recording = write_rtp_pcap(tmp_path / "message.pcap", silence(1500) + pcm + silence(500))
    steps: list[tuple[str, object]] = [
        ("pause", 2500),
        ("play", dtmf_pcap("9")),  # 留言 (pressed during the greeting)
        ("pause", 17000),  # the greeting, "请在提示音后留言……留言后请挂机" and the beep
        ("play", recording),
        ("pause", len(pcm) // 16 + 2500),  # then hang up, as the prompt says: the message is kept
    ]
    code, output = await run_sipp(scenario(steps), voice.port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert "voicemail" in nodes(call)
    assert call.voicemail_path and (voice_hub.hub.settings.data_dir / call.voicemail_path).is_file()
    conversation = await voice_hub.hub.service.store.get(call.conversation_id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "voicemail"
    messages = await voice_hub.hub.service.store.messages(conversation.id)
    (left,) = [m for m in messages if m.attachments and m.attachments[0].get("label") == "voicemail"]
    assert left.sender_kind.value == "citizen" and left.attachments[0]["mime"] == "audio/wav"
    assert left.attachments[0]["duration_s"] > 1.0
    assert "漏水" in left.text and "解放路" in left.text, left.text  # the Mandarin transcript, for the agents
    assert call.transcript == left.text


async def test_cancel_before_the_answer_is_an_abandoned_call(
    tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path
) -> None:
    settings = VoiceSettings(sip_port=free_sip_port(), ring_s=3.0, prompt_cache_dir=prompt_cache)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        code, output = await run_sipp(scenario([], cancel_after_ringing=True), settings.sip_port, tmp_path)
        assert code == 0, output
        (call,) = await finished_calls(hub)
        assert call.hangup_cause == "abandoned" and call.answered_at is None


async def test_several_calls_at_once(voice_hub: RunningHub, tmp_path: Path) -> None:
    steps: list[tuple[str, object]] = [
        ("pause", 2000),
        ("play", dtmf_pcap("4")),  # 最新公告 (during the greeting: type-ahead)
        ("pause", 9000),
    ]
    code, output = await run_sipp(scenario(steps), voice_hub.hub.voice.port, tmp_path, calls=6, rate=6)  # type: ignore[union-attr]
    assert code == 0, output
    calls = await finished_calls(voice_hub, 6)
    assert len({c.conversation_id for c in calls}) == 6
    assert [("notices" in nodes(c), c.hangup_cause) for c in calls] == [(True, "caller_bye")] * 6, [
        (nodes(c), c.hangup_cause) for c in calls
    ]


async def test_healthz_reports_the_sip_endpoint_and_speech(voice_hub: RunningHub) -> None:
    async with voice_hub.session.get(voice_hub.url + "/healthz") as r:
        body = await r.json()
    voice = body["components"]["channels"]["voice"]
    assert voice["enabled"] is True and voice["sip"]["port"] == voice_hub.hub.voice.port  # type: ignore[union-attr]
    assert voice["speech_input"]["available"] is True


async def test_a_caller_reaches_a_registered_agent_softphone_and_both_legs_are_recorded(
    voice_hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory
) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None
    agent = await UserStore(voice_hub.hub.engine).authenticate("agent1", "agent123")
    assert agent is not None
    _, secret = await SipAccountStore(voice_hub.hub.engine).reset(agent.id, voice.settings.realm)
    await voice._refresh_credentials()
    offered: list[CallOffered] = []

    async def record(event: object) -> None:
        assert isinstance(event, CallOffered)
        offered.append(event)

    voice_hub.hub.service.bus.subscribe(CallOffered, record)
    phone = await softphone(
        user="agent1",
        password=secret,
        registrar=(HOST, voice.port),
        play=write_tone_wav(tmp_path / "agent.wav", 1000.0, 30.0),
    )
    await phone.wait_registered()
    board = voice_hub.hub.app[SWITCHBOARD]
    for _ in range(50):  # the registration reaches the router
        if board.router.agents[agent.id].registered:
            break
        await asyncio.sleep(0.1)
    caller_audio = write_rtp_pcap(tmp_path / "caller.pcap", tone_pcm((440.0,), 4000))
    steps: list[tuple[str, object]] = [
        ("pause", 2000),
        ("play", dtmf_pcap("0")),  # 人工服务, pressed during the greeting
        ("pause", 11000),  # greeting, "正在为您转接人工服务", ringing, the agent answers
        ("play", caller_audio),
        ("pause", 6000),
    ]
    code, output = await run_sipp(scenario(steps), voice.port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert call.agent_id == agent.id and call.agent_answered_at is not None and call.talk_s and call.talk_s > 2
    assert call.hangup_cause == "caller_bye" and call.wait_s is not None
    assert [e.agent_id for e in offered] == [agent.id]
    data_dir = voice_hub.hub.settings.data_dir
    assert len(call.recordings) == 3 and all((data_dir / path).is_file() for path in call.recordings)
    conversation = await voice_hub.hub.service.store.get(call.conversation_id)
    assert conversation.assignee_id == agent.id
    messages = await voice_hub.hub.service.store.messages(conversation.id)
    labels = {a["label"] for m in messages for a in m.attachments if a.get("kind") == "audio"}
    assert labels == {"mixed", "caller", "agent"}
    await phone.wait_event("CALL_CLOSED")
    heard = phone.received_pcm()
    assert tone_power(heard, 440.0) > 0.05, "the agent heard the caller through the hub's relay"


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned(voice_hub: RunningHub, tmp_path: Path) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None
    steps: list[tuple[str, object]] = [
        ("pause", 2000),
        ("play", dtmf_pcap("0")),  # 人工服务; no agent is signed in: hold music and "您是下一位"
        ("pause", 12000),
    ]
    code, output = await run_sipp(scenario(steps), voice.port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert call.hangup_cause == "abandoned" and call.agent_id is None
    assert call.queue == "general" and call.queue_entered_at is not None and call.wait_s is not None
    conversation = await voice_hub.hub.service.store.get(call.conversation_id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "phone"


async def test_with_speech_input_off_keys_still_work_and_healthz_says_why(
    tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path
) -> None:
    settings = VoiceSettings(sip_port=free_sip_port(), asr_engine="off", prompt_cache_dir=prompt_cache)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        await always_open(hub)
        async with hub.session.get(hub.url + "/healthz") as r:
            speech = (await r.json())["components"]["channels"]["voice"]["speech_input"]
        assert speech["available"] is False and "--asr-engine off" in speech["reason"]
        steps: list[tuple[str, object]] = [("pause", 2000), ("play", dtmf_pcap("4")), ("pause", 9000)]
        code, output = await run_sipp(scenario(steps), settings.sip_port, tmp_path)
        assert code == 0, output
        (call,) = await finished_calls(hub)
        assert "notices" in nodes(call)


async def test_after_the_agent_hangs_up_the_caller_returns_to_the_menu(
    voice_hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory
) -> None:
    voice = voice_hub.hub.voice
    assert voice is not None
    agent = await UserStore(voice_hub.hub.engine).authenticate("agent2", "agent123")
    assert agent is not None
    _, secret = await SipAccountStore(voice_hub.hub.engine).reset(agent.id, voice.settings.realm)
    await voice._refresh_credentials()
    phone = await softphone(user="agent2", password=secret, registrar=(HOST, voice.port))
    await phone.wait_registered()
    steps: list[tuple[str, object]] = [
        ("pause", 2000),
        ("play", dtmf_pcap("0")),
        ("pause", 16000),  # answered by the agent, who hangs up; "人工服务已结束。返回菜单请按星号键……"
        ("play", dtmf_pcap("*")),
        ("pause", 3000),
    ]
    caller = asyncio.create_task(run_sipp(scenario(steps), voice.port, tmp_path))
    await phone.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(1.0)
    await phone.hangup()
    code, output = await caller
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    path = nodes(call)
    assert call.agent_id == agent.id and call.hangup_cause == "caller_bye"
    assert path.index("to_agent") < len(path) - 1 and path[-1] == "main", call.ivr_path


async def test_a_blacklisted_caller_hears_the_refusal_and_the_hub_hangs_up(
    voice_hub: RunningHub, tmp_path: Path
) -> None:
    store = voice_hub.hub.service.store
    contact = await store.ensure_contact_by_phone("13700000000")
    await store.update_contact(contact.id, blacklisted=True)
    code, output = await run_sipp(
        scenario([("pause", 500)], caller="13700000000", hub_hangs_up=True),
        voice_hub.hub.voice.port,
        tmp_path,  # type: ignore[union-attr]
    )
    assert code == 0, output
    (call,) = await finished_calls(voice_hub)
    assert call.hangup_cause == "rejected" and call.routing == "blacklist"
    assert nodes(call) == ["(rejected)"]
