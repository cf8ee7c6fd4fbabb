"""Chromium: the voice channel's 回拨 buttons on the inbox and the work-order page post a call-back and show the
answer; a voicemail's 删除录音 and 短信答复 actions work from the inbox."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, expect

from hub.intake import ContactHints
from hub.storage.work_orders import WorkOrderStore
from tests.channels.voice.test_callback_api import CITIZEN, leave_voicemail
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu

pytestmark = pytest.mark.browser


async def test_the_order_page_call_back_button_posts_and_shows_why_it_cannot_call(
    browser: Browser, live_hub: RunningHub
) -> None:
    conversation = await live_hub.hub.service.open("voice", hints=ContactHints(phone=CITIZEN))
    order = await WorkOrderStore(live_hub.hub.engine).create(
        request_type="repair", description="停水", industry="water", category=None, district="chengdong",
        address="幸福路1号", phone=CITIZEN, urgent=False, conversation_id=conversation.id, contact_id=None,
    )  # fmt: skip
    async with new_context(browser) as context:
        page = await context.new_page()
        await sign_in(page, live_hub.url, "agent1", "agent123", f"/orders/{order.number}")
        button = page.locator("#order-channel-actions button.voice-callback-button")
        await expect(button).to_have_text(f"回拨 {CITIZEN}")
        async with page.expect_request("**/api/voice/callback") as posted:
            await button.click()
        request = await posted.value
        assert json.loads(request.post_data or "{}") == {"number": CITIZEN, "order_number": order.number}
        assert request.headers.get("x-csrf-token")
        # this hub has no voice channel: the agent reads why, in Chinese
        await expect(page.locator("#order-channel-actions .voice-callback-status")).to_have_text(
            "未配置外呼线路，暂不能回拨"
        )


async def test_the_inbox_shows_call_back_and_voicemail_actions(
    browser: Browser, live_hub: RunningHub, scripted_nlu: ScriptedNlu
) -> None:
    message_id, path = await leave_voicemail(live_hub, scripted_nlu, CITIZEN)
    stored = await live_hub.hub.service.store.message(message_id)
    assert stored is not None
    async with new_context(browser) as context:
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, live_hub.url, "agent1", "agent123")
        await page.goto(f"{live_hub.url}/agent#c={stored.conversation_id}")
        button = page.locator("#channel-actions button.voice-callback-button")
        await expect(button).to_have_text(f"回拨 {CITIZEN}")
        async with page.expect_request("**/api/voice/callback") as posted:
            await button.click()
        body = json.loads((await posted.value).post_data or "{}")
        assert body == {"number": CITIZEN, "conversation_id": stored.conversation_id}
        await expect(page.locator("#channel-actions .voice-callback-status")).to_have_text("未配置外呼线路，暂不能回拨")
        actions = page.locator(f'[data-message-id="{message_id}"] .voicemail-actions')
        await expect(actions.locator("button.voicemail-sms")).to_have_text("短信答复")
        await actions.locator("button.voicemail-delete").click()
        await expect(page.locator(f'[data-message-id="{message_id}"] .voicemail-deleted')).to_have_text(
            "留言录音已删除"
        )
        await expect(page.locator(f'[data-message-id="{message_id}"] .voicemail-audit li')).to_contain_text(
            ["删除录音"]
        )
    assert not path.exists()
