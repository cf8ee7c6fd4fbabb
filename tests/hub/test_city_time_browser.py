"""In Chromium whose own time zone is not the city's: the inbox (times formatted by agent.js with Intl and the
page's ``timezone``) and the server-rendered order pages show the city's local time (docs/adr/0024-time-zones.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.hub.city_time_helpers import queued_conversation_at, signed_order_at

pytestmark = [pytest.mark.browser]

LATE = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # Shanghai 12-08 01:30, Berlin 12-07 18:30, New York 12-07 12:30
AFTER_MIDNIGHT = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # Shanghai 12-08 00:30, Berlin 12-07 17:30
BROWSER_ZONE = "America/New_York"


@pytest.fixture
async def berlin_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "berlin", nlu=scripted_nlu, timezone="Europe/Berlin") as hub:
        yield hub


async def assert_browser_zone(page: Page) -> None:
    """The browser really is elsewhere: its own clock would show New York time."""
    zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    hour = await page.evaluate("new Date('2026-12-07T17:30:00Z').getHours()")
    assert (zone, hour) == (BROWSER_ZONE, 12)


async def open_in_inbox(page: Page, hub: RunningHub, conversation_id: str) -> None:
    await sign_in(page, hub.url, "agent1", "agent123", "/agent")
    await assert_browser_zone(page)
    item = page.locator(f'#queue li[data-id="{conversation_id}"]')
    await expect(item).to_be_visible()
    await item.click()


async def test_inbox_and_order_pages_show_shanghai_time_in_a_new_york_browser(
    browser: Browser, live_hub: RunningHub
) -> None:
    conversation_id = await queued_conversation_at(live_hub, LATE, "路灯坏了三天了")
    order = await signed_order_at(live_hub, AFTER_MIDNIGHT, conversation_id)
    async with new_context(browser, timezone_id=BROWSER_ZONE) as context:
        page = await context.new_page()
        await open_in_inbox(page, live_hub, conversation_id)
        stamp = page.locator("#agent-transcript time.when")
        await expect(stamp).to_have_text("2026-12-08 01:30")  # not New York's 2026-12-07 12:30
        await expect(stamp).to_have_attribute("datetime", "2026-12-08T01:30:00+08:00")
        await expect(page.locator("#orders li.order")).to_contain_text(order.number)

        await page.goto(f"{live_hub.url}/orders/{order.number}")
        await expect(page.locator("#order-due")).to_contain_text("2026-12-10 23:59")
        await expect(page.locator("#history .when").first).to_have_text("2026-12-08 00:30")
        await page.goto(f"{live_hub.url}/orders?tab=all")
        row = page.locator(f'#order-list tr[data-number="{order.number}"]')
        await expect(row).to_contain_text("2026-12-08 00:30")
        await expect(row).to_contain_text("2026-12-10 23:59")


async def test_a_berlin_hub_shows_berlin_time_in_a_new_york_browser(browser: Browser, berlin_hub: RunningHub) -> None:
    conversation_id = await queued_conversation_at(berlin_hub, LATE, "路灯坏了三天了")
    order = await signed_order_at(berlin_hub, AFTER_MIDNIGHT)
    async with new_context(browser, timezone_id=BROWSER_ZONE) as context:
        page = await context.new_page()
        await open_in_inbox(page, berlin_hub, conversation_id)
        stamp = page.locator("#agent-transcript time.when")
        await expect(stamp).to_have_text("2026-12-07 18:30")
        await expect(stamp).to_have_attribute("datetime", "2026-12-07T18:30:00+01:00")

        await page.goto(f"{berlin_hub.url}/orders/{order.number}")
        await expect(page.locator("#history .when").first).to_have_text("2026-12-07 17:30")
        await expect(page.locator("#order-due")).to_contain_text("2026-12-09 23:59")
