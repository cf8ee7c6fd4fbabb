"""受理 at the desk in real Chromium: an agent registers an order from a queued web chat (prefilled by the real
Rasa NLU, the dispatch target shown live) and the citizen's chat shows the number; a walk-in order registered by
keyboard alone is found by its source and edited before dispatch, the edit shown in the history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from hub.models import ConversationStatus
from hub.web.context import CTX
from tests.channels.sms.helpers import until
from tests.fixtures.browser import new_context, send, sign_in
from tests.fixtures.hub import RunningHub

ORDER_URL = re.compile(r"/orders/(\d{12})\?done=receive$")


async def queued_conversation(hub: RunningHub) -> str:
    store = hub.hub.service.store
    found: list[str] = []

    async def queued() -> bool:
        found[:] = [c.id for c in await store.list_by_status(ConversationStatus.QUEUED)]
        return bool(found)

    await until(queued)
    return found[0]


@pytest.mark.browser
@pytest.mark.rasa
async def test_register_from_a_queued_web_chat(browser: Browser, rasa_hub: RunningHub, tmp_path: Path) -> None:
    async with new_context(browser) as c_ctx, new_context(browser) as a_ctx:
        citizen = await c_ctx.new_page()
        await citizen.goto(rasa_hub.url + "/chat")
        bot = citizen.locator("#transcript li.bot .bubble")
        await expect(bot.first).to_contain_text("12319")
        await send(citizen, "我家楼下路灯坏了三天了")
        await expect(bot.last).to_contain_text("地址", timeout=15000)
        await send(citizen, "城东区幸福路12号3单元门口")
        await expect(bot.last).to_contain_text("电话", timeout=15000)
        await send(citizen, "转人工")
        await expect(bot.last).to_contain_text("人工", timeout=15000)
        conversation_id = await queued_conversation(rasa_hub)

        agent = await a_ctx.new_page()
        await sign_in(agent, rasa_hub.url, "agent1", "agent123", f"/orders/new?conversation={conversation_id}")
        # prefilled from the NLU and the transcript
        await expect(agent.locator("#f-source")).to_have_value("web_chat")
        await expect(agent.locator("#f-request_type")).to_have_value("complaint")
        await expect(agent.locator("#f-industry")).to_have_value("municipal")
        await expect(agent.locator("#f-category")).to_have_value("municipal.streetlight")
        await expect(agent.locator("#f-address")).to_have_value(re.compile("幸福路12号"))
        await expect(agent.locator("#f-description")).to_have_value(re.compile("路灯坏了三天了"))
        forwarded = await agent.locator("#f-forward_text").input_value()
        assert "路灯坏了三天了" in forwarded and "转人工" not in forwarded and "请问" not in forwarded
        await expect(agent.locator("#intake-transcript li.chosen")).to_contain_text("路灯坏了三天了")
        await expect(agent.locator("#intake-transcript")).to_contain_text("转人工")
        # the dispatch target, live
        await expect(agent.locator("#preview-unit")).to_have_text("市路灯管理所")
        await expect(agent.locator("#preview-from")).to_contain_text("按派单规则")
        await agent.select_option("#f-unit", "municipal_office")
        await expect(agent.locator("#preview-unit")).to_have_text("市市政设施管理处")
        await expect(agent.locator("#preview-from")).to_contain_text("坐席指定")
        await agent.select_option("#f-unit", "")
        await expect(agent.locator("#preview-unit")).to_have_text("市路灯管理所")
        await agent.select_option("#f-industry", "water")
        await expect(agent.locator("#f-category")).to_have_value("")  # a street-light category is not water's
        await agent.select_option("#f-industry", "municipal")
        await agent.select_option("#f-category", "municipal.streetlight")
        await agent.fill("#f-phone", "13812345678")
        await agent.screenshot(path=str(tmp_path / "intake-form.png"), full_page=True)
        await agent.click("#register")
        await expect(agent).to_have_url(ORDER_URL)
        match = ORDER_URL.search(agent.url)
        assert match
        number = match.group(1)
        await expect(agent.locator("#order-unit")).to_have_text("市路灯管理所")
        await expect(agent.locator("#order-source")).to_have_text("网上咨询")
        await expect(agent.locator("#order-state")).to_have_text("已派单")

        # the citizen's open chat shows the number and the unit
        notice = citizen.locator("#transcript li.system").filter(has_text=number)
        await expect(notice).to_have_count(1, timeout=10000)
        await expect(notice).to_contain_text("市路灯管理所")
        await citizen.screenshot(path=str(tmp_path / "citizen.png"))
    order = await rasa_hub.hub.app[CTX].work_orders.get_by_number(number)
    assert order is not None and (order.phone, order.source) == ("13812345678", "web_chat")


async def tab_to(page: Page, element_id: str, limit: int = 30) -> None:
    """Press Tab until ``element_id`` has the focus."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


