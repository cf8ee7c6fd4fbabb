"""What a department sees of the citizen: the request fields and the centre's forwarded text, never the whole chat."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.models import Message, SenderKind, WorkOrder
from hub.web.context import CTX
from hub.work_orders.forwarding import citizen_messages
from tests.fixtures.hub import RunningHub
from tests.hub.work_orders.test_pages import act, file_order, rest

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def msg(
    i: int, minutes: float, text: str, kind: SenderKind = SenderKind.CITIZEN, nlu_type: str | None = None
) -> Message:
    nlu: dict[str, Any] | None = None if nlu_type is None else {"type": {"name": nlu_type, "confidence": 0.9}}
    return Message(
        id=i,
        conversation_id="c",
        direction="in" if kind is SenderKind.CITIZEN else "out",
        sender_kind=kind,
        sender_id=None,
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        nlu=nlu,
    )


def order(i: int, minutes: float, request_type: str = "complaint") -> WorkOrder:
    at = T0 + timedelta(minutes=minutes)
    return WorkOrder(
        id=i, number=f"20261123000{i}", conversation_id="c", contact_id=None, request_type=request_type,
        industry=None, category=None, district=None, address=None, phone=None, description="", unit=None,
        state="dispatched", urgent=False, created_at=at, updated_at=at,
    )  # fmt: skip


CHAT = [
    msg(1, -60 * 30, "上个月的事：小区门口垃圾没人清", nlu_type="complaint"),  # another day: out of the window
    msg(2, 0, "你好"),
    msg(3, 0.1, "您好，请问有什么可以帮您？", SenderKind.BOT),
    msg(4, 1, "燃气开户要带什么材料？", nlu_type="consult"),  # answered by the bot
    msg(5, 1.1, "请携带身份证和房产证……", SenderKind.BOT),
    msg(6, 2, "我家楼下路灯坏了三天了", nlu_type="complaint"),
    msg(7, 2.1, "请问具体地址是？", SenderKind.BOT),
    msg(8, 3, "城东区幸福路12号"),
    msg(9, 3.5, "好的，已记录", SenderKind.AGENT),
    msg(10, 4, "13812345678"),
    # order 1 registered at minute 4.5
    msg(11, 5, "谢谢"),
    msg(12, 6, "还有，小区里的井盖也丢了", nlu_type="complaint"),
    msg(13, 7, "幸福路12号院内"),
    # order 2 registered at minute 7.5
]


def texts(messages: list[Message]) -> list[str]:
    return [m.text for m in messages]


def test_the_department_gets_the_citizens_words_of_this_request_only() -> None:
    first, second = order(1, 4.5), order(2, 7.5)
    assert texts(citizen_messages(first, CHAT, [first, second])) == [
        "我家楼下路灯坏了三天了",
        "城东区幸福路12号",
        "13812345678",
    ]
    # the second order: after the first one's registration, from its own opening message
    assert texts(citizen_messages(second, CHAT, [first, second])) == ["还有，小区里的井盖也丢了", "幸福路12号院内"]


def test_without_nlu_labels_the_window_and_the_previous_order_bound_the_text() -> None:
    plain = [msg(m.id, (m.created_at - T0).total_seconds() / 60, m.text, m.sender_kind) for m in CHAT]
    first, second = order(1, 4.5), order(2, 7.5)
    assert texts(citizen_messages(first, plain, [first, second])) == [
        "你好",
        "燃气开户要带什么材料？",
        "我家楼下路灯坏了三天了",
        "城东区幸福路12号",
        "13812345678",
    ]
    assert texts(citizen_messages(second, plain, [first, second])) == [
        "谢谢",
        "还有，小区里的井盖也丢了",
        "幸福路12号院内",
    ]


@pytest.mark.parametrize("request_type", ["complaint", "repair"])
def test_the_opening_message_prefers_the_orders_own_type(request_type: str) -> None:
    chat = [msg(1, 0, "路灯不亮", nlu_type="repair"), msg(2, 1, "太不负责任了，投诉他们", nlu_type="complaint")]
    opened = citizen_messages(order(1, 2, request_type), chat, [])
    assert texts(opened) == (
        ["路灯不亮", "太不负责任了，投诉他们"] if request_type == "repair" else ["太不负责任了，投诉他们"]
    )


async def page(session: Any, hub: RunningHub, number: str) -> str:
    async with session.get(f"{hub.url}/orders/{number}") as resp:
        assert resp.status == 200
        return str(await resp.text())


async def test_the_department_sees_the_forwarded_text_and_the_centre_the_whole_chat(live_hub: RunningHub) -> None:
    await rest(live_hub, "fw", "你好")
    number = await file_order(live_hub, "fw", "我家楼下路灯坏了三天了", "城东区幸福路12号", "13800000002")
    await rest(live_hub, "fw", "谢谢")
    dept, dcsrf = await live_hub.login("dept", "dept123")
    agent, acsrf = await live_hub.login("agent1", "agent123")
    async with dept, agent:
        shown = await page(dept, live_hub, number)
        forward = re.search(r'<div class="pre forward" id="order-forward">(.*?)</div>', shown, re.S)
        assert forward is not None
        assert forward.group(1).split("\n") == ["我家楼下路灯坏了三天了", "城东区幸福路12号", "13800000002"]
        assert 'id="order-forward-source"' in shown  # says these are the citizen's own words
        assert 'id="order-conversation"' not in shown
        assert "你好" not in shown and "谢谢" not in shown  # no greeting, nothing after the registration
        bot_lines = [m.text for m in await _messages(live_hub, number) if m.sender_kind is SenderKind.BOT]
        assert bot_lines and not any(line in shown for line in bot_lines if len(line) > 4)

        centre = await page(agent, live_hub, number)
        assert 'id="order-conversation"' in centre and "你好" in centre and "谢谢" in centre

        # the centre edits what it forwards when re-dispatching: audited, and the department sees only that
        forwarded = "市民反映幸福路12号路灯不亮已三天，请尽快修复。<b>注意</b>夜间施工安全"
        result = await act(
            agent, live_hub, number, acsrf, "redispatch", unit="streetlight_office", forward_text=forwarded
        )
        assert 'id="flash"' in result
        shown = await page(dept, live_hub, number)
        assert "市民反映幸福路12号路灯不亮已三天，请尽快修复。&lt;b&gt;注意&lt;/b&gt;夜间施工安全" in shown
        assert 'id="order-forward-source"' not in shown and "13800000002</div>" not in shown
        stored = await live_hub.hub.app[CTX].work_orders.get_by_number(number)
        assert stored is not None and stored.forward_text == forwarded
        history = await live_hub.hub.app[CTX].work_orders.history(stored.id)
        [change] = [h for h in history if h["data"] and "forward_text" in h["data"]]
        assert change["action"] == "redispatch" and change["data"]["forward_text"] == forwarded
        assert change["data"]["forward_text_was"] is None and change["actor_name"]
        # re-dispatching without touching the text records no change
        text = await act(
            agent, live_hub, number, acsrf, "redispatch", unit="streetlight_office", forward_text=forwarded
        )
        assert 'id="flash"' in text
        history = await live_hub.hub.app[CTX].work_orders.history(stored.id)
        assert len([h for h in history if h["data"] and "forward_text" in h["data"]]) == 1
        # the department cannot set it (the dispatch actions are the centre's)
        refused = await act(dept, live_hub, number, dcsrf, "redispatch", unit="streetlight_office", forward_text="x")
        assert 'id="error"' in refused


async def _messages(hub: RunningHub, number: str) -> list[Message]:
    ctx = hub.hub.app[CTX]
    stored = await ctx.work_orders.get_by_number(number)
    assert stored is not None and stored.conversation_id is not None
    return await ctx.conversations.messages(stored.conversation_id)
