"""Scripted citizen dialogues through the REST channel against a live hub with the REAL Rasa server (issue 15).

Forms that never trap (a citizen who never gives an address, a refused phone, a question mid-form, a correction,
cancel), the read-back before registering, ask-or-report, the fallback with 转人工 and the menu, jurisdiction
and the knowledge base answering while the NLU is down. The quick replies come back as Rasa ``buttons``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.clock import utc_now
from hub.i18n import t
from hub.models import ConversationStatus
from hub.storage.work_orders import WorkOrderStore
from knowledge_base.store import KnowledgeStore
from tests.fixtures.hub import RunningHub, running_hub

WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture
async def rasa_hub(tmp_path: Path, rasa_server: str) -> AsyncIterator[RunningHub]:
    """A demo hub whose NLU is the real Rasa server of this test session."""
    async with running_hub(tmp_path / "data", rasa_url=rasa_server, nlu_timeout=10.0) as running:
        yield running


class Citizen:
    """One REST sender talking to the hub."""

    def __init__(self, hub: RunningHub, sender: str) -> None:
        self.hub = hub
        self.sender = sender
        self.heard: list[str] = []

    async def say(self, text: str) -> list[dict[str, Any]]:
        async with self.hub.session.post(self.hub.url + WEBHOOK, json={"sender": self.sender, "message": text}) as resp:
            assert resp.status == 200, await resp.text()
            body: list[dict[str, Any]] = await resp.json()
        self.heard.extend(item["text"] for item in body)
        return body

    async def text(self, text: str) -> str:
        """What the bot answers to ``text``, as one string."""
        return "\n".join(item["text"] for item in await self.say(text))

    async def conversation(self) -> Any:
        conversation = await self.hub.hub.service.store.find_open_by_ref("rest", self.sender)
        assert conversation is not None
        return conversation

    async def orders(self) -> list[Any]:
        return await WorkOrderStore(self.hub.hub.engine).list_for_conversation((await self.conversation()).id)


def buttons(body: list[dict[str, Any]]) -> dict[str, str]:
    """The last reply's quick replies: title → payload."""
    found = [item["buttons"] for item in body if "buttons" in item]
    return {b["title"]: b["payload"] for b in found[-1]} if found else {}


async def test_a_citizen_who_never_gives_an_address_gets_choices_then_a_human(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "no-address")
    assert "地址" in await citizen.text("我家楼下路灯坏了三天了")
    first = await citizen.say("不知道")
    assert "附近的路名" in first[-1]["text"] and {"转人工", "取消"} <= set(buttons(first))
    second = await citizen.say("不清楚")
    assert {"转人工", "取消"} <= set(buttons(second))
    assert (await citizen.conversation()).status is ConversationStatus.BOT
    await citizen.say("忘了")
    conversation = await citizen.conversation()
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "slot_filling_failed"
    assert max(Counter(citizen.heard).values()) < 3, citizen.heard  # never the same prompt three times
    assert await citizen.orders() == []


async def test_a_refused_phone_is_anonymous_for_a_complaint_and_a_human_offer_for_a_repair(
    rasa_hub: RunningHub,
) -> None:
    complaint = Citizen(rasa_hub, "anon-complaint")
    await complaint.say("工地晚上施工噪音太大了，我要投诉")
    await complaint.say("城东区幸福路12号")
    assert "不会公开" in complaint.heard[-1]  # the privacy notice comes with the question for a phone
    refused = await complaint.say("不想留电话")
    assert "匿名登记" in buttons(refused), refused
    readback = await complaint.text("匿名登记")
    assert "匿名" in readback and "城东区幸福路12号" in readback
    assert await complaint.orders() == []  # only a confirmation registers
    assert "工单号" in await complaint.text("确认")
    [order] = await complaint.orders()
    assert order.phone is None and order.request_type == "complaint"

    repair = Citizen(rasa_hub, "anon-repair")
    await repair.say("我家没水了，快来修")
    await repair.say("城东区幸福路8号")
    refused = await repair.say("不方便说")
    offered = buttons(refused)
    assert "转人工" in offered and "匿名登记" not in offered, refused
    assert "报修需要" in refused[-1]["text"]
    await repair.say(offered["转人工"])
    conversation = await repair.conversation()
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "requested"


async def test_a_question_mid_form_is_answered_then_the_form_resumes(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "mid-question")
    await citizen.say("我家没水了，快来修")
    answer = await citizen.text("燃气开户需要带什么材料？")
    assert "身份证" in answer and "我们继续登记" in answer and "地址" in answer.splitlines()[-1], answer
    assert "不完整" not in answer
    assert "电话" in await citizen.text("城东区幸福路12号")
    unknown = await citizen.text("你们领导叫什么名字？")  # nothing in the knowledge base: said so, then resumed
    assert "我们继续登记" in unknown and "不完整" not in unknown, unknown
    assert "请核对" in await citizen.text("13812345678")


async def test_a_correction_and_the_read_back_with_a_changed_address_then_confirm(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "readback")
    await citizen.say("我家没水了，快来修")
    await citizen.say("城东区幸福路12号")
    again = await citizen.text("地址说错了")  # a correction of an earlier slot: asked again
    assert "地址" in again.splitlines()[-1], again
    await citizen.say("城东区幸福路9号")
    summary = await citizen.say("13812345678")
    offered = buttons(summary)
    assert list(offered) == ["确认登记", "修改地址", "修改电话", "修改问题描述", "取消"], summary
    text = summary[-1]["text"]
    assert "城东区幸福路9号" in text and "138****5678" in text and "我家没水了" in text and "供水" in text
    assert "13812345678" not in text  # masked
    assert "地址" in await citizen.text(offered["修改地址"])
    changed = await citizen.text("城西区长江路5号")
    assert "请核对" in changed and "城西区长江路5号" in changed
    assert await citizen.orders() == []
    done = await citizen.text("确认")
    [order] = await citizen.orders()
    assert order.number in done and order.address == "城西区长江路5号" and order.phone == "13812345678"


