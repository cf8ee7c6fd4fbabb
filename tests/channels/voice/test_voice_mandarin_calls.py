"""Whole calls in Mandarin: sipp plays a caller's speech (made from text by ``mandarin_say``, sent as G.711) into a
real hub whose menus and free speech are both recognised by Whisper base (no vosk model directory configured).

The caller chooses menu options by voice and hears the status of their latest order, asks for a person and joins
the agent queue, registers a complaint with its address through the speech-first intake (the bot reads the work
order back, the caller says goodbye), speaks at the intake and then presses 0, and falls back to keys when the
recognition pool has no room.

Whisper base mishears short commands on the phone: "工单进度" comes back as "攻凳进度" (confidence 0.49) and
"转人工" as "蔡仁公" (0.32), both below the flow's ``min_confidence`` of 0.5. Whole sentences are understood:
"我要查询工单进度" → "我要查行功单进度" (0.77; the option's phrase 进度 is in it), "按本机号码查询" → "安本机号码查询"
(0.80), "我要找人工服务" → "我要找人工服务" (0.92). The tests say those sentences.

Timing: each pcap is one RTP stream in which every utterance is followed by silence for as long as the hub needs to
end-point it (0.7 s of quiet), transcribe it (about 1 s here) and act on it. The silence has to keep flowing: the
session reads Whisper's results when the next audio frames arrive. Pauses come from the audio's length plus a margin
of about three times the latency measured here (1.5 s from the end of an utterance to the IVR's move), and the
results are read from the hub's records once the call has ended.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.voice.asr_whisper import WhisperRecognizer
from channels.voice.call_store import CallRecord
from channels.voice.config import VoiceSettings
from channels.voice.hub_port import CallContext
from channels.voice.ivr.events import ConverseResult
from channels.voice.prompt_check import warm_texts
from channels.voice.service import VoiceChannel
from channels.voice.spoken_text import speakable
from channels.voice.tts import clauses
from hub.i18n import t
from hub.models import ConversationStatus, SenderKind, WorkOrder
from hub.storage.work_orders import WorkOrderStore
from tests.channels.voice.sipp_calls import SIPP, dtmf_pcap, free_sip_port, run_sipp, scenario, silence, write_rtp_pcap
from tests.channels.voice.test_voice_calls import always_open, finished_calls
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (apt sip-tester) is not installed")

CALLER = "13912345678"
AFTER_WELCOME_MS = 5000  # the welcome (3.3 s) is not listened to: speak once the main menu's prompt has begun
SETTLE_MS = 5000  # after an utterance: end of speech (0.7 s) + Whisper (~1 s) + the hub's move, three times over

Say = Callable[[str], bytes]
Step = tuple[str, object]


# -- the hub, the caller's audio, what the hub heard and said -------------------------------------------------------


@pytest.fixture
async def mandarin_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path) -> AsyncIterator[RunningHub]:
    """A hub with voice on and Whisper for menus and free speech (no vosk model directory), open around the clock."""
    settings = VoiceSettings(sip_port=free_sip_port(), asr_model_dir=None, max_wait_s=20, prompt_cache_dir=prompt_cache)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        await always_open(hub)
        # the hub's start-up warm-up (loading Kokoro, then the cached prompts) is over before a call: no CPU taken
        # from the call, and what the TTS is asked for during a call is the call's
        voice = channel(hub)
        await voice.tts.warm(warm_texts(voice.flows.holder()))
        yield hub


def channel(hub: RunningHub) -> VoiceChannel:
    """The hub's voice channel, with Whisper loaded for both menus and free speech."""
    voice = hub.hub.voice
    assert voice is not None
    assert isinstance(voice.asr, WhisperRecognizer) and voice.free_asr is voice.asr, (voice.asr, voice.free_asr)
    assert voice.asr.available, voice.asr.reason
    return voice


def whisper(hub: RunningHub) -> WhisperRecognizer:
    recognizer = channel(hub).asr
    assert isinstance(recognizer, WhisperRecognizer)
    return recognizer


async def speech_first(hub: RunningHub) -> None:
    """Start the active flow (already open around the clock) at the speech-first ``intake`` node."""
    flows = hub.hub.ivr_flows
    assert flows is not None
    document = (await flows.active()).document  # type: ignore[union-attr]
    assert "start: welcome" in document
    await flows.save(document.replace("start: welcome", "start: intake", 1), user_id=None, comment="tests: speech")


