"""The bot's quick replies on the phone: spoken as keys ("确认登记请按1，修改地址请按2 …") and picked with a key or by
saying its number; the pick is sent to the bot as the choice's value.

Three levels: the IVR session sans-IO (keys and speech at the ``speech_intake`` node), ``VoiceHub.converse`` over a
real hub whose dialogue engine offers the read-back's choices, and a whole call through sipp (speech, then an
RFC 4733 key) into a hub with Whisper.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.hub_port import CallContext, VoiceHub
from channels.voice.ivr.events import Converse, ConverseResult, Dtmf, Enqueue, Play, Speech
from channels.voice.service import VoiceChannel
from hub.i18n import t
from hub.models import SenderKind
from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from tests.channels.voice.sipp_calls import SIPP, dtmf_pcap, free_sip_port, run_sipp, scenario, silence, write_rtp_pcap
from tests.channels.voice.test_ivr_speech_intake import AGAIN, FREE, TO_AGENT, started, steps
from tests.channels.voice.test_voice_calls import always_open, finished_calls
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

CALLER = "13912345678"
KEYS = "确认登记请按1，修改地址请按2。"
READBACK = ConverseResult(("请核对：路灯不亮，城东区幸福路12号。", KEYS), "asking", choices=("确认", "修改地址"))


# -- the IVR session ------------------------------------------------------------------------------------------------


def test_a_key_sends_the_choice_value_to_the_bot() -> None:
    ivr = started()
    ivr.handle(Speech("我家楼下路灯坏了，幸福路12号", 0.9))
    assert ivr.handle(READBACK) == [Play(READBACK.replies[0], None, True), Play(KEYS, None, True), FREE]
    assert ivr.handle(Dtmf("2")) == [Converse("修改地址", 1.0)]
    assert ivr.waiting_for == "converse" and steps(ivr)[-1] == ("intake", "choice:dtmf:2")
    answer = ConverseResult(("请说出新的地址。",), "asking")
    assert ivr.handle(answer) == [Play("请说出新的地址。", None, True), FREE]
    menu = ivr.handle(Dtmf("2"))  # no choices any more: the keys menu's 2 (查询工单进度), as before
    assert Converse("修改地址", 1.0) not in menu and steps(ivr)[-1] == ("order_menu", "dtmf:2")


def test_saying_the_number_picks_too_and_other_speech_goes_to_the_bot_as_said() -> None:
    ivr = started()
    ivr.handle(Speech("路灯坏了", 0.9))
    ivr.handle(READBACK)
    assert ivr.handle(Speech("一", 0.8)) == [Converse("确认", 0.8)]
    assert steps(ivr)[-1] == ("intake", "choice:speech:1")
    ivr.handle(ConverseResult(("已登记。",), "registered", "202612080001", choices=("查询进度",)))
    assert ivr.handle(Speech("确认一下进度", 0.9)) == [Converse("确认一下进度", 0.9)]


def test_zero_is_still_the_agent_and_a_key_beyond_the_choices_is_the_keys_menus() -> None:
    ivr = started()
    ivr.handle(Speech("路灯坏了", 0.9))
    ivr.handle(READBACK)
    assert ivr.handle(Dtmf("0")) == [TO_AGENT, Enqueue("general")]
    ivr = started()
    ivr.handle(Speech("路灯坏了", 0.9))
    ivr.handle(READBACK)
    ivr.handle(Dtmf("3"))  # two choices: 3 is the main menu's (投诉报修)
    assert steps(ivr)[1] == ("complaints", "dtmf:3")


def test_choices_end_with_a_hand_off_and_are_spoken_before_anything_else() -> None:
    ivr = started()
    ivr.handle(Speech("燃气怎么开户", 0.9))
    offered = ConverseResult(("带身份证。", "需要登记请按1。"), "answered", choices=("我要报修",))
    assert ivr.handle(offered)[-3:] == [Play("需要登记请按1。", None, True), AGAIN, FREE]
    assert ivr.handle(Dtmf("1")) == [Converse("我要报修", 1.0)]
    assert ivr.handle(ConverseResult(("好的。",), "handoff", choices=("转人工",)))[-2:] == [
        TO_AGENT,
        Enqueue("general"),
    ]


# -- the hub side: the dialogue engine's read-back, spoken as keys ---------------------------------------------------


def voice_hub_of(hub: RunningHub, nlu: ScriptedNlu) -> VoiceHub:
    ctx = hub.hub.app[CTX]
    return VoiceHub(
        conversations=ctx.service, work_orders=ctx.work_orders, calls=CallStore(hub.hub.engine),
        nlu=nlu, taxonomy=ctx.taxonomy, notices=None, data_dir=hub.hub.settings.data_dir,
    )  # fmt: skip


async def test_the_read_back_names_its_keys_and_the_picked_value_registers(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu
) -> None:
    port = voice_hub_of(live_hub, scripted_nlu)
    ctx: CallContext = await port.call_arrived("keys@192.0.2.10", CALLER, "12319")
    turn = await port.converse(ctx, "我家楼下路灯坏了", 0.9)
    while not turn.choices and turn.outcome == "asking":  # the form's questions (the caller ID is the phone)
        turn = await port.converse(ctx, "城东区幸福路12号3单元门口", 0.9)
    assert turn.outcome == "asking" and "确认" in turn.choices, turn
    stored = (await live_hub.hub.service.store.messages(ctx.conversation.id))[-1]
    assert stored.sender_kind is SenderKind.BOT and [c["value"] for c in stored.choices] == list(turn.choices)
    labels = [c["label"] for c in stored.choices]
    keys = "，".join(t("voice.choice_key", "zh-CN", label=label, number=i) for i, label in enumerate(labels, start=1))
    assert turn.replies[-1] == f"{keys}。" and turn.replies[-1].startswith(f"{labels[0]}请按1，")
    key = turn.choices.index("确认") + 1
    done = await port.converse(ctx, turn.choices[key - 1], 1.0)  # what the IVR sends for that key
    assert done.outcome == "registered" and done.order_number is not None, done
    order = await WorkOrderStore(live_hub.hub.engine).get_by_number(done.order_number)
    assert order is not None and order.phone == CALLER


async def test_a_hand_off_speaks_no_keys(live_hub: RunningHub, scripted_nlu: ScriptedNlu) -> None:
    port = voice_hub_of(live_hub, scripted_nlu)
    ctx = await port.call_arrived("keys-2@192.0.2.10", CALLER, "12319")
    result = await port.converse(ctx, "我要找人工客服", 0.9)
    assert result.outcome == "handoff" and result.choices == () and not any("请按" in r for r in result.replies)


# -- a whole call: the caller speaks the complaint, then presses the read-back's key ---------------------------------


@pytest.fixture
async def whisper_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path) -> AsyncIterator[RunningHub]:
    settings = VoiceSettings(sip_port=free_sip_port(), asr_model_dir=None, max_wait_s=20, prompt_cache_dir=prompt_cache)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        await always_open(hub)
        flows = hub.hub.ivr_flows
        assert flows is not None
        document = (await flows.active()).document  # type: ignore[union-attr]
        await flows.save(document.replace("start: welcome", "start: intake", 1), user_id=None, comment="speech")
        yield hub


@pytest.mark.skipif(SIPP is None, reason="sipp (apt sip-tester) is not installed")
async def test_a_caller_confirms_the_read_back_with_a_key(
    whisper_hub: RunningHub, tmp_path: Path, mandarin_say: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = whisper_hub.hub.voice
    assert isinstance(voice, VoiceChannel) and voice.free_asr.available
    turns: list[ConverseResult] = []
    converse = voice.hub.converse

    async def spy(ctx: CallContext, text: str, confidence: float) -> ConverseResult:
        result = await converse(ctx, text, confidence)
        turns.append(result)
        return result

    monkeypatch.setattr(voice.hub, "converse", spy)
    complaint = mandarin_say("我要投诉，我家楼下的路灯坏了好几天了，地址是解放路一百二十号。")
    audio = silence(2000) + complaint + silence(1000)
    # the read-back comes while the caller waits; the key barges in once it is being spoken (turns are polled below)
    steps: list[tuple[str, object]] = [("play", write_rtp_pcap(tmp_path / "caller.pcap", audio))]
    steps += [("pause", len(audio) // 16 + 15000), ("play", dtmf_pcap("1")), ("pause", 15000)]
    code, output = await run_sipp(scenario(steps, caller=CALLER), voice.port, tmp_path)
    assert code == 0, output
    (call,) = await finished_calls(whisper_hub)
    readback, *rest = turns
    assert readback.outcome == "asking" and readback.choices[:1] == ("确认",), turns
    assert ("intake", "choice:dtmf:1") in [(s["node"], s["via"]) for s in call.ivr_path], call.ivr_path
    assert rest and rest[0].outcome == "registered", turns
    messages = await whisper_hub.hub.service.store.messages(call.conversation_id)
    said = [m.text for m in messages if m.sender_kind is SenderKind.CITIZEN]
    assert said[-1] == "确认", said  # the key's value, as the caller's words