async def test_no_then_what_to_change_and_cancel(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "cancel")
    await citizen.say("我家没水了，快来修")
    await citizen.say("城东区幸福路12号")
    await citizen.say("13812345678")
    what = await citizen.say("不对")
    assert "哪一项" in what[-1]["text"] and "修改电话" in buttons(what)
    assert "取消" in await citizen.text("算了")
    assert await citizen.orders() == []
    assert (await citizen.conversation()).dialogue_state.get("pending") is None


async def test_a_question_about_an_outage_gets_the_notice_and_the_answer_then_the_offer(rasa_hub: RunningHub) -> None:
    now = utc_now()
    await KnowledgeStore(rasa_hub.hub.engine).add_announcement(
        "城东区计划停水", "12月8日9:00-18:00幸福路一带管网维修停水（演示）", "water", None,
        now - timedelta(hours=1), now + timedelta(days=1), None,
    )  # fmt: skip
    citizen = Citizen(rasa_hub, "outage")
    await _reload_notices(rasa_hub)
    body = await citizen.say("小区停水了什么时候来水")
    texts = [item["text"] for item in body]
    assert any("【公告】城东区计划停水" in text for text in texts), texts
    assert any("停水" in text and "公众号" in text for text in texts), texts  # the knowledge-base answer
    assert set(buttons(body)) == {"我要报修", "不用了"}, body
    assert (await citizen.conversation()).dialogue_state.get("pending") == "offer"  # no form started
    assert "地址" in await citizen.text("我要报修")
    assert (await citizen.conversation()).dialogue_state.get("pending") == "work_order"
    plain = Citizen(rasa_hub, "plain-report")
    assert "地址" in await plain.text("我家没水了，快来修")  # a plain report starts the form at once


@pytest.mark.parametrize("question", ["为什么今天没有暖气", "燃气什么时候恢复"])
async def test_questions_about_a_service_are_answered_before_the_offer_to_report(
    rasa_hub: RunningHub, question: str
) -> None:
    citizen = Citizen(rasa_hub, "ask-or-report")
    body = await citizen.say(question)
    assert "不用了" in buttons(body) and len(buttons(body)) == 2, body
    assert (await citizen.conversation()).dialogue_state.get("pending") == "offer"  # no form started
    assert "还有其他" in await citizen.text("不用了")
    assert await citizen.orders() == []


async def test_the_fallback_offers_a_human_and_the_menu(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "fallback")
    body = await citizen.say("公交12路改线了吗")
    text = body[-1]["text"]
    assert "转人工" in text and text != t("bot.handoff", "zh-CN"), body
    assert {"转人工", "常见问题", "查询工单"} <= set(buttons(body)), body
    assert (await citizen.conversation()).status is ConversationStatus.BOT
    menu = await citizen.say("常见问题")
    assert "1. " in menu[-1]["text"] and len(buttons(menu)) >= 3
    answer = await citizen.text("1")
    assert "是否解决" in answer


async def test_another_hotlines_matter_is_referred_and_an_insisting_citizen_goes_to_an_agent(
    rasa_hub: RunningHub,
) -> None:
    citizen = Citizen(rasa_hub, "referral")
    body = await citizen.say("小区停电了，一直没来电")
    assert "95598" in body[-1]["text"] and set(buttons(body)) == {"转人工", "我还有12319的问题"}, body
    assert await citizen.orders() == []
    await citizen.say("我就要你们管")
    conversation = await citizen.conversation()
    assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "out_of_scope"
    other = Citizen(rasa_hub, "referral-2")
    await other.say("小区停电了，一直没来电")
    assert "城建" in await other.text("我还有12319的问题")
    assert (await other.conversation()).status is ConversationStatus.BOT


async def test_a_new_request_mid_form_asks_whether_to_drop_the_current_one(rasa_hub: RunningHub) -> None:
    citizen = Citizen(rasa_hub, "switch")
    await citizen.say("我家楼下路灯坏了")
    asked = await citizen.say("工地晚上施工噪音太大了")
    assert {"继续当前登记", "放弃当前，办理新问题"} <= set(buttons(asked)), asked
    switched = await citizen.text("2")  # the number of the choice
    assert "建筑" in switched and "地址" in switched, switched
    draft = (await citizen.conversation()).dialogue_state["draft"]
    assert draft["industry"] == "construction_safety" and "噪音" in draft["description"]


async def test_with_the_nlu_down_the_knowledge_base_still_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(tmp_path / "data", rasa_url="http://127.0.0.1:9", nlu_timeout=2.0) as hub:
        citizen = Citizen(hub, "nlu-down")
        answer = await citizen.text("燃气开户需要带什么材料")
        assert "身份证" in answer and "房产证" in answer
        assert (await citizen.conversation()).status is ConversationStatus.BOT
        assert "NLU degraded" in caplog.text
        await citizen.say("我家那个东西坏了你们管不管")
        conversation = await citizen.conversation()
        assert conversation.status is ConversationStatus.QUEUED and conversation.handoff_reason == "nlu_unavailable"


async def _reload_notices(hub: RunningHub) -> None:
    """Any change through the announcements page reloads the board (stopping an unknown id is harmless)."""
    kb, csrf = await hub.login("kb", "kb123")
    async with kb, kb.post(f"{hub.url}/kb/announcements", data={"csrf": csrf, "stop": "999999"}) as resp:
        assert resp.status == 200
