"""End to end in real headless Chromium, with the real Rasa server: a citizen chats, an agent takes over."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from hub.storage.work_orders import WorkOrderStore
from tests.fixtures.browser import new_context, send, sign_in
from tests.fixtures.hub import RunningHub

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


def bot_bubbles(page: Page) -> Any:
    return page.locator("#transcript li.bot .bubble")


async def test_citizen_and_agent_in_the_browser(browser: Browser, rasa_hub: RunningHub, tmp_path: Path) -> None:
    async with new_context(browser) as citizen_ctx, new_context(browser) as agent_ctx:
        citizen = await citizen_ctx.new_page()
        await citizen.goto(rasa_hub.url + "/chat")
        await expect(bot_bubbles(citizen).first).to_contain_text("12319")
        await expect(citizen.locator("#conn-status")).to_have_attribute("data-state", "online")

        # 1. A policy question is answered from the knowledge base.
        await send(citizen, "燃气开户需要带什么材料")
        await expect(bot_bubbles(citizen).filter(has_text="房产证")).to_have_count(1, timeout=15000)

        # 2. A fault report is classified, the bot asks for address and phone, then files a work order.
        await send(citizen, "我家楼下路灯坏了三天了")
        await expect(bot_bubbles(citizen).last).to_contain_text("地址", timeout=15000)
        await expect(bot_bubbles(citizen).filter(has_text="市政设施")).to_have_count(1)
        await send(citizen, "城东区幸福路12号3单元门口")
        await expect(bot_bubbles(citizen).last).to_contain_text("电话", timeout=15000)
        await send(citizen, "13812345678")
        await expect(bot_bubbles(citizen).last).to_contain_text("请核对", timeout=15000)  # read back first
        await send(citizen, "确认")
        created = bot_bubbles(citizen).filter(has_text="工单号")
        await expect(created).to_have_count(1, timeout=15000)
        number = re.search(r"\d{12}", await created.inner_text())
        assert number is not None
        order = await WorkOrderStore(rasa_hub.hub.engine).get_by_number(number.group(0))
        assert order is not None
        assert (order.industry, order.unit, order.state) == ("municipal", "streetlight_office", "dispatched")
        await expect(created).to_contain_text("市路灯管理所")

        # 3. The agent signs in; the citizen asks for a human; the queue updates live.
        agent = await agent_ctx.new_page()
        await sign_in(agent, rasa_hub.url, "agent1", "agent123")
        await expect(agent.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        await expect(agent.locator("#queue-count")).to_have_text("0")

        await send(citizen, "转人工")
        await expect(bot_bubbles(citizen).last).to_contain_text("人工", timeout=15000)
        conversation_id = await citizen.evaluate("document.body.dataset.conversationId")
        item = agent.locator(f'#queue li[data-id="{conversation_id}"]')
        await expect(item).to_be_visible(timeout=10000)  # pushed over the WebSocket, no reload
        await item.click()
        await expect(agent.locator("#agent-transcript")).to_contain_text("我家楼下路灯坏了三天了")
        await expect(agent.locator("#orders")).to_contain_text(number.group(0))
        await expect(agent.locator("#nlu")).to_contain_text("意图")  # names, never raw codes
        await agent.click("#claim")
        await expect(agent.locator(f'#mine li[data-id="{conversation_id}"]')).to_be_visible()
        await expect(citizen.locator("#transcript li.system").last).to_contain_text("座席")

        # The agent corrects the classification; it becomes a candidate training example.
        await expect(agent.locator("#labels-form")).to_be_visible()
        await agent.select_option("#label-industry", "enforcement")
        await agent.click("#label-save")
        await expect(agent.locator("#detail-title")).to_contain_text("城管执法")
        assert (await rasa_hub.hub.service.store.get(conversation_id)).industry == "enforcement"

        # 4. The agent's reply (with markup, which must stay text) arrives live in the citizen's page.
        await agent.fill("#reply-input", "您好，我是座席张敏。<img src=x onerror=alert(1)> 已为您催办。")
        await agent.click("#reply-send")
        reply = citizen.locator("#transcript li.agent .bubble")
        await expect(reply).to_have_text("您好，我是座席张敏。<img src=x onerror=alert(1)> 已为您催办。")
        assert await citizen.locator("#transcript img").count() == 0

        # 5. The citizen answers; the agent sees it live; reloading the citizen page loses nothing.
        await send(citizen, "好的，谢谢")
        await expect(agent.locator("#agent-transcript")).to_contain_text("好的，谢谢")
        await citizen.reload()
        await expect(citizen.locator("#transcript li.agent .bubble")).to_have_count(1)
        await expect(citizen.locator("#transcript li.citizen .bubble").filter(has_text="好的，谢谢")).to_have_count(1)
        await citizen.screenshot(path=str(tmp_path / "citizen.png"))
        await agent.screenshot(path=str(tmp_path / "agent.png"))

        # 6. The agent closes the conversation with an outcome; the citizen sees it end.
        await agent.click("#close")
        await agent.check('#close-dialog input[value="resolved_by_answer"]')
        await agent.click("#close-confirm")
        await expect(citizen.locator("#transcript li.system").last).to_contain_text("结束", timeout=10000)


async def test_messages_typed_while_disconnected_are_delivered_after_reconnect(
    browser: Browser, rasa_hub: RunningHub
) -> None:
    """The network drops; the citizen keeps typing; nothing is lost or duplicated once it is back."""
    routes: list[WebSocketRoute] = []
    blocked = False

    async def handler(ws: WebSocketRoute) -> None:
        if blocked:
            await ws.close(code=1006, reason="network down")
            return
        routes.append(ws)
        ws.connect_to_server()

    async with new_context(browser) as ctx:
        page = await ctx.new_page()
        await page.route_web_socket(re.compile(r"/chat/ws"), handler)
        await page.goto(rasa_hub.url + "/chat")
        await expect(page.locator("#conn-status")).to_have_attribute("data-state", "online")
        blocked = True
        await routes[-1].close(code=1006, reason="network down")
        await expect(page.locator("#conn-status")).to_have_attribute("data-state", "offline")
        await send(page, "你好")
        await send(page, "燃气开户需要带什么材料")
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(2)
        blocked = False
        await expect(page.locator("#conn-status")).to_have_attribute("data-state", "online", timeout=20000)
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(0, timeout=15000)
        conversation_id = await page.evaluate("document.body.dataset.conversationId")
        await expect(bot_bubbles(page).filter(has_text="房产证")).to_have_count(1, timeout=15000)
        messages = await rasa_hub.hub.service.store.messages(conversation_id)
        assert [m.text for m in messages if m.sender_kind.value == "citizen"] == ["你好", "燃气开户需要带什么材料"]
