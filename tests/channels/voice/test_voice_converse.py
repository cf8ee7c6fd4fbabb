"""A speech-first caller talks with the hub's own bot: ``VoiceHub.converse`` over a real hub (store, knowledge base,
work-order desk) with the scripted NLU, as the other voice hub tests use.

The caller hears the knowledge base's spoken answer, an order's status, a registration read back (number, problem,
address; the caller ID is the phone, not asked for) and is handed to a person on request or when the bot fails.
"""

from __future__ import annotations

import dataclasses

import pytest

from channels.voice.call_store import CallStore
from channels.voice.hub_port import CallContext, VoiceHub
from hub.dialogue.engine import KNOWN_PHONE
from hub.i18n import t
from hub.models import ConversationStatus, SenderKind
from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from tests.fixtures.hub import RunningHub, ScriptedNlu
from tests.fixtures.work_orders import register_streetlight

CALLER = "13912345678"
SPOKEN_GAS = "开户请带产权人身份证和房产证或购房合同，到燃气营业厅办理，三个工作日内上门通气点火。"


def voice_hub_of(hub: RunningHub, nlu: ScriptedNlu) -> VoiceHub:
    ctx = hub.hub.app[CTX]
    return VoiceHub(
        conversations=ctx.service, work_orders=ctx.work_orders, calls=CallStore(hub.hub.engine),
        nlu=nlu, taxonomy=ctx.taxonomy, notices=None, data_dir=hub.hub.settings.data_dir,
    )  # fmt: skip


@pytest.fixture
async def call(live_hub: RunningHub, scripted_nlu: ScriptedNlu) -> tuple[VoiceHub, CallContext]:
    port = voice_hub_of(live_hub, scripted_nlu)
    return port, await port.call_arrived("speech-first@192.0.2.10", CALLER, "12319")


async def test_a_policy_question_is_answered_with_the_spoken_answer(
    live_hub: RunningHub, call: tuple[VoiceHub, CallContext]
) -> None:
    port, ctx = call
    result = await port.converse(ctx, "燃气开户需要带什么材料", 0.83)
    assert result.outcome == "answered" and result.order_number is None
    assert result.replies[0] == SPOKEN_GAS, result.replies
    assert t("bot.kb_answer_suffix", "zh-CN") not in result.replies  # "anything else?" is the flow's
    messages = await live_hub.hub.service.store.messages(ctx.conversation.id)
    asked = [m for m in messages if m.sender_kind is SenderKind.CITIZEN]
    assert [m.text for m in asked] == ["燃气开户需要带什么材料"] and asked[0].processed_at is not None
    assert asked[0].nlu is not None and asked[0].nlu["asr_confidence"] == 0.83
    assert asked[0].nlu["intent"]["name"] == "consult"  # the bot's own turn labelled it
    answers = [m.text for m in messages if m.sender_kind is SenderKind.BOT]
    assert answers[0].startswith("居民燃气开户")  # the transcript keeps the full article
    assert ctx.conversation.status is ConversationStatus.BOT and ctx.conversation.channel == "voice"


async def test_the_status_of_the_callers_latest_order(live_hub: RunningHub, call: tuple[VoiceHub, CallContext]) -> None:
    port, ctx = call
    assert ctx.contact is not None
    orders = live_hub.hub.app[CTX].orders
    assert orders is not None
    order = await register_streetlight(orders, phone=CALLER, contact_id=ctx.contact.id)
    result = await port.converse(ctx, "我上次反映的问题进度怎么样了", 0.9)
    assert result.outcome == "answered"
    [reply] = result.replies
    assert order.number in reply and "市路灯管理所" in reply, reply


async def test_a_complaint_is_registered_with_the_caller_id_and_read_back(
    live_hub: RunningHub, call: tuple[VoiceHub, CallContext]
) -> None:
    port, ctx = call
    first = await port.converse(ctx, "我家楼下路灯坏了三天了", 0.9)
    assert first.outcome == "asking" and "市政设施" in first.replies[0]
    assert first.replies[-1] == t("bot.ask_address", "zh-CN")
    summary = await port.converse(ctx, "城东区幸福路12号3单元门口", 0.88)
    assert summary.outcome == "asking" and summary.order_number is None  # read back before registering
    assert "城东区幸福路12号3单元门口" in summary.replies[0] and "139****5678" in summary.replies[0], summary
    assert summary.choices[0] == "确认"  # a key or 是 confirms
    second = await port.converse(ctx, "是", 0.9)  # the caller confirms
    assert second.outcome == "registered" and second.order_number is not None
    orders = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(ctx.conversation.id)
    [order] = orders
    assert order.number == second.order_number
    assert (order.phone, order.address, order.unit) == (CALLER, "城东区幸福路12号3单元门口", "streetlight_office")
    assert order.contact_id == ctx.conversation.contact_id is not None
    readback = (
        f"已为您登记工单，工单号：{order.number}。登记的问题：我家楼下路灯坏了三天了。地址：城东区幸福路12号3单元门口。"
        "已派发至市路灯管理所办理。请记下工单号，可随时来电查询进度。"
    )
    assert second.replies == (readback,)
    bot = [
        m.text for m in await live_hub.hub.service.store.messages(ctx.conversation.id) if m.sender_kind.value == "bot"
    ]
    assert not any(t("bot.ask_phone", "zh-CN") in text for text in bot)  # never asked: the caller ID is the phone
    assert any(order.number in text and "工单号" in text for text in bot)  # the transcript has the bot's sentence
    # a second report in the same call: the known phone is given to the bot again after the first registration
    assert (await port.converse(ctx, "井盖丢了 幸福路8号", 0.9)).outcome == "asking"  # the read-back
    third = await port.converse(ctx, "确认", 0.9)
    assert third.outcome == "registered" and third.order_number not in (None, order.number)
    newest = await WorkOrderStore(live_hub.hub.engine).get_by_number(str(third.order_number))
    assert newest is not None and (newest.phone, newest.address) == (CALLER, "幸福路8号")
    assert any(f"工单号：{newest.number}" in reply and "地址：幸福路8号。" in reply for reply in third.replies)
    assert (await port.conversations.reads.get(ctx.conversation.id)).dialogue_state.get(KNOWN_PHONE) is None