def speech(say: Say, *parts: str | int) -> bytes:
    """The caller's audio: each text is spoken by ``say``, each number is that many milliseconds of silence."""
    return b"".join(silence(part) if isinstance(part, int) else say(part) for part in parts)


def ms(pcm: bytes) -> int:
    """The length of 8 kHz 16-bit PCM in milliseconds."""
    return len(pcm) // 16


def play(tmp_path: Path, pcm: bytes, *, then_ms: int = 500) -> list[Step]:
    """Play ``pcm`` as one RTP stream and wait until it has been sent, plus ``then_ms``."""
    return [("play", write_rtp_pcap(tmp_path / "caller.pcap", pcm)), ("pause", ms(pcm) + then_ms)]


def key(digit: str, *, then_ms: int) -> list[Step]:
    """An RFC 4733 key press, then a pause."""
    return [("play", dtmf_pcap(digit)), ("pause", then_ms)]


def path(call: CallRecord) -> list[tuple[str, str | None]]:
    return [(step["node"], step["via"]) for step in call.ivr_path]


def prompt(hub: RunningHub, node_id: str, field: str = "prompt") -> str:
    """A prompt of the active flow, as the hub sends it to the TTS."""
    node = channel(hub).flows.holder().node(node_id)
    return speakable(getattr(node, field).text("zh-CN"))


