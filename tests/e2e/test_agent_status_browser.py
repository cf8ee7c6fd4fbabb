"""The agent's status in real headless Chromium: set available, a web-chat citizen asks for a human and the
conversation lands in the agent's "mine" without a click, a meal break shows (after the conversation in hand ends);
with offers instead of assignment: the offer card with its countdown, decline, time-out, the no-answer banner, and
accepting after coming back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD
from tests.fixtures.browser import new_context, send, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

pytestmark = [pytest.mark.browser]


async def open_inbox(context: BrowserContext, hub: RunningHub) -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, hub.url, "agent1", "agent123")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def ask_for_a_human(context: BrowserContext, hub: RunningHub, text: str) -> tuple[Page, str]:
    chat = await context.new_page()
    await chat.goto(hub.url + "/chat")
    await expect(chat.locator("#conn-status")).to_have_attribute("data-state", "online")
    await send(chat, text)
    await expect(chat.locator("#transcript li.bot").last).to_contain_text("人工", timeout=10000)
    return chat, str(await chat.evaluate("document.body.dataset.conversationId"))


async def test_available_assigned_without_a_click_then_a_meal_break(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as agent_context, new_context(browser) as citizen_context:
        page = await open_inbox(agent_context, live_hub)
        pill = page.locator("#agent-status")
        await expect(pill).to_have_text("离线")
        await expect(page.locator("#status-time")).to_contain_text("已持续")
        await page.select_option("#status-select", "available")
        await expect(pill).to_have_text("空闲")
        await expect(pill).to_have_attribute("data-status", "available")
        await expect(page.locator("#agent-load")).to_have_text("会话 0/3")
        await page.click("#view-mine")

        chat, conversation_id = await ask_for_a_human(citizen_context, live_hub, "路灯坏了三天了，转人工")
        item = page.locator(f'#mine li[data-id="{conversation_id}"]')
        await expect(item).to_be_visible()  # pushed live, nobody clicked "take"
        await expect(pill).to_have_text("忙碌")
        await expect(page.locator("#agent-load")).to_have_text("会话 1/3")
        await expect(chat.locator("#transcript li.system").last).to_contain_text("座席 张敏")

        await page.select_option("#status-select", "break:meal")
        await expect(page.locator("#status-select")).to_have_value("break:meal")
        await expect(pill).to_have_text("忙碌")  # the conversation in hand stays with the agent
        await item.click()
        await expect(page.locator("#agent-transcript")).to_contain_text("路灯坏了三天了")
        await page.click("#close")
        await page.locator('#close-dialog input[name="outcome"]').first.check()
        await page.click("#close-confirm")
        await expect(pill).to_have_text("小休（用餐）")
        await expect(pill).to_have_attribute("data-status", "break")
        await expect(page.locator("#no-answer-banner")).to_be_hidden()
        assert page.errors == []  # type: ignore[attr-defined]


@pytest.fixture
async def offering_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    """Text offered (accept / decline) with a short ring time, two misses make a no-answer break."""
    routing = RoutingSettings.from_mapping(
        {"defaults": {"auto_accept": False, "offer_timeout_s": 4}, "policy": {"max_missed_offers": 2}}
    )
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, routing=routing) as running:
        yield running


async def test_offers_declined_and_missed_make_a_no_answer_break(browser: Browser, offering_hub: RunningHub) -> None:
    hub = offering_hub
    async with new_context(browser) as agent_context, new_context(browser) as citizen_context:
        page = await open_inbox(agent_context, hub)
        pill = page.locator("#agent-status")
        await page.select_option("#status-select", "available")
        await expect(pill).to_have_text("空闲")

        _chat, conversation_id = await ask_for_a_human(
            citizen_context, hub, "<img src=x onerror=alert(1)>路灯坏了，电话13912345678，转人工"
        )
        card = page.locator(f'#offers .offer-card[data-item-id="{conversation_id}"]')
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("新会话邀请")
        await expect(card.locator(".offer-excerpt")).to_have_text(
            "<img src=x onerror=alert(1)>路灯坏了，电话139****5678，转人工"
        )  # text, masked
        await expect(card.locator(".countdown")).to_have_text(re.compile(r"^剩余 \d 秒$"))
        await expect(pill).to_have_text("振铃")
        first_deadline = await card.get_attribute("data-deadline")

        await card.locator(".offer-decline").click()  # a miss; nobody else: offered again
        await expect(card).not_to_have_attribute("data-deadline", first_deadline or "")
        await expect(card).to_be_visible()
        await expect(card).to_be_hidden(timeout=15000)  # the second offer times out: the second miss
        banner = page.locator("#no-answer-banner")
        await expect(banner).to_have_text("您连续2次未接，已自动置为小休（未接）。请选择“空闲”继续接单。")
        await expect(pill).to_have_text("小休（未接）")
        await expect(page.locator("#status-select")).to_have_value("break:no_answer")

        await page.select_option("#status-select", "available")  # back: the banner goes, the offer comes again
        await expect(banner).to_be_hidden()
        await expect(card).to_be_visible()
        await card.locator(".offer-accept").click()
        await expect(card).to_have_count(0)
        await expect(page.locator(f'#mine li[data-id="{conversation_id}"]')).to_be_visible()
        await expect(page.locator("#agent-transcript")).to_contain_text("路灯坏了")
        await expect(pill).to_have_text("忙碌")
        board = hub.hub.app[SWITCHBOARD]
        agent_id = int(await page.evaluate("document.body.dataset.userId"))
        assert board.holder(conversation_id) == agent_id and board.router.agents[agent_id].missed_offers == 0
        assert page.errors == []  # type: ignore[attr-defined]
