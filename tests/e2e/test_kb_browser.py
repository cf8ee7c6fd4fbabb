"""In real headless Chromium: a knowledge manager writes an article, a supervisor publishes it, a citizen gets it
in the web chat; the history page shows the diff and rolls back."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub

pytestmark = [pytest.mark.browser]


async def test_create_review_publish_and_the_bot_answers(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as km_ctx, new_context(browser) as sup_ctx, new_context(browser) as cit_ctx:
        km = await km_ctx.new_page()
        await sign_in(km, live_hub.url, "kb", "kb123", "/kb/new")
        await km.fill("input[name=id]", "kb-e2e-bike")
        await km.fill("#f-question", "共享单车乱停放向哪里投诉？")
        await km.fill("#f-similar", "单车堵在小区门口找谁\n共享单车停在盲道上谁管")
        written = "共享单车乱停放请拨打12319登记<b>演示</b>，运营企业将在2小时内清理。"
        await km.fill("#f-answer", written)
        # The preview shows both answer forms as text (markup stays text).
        await expect(km.locator("#p-answer")).to_have_text(written)
        await km.fill("#f-spoken", "请拨打12319登记，两小时内清理。")
        await expect(km.locator("#p-spoken")).to_have_text("请拨打12319登记，两小时内清理。")
        await km.select_option("#f-industry", "enforcement")
        await km.click("#kb-save-submit")
        await expect(km).to_have_url(re.compile(r"/kb/a/kb-e2e-bike\?msg=saved"))
        await expect(km.locator("#kb-state")).to_have_text("待审核")
        await expect(km.locator("#kb-publish")).to_be_visible()
        await km.click("#kb-publish")  # a manager cannot approve their own change
        await expect(km.locator("#kb-error")).to_contain_text("无权操作")

        sup = await sup_ctx.new_page()
        await sign_in(sup, live_hub.url, "supervisor", "supervisor123", "/kb/review")
        await sup.click('#kb-review tr[data-id="kb-e2e-bike"] a >> nth=0')
        await sup.fill("#kb-article form[action$='/publish'] input[name=note]", "内容准确")
        await sup.click("#kb-publish")
        await expect(sup.locator("#kb-state")).to_have_text("已发布")
        await expect(sup.locator("#kb-events")).to_contain_text("内容准确")

        citizen = await cit_ctx.new_page()
        await citizen.goto(live_hub.url + "/chat")
        await expect(citizen.locator("#conn-status")).to_have_attribute("data-state", "online")
        await citizen.fill("#input", "共享单车停在盲道上找谁")
        await citizen.press("#input", "Enter")
        answer = citizen.locator("#transcript li.bot .bubble").filter(has_text="2小时内清理")
        await expect(answer).to_have_count(1, timeout=15000)
        await expect(answer).to_contain_text("<b>演示</b>")

        # Edit, then look at the diff and roll back to v1 from the history page.
        await km.goto(live_hub.url + "/kb/a/kb-e2e-bike/edit")
        await km.fill("#f-answer", "共享单车乱停放请拨打12319，运营企业将在1小时内清理。")
        await km.click("#kb-save")
        await km.click("#kb-history")
        await expect(km.locator("#kb-diff .dadd")).to_contain_text("1小时内清理")
        await expect(km.locator("#kb-diff .ddel")).to_contain_text("2小时内清理")
        await km.click('button[data-rollback="1"]')
        await expect(km.locator("#kb-msg")).to_contain_text("已回滚")
        await expect(km.locator("#kb-state")).to_have_text("待审核")
