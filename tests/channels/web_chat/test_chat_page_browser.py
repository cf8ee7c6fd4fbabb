"""The citizen chat page in real headless Chromium against a live hub on 127.0.0.1: quick-reply buttons, photos,
location, the privacy notice, message times in the city's zone, the character counter and the page's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from hub.events import MessageStored
from hub.i18n import t
from hub.models import Message, SenderKind
from hub.storage.schema import messages as messages_table
from hub.web.context import CTX
from tests.fixtures.browser import new_context, send, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.reply_photos import png

pytestmark = [pytest.mark.browser]

CJK = re.compile(r"[\u4e00-\u9fff]")
CHOICES = [
    {"label": "确认登记", "value": "确认"},
    {"label": "<img src=x onerror=alert(1)>修改地址", "value": "修改地址"},
    {"label": "取消", "value": "取消"},
]


def bot_bubbles(page: Page) -> Any:
    return page.locator("#transcript li.bot .bubble")


async def open_chat(page: Page, hub: RunningHub, query: str = "") -> str:
    await page.goto(hub.url + "/chat" + query)
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "online")
    await expect(bot_bubbles(page).first).to_be_visible()
    conversation_id = await page.evaluate("document.body.dataset.conversationId")
    assert isinstance(conversation_id, str)
    return conversation_id


async def citizen_texts(hub: RunningHub, conversation_id: str) -> list[str]:
    stored = await hub.hub.service.store.messages(conversation_id)
    return [m.text for m in stored if m.sender_kind is SenderKind.CITIZEN]


async def bot_turn_with_choices(hub: RunningHub, conversation_id: str, said: str) -> Message:
    """A real stored bot turn with choices (the read-back), pushed to the page like any bot turn."""
    store = hub.hub.service.store
    citizen, _ = await store.add_message(conversation_id, direction="in", sender_kind=SenderKind.CITIZEN, text=said)
    conversation, [readback] = await store.commit_turn(
        conversation_id, citizen.id, replies=["请核对：路灯不亮，城东区幸福路12号。确认登记吗？"], nlu=None,
        updates={}, choices=CHOICES,
    )  # fmt: skip
    await hub.hub.service.bus.publish(MessageStored(conversation, citizen))
    await hub.hub.service.bus.publish(MessageStored(conversation, readback))
    return readback


async def test_quick_replies_are_buttons_that_send_their_value(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as ctx:
        page = await ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        conversation_id = await open_chat(page, live_hub)
        first = await bot_turn_with_choices(live_hub, conversation_id, "城东区幸福路12号")
        buttons = page.locator(f'#transcript li.bot[data-id="{first.id}"] .choices button')
        await expect(buttons).to_have_text(["确认登记", "<img src=x onerror=alert(1)>修改地址", "取消"])
        assert await page.locator("#transcript img").count() == 0  # labels are text
        for i in range(3):
            await expect(buttons.nth(i)).to_be_enabled()

        # keyboard: a real <button>, focused and pressed
        await buttons.first.focus()
        await page.keyboard.press("Enter")
        mine = page.locator("#transcript li.citizen .bubble")
        await expect(mine.last).to_have_text("确认登记")  # shown as the label ...
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(0)  # acknowledged: stored
        assert (await citizen_texts(live_hub, conversation_id))[-1] == "确认"  # ... sent as the value
        for i in range(3):
            await expect(buttons.nth(i)).to_be_disabled()  # answered: spent

        # a newer question's buttons are live, the old ones stay spent; a click works too
        second = await bot_turn_with_choices(live_hub, conversation_id, "改一下")
        newer = page.locator(f'#transcript li.bot[data-id="{second.id}"] .choices button')
        await expect(newer).to_have_count(3)
        await expect(newer.nth(2)).to_be_enabled()
        await expect(buttons.nth(1)).to_be_disabled()
        await newer.nth(2).click()
        await expect(mine.last).to_have_text("取消")
        for i in range(3):
            await expect(newer.nth(i)).to_be_disabled()
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(0)
        assert "取消" in await citizen_texts(live_hub, conversation_id)

        # reloaded: the pick still reads as its label, and the spent buttons stay spent
        await page.reload()
        await expect(page.locator("#conn-status")).to_have_attribute("data-state", "online")
        await expect(newer).to_have_count(3)
        await expect(mine.filter(has_text="确认登记")).to_have_count(1)
        for i in range(3):
            await expect(buttons.nth(i)).to_be_disabled()
            await expect(newer.nth(i)).to_be_disabled()
        assert dialogs == []


async def test_a_photo_with_a_caption_reaches_the_chat_and_the_agent_inbox(
    browser: Browser, live_hub: RunningHub, tmp_path: Path
) -> None:
    photo = tmp_path / "井盖.png"
    photo.write_bytes(png(24, 24, (30, 120, 200)))
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("这不是图片", encoding="utf-8")
    async with new_context(browser) as citizen_ctx, new_context(browser) as agent_ctx:
        page = await citizen_ctx.new_page()
        conversation_id = await open_chat(page, live_hub)

        # the hub looks at the content: a text file named .jpg is refused, with the reason in the chat
        await page.set_input_files("#file", str(not_a_photo))
        await expect(page.locator("#photo-panel")).to_be_visible()
        await page.click("#photo-send")
        await expect(page.locator("#transcript li.system.upload-error")).to_have_text(
            t("chat.upload.not_image", "zh-CN")
        )
        await expect(page.locator("#transcript li.citizen.failed")).to_have_count(1)

        await page.set_input_files("#file", str(photo))
        await expect(page.locator("#photo-name")).to_have_text("井盖.png")
        await page.fill("#caption", "幸福路12号井盖松动")
        await page.click("#photo-send")
        shown = page.locator("#transcript li.citizen:not(.failed) .bubble")
        await expect(shown.locator("img")).to_have_count(1)
        await expect(shown.last).to_contain_text("幸福路12号井盖松动")
        await expect(page.locator("#transcript li.citizen.uploading")).to_have_count(0)
        img = shown.locator("img")
        await expect(img).to_have_js_property("complete", True)
        assert await img.evaluate("i => i.naturalWidth") == 24

        stored = [
            m for m in await live_hub.hub.service.store.messages(conversation_id) if m.sender_kind is SenderKind.CITIZEN
        ]
        assert [m.text for m in stored] == ["幸福路12号井盖松动"]
        assert stored[0].attachments[0]["source"] == "web_chat"

        # the agent sees the picture in the inbox
        await live_hub.hub.service.queue(conversation_id, "requested")
        agent = await agent_ctx.new_page()
        await sign_in(agent, live_hub.url, "agent1", "agent123")
        item = agent.locator(f'#queue li[data-id="{conversation_id}"]')
        await expect(item).to_be_visible(timeout=10000)
        await item.click()
        picture = agent.locator("#agent-transcript a.photo img")
        await expect(picture).to_have_count(1)
        await expect(picture).to_have_js_property("complete", True)
        assert await picture.evaluate("i => i.naturalWidth") == 24
        assert f"/api/web_chat/photos/{stored[0].id}/0" in (await picture.get_attribute("src") or "")


@pytest.fixture
async def small_upload_hub(
    tmp_path: Path, scripted_nlu: ScriptedNlu, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningHub]:
    monkeypatch.setenv("REXIAN_CHAT_MAX_UPLOAD_MB", "0.01")
    async with running_hub(tmp_path / "data", nlu=scripted_nlu) as running:
        yield running


async def test_a_photo_over_the_limit_gets_a_clear_error(
    browser: Browser, small_upload_hub: RunningHub, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png(8, 8) + b"\x00" * 20000)
    async with new_context(browser, locale="en-US") as ctx:
        page = await ctx.new_page()
        conversation_id = await open_chat(page, small_upload_hub, "?lang=en")
        await page.set_input_files("#file", str(big))
        await expect(page.locator("#transcript li.system.upload-error")).to_have_text(
            t("chat.upload.too_large", "en", max_mib="0.01")
        )
        await expect(page.locator("#photo-panel")).to_be_hidden()
        assert await citizen_texts(small_upload_hub, conversation_id) == []


async def test_the_citizen_shares_the_browser_location(browser: Browser, live_hub: RunningHub) -> None:
    where = {"latitude": 30.2746, "longitude": 120.1551, "accuracy": 20}
    async with new_context(browser, permissions=["geolocation"], geolocation=where) as ctx:
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub)
        await page.click("#locate")
        sent = page.locator("#transcript li.citizen.location .bubble")
        await expect(sent).to_have_text("我的位置：纬度 30.27460，经度 120.15510（误差约 20 米）")
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(0)
        [message] = [
            m for m in await live_hub.hub.service.store.messages(conversation_id) if m.sender_kind is SenderKind.CITIZEN
        ]
        assert message.text == "位置：纬度30.27460, 经度120.15510"
        assert message.attachments == [{"kind": "location", "lat": 30.2746, "lon": 120.1551, "accuracy": 20.0}]

    async with new_context(browser) as ctx:  # no permission given: said so, nothing sent
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub)
        await page.click("#locate")
        await expect(page.locator("#transcript li.system .bubble")).to_have_text(t("chat.location.denied", "zh-CN"))
        assert await citizen_texts(live_hub, conversation_id) == []


async def test_the_privacy_notice_shows_at_the_start_and_when_the_bot_asks_for_a_phone(
    browser: Browser, live_hub: RunningHub
) -> None:
    async with new_context(browser) as ctx:
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub)
        notice = page.locator("#privacy-notice")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text(t("chat.privacy.notice", "zh-CN"))
        link = notice.locator("#privacy-link")
        await expect(link).to_have_attribute("href", "/chat/privacy?lang=zh-CN")
        await page.click("#privacy-dismiss")
        await expect(notice).to_be_hidden()

        conversation = await live_hub.hub.service.store.get(conversation_id)
        await live_hub.hub.service.post(conversation, t("bot.ask_address", "zh-CN"), sender=SenderKind.BOT)
        await expect(bot_bubbles(page).last).to_have_text(t("bot.ask_address", "zh-CN"))
        await expect(notice).to_be_hidden()  # not for an address
        await live_hub.hub.service.post(conversation, t("bot.ask_phone", "zh-CN"), sender=SenderKind.BOT)
        await expect(bot_bubbles(page).last).to_have_text(t("bot.ask_phone", "zh-CN"))
        await expect(notice).to_be_visible()
        await expect(notice).to_have_class(re.compile(r"\battention\b"))

        policy = await ctx.new_page()
        await policy.goto(live_hub.url + "/chat/privacy?lang=zh-CN")
        await expect(policy.locator("#privacy-policy h1")).to_have_text(t("chat.privacy.title", "zh-CN"))
        await expect(policy.locator("#privacy-policy")).to_contain_text(t("chat.privacy.p_use", "zh-CN"))
        await policy.goto(live_hub.url + "/chat/privacy?lang=en")
        await expect(policy.locator("#privacy-policy h1")).to_have_text(t("chat.privacy.title", "en"))


async def test_message_times_are_the_citys_local_time(browser: Browser, live_hub: RunningHub) -> None:
    zone = live_hub.hub.app[CTX].city
    async with new_context(browser, timezone_id="America/Los_Angeles") as ctx:  # the browser is elsewhere
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub)
        [welcome] = await live_hub.hub.service.store.messages(conversation_id)
        when = page.locator("#transcript li.bot time.when").first
        await expect(when).to_have_text(zone.format(welcome.created_at, "%H:%M"))
        assert zone.format(welcome.created_at, "%H:%M") != welcome.created_at.strftime("%H:%M")  # not UTC

        earlier = welcome.created_at - timedelta(days=3)
        async with live_hub.hub.engine.begin() as conn:
            await conn.execute(
                messages_table.update().where(messages_table.c.id == welcome.id).values(created_at=earlier)
            )
        await page.reload()
        await expect(when).to_have_text(zone.format(earlier, "%Y-%m-%d %H:%M"))

        await send(page, "你好")
        mine = page.locator("#transcript li.citizen time.when")
        await expect(mine).to_have_text(re.compile(r"^\d\d:\d\d$"))  # today: the time only
        [said] = [
            m for m in await live_hub.hub.service.store.messages(conversation_id) if m.sender_kind is SenderKind.CITIZEN
        ]
        await expect(mine).to_have_text(zone.format(said.created_at, "%H:%M"))


async def test_the_counter_warns_and_blocks_instead_of_truncating(browser: Browser, live_hub: RunningHub) -> None:
    limit = live_hub.hub.service.limits.max_chars
    async with new_context(browser) as ctx:
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub)
        counter, button, warning = page.locator("#counter"), page.locator("#send"), page.locator("#too-long")
        await expect(counter).to_have_text(f"0/{limit}")
        await page.fill("#input", "路" * (limit - 10))
        await expect(counter).to_have_text(f"{limit - 10}/{limit}")
        await expect(counter).to_have_class(re.compile(r"\bnear\b"))
        await expect(button).to_be_enabled()
        await expect(warning).to_be_hidden()

        await page.fill("#input", "路" * (limit + 1))
        await expect(counter).to_have_text(f"{limit + 1}/{limit}")
        await expect(counter).to_have_class(re.compile(r"\bover\b"))
        await expect(button).to_be_disabled()
        await expect(warning).to_have_text(t("chat.too_long", "zh-CN", max=limit))
        await page.press("#input", "Enter")
        assert await page.input_value("#input") == "路" * (limit + 1)  # nothing cut, nothing sent
        await expect(page.locator("#transcript li.citizen")).to_have_count(0)

        await page.press("#input", "Backspace")
        await expect(button).to_be_enabled()
        await expect(warning).to_be_hidden()
        await page.press("#input", "Enter")
        await expect(page.locator("#transcript li.citizen.pending")).to_have_count(0)
        await expect(page.locator("#transcript li.citizen")).to_have_count(1)
        assert await citizen_texts(live_hub, conversation_id) == ["路" * limit]
        await expect(counter).to_have_text(f"0/{limit}")


async def new_bot_reply(page: Page, before: int) -> str:
    await expect(bot_bubbles(page)).to_have_count(before + 1, timeout=15000)
    return await bot_bubbles(page).last.inner_text()


async def test_the_page_chooses_the_language_and_the_bot_follows(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser, locale="zh-CN") as ctx:  # the browser prefers Chinese
        page = await ctx.new_page()
        conversation_id = await open_chat(page, live_hub, "?lang=en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator(".chat-head h1")).to_have_text(t("chat.title", "en"))
        await expect(bot_bubbles(page).first).to_have_text(t("bot.welcome", "en"))
        before = await bot_bubbles(page).count()
        await send(page, "你好")
        assert not CJK.search(await new_bot_reply(page, before))  # answered in English

        await page.click('#lang-switch a[data-lang="zh-CN"]')  # the page's own switch
        await expect(page).to_have_url(re.compile(r"lang=zh-CN"))
        await expect(page.locator("#conn-status")).to_have_attribute("data-state", "online")
        await expect(page.locator(".chat-head h1")).to_have_text(t("chat.title", "zh-CN"))
        assert await page.evaluate("document.body.dataset.conversationId") == conversation_id  # same conversation
        await expect(bot_bubbles(page)).to_have_count(before + 1)
        assert (await live_hub.hub.service.store.get(conversation_id)).locale == "zh-CN"
        await send(page, "你好")
        assert CJK.search(await new_bot_reply(page, before + 1))  # now in Chinese

        # remembered by the page (not the browser's Chinese, not the cookie): English comes back without ?lang
        await page.click('#lang-switch a[data-lang="en"]')
        await expect(page.locator(".chat-head h1")).to_have_text(t("chat.title", "en"))
        await ctx.clear_cookies()
        await page.goto(live_hub.url + "/chat")
        await expect(page).to_have_url(re.compile(r"lang=en"))
        await expect(page.locator(".chat-head h1")).to_have_text(t("chat.title", "en"))