@pytest.fixture
def heard(mandarin_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every transcript Whisper made in the hub, with its confidence (and why it was rejected), for the failure
    messages: a spy on the recognizer's worker function."""
    recognizer = whisper(mandarin_hub)
    transcribe = recognizer._transcribe_pcm8k
    texts: list[str] = []

    def spy(pcm: bytes) -> Any:
        result = transcribe(pcm)
        rejected = f", rejected: {result.rejected}" if result.rejected else ""
        texts.append(f"{result.text} ({result.confidence:.2f}{rejected})")  # list.append: safe from the workers
        return result

    monkeypatch.setattr(recognizer, "_transcribe_pcm8k", spy)
    return texts


@pytest.fixture
def turns(mandarin_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> list[ConverseResult]:
    """The bot's answers to a speech-first caller, as the IVR received them."""
    port = channel(mandarin_hub).hub
    converse = port.converse
    results: list[ConverseResult] = []

    async def spy(ctx: CallContext, text: str, confidence: float) -> ConverseResult:
        result = await converse(ctx, text, confidence)
        results.append(result)
        return result

    monkeypatch.setattr(port, "converse", spy)
    return results


@pytest.fixture
def synthesised(mandarin_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the hub asked its TTS for while a call was up, in order (prompts, the pieces of dynamic text)."""
    voice = channel(mandarin_hub)
    frames = voice.tts.frames
    texts: list[str] = []

    async def spy(text: str, codec: str = "PCMU") -> list[bytes]:
        if voice.calls:
            texts.append(text)
        return await frames(text, codec)

    monkeypatch.setattr(voice.tts, "frames", spy)
    return texts


async def order_for_the_caller(hub: RunningHub) -> WorkOrder:
    contact = await hub.hub.service.store.ensure_contact_by_phone(CALLER)
    return await WorkOrderStore(hub.hub.engine).create(
        request_type="repair", description="路灯不亮", industry="municipal", category="municipal.streetlight",
        district="chengdong", address="城东区幸福路12号", phone=CALLER, urgent=False,
        conversation_id=None, contact_id=contact.id,
    )  # fmt: skip


# -- menus by speech ------------------------------------------------------------------------------------------------


async def test_saying_the_options_walks_the_menus_to_the_status_of_the_callers_order(
    mandarin_hub: RunningHub, tmp_path: Path, mandarin_say: Say, heard: list[str]
) -> None:
    order = await order_for_the_caller(mandarin_hub)
    audio = speech(mandarin_say, AFTER_WELCOME_MS, "我要查询工单进度", SETTLE_MS, "按本机号码查询", SETTLE_MS)
    code, output = await run_sipp(scenario(play(tmp_path, audio), caller=CALLER), channel(mandarin_hub).port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    assert path(call)[:5] == [
        ("welcome", None), ("hours", None), ("main", None), ("order_menu", "speech"), ("order_by_caller", "speech"),
    ], (call.ivr_path, heard)  # fmt: skip
    assert call.hangup_cause == "caller_bye" and call.caller == CALLER
    messages = await mandarin_hub.hub.service.store.messages(call.conversation_id)
    state = t(f"state.{order.state}", "zh-CN")
    assert f"来电人自助查询了工单 {order.number}（{state}）" in [m.text for m in messages], heard
    assert not [m for m in messages if m.sender_kind is SenderKind.CITIZEN]  # menu choices are not messages


async def test_a_phone_that_sends_nothing_while_silent_is_still_understood(
    mandarin_hub: RunningHub, tmp_path: Path, mandarin_say: Say, heard: list[str]
) -> None:
    """Silence suppression (DTX): the caller's RTP stops 300 ms after the words; the menu must still move."""
    audio = speech(mandarin_say, AFTER_WELCOME_MS, "我要查询工单进度", 300)
    steps = [*play(tmp_path, audio, then_ms=0), ("pause", 6000)]  # no packets at all during the pause
    code, output = await run_sipp(scenario(steps, caller=CALLER), channel(mandarin_hub).port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    assert ("order_menu", "speech") in path(call), (call.ivr_path, heard)


async def test_asking_for_a_person_by_speech_joins_the_agent_queue(
    mandarin_hub: RunningHub, tmp_path: Path, mandarin_say: Say, heard: list[str]
) -> None:
    audio = speech(mandarin_say, AFTER_WELCOME_MS, "我要找人工服务", SETTLE_MS)
    steps = play(tmp_path, audio, then_ms=3000)  # "正在为您转接人工服务" (3 s) is over: hold music
    code, output = await run_sipp(scenario(steps, caller=CALLER), channel(mandarin_hub).port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    assert path(call)[2:] == [("main", None), ("agent_gate", "speech"), ("to_agent", None)], (call.ivr_path, heard)
    assert call.queue == "general" and call.queue_entered_at is not None and call.hangup_cause == "abandoned"
    conversation = await mandarin_hub.hub.service.store.get(call.conversation_id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "phone"


# -- speech first ---------------------------------------------------------------------------------------------------


async def test_a_spoken_complaint_is_registered_with_its_address_read_back_and_the_caller_says_goodbye(
    mandarin_hub: RunningHub,
    tmp_path: Path,
    mandarin_say: Say,
    heard: list[str],
    turns: list[ConverseResult],
    synthesised: list[str],
) -> None:
    await speech_first(mandarin_hub)
    complaint = "我要投诉，我家楼下的路灯坏了好几天了，地址是解放路一百二十号。"
    # Whisper hears "…解放路120号": the scripted NLU finds the address and the bot reads the order back before it
    # registers it (a summary, then its choices as keys: "确认登记请按1 …"). The caller presses 1 during that
    # read-back (keys barge in; Whisper hears a short "确认登记" as "切人登记"); the acknowledgement of the
    # registration, the read-back of the order and "anything else?" then take about 28 s (measured: 25 s to the last
    # request); "没有了" comes 34 s after the key, while the intake listens (8 s, then asks twice more): the hub says
    # goodbye and hangs up, which the scenario waits for.
    audio = speech(mandarin_say, 2000, complaint, 20000)
    bye = speech(mandarin_say, "没有了，谢谢。", SETTLE_MS)
    steps: list[Step] = [
        *play(tmp_path, audio, then_ms=0),
        *key("1", then_ms=34000),
        ("play", write_rtp_pcap(tmp_path / "bye.pcap", bye)),
    ]
    code, output = await run_sipp(
        scenario(steps, caller=CALLER, hub_hangs_up=True), channel(mandarin_hub).port, tmp_path
    )
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    assert path(call) == [("intake", None), ("intake", "choice:dtmf:1"), ("intake_bye", "done")], (call.ivr_path, heard)
    assert call.hangup_cause == "ivr_end"
    summary, registered = turns
    assert summary.outcome == "asking" and "请核对" in summary.replies[1] and summary.choices[0] == "确认", turns
    assert registered.outcome == "registered", (turns, heard)
    order = await WorkOrderStore(mandarin_hub.hub.engine).get_by_number(str(registered.order_number))
    assert order is not None and order.phone == CALLER and order.conversation_id == call.conversation_id
    assert "路灯" in order.description and order.address is not None and "解放路" in order.address, order
    assert order.request_type == "complaint" and order.category == "municipal.streetlight"
    assert order.unit == "streetlight_office"
    # the read-back (number, problem, address, unit) was played to its end: "anything else?" came right after it
    [readback] = [reply for reply in registered.replies if order.number in reply]
    assert readback.startswith(f"已为您登记工单，工单号：{order.number}。") and "地址：" in readback, readback
    assert "解放路" in readback and "市路灯管理所" in readback, readback
    pieces = clauses(speakable(readback))
    start = synthesised.index(pieces[0])
    again = prompt(mandarin_hub, "intake", "again_prompt")
    assert synthesised[start : start + len(pieces) + 1] == [*pieces, again], synthesised
    assert synthesised[-1] == prompt(mandarin_hub, "intake_bye")  # "感谢您的来电，再见。"
    messages = await mandarin_hub.hub.service.store.messages(call.conversation_id)
    said, _confirmed = [m.text for m in messages if m.sender_kind is SenderKind.CITIZEN]  # "没有了" ends the call
    assert said == order.description and "解放路" in said, heard
    assert any(order.number in m.text for m in messages if m.sender_kind is SenderKind.BOT)
    conversation = await mandarin_hub.hub.service.store.get(call.conversation_id)
    assert conversation.status is ConversationStatus.CLOSED  # the bot served the caller


async def test_after_speaking_at_the_intake_the_caller_presses_0_and_joins_the_queue(
    mandarin_hub: RunningHub, tmp_path: Path, mandarin_say: Say, heard: list[str], turns: list[ConverseResult]
) -> None:
    order = await order_for_the_caller(mandarin_hub)
    await speech_first(mandarin_hub)
    audio = speech(mandarin_say, 2000, "我上次反映的问题进度怎么样了？", SETTLE_MS)
    steps = [*play(tmp_path, audio, then_ms=0), *key("0", then_ms=5000)]  # during the answer (keys barge in)
    code, output = await run_sipp(scenario(steps, caller=CALLER), channel(mandarin_hub).port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    [answered] = turns
    assert answered.outcome == "answered" and order.number in answered.replies[0], (turns, heard)
    assert path(call) == [("intake", None), ("agent_gate", "dtmf:0"), ("to_agent", None)], (call.ivr_path, heard)
    assert call.queue == "general" and call.hangup_cause == "abandoned"
    conversation = await mandarin_hub.hub.service.store.get(call.conversation_id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "phone"
    messages = await mandarin_hub.hub.service.store.messages(call.conversation_id)
    [asked] = [m for m in messages if m.sender_kind is SenderKind.CITIZEN]
    assert "进度" in asked.text and asked.nlu is not None and asked.nlu["asr_confidence"] >= 0.5, asked


# -- a full recognition pool ----------------------------------------------------------------------------------------


@pytest.fixture
def full_pool(mandarin_hub: RunningHub) -> Iterator[WhisperRecognizer]:
    """Every worker and waiting place of the hub's recognition pool taken by a job that waits for the test's end."""
    recognizer = whisper(mandarin_hub)
    pool = recognizer.pool
    release = threading.Event()
    try:  # released before the hub stops (its pool waits for running jobs)
        jobs = [pool.try_submit(release.wait) for _ in range(pool.workers + pool.max_waiting)]
        assert all(job is not None for job in jobs)
        yield recognizer
    finally:
        release.set()


async def test_with_the_recogniser_busy_the_speaking_caller_is_asked_for_keys_and_they_work(
    mandarin_hub: RunningHub,
    tmp_path: Path,
    mandarin_say: Say,
    full_pool: WhisperRecognizer,
    heard: list[str],
    synthesised: list[str],
) -> None:
    order = await order_for_the_caller(mandarin_hub)
    audio = speech(mandarin_say, AFTER_WELCOME_MS, "我要查询工单进度", 3000)  # refused 0.7 s after the words
    steps = [*play(tmp_path, audio), *key("2", then_ms=2000), *key("2", then_ms=3000)]
    code, output = await run_sipp(scenario(steps, caller=CALLER), channel(mandarin_hub).port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(mandarin_hub)
    assert path(call)[2:6] == [
        ("main", None), ("main", "busy"), ("order_menu", "dtmf:2"), ("order_by_caller", "dtmf:2"),
    ], call.ivr_path  # fmt: skip
    assert full_pool.status()["busy_rejections"] == 1 and heard == []
    busy = speakable(channel(mandarin_hub).flows.holder().defaults.busy_prompt.text("zh-CN"))
    assert synthesised[1:4] == [prompt(mandarin_hub, "main"), busy, prompt(mandarin_hub, "order_menu")], synthesised
    messages = await mandarin_hub.hub.service.store.messages(call.conversation_id)
    assert any(order.number in m.text for m in messages)  # the order's status, by caller ID