async def test_a_withheld_number_is_asked_for(live_hub: RunningHub, scripted_nlu: ScriptedNlu) -> None:
    port = voice_hub_of(live_hub, scripted_nlu)
    ctx = await port.call_arrived("withheld@192.0.2.10", None, "12319")
    result = await port.converse(ctx, "幸福路8号停水了", 0.9)
    assert result.outcome == "asking" and result.replies[-1] == t("bot.ask_phone", "zh-CN")


async def test_asking_for_a_person_hands_the_call_over(
    live_hub: RunningHub, call: tuple[VoiceHub, CallContext]
) -> None:
    port, ctx = call
    result = await port.converse(ctx, "我要找人工客服", 0.9)
    assert result == type(result)((), "handoff")  # the agent node's prompt says it, not the chat's sentence
    conversation = await live_hub.hub.service.store.get(ctx.conversation.id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "requested"
    assert ctx.conversation.status is ConversationStatus.QUEUED
    # the IVR then queues the caller: the conversation is already in the queue, nothing changes
    await port.queued(ctx, "general", 0)
    assert (await live_hub.hub.service.store.get(ctx.conversation.id)).status is ConversationStatus.QUEUED


async def test_repeated_misunderstanding_asks_again_then_hands_over(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, call: tuple[VoiceHub, CallContext]
) -> None:
    port, ctx = call
    scripted_nlu.default.intent, scripted_nlu.default.confidence = "affirm", 0.9
    first = await port.converse(ctx, "嗯嗯", 0.9)
    assert first.outcome == "asking" and first.replies[0] == t("bot.not_understood", "zh-CN")
    assert "转人工" in first.choices  # the fallback offers a person and the menu
    second = await port.converse(ctx, "啊啊啊", 0.9)
    assert second.outcome == "handoff"


async def test_an_nlu_outage_makes_the_bot_unavailable(
    live_hub: RunningHub,
    scripted_nlu: ScriptedNlu,
    call: tuple[VoiceHub, CallContext],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, ctx = call
    scripted_nlu.down = True
    answered = await port.converse(ctx, "燃气开户需要带什么材料", 0.9)  # the knowledge base alone is sure of it
    assert answered.outcome == "answered" and answered.replies == (SPOKEN_GAS,)
    result = await port.converse(ctx, "我家那个东西有点问题", 0.9)
    assert result.outcome == "unavailable" and result.replies == ()
    conversation = await live_hub.hub.service.store.get(ctx.conversation.id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "nlu_unavailable"
    assert "the bot cannot answer" in caplog.text


async def test_a_store_failure_is_unavailable_not_an_exception(
    call: tuple[VoiceHub, CallContext], caplog: pytest.LogCaptureFixture
) -> None:
    port, ctx = call
    ctx.conversation = dataclasses.replace(ctx.conversation, id="no-such-conversation")
    result = await port.converse(ctx, "燃气开户需要带什么材料", 0.9)
    assert result.outcome == "unavailable" and result.replies == ()
    assert "the bot could not answer" in caplog.text


async def test_a_conversation_already_with_people_is_unavailable_to_the_bot(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, call: tuple[VoiceHub, CallContext]
) -> None:
    port, ctx = call
    await port.queued(ctx, "general", 0)  # e.g. back from a voicemail or an agent
    calls = len(scripted_nlu.calls)
    result = await port.converse(ctx, "燃气开户需要带什么材料", 0.9)
    assert result.outcome == "unavailable" and result.replies == ()
    assert len(scripted_nlu.calls) == calls  # the bot did not run; the words are kept for the agent
    messages = await live_hub.hub.service.store.messages(ctx.conversation.id)
    assert messages[-1].sender_kind is SenderKind.CITIZEN and messages[-1].text == "燃气开户需要带什么材料"
