"""The bot's dialogue over the real store and knowledge base, with a scripted NLU (the real Rasa is in e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.dialogue.engine import KNOWN_PHONE
from hub.intake import Inbound
from hub.models import ConversationStatus, SenderKind
from hub.storage.work_orders import WorkOrderStore
from tests.fixtures.hub import RunningHub, ScriptedNlu


async def say(hub: RunningHub, conversation_id: str, text: str) -> list[str]:
    """Send a citizen message through the service and return the bot's replies to it."""
    svc = hub.hub.service
    await svc.drain()  # no turn scheduled by an earlier message is left to take this one
    await svc.receive(Inbound("web_chat", text, conversation_id=conversation_id))
    replies = await svc.process_pending(conversation_id)  # first: the turn receive() scheduled waits, finds nothing
    return [r.text for r in replies]


@pytest.fixture
async def conv(live_hub: RunningHub) -> str:
    conversation = await live_hub.hub.service.store.create("web_chat")
    return conversation.id


async def test_policy_question_is_answered_from_the_knowledge_base(live_hub: RunningHub, conv: str) -> None:
    replies = await say(live_hub, conv, "燃气开户需要带什么材料")
    assert any("身份证" in r and "房产证" in r for r in replies), replies
    assert (await live_hub.hub.service.store.get(conv)).status is ConversationStatus.BOT


async def test_fault_report_becomes_a_dispatched_work_order(live_hub: RunningHub, conv: str) -> None:
    replies = await say(live_hub, conv, "我家楼下路灯坏了三天了")
    assert "市政设施" in replies[0]
    assert "地址" in replies[-1]
    replies = await say(live_hub, conv, "城东区幸福路12号3单元门口")
    assert "电话" in replies[-1]
    replies = await say(live_hub, conv, "12345")  # not a phone number
    assert any("不完整" in r for r in replies)
    replies = await say(live_hub, conv, "13812345678")
    readback = replies[-1]  # read back before registering: nothing is registered yet
    assert "请核对" in readback and "城东区幸福路12号3单元门口" in readback and "138****5678" in readback, readback
    assert await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv) == []
    replies = await say(live_hub, conv, "确认")
    text = replies[-1]
    assert "工单号" in text and "市路灯管理所" in text, text
    orders = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)
    assert len(orders) == 1
    order = orders[0]
    assert order.number in text
    assert (order.request_type, order.industry, order.category) == (
        "complaint",
        "municipal",
        "municipal.streetlight",
    )
    assert (order.district, order.unit, order.state) == ("chengdong", "streetlight_office", "dispatched")
    assert order.address == "城东区幸福路12号3单元门口" and order.phone == "13812345678"
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.contact_id == order.contact_id is not None
    assert conversation.request_type == "complaint" and conversation.industry == "municipal"
    # the citizen can ask for its status by number
    status = await say(live_hub, conv, f"帮我查一下{order.number}的进度")
    assert "已派单" in status[-1] and "市路灯管理所" in status[-1]


async def test_entities_in_the_first_message_skip_questions(live_hub: RunningHub, conv: str) -> None:
    replies = await say(live_hub, conv, "幸福路8号停水了 电话13900001111")
    assert "请核对" in replies[-1] and "幸福路8号" in replies[-1] and "139****1111" in replies[-1], replies
    replies = await say(live_hub, conv, "对")
    assert "工单号" in replies[-1]
    assert len(await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)) == 1


async def test_a_phone_the_channel_knows_is_not_asked_for(live_hub: RunningHub, conv: str) -> None:
    await live_hub.hub.service.resume_bot(conv, {KNOWN_PHONE: "13900002222"})  # e.g. a phone call's caller ID
    replies = await say(live_hub, conv, "路灯不亮 幸福路12号")
    assert "139****2222" in replies[-1], replies  # straight to the read-back
    replies = await say(live_hub, conv, "确认")
    assert "工单号" in replies[-1], replies
    [order] = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)
    assert (order.phone, order.address) == ("13900002222", "幸福路12号")
    await live_hub.hub.service.resume_bot(conv, {KNOWN_PHONE: "13900002222"})
    replies = await say(live_hub, conv, "还有井盖丢了 幸福路9号 电话13700003333")  # a number said still wins
    assert "137****3333" in replies[-1], replies
    replies = await say(live_hub, conv, "1")  # the first choice: 确认登记
    orders = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)
    assert "工单号" in replies[-1] and sorted(str(o.phone) for o in orders) == ["13700003333", "13900002222"]


async def test_citizen_can_cancel_a_report(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮")
    replies = await say(live_hub, conv, "算了")
    assert "取消" in replies[-1]
    assert await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv) == []


@pytest.mark.parametrize("text", ["转人工", "人工服务", "我要找人工客服"])
async def test_asking_for_a_human_queues_the_conversation(live_hub: RunningHub, conv: str, text: str) -> None:
    replies = await say(live_hub, conv, text)
    assert "人工" in replies[-1]
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "requested"


async def test_repeated_misunderstanding_hands_off(live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str) -> None:
    scripted_nlu.default.confidence = 0.9  # confident "out of scope"-like nonsense is still not understood
    scripted_nlu.default.intent = "affirm"
    first = await say(live_hub, conv, "嗯嗯")
    assert "没有完全理解" in first[-1]
    await say(live_hub, conv, "啊啊啊")
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "misunderstood"


async def test_low_confidence_gets_the_menu_then_hands_off(live_hub: RunningHub, conv: str) -> None:
    first = await say(live_hub, conv, "zxcv qwer")  # default rule: confidence 0.2
    assert "转人工" in first[-1]
    assert (await live_hub.hub.service.store.get(conv)).status is ConversationStatus.BOT
    await say(live_hub, conv, "asdf ghjk")
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "low_confidence"


