"""In real headless Chromium: a Telegram citizen's photo appears in the agent's inbox once it is downloaded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.test_photos import photo_update, png
from tests.channels.telegram.test_telegram import conversation_of, message_update, post, tg_settings, until
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

pytestmark = [pytest.mark.browser]


@pytest.fixture
async def tg_browser_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as running:
        yield running


async def test_the_agent_sees_the_photo_appear(
    browser: Browser, tg_browser_hub: RunningHub, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    hub = tg_browser_hub
    assert await post(hub, message_update(200, text="转人工")) == 200

    async def queued() -> bool:
        return (await conversation_of(hub)).status.value == "queued"

    await until(queued)
    conversation = await conversation_of(hub)
    async with new_context(browser) as ctx:
        agent = await ctx.new_page()
        await sign_in(agent, hub.url, "agent1", "agent123")
        await expect(agent.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        await agent.locator(f'#queue li[data-id="{conversation.id}"]').click()
        await expect(agent.locator("#agent-transcript")).to_contain_text("转人工")

        bot_api.files["door"] = png(64, 48)
        await bot_api.stop()  # the photo stays pending: the inbox says so
        assert await post(hub, photo_update(201, "door", caption="单元门坏了")) == 200
        bubble = agent.locator("#agent-transcript li.citizen .bubble").filter(has_text="单元门坏了")
        await expect(bubble.locator(".photo-state")).to_have_text("图片下载中…")

        await bot_api.start()  # fetched on the next retry: the picture replaces the note, live
        image = bubble.locator("a.photo img")
        await expect(image).to_be_visible(timeout=20000)
        assert await image.evaluate("img => img.complete && img.naturalWidth") == 64
        await expect(bubble.locator(".photo-state")).to_have_count(0)
        await agent.screenshot(path=str(tmp_path / "agent-photo.png"))
