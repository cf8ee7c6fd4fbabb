"""Transferring a chat from the inbox in real headless Chromium: two agents' inboxes are open; the first transfers
the web chat it holds to the second with a transfer note; it leaves the first agent's "mine" and appears in the
second's live, with the note on the transcript."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from hub.intake import Inbound
from hub.models import ConversationStatus
from hub.web.context import CTX
from routing.switchboard import SWITCHBOARD
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub

pytestmark = [pytest.mark.browser]


async def user_id(hub: RunningHub, username: str) -> int:
    user = await hub.hub.app[CTX].users.authenticate(username, "agent123")
    assert user is not None
    return user.id


async def open_inbox(page: Page, hub: RunningHub, username: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, hub.url, username, "agent123")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    return errors


async def test_an_agent_transfers_a_chat_to_another_agent_from_the_inbox(
    browser: Browser, live_hub: RunningHub
) -> None:
    hub = live_hub.hub
    board = hub.app[SWITCHBOARD]
    agent1, agent2 = await user_id(live_hub, "agent1"), await user_id(live_hub, "agent2")
    board.set_status(agent1, "available")
    stored = await hub.service.receive(
        Inbound("web_chat", "幸福路的路灯坏了一周了", ref="chat-transfer-1", for_bot=False)
    )
    conversation_id = stored.conversation.id
    await hub.service.queue(conversation_id, "requested")
    for _ in range(200):  # the router gives it to the only available agent
        current = await hub.service.store.get(conversation_id)
        if current.status is ConversationStatus.ASSIGNED and current.assignee_id == agent1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the chat was not assigned to agent1")
    board.set_status(agent2, "available")
    async with new_context(browser) as first_context, new_context(browser) as second_context:
        first, second = await first_context.new_page(), await second_context.new_page()
        first_errors = await open_inbox(first, live_hub, "agent1")
        second_errors = await open_inbox(second, live_hub, "agent2")
        await expect(second.locator("#mine-count")).to_have_text("0")

        row = first.locator(f'#mine li[data-id="{conversation_id}"]')
        await expect(row).to_be_visible()
        await row.click()
        await expect(first.locator("#agent-transcript")).to_contain_text("幸福路的路灯坏了一周了")
        await first.click("#transfer-open")
        dialog = first.locator("#transfer-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator("#transfer-title")).to_have_text("转接会话")
        choice = dialog.locator(f'#transfer-agent option[value="{agent2}"]')
        await expect(choice).to_have_text(re.compile(r"^座席 李娜（空闲，空余 \d+）$"))
        await dialog.locator("#transfer-agent").select_option(str(agent2))
        await dialog.locator("#transfer-note").fill("市民要求今天回复，请跟进")
        await dialog.locator("#transfer-confirm").click()
        await expect(dialog).to_be_hidden()

        await expect(first.locator(f'#mine li[data-id="{conversation_id}"]')).to_have_count(0)
        await expect(first.locator("#mine-count")).to_have_text("0")
        await expect(second.locator("#mine-count")).to_have_text("1")  # live, without reloading the page
        await second.click("#view-mine")
        moved = second.locator(f'#mine li[data-id="{conversation_id}"]')
        await expect(moved).to_be_visible()
        await moved.click()
        transcript = second.locator("#agent-transcript")
        await expect(transcript).to_contain_text("幸福路的路灯坏了一周了")
        await expect(transcript.locator("li.note")).to_contain_text("转接说明：市民要求今天回复，请跟进")
        await expect(transcript.locator("li.note")).to_contain_text("已转接给座席 李娜")
        await expect(second.locator("#transfer-open")).to_be_visible()  # the new holder may transfer it on
        assert first_errors == [] and second_errors == []
    assert (await hub.service.store.get(conversation_id)).assignee_id == agent2
    assert board.holder(conversation_id) == agent2
