"""The work-order form and quick replies at the engine level (issue 15), on the real store, knowledge base and desk.

The NLU is the scripted one where the NLU is not what is tested (the real Rasa dialogues are in
tests/channels/rest/test_bot_dialogues.py). The text rules (reply kinds, the address validator, choice matching)
are what keeps the form working when the NLU is down: they are tested on their own too.
"""

from __future__ import annotations

import pytest

from hub.dialogue import choices as ch
from hub.dialogue import reply_kinds
from hub.dialogue.form import mask_phone
from hub.dialogue.slots import looks_like_address
from hub.i18n import t
from hub.intake import Inbound
from hub.models import ConversationStatus, SenderKind
from hub.storage.work_orders import WorkOrderStore
from tests.fixtures.hub import RunningHub, ScriptedNlu


async def say(hub: RunningHub, conversation_id: str, text: str) -> list[str]:
    """Send a citizen message through the service and return the bot's replies to it."""
    svc = hub.hub.service
    await svc.drain()
    await svc.receive(Inbound("web_chat", text, conversation_id=conversation_id))
    return [r.text for r in await svc.process_pending(conversation_id)]


@pytest.fixture
async def conv(live_hub: RunningHub) -> str:
    return (await live_hub.hub.service.store.create("web_chat")).id


async def state(hub: RunningHub, conversation_id: str) -> dict[str, object]:
    return dict((await hub.hub.service.store.get(conversation_id)).dialogue_state)


# -- text rules --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["不知道", "不清楚", "忘了", "随便", "那边", "就在那边。", "在哪呢", "幸福路怎么走？"])
def test_not_knowing_refusing_and_questions_are_not_addresses(text: str) -> None:
    assert not looks_like_address(text)


@pytest.mark.parametrize("text", ["城东区幸福路12号3单元门口", "幸福路附近的菜市场门口", "人民医院门口", "3号楼2单元"])
def test_places_are_addresses(text: str) -> None:
    assert looks_like_address(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("确认", "confirm"), ("是的", "confirm"), ("对", "confirm"), ("没问题", "confirm"), ("好的。", "confirm"),
        ("是的，确认登记。", "confirm"), ("确认登机", "confirm"), ("确认一下地址", None),
        ("否", "deny"), ("不对", "deny"), ("不是", "deny"),
        ("算了", "cancel"), ("取消", "cancel"), ("不办了", "cancel"), ("算了吧！", "cancel"),
    ],
)  # fmt: skip
def test_yes_no_and_cancel(text: str, kind: str | None) -> None:
    assert (reply_kinds.is_confirm(text), reply_kinds.is_deny(text), reply_kinds.is_cancel(text)) == (
        kind == "confirm",
        kind == "deny",
        kind == "cancel",
    )


@pytest.mark.parametrize(
    ("text", "slot"),
    [("地址说错了", "address"), ("改一下地址", "address"), ("电话不对", "phone"), ("修改电话", "phone"),
     ("问题描述写错了", "description"), ("路灯坏了", None), ("城东区幸福路12号", None)],
)  # fmt: skip
def test_corrections_name_their_slot(text: str, slot: str | None) -> None:
    assert reply_kinds.correction(text) == slot


@pytest.mark.parametrize("text", ["不想留电话", "不方便说", "不告诉你", "我要匿名"])
def test_refusals(text: str) -> None:
    assert reply_kinds.refuses(text)


@pytest.mark.parametrize(
    ("text", "question"),
    [("水费怎么交", True), ("小区停水了什么时候来水", True), ("能修好吗", True), ("几点下班？", True),
     ("我家没水了，快来修", False), ("城东区幸福路12号", False)],
)  # fmt: skip
def test_questions(text: str, question: bool) -> None:
    assert reply_kinds.is_question(text) is question


def test_a_choice_is_picked_by_value_label_or_number() -> None:
    values, labels = [ch.CONFIRM, ch.EDIT_ADDRESS, ch.CANCEL], ["确认登记", "修改地址", "取消"]
    assert ch.pick("确认", values, labels) == ch.CONFIRM
    assert ch.pick("确认登记", values, labels) == ch.CONFIRM  # the label
    assert ch.pick("2", values, labels) == ch.EDIT_ADDRESS
    assert ch.pick("第3个", values, labels) == ch.CANCEL
    assert ch.pick("三", values, labels) == ch.CANCEL
    assert ch.pick("4", values, labels) is None  # no fourth choice
    assert ch.pick("13812345678", values, labels) is None
    assert ch.pick("1", [], []) is None  # nothing offered: a "1" is just text


