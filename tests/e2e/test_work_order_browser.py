"""End to end in Chromium with the real Rasa: a web-chat complaint becomes an order, the department signs (seeing
the citizen's words of the request, not the chat) and replies with a photo in its portal, the centre closes it,
and the citizen gets the notice with the photo and answers the callback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from hub.storage.work_orders import WorkOrderStore
from tests.fixtures.browser import new_context, send, sign_in
from tests.fixtures.hub import RunningHub
from tests.fixtures.reply_photos import png

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


async def test_complaint_to_closure_and_callback(browser: Browser, rasa_hub: RunningHub, tmp_path: Path) -> None:
    async with new_context(browser) as c_ctx, new_context(browser) as d_ctx, new_context(browser) as a_ctx:
        citizen = await c_ctx.new_page()
        await citizen.goto(rasa_hub.url + "/chat")
        bot = citizen.locator("#transcript li.bot .bubble")
        await expect(bot.first).to_contain_text("12319")
        await send(citizen, "我家楼下路灯坏了三天了")
        await expect(bot.last).to_contain_text("地址", timeout=15000)
        await send(citizen, "城东区幸福路12号3单元门口")
        await expect(bot.last).to_contain_text("电话", timeout=15000)
        await send(citizen, "13812345678")
        await expect(bot.last).to_contain_text("请核对", timeout=15000)  # read back before registering
        await send(citizen, "确认")
        created = bot.filter(has_text="工单号")
        await expect(created).to_have_count(1, timeout=15000)
        match = re.search(r"\d{12}", await created.inner_text())
        assert match
        number = match.group(0)

        dept = await d_ctx.new_page()
        await sign_in(dept, rasa_hub.url, "dept", "dept123", "/dept")
        row = dept.locator(f'#order-list tr[data-number="{number}"]')
        await expect(row).to_be_visible()
        await row.locator("a").click()
        # the department sees the citizen's words of this request (the centre forwarded nothing), not the chat
        await expect(dept.locator("#order-forward")).to_contain_text("我家楼下路灯坏了三天了")
        await expect(dept.locator("#order-forward")).not_to_contain_text("12319")  # no bot greeting
        await expect(dept.locator("#order-conversation")).to_have_count(0)
        await dept.fill("#form-sign textarea[name=note]", "已签收，安排抢修")
        await dept.click("#do-sign")
        await expect(dept.locator("#order-state")).to_have_text("已签收")
        await expect(dept.locator("#order-due")).not_to_be_empty()
        await dept.fill("#form-reply textarea[name=note]", "已更换灯泡，恢复照明。")
        await dept.set_input_files(
            "#form-reply input[type=file]", files=[{"name": "照片.png", "mimeType": "image/png", "buffer": png()}]
        )
        await dept.click("#do-reply")
        await expect(dept.locator("#order-state")).to_have_text("已反馈")
        await expect(dept.locator("#history")).to_contain_text("照片.png")

        agent = await a_ctx.new_page()
        await sign_in(agent, rasa_hub.url, "agent1", "agent123", "/orders")
        await agent.goto(f"{rasa_hub.url}/orders/{number}")
        await agent.fill("#form-close textarea[name=note]", "电话核实已修复")
        await agent.click("#do-close")
        await expect(agent.locator("#order-state")).to_have_text("已办结")

        # The citizen's open chat page shows the closure notice and the callback question live.
        await expect(citizen.locator("#transcript li.system").last).to_contain_text("已办结", timeout=10000)
        # with the department's photo
        await expect(citizen.locator("#transcript li.system").last.locator("img")).to_have_attribute("alt", "照片.png")
        await expect(bot.last).to_contain_text("满意")
        await send(citizen, "1")
        await expect(bot.last).to_contain_text("感谢您的评价", timeout=15000)
        await citizen.screenshot(path=str(tmp_path / "citizen-callback.png"))
        await dept.screenshot(path=str(tmp_path / "department.png"), full_page=True)

    order = await WorkOrderStore(rasa_hub.hub.engine).get_by_number(number)
    assert order is not None and order.state == "closed" and order.satisfaction == "satisfied"