async def test_nlu_outage_answers_from_the_kb_else_degrades_to_a_human_and_keeps_the_message(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str, caplog: pytest.LogCaptureFixture
) -> None:
    scripted_nlu.down = True
    replies = await say(live_hub, conv, "燃气开户需要带什么材料")  # the KB answers it confidently without the NLU
    assert any("身份证" in r for r in replies), replies
    assert (await live_hub.hub.service.store.get(conv)).status is ConversationStatus.BOT
    assert "NLU degraded" in caplog.text
    replies = await say(live_hub, conv, "zxcv qwer 这是啥")
    assert "人工" in replies[-1]
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "nlu_unavailable"
    messages = await live_hub.hub.service.store.messages(conv)
    assert messages[0].text == "燃气开户需要带什么材料" and messages[0].processed_at is not None
    assert "NLU unavailable" in caplog.text


async def test_greeting_thanks_and_out_of_scope(live_hub: RunningHub, conv: str) -> None:
    assert "您好" in (await say(live_hub, conv, "你好"))[-1]
    assert "不客气" in (await say(live_hub, conv, "谢谢"))[-1]
    assert "12333" in (await say(live_hub, conv, "劳动合同纠纷找谁"))[-1]


async def test_messages_to_queued_conversations_do_not_run_the_bot(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    await say(live_hub, conv, "转人工")
    calls = len(scripted_nlu.calls)
    assert await say(live_hub, conv, "还在吗") == []
    assert len(scripted_nlu.calls) == calls
    messages = await live_hub.hub.service.store.messages(conv)
    assert messages[-1].sender_kind is SenderKind.CITIZEN and messages[-1].text == "还在吗"


async def test_unhandled_messages_are_recovered_after_a_restart(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    from tests.fixtures.hub import running_hub

    data = tmp_path / "data"
    async with running_hub(data, nlu=scripted_nlu) as first:
        conversation = await first.hub.service.store.create("web_chat")
        # stored and acknowledged, but the process "dies" before the bot turn
        first.hub.service.schedule_turn = lambda _id: None  # type: ignore[method-assign]
        inbound = Inbound("web_chat", "燃气开户需要带什么材料", conversation_id=conversation.id, external_id="client-1")
        await first.hub.service.receive(inbound)
    async with running_hub(data, nlu=scripted_nlu) as second:
        await second.hub.service.drain()
        messages = await second.hub.service.store.messages(conversation.id)
        assert messages[0].processed_at is not None
        assert any(m.sender_kind is SenderKind.BOT and "身份证" in m.text for m in messages)


async def test_middling_matches_are_offered_as_numbered_choices(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    from tests.fixtures.hub import Rule

    settings = live_hub.hub.service.engine.settings
    candidates = ["垃圾分类", "路灯坏了找谁", "公交线路", "物业费多少钱一平米", "下水道", "供暖时间"]
    low, high = settings.kb_offer_threshold, settings.kb_answer_threshold
    middling = [q for q in candidates if low <= _best(live_hub, q) < high]
    assert middling, "no query the knowledge base is unsure about"
    scripted_nlu.rules.insert(0, Rule(middling[0], "consult"))
    replies = await say(live_hub, conv, middling[0])
    assert "请回复序号" in replies[-1] and "\n1. " in replies[-1]
    state = (await live_hub.hub.service.store.get(conv)).dialogue_state
    first = live_hub.hub.kb.get(state["offered"][0])
    assert first is not None
    chosen = await say(live_hub, conv, "1")
    assert chosen[0] == first.answer
    assert "offered" not in (await live_hub.hub.service.store.get(conv)).dialogue_state


async def test_status_by_phone_or_by_the_conversations_contact(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    from tests.fixtures.hub import Rule

    await say(live_hub, conv, "路灯坏了")
    scripted_nlu.rules.insert(0, Rule("修了吗|进度", "status_query"))
    await say(live_hub, conv, "城东区幸福路12号")
    await say(live_hub, conv, "13812345678")
    created = (await say(live_hub, conv, "确认"))[-1]
    number = created.split("工单号：")[1][:12]
    latest = (await say(live_hub, conv, "我上次反映的路灯修了吗"))[-1]
    assert number in latest and "已派单" in latest
    other = (await live_hub.hub.service.store.create("web_chat")).id
    assert "工单号" in (await say(live_hub, other, "查一下进度"))[-1]  # unknown citizen: asked for the number
    by_phone = (await say(live_hub, other, "查一下进度 我的电话13812345678"))[-1]
    assert number in by_phone


async def test_unhelpful_answers_and_unanswerable_questions_are_marked_for_gap_mining(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    from tests.fixtures.hub import Rule

    replies = await say(live_hub, conv, "燃气开户需要带什么材料")
    assert "身份证" in replies[0]
    assert "抱歉没能帮到您" in (await say(live_hub, conv, "没有解决"))[-1]
    scripted_nlu.rules.insert(0, Rule("护照", "consult"))
    assert "没有完全理解" in (await say(live_hub, conv, "护照怎么办理"))[-1]
    messages = await live_hub.hub.service.store.messages(conv)
    flagged = [m.text for m in messages if m.nlu and m.nlu.get("kb_miss")]
    assert flagged == ["燃气开户需要带什么材料", "护照怎么办理"]
    fresh = (await live_hub.hub.service.store.create("web_chat")).id
    await say(live_hub, fresh, "燃气开户需要带什么材料")
    scripted_nlu.rules.insert(0, Rule("^是的", "affirm"))
    assert "很高兴" in (await say(live_hub, fresh, "是的，谢谢"))[-1]


def _best(hub: RunningHub, query: str) -> float:
    hits = hub.hub.kb.search(query, k=1)
    return hits[0].confidence if hits else 0.0