def test_phones_are_masked_in_the_read_back() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("057187654321") == "0571****4321"


# -- the form over the real hub ----------------------------------------------------------------------------------


async def test_every_offered_choice_list_is_in_the_state_and_on_the_message(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮")
    await say(live_hub, conv, "城东区幸福路12号")
    replies = await say(live_hub, conv, "13812345678")
    assert replies[-1].startswith(t("bot.readback", "zh-CN"))
    current = await state(live_hub, conv)
    assert current["choices"] == [ch.CONFIRM, ch.EDIT_ADDRESS, ch.EDIT_PHONE, ch.EDIT_DESCRIPTION, ch.CANCEL]
    messages = await live_hub.hub.service.store.messages(conv)
    last = [m for m in messages if m.sender_kind is SenderKind.BOT][-1]
    assert [c["value"] for c in last.choices] == current["choices"]
    assert [c["label"] for c in last.choices][:2] == ["确认登记", "修改地址"]
    assert "工单号" in (await say(live_hub, conv, "确认登记"))[-1]  # the label picks it too
    assert "choices" not in await state(live_hub, conv)


async def test_the_privacy_notice_comes_before_the_phone(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮")
    replies = await say(live_hub, conv, "城东区幸福路12号")
    assert "不会公开" in replies[-1] and "电话" in replies[-1]


async def test_two_failed_phones_offer_choices_then_a_human(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮")  # a complaint: anonymity is allowed
    await say(live_hub, conv, "城东区幸福路12号")
    first = await say(live_hub, conv, "12345")
    assert "不完整" in first[-1]
    second = await say(live_hub, conv, "嗯嗯")
    assert second[-1] == t("bot.ask_phone_stuck_anonymous", "zh-CN")
    assert (await state(live_hub, conv))["choices"] == [ch.ANONYMOUS, ch.HUMAN, ch.CANCEL]
    await say(live_hub, conv, "啊")
    conversation = await live_hub.hub.service.store.get(conv)
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "slot_filling_failed"
    assert conversation.dialogue_state["draft"]["address"] == "城东区幸福路12号"  # kept for the agent


async def test_a_repair_needs_a_phone(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "停水了")  # scripted: a repair
    await say(live_hub, conv, "城东区幸福路12号")
    refused = await say(live_hub, conv, "不想留电话")
    assert refused[-1] == t("bot.phone_refused_required", "zh-CN")
    assert ch.ANONYMOUS not in (await state(live_hub, conv))["choices"]  # type: ignore[operator]
    again = await say(live_hub, conv, "匿名登记")  # typed anyway: still not allowed for a repair
    assert again[-1] == t("bot.phone_refused_required", "zh-CN")
    assert "电话" in (await say(live_hub, conv, "1"))[-1]  # 留下电话
    assert "请核对" in (await say(live_hub, conv, "13812345678"))[-1]


async def test_the_form_keeps_working_on_text_rules_while_the_nlu_is_down(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    await say(live_hub, conv, "路灯不亮")
    scripted_nlu.down = True
    assert "附近的路名" in (await say(live_hub, conv, "不知道"))[-1]
    assert "电话" in (await say(live_hub, conv, "城东区幸福路12号"))[-1]
    assert "请核对" in (await say(live_hub, conv, "我的手机是13812345678"))[-1]
    assert "哪一项" in (await say(live_hub, conv, "不对"))[-1]
    assert "地址" in (await say(live_hub, conv, "修改地址"))[-1]
    assert "城西区长江路5号" in (await say(live_hub, conv, "城西区长江路5号"))[-1]
    done = await say(live_hub, conv, "是的")
    [order] = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)
    assert order.number in done[-1] and order.address == "城西区长江路5号" and order.phone == "13812345678"
    assert (await live_hub.hub.service.store.get(conv)).status is ConversationStatus.BOT


async def test_a_phone_said_at_the_read_back_replaces_the_old_one(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮 幸福路12号 电话13812345678")
    replies = await say(live_hub, conv, "电话写错了，是13900001111")
    assert "139****1111" in replies[-1] and "请核对" in replies[-1]
    await say(live_hub, conv, "确认")
    [order] = await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv)
    assert order.phone == "13900001111"


async def test_changing_the_description_goes_back_to_the_read_back(live_hub: RunningHub, conv: str) -> None:
    await say(live_hub, conv, "路灯不亮 幸福路12号 电话13812345678")
    assert t("bot.ask_description", "zh-CN") in (await say(live_hub, conv, "修改问题描述"))[-1]
    summary = await say(live_hub, conv, "幸福路12号门口的路灯整晚不亮")
    assert "问题：幸福路12号门口的路灯整晚不亮" in summary[-1]


async def test_a_question_that_the_kb_answers_at_the_read_back_keeps_the_read_back(
    live_hub: RunningHub, conv: str
) -> None:
    await say(live_hub, conv, "路灯不亮 幸福路12号 电话13812345678")
    replies = await say(live_hub, conv, "燃气开户需要带什么材料？")
    assert any("身份证" in r for r in replies) and "我们继续登记" in replies[-1]
    assert (await state(live_hub, conv))["asking"] == "confirm"
    assert "工单号" in (await say(live_hub, conv, "1"))[-1]


async def test_the_offer_to_report_starts_the_form_even_with_the_nlu_down(
    live_hub: RunningHub, scripted_nlu: ScriptedNlu, conv: str
) -> None:
    replies = await say(live_hub, conv, "小区停水了什么时候来水")  # scripted: a repair, phrased as a question
    assert replies[-1] == t("bot.report_offer", "zh-CN")
    assert (await state(live_hub, conv))["choices"] == [ch.REPORT_REPAIR, ch.NO_THANKS]
    assert await WorkOrderStore(live_hub.hub.engine).list_for_conversation(conv) == []
    scripted_nlu.down = True
    started = await say(live_hub, conv, "1")
    assert "供水" in started[0] and started[-1] == t("bot.ask_address", "zh-CN")
    draft = (await state(live_hub, conv))["draft"]
    assert draft["description"] == "小区停水了什么时候来水" and draft["request_type"] == "repair"  # type: ignore[index]


async def test_a_new_request_mid_form_is_asked_about_once_then_the_form_resumes(
    live_hub: RunningHub, conv: str
) -> None:
    await say(live_hub, conv, "路灯不亮")
    asked = await say(live_hub, conv, "我家停水了已经两天了")  # scripted: a repair of another industry
    assert asked[-1] == t("bot.switch_request", "zh-CN")
    assert (await state(live_hub, conv))["choices"] == [ch.CONTINUE, ch.NEW_REQUEST, ch.HUMAN, ch.CANCEL]
    again = await say(live_hub, conv, "嗯？")
    assert again[-1] == t("bot.switch_request", "zh-CN")
    resumed = await say(live_hub, conv, "啊")  # not the same question a third time: the current report goes on
    assert resumed[-1] == t("bot.resume_form", "zh-CN", prompt=t("bot.ask_address", "zh-CN"))
    assert (await state(live_hub, conv))["draft"]["industry"] == "municipal"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "place"),
    [("位置：纬度30.27460, 经度120.15510", "位置：纬度30.27460，经度120.15510"),
     ("位置：30.2746,120.1551", "位置：纬度30.2746，经度120.1551"),
     ("位置：纬度95.1, 经度120.1", None), ("我的位置在幸福路", None)],
)  # fmt: skip
def test_a_shared_location_is_a_place(text: str, place: str | None) -> None:
    from hub.dialogue.slots import location_from

    assert location_from(text) == place


async def test_a_shared_location_answers_the_address_question(live_hub: RunningHub, conv: str) -> None:
    """The web chat's and Telegram's location message fills the address slot (the citizen cannot name one)."""
    await say(live_hub, conv, "路灯不亮")
    assert (await state(live_hub, conv))["asking"] == "address"
    await say(live_hub, conv, "位置：纬度30.27460, 经度120.15510")
    current = await state(live_hub, conv)
    assert current["asking"] == "phone"
    assert current["draft"]["address"] == "位置：纬度30.27460，经度120.15510"  # type: ignore[index]
