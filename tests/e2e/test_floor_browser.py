"""The supervisor's floor in real headless Chromium: live without reloading (an agent goes available, a chat waits
and is assigned, the counts and figures follow), a status set from the floor, a chat watched with a whisper, and a
take-over that lands in the supervisor's own inbox ("mine")."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from hub.intake import ContactHints, Inbound
from hub.models import Conversation
from routing.queue_log import QueueEvent
from tests.fixtures.browser import sign_in
from tests.fixtures.hub import RunningHub
from tests.routing.test_floor import board_of, entries, until, user_id

pytestmark = [pytest.mark.browser]


async def web_chat(hub: RunningHub, text: str) -> Conversation:
    """A web-chat citizen asks for a human (the conversation joins the text queue)."""
    stored = await hub.hub.service.receive(
        Inbound("web_chat", text, ref=uuid.uuid4().hex[:10], hints=ContactHints(), for_bot=False)
    )
    queued = await hub.hub.service.queue(stored.conversation.id, "requested")
    assert queued is not None
    return queued


async def test_the_floor_follows_events_live_and_the_supervisor_acts(page: Page, live_hub: RunningHub) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    board = board_of(live_hub)
    first, second = await user_id(live_hub, "agent1"), await user_id(live_hub, "agent2")
    supervisor = await user_id(live_hub, "supervisor")
    await sign_in(page, live_hub.url, "supervisor", "supervisor123", path="/supervisor/floor")
    await expect(page.locator("#connection")).to_have_class("live")
    first_row, second_row = page.locator(f"#agent-{first}"), page.locator(f"#agent-{second}")
    await expect(first_row.locator("td.status")).to_have_text("离线")
    await expect(page.locator("#waiting-total td.count")).to_have_text("0")

    chat = await web_chat(live_hub, "小区路灯不亮，请派人来修")  # nobody is signed in: it waits
    await expect(page.locator("#waiting-total td.count")).to_have_text("1")
    await expect(page.locator(f'#queue-items tr[data-item-id="{chat.id}"]')).to_contain_text("网页")
    await expect(page.locator("#figures-total td.entered")).to_have_text("1")
    await expect(page.locator("#figures-total td.answered")).to_have_text("0")

    board.set_status(first, "available")  # what the agent's status control in the inbox does
    held = first_row.locator(f'li.held-item[data-item-id="{chat.id}"]')
    await expect(held).to_be_visible()
    await expect(page.locator("#waiting-total td.count")).to_have_text("0")
    await expect(page.locator("#figures-total td.answered")).to_have_text("1")
    await expect(page.locator("#figures-total td.sl1")).to_have_text("100.0%")
    await expect(first_row.locator("td.status")).to_have_text("忙碌")
    await expect(first_row.locator("td").nth(5)).to_have_text("1/3")
    board.set_status(second, "available")
    await expect(second_row.locator("td.status")).to_have_text("空闲")

    await first_row.locator("button.set-status").click()  # the supervisor puts agent1 on a meal break
    await expect(page.locator("#status-panel")).to_be_visible()
    await page.select_option("#status-choice", "break:meal")
    await page.click("#status-confirm")
    await expect(first_row.locator("td.status")).to_have_text("忙碌 · 已置为小休 · 用餐")  # the chat stays in hand
    await expect(page.locator("#floor-notice")).to_contain_text("用餐")

    async def paused_by_supervisor() -> bool:
        found = await entries(live_hub, agent_id=first, events=frozenset({QueueEvent.PAUSE}))
        return any((e.data or {}).get("by") == supervisor and e.reason == "meal" for e in found)

    await until(paused_by_supervisor)

    await held.locator("button.watch").click()  # 监看: the transcript, live
    await expect(page.locator("#watch-panel")).to_be_visible()
    await expect(page.locator("#watch-transcript")).to_contain_text("小区路灯不亮")
    await live_hub.hub.service.receive(
        Inbound("web_chat", "已经黑了三天了", conversation_id=chat.id, hints=ContactHints(), for_bot=False)
    )
    await expect(page.locator("#watch-transcript")).to_contain_text("已经黑了三天了")
    await page.fill("#whisper-text", "先登记地址再派单")
    await page.click("#whisper-send")
    await expect(page.locator("#watch-transcript li.note")).to_contain_text("先登记地址再派单")
    await expect(held.locator(".monitor")).to_contain_text("监看中")

    await held.locator("button.takeover").click()  # 接管
    await expect(page.locator("#floor-notice")).to_contain_text("已接管")
    await expect(page.locator(f'#agent-{supervisor} li.held-item[data-item-id="{chat.id}"]')).to_be_visible()
    await expect(held).to_have_count(0)
    assert errors == []
    assert "floor." not in await page.locator("main").inner_text()  # no raw keys

    await page.goto(live_hub.url + "/agent")  # the supervisor's own inbox
    await page.click("#view-mine")
    await expect(page.locator(f'#mine li[data-id="{chat.id}"]')).to_be_visible()
    await page.close()  # before the hub stops: its open sockets would hold the shutdown