async def choose(page: Page, element_id: str, value: str) -> None:
    """With the focus on a select, pick ``value`` by arrow keys (as a keyboard user does)."""
    steps = await page.evaluate(
        """([id, value]) => {
            const s = document.getElementById(id);
            const usable = [...s.options].filter(o => !o.disabled && !(o.parentElement.disabled));
            return usable.findIndex(o => o.value === value) - usable.findIndex(o => o.selected);
        }""",
        [element_id, value],
    )
    for _ in range(abs(steps)):
        await page.keyboard.press("ArrowDown" if steps > 0 else "ArrowUp")
    await expect(page.locator(f"#{element_id}")).to_have_value(value)


@pytest.mark.browser
async def test_walk_in_by_keyboard_found_by_source_and_edited(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as a_ctx:
        page = await a_ctx.new_page()
        await sign_in(page, live_hub.url, "agent1", "agent123", "/orders/new")
        await tab_to(page, "f-source")
        await choose(page, "f-source", "walk_in")
        await tab_to(page, "f-request_type")
        await choose(page, "f-request_type", "complaint")
        await tab_to(page, "f-industry")
        await choose(page, "f-industry", "municipal")
        await tab_to(page, "f-category")
        await choose(page, "f-category", "municipal.streetlight")
        await tab_to(page, "f-address")
        await page.keyboard.type("城东区幸福路12号")
        await expect(page.locator("#preview-unit")).to_have_text("市路灯管理所")  # live, while typing
        await tab_to(page, "f-phone")
        await page.keyboard.type("13800004321")
        await tab_to(page, "f-citizen_name")
        await page.keyboard.type("李先生")
        await tab_to(page, "f-description")
        await page.keyboard.type("来人反映幸福路12号门口路灯不亮")
        await tab_to(page, "f-mode-dispatch")
        await page.keyboard.press("ArrowDown")  # the radio group: register only
        await expect(page.locator("#f-mode-register_only")).to_be_checked()
        await expect(page.locator("#preview-reason")).to_contain_text("仅登记")
        await tab_to(page, "register")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(ORDER_URL)
        match = ORDER_URL.search(page.url)
        assert match
        number = match.group(1)
        await expect(page.locator("#order-state")).to_have_text("已受理")
        await expect(page.locator("#order-source")).to_have_text("来人")

        # found with its source on the centre's list
        await page.goto(f"{live_hub.url}/orders?tab=all&source=walk_in")
        await expect(page.locator(f'#order-list tr[data-number="{number}"]')).to_be_visible()
        await page.goto(f"{live_hub.url}/orders?tab=all&source=letter")
        await expect(page.locator(f'#order-list tr[data-number="{number}"]')).to_have_count(0)

        # edited before dispatch, by keyboard; the history shows who changed what
        await page.goto(f"{live_hub.url}/orders/{number}")
        await page.focus("#edit-link")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(rf"/orders/{number}/edit$"))
        await tab_to(page, "f-address")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("城东区幸福路14号")
        await page.keyboard.press("Enter")  # implicit submission from a text field
        await expect(page).to_have_url(re.compile(rf"/orders/{number}\?done=edit$"))
        change = page.locator("#history li").filter(has_text="修改工单")
        await expect(change).to_contain_text("座席 张敏")
        await expect(change.locator("del")).to_have_text("城东区幸福路12号")
        await expect(change.locator("ins")).to_have_text("城东区幸福路14号")

        # after dispatch, editing is refused with a clear reason
        await page.fill("#form-dispatch textarea[name=note]", "派往路灯所")
        await page.click("#do-dispatch")
        await expect(page.locator("#order-state")).to_have_text("已派单")
        await expect(page.locator("#edit-link")).to_have_count(0)
        await page.goto(f"{live_hub.url}/orders/{number}/edit")
        await expect(page.locator("#error")).to_contain_text("派单后不能再修改")
        await expect(page.locator("#edit-form")).to_have_count(0)
