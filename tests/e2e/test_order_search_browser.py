"""In Chromium: finding orders on the centre's list and the department portal (search, filters, tabs, pages), and
the printed 投诉单 (the print page as the browser's PDF, its text read back)."""

from __future__ import annotations

import io
import re

import pytest
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader

from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub
from tests.hub.work_orders.test_search_pages import STREETLIGHTS, fill

pytestmark = [pytest.mark.browser]

A4_WIDTH_PT = 595.28  # 210 mm


async def listed(page: Page) -> list[str]:
    return await page.locator("#order-list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.number)")


async def test_centre_searches_filters_and_pages(browser: Browser, live_hub: RunningHub) -> None:
    lights, water = await fill(live_hub)
    async with new_context(browser) as context:
        page = await context.new_page()
        await sign_in(page, live_hub.url, "agent1", "agent123", "/orders")
        await page.click("#tab-all")
        await expect(page.locator("#count-all")).to_have_text(str(STREETLIGHTS + 3))
        await expect(page.locator("#order-list tbody tr")).to_have_count(50)
        # search + filter: the URL carries them (bookmarkable) and the form shows them back
        await page.fill("#f-q", "长江路")
        await page.select_option("#f-source", label="来信")
        await page.click("#f-submit")
        await expect(page).to_have_url(re.compile(r"q=%E9%95%BF%E6%B1%9F%E8%B7%AF.*source=letter"))
        await expect(page.locator("#order-list tbody tr")).to_have_count(3)
        assert await listed(page) == water[::-1]
        await expect(page.locator("#f-q")).to_have_value("长江路")
        await expect(page.locator("#count-all")).to_have_text("3")
        await expect(page.locator(f'#order-list tr[data-number="{water[0]}"]')).to_contain_text("市供水集团城西分公司")
        await page.reload()  # a bookmark gives the same list
        assert await listed(page) == water[::-1]
        # a phone typed with spaces, submitted with Enter
        await page.click("#f-reset")
        await page.fill("#f-q", "139 0000 0042")
        await page.press("#f-q", "Enter")
        await expect(page.locator("#order-list tbody tr")).to_have_count(1)
        assert await listed(page) == [lights[42]]
        # pages, oldest first
        await page.click("#f-reset")
        await page.select_option("#f-sort", "oldest")
        await page.click("#f-submit")
        assert await listed(page) == lights[:50]
        await page.click("#page-next")
        await expect(page).to_have_url(re.compile(r"page=2"))
        await expect(page.locator("#order-list tbody tr")).to_have_count(STREETLIGHTS + 3 - 50)
        assert await listed(page) == lights[50:] + water
        await expect(page.locator("#f-sort")).to_have_value("oldest")
        await page.click("#page-prev")
        assert await listed(page) == lights[:50]


async def test_department_searches_and_pages_its_own_orders(browser: Browser, live_hub: RunningHub) -> None:
    lights, water = await fill(live_hub)
    async with new_context(browser) as context:
        page = await context.new_page()
        await sign_in(page, live_hub.url, "dept", "dept123", "/dept")
        await expect(page.locator("#count-to_sign")).to_have_text(str(STREETLIGHTS))
        for q in (water[0], "13700000001"):  # another unit's order: not by number, not by phone
            await page.fill("#f-q", q)
            await page.click("#f-submit")
            await expect(page.locator("#no-orders")).to_be_visible()
            await expect(page.locator("#count-all")).to_have_text("0")
        await page.fill("#f-q", "幸福路7号")
        await page.click("#f-submit")
        assert await listed(page) == [lights[7]]
        await page.click("#f-reset")
        await page.click("#tab-all")
        await page.click("#page-next")
        await expect(page.locator("#order-list tbody tr")).to_have_count(STREETLIGHTS - 50)
        assert await listed(page) == lights[4::-1]
        await page.locator(f'#order-list tr[data-number="{lights[0]}"] a').click()
        await expect(page).to_have_url(re.compile(f"/orders/{lights[0]}$"))


async def test_the_printed_form_is_one_a4_page_with_the_orders_text(browser: Browser, live_hub: RunningHub) -> None:
    lights, _ = await fill(live_hub)
    number = lights[3]
    async with new_context(browser) as context:
        page = await context.new_page()
        await sign_in(page, live_hub.url, "agent1", "agent123", "/orders")
        await page.goto(f"{live_hub.url}/orders/{number}")
        async with context.expect_page() as opened:
            await page.click("#print-link")
        printed = await opened.value
        await expect(printed.locator("#print-number")).to_have_text(number)
        await expect(printed.locator("#print-toolbar")).to_be_visible()  # on screen
        await printed.emulate_media(media="print")
        await expect(printed.locator("#print-toolbar")).to_be_hidden()  # not on paper
        pdf = await printed.pdf(prefer_css_page_size=True, print_background=True)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4_WIDTH_PT) < 1 and abs(float(box.height) - 841.89) < 1
    text = re.sub(r"\s+", "", reader.pages[0].extract_text())
    for expected in ("12319城建服务热线工单（投诉单）", number, "城东区幸福路3号", "市路灯管理所", "受理人", "审核"):
        assert expected in text, (expected, text)
    assert "打印本页" not in text and "返回工单" not in text
