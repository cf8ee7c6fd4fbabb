"""The agent inbox in real headless Chromium: views, search and filters, waiting times, unread counts, title badge,
sound and desktop notifications, keyboard-only work (open, claim, canned reply, send, note, close with an outcome),
private notes the citizen never sees, KB suggestions above the floor, label correction per message, new order,
the channel-extension hook, Chinese labels everywhere and English on request."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, ConversationStatus, User
from hub.web.context import CTX
from routing.inbox_common import SETTINGS
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub

pytestmark = [pytest.mark.browser]

# Raw codes that must never show on the page (intents, types, industries, statuses, channels, reasons, outcomes)
RAW_CODES = re.compile(
    r"\b(complaint|consult|repair|municipal|water|queued|assigned|web_chat|rest|sms|requested|human_handoff|"
    r"out_of_scope|resolved_by_answer|order_registered|intent|industry)\b"
)

HOOKS = """
window.__notifications = [];
window.__beeps = 0;
const RealNotification = window.Notification;
class RecordingNotification {
  constructor(title, options) { window.__notifications.push({title: title, body: (options || {}).body || ""}); }
  static get permission() { return RealNotification.permission; }
  static requestPermission(cb) { return RealNotification.requestPermission(cb); }
}
window.Notification = RecordingNotification;
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__beeps += 1; return realStart.apply(this, args); };
window.__conversations = [];
document.addEventListener("rexian:conversation", (ev) => window.__conversations.push(ev.detail.conversation.id));
"""


async def until(page: Page, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until ``expression`` is true in the page (wait_for_function would need eval, which the CSP forbids)."""
    for _ in range(int(timeout_s * 20)):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still false after {timeout_s} s: {expression}")


async def citizen(
    hub: RunningHub,
    text: str,
    *,
    channel: str = "sms",
    phone: str | None = None,
    name: str | None = None,
    conversation_id: str | None = None,
) -> Conversation:
    """A citizen message stored for agents (no bot turn); returns its conversation."""
    ref = None if conversation_id else (phone or uuid.uuid4().hex[:10])
    stored = await hub.hub.service.receive(
        Inbound(
            channel,
            text,
            ref=ref,
            conversation_id=conversation_id,
            hints=ContactHints(phone=phone, name=name),
            for_bot=False,
        )
    )
    return stored.conversation


async def queued(hub: RunningHub, text: str, **kwargs: Any) -> Conversation:
    conversation = await citizen(hub, text, **kwargs)
    found = await hub.hub.service.queue(conversation.id, "requested")
    assert found is not None
    return found


async def user(hub: RunningHub, username: str) -> User:
    found = await hub.hub.app[CTX].users.authenticate(username, "agent123")
    assert found is not None
    return found


async def held(hub: RunningHub, text: str, **kwargs: Any) -> Conversation:
    conversation = await queued(hub, text, **kwargs)
    return await hub.hub.service.claim(conversation.id, await user(hub, "agent1"))


@pytest.fixture
async def agent_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    async with new_context(browser) as context:
        await context.grant_permissions(["notifications"])
        await context.add_init_script(HOOKS)
        yield context


async def open_inbox(context: BrowserContext, hub: RunningHub, username: str = "agent1") -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, hub.url, username, "agent123" if username.startswith("agent") else f"{username}123")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def test_views_search_filters_and_live_waiting(agent_context: BrowserContext, live_hub: RunningHub) -> None:
    lamp = await queued(live_hub, "路灯坏了三天了", channel="sms", phone="13800001111", name="王先生")
    water = await queued(live_hub, "黄河路8号停水", channel="rest", phone="13900002222")
    mine = await held(live_hub, "井盖丢了", phone="13700003333", name="李女士")
    page = await open_inbox(agent_context, live_hub)
    # the agent holds a conversation: the inbox opens on "mine"
    await expect(page.locator(f'#mine li[data-id="{mine.id}"]')).to_be_visible()
    await expect(page.locator("#mine-count")).to_have_text("1")
    await expect(page.locator("#queue-count")).to_have_text("2")
    await expect(page.locator("#all-count")).to_have_text("3")
    await page.click("#view-unassigned")
    item = page.locator(f'#queue li[data-id="{lamp.id}"]')
    await expect(item).to_contain_text("王先生")
    await expect(item).to_contain_text("短信")
    await expect(item.locator("time.at")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    waiting = item.locator(".waiting")
    await expect(waiting).to_have_text(re.compile(r"^等待 0:0\d$"))
    first = await waiting.inner_text()
    await expect(waiting).not_to_have_text(first)  # it ticks
    await expect(item.locator(".unread")).to_have_text("1")

    await page.fill("#search", "1390000")  # part of a phone number
    await expect(page.locator("#queue li[data-id]")).to_have_count(1)
    await expect(page.locator(f'#queue li[data-id="{water.id}"]')).to_be_visible()
    await expect(page.locator("#queue-count")).to_have_text("1")
    await page.fill("#search", "王先生")
    await expect(page.locator("#queue li[data-id]")).to_have_count(1)
    await expect(page.locator(f'#queue li[data-id="{lamp.id}"]')).to_be_visible()
    await page.fill("#search", "")
    await page.select_option("#filter-channel", "rest")
    await expect(page.locator("#queue li[data-id]")).to_have_count(1)
    await expect(page.locator(f'#queue li[data-id="{water.id}"]')).to_be_visible()
    await page.select_option("#filter-channel", "")
    await page.select_option("#filter-waiting", "30")
    await expect(page.locator("#queue li.empty")).to_have_text("暂无")
    await expect(page.locator("#all-count")).to_have_text("0")
    await page.select_option("#filter-waiting", "")
    await page.click("#view-all")
    await expect(page.locator("#all li[data-id]")).to_have_count(3)
    await expect(page.locator(f'#all li[data-id="{mine.id}"]')).to_contain_text("处理人：座席 张敏")

    # a conversation queued now appears live in the list and the counts
    fresh = await queued(live_hub, "燃气味很重", channel="web_chat")
    await expect(page.locator(f'#all li[data-id="{fresh.id}"]')).to_be_visible()
    await expect(page.locator("#queue-count")).to_have_text("3")
    text = await page.locator("main").inner_text()
    assert not RAW_CODES.search(text), RAW_CODES.search(text)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_keyboard_only_claim_canned_reply_note_and_close(
    browser: Browser, agent_context: BrowserContext, live_hub: RunningHub
) -> None:
    async with new_context(browser) as citizen_context:
        chat = await citizen_context.new_page()
        await chat.goto(live_hub.url + "/chat")
        await expect(chat.locator("#conn-status")).to_have_attribute("data-state", "online")
        await chat.fill("#input", "路灯坏了三天了，转人工")
        await chat.press("#input", "Enter")
        conversation_id = await chat.evaluate("document.body.dataset.conversationId")
        page = await open_inbox(agent_context, live_hub)
        item = page.locator(f'#queue li[data-id="{conversation_id}"]')
        await expect(item).to_be_visible()

        await page.keyboard.press("2")  # the unassigned view, focus on its first item
        await expect(item).to_be_focused()
        outline = await item.evaluate("li => getComputedStyle(li).outlineStyle")
        assert outline != "none"  # visible focus
        await page.keyboard.press("Enter")
        await expect(page.locator("#agent-transcript")).to_contain_text("路灯坏了三天了")
        await page.keyboard.press("a")  # claim: the conversation moves to "mine"
        await expect(page.locator(f'#mine li[data-id="{conversation_id}"]')).to_be_visible()
        await expect(chat.locator("#transcript li.system").last).to_contain_text("座席")
        await expect(page.locator("#mode-reply")).to_be_enabled()  # the claimed conversation's detail is reloaded

        await page.keyboard.press("r")
        await expect(page.locator("#reply-input")).to_be_focused()
        await page.keyboard.type("/nih")
        menu = page.locator("#canned-menu")
        await expect(menu).to_be_visible()
        await expect(menu.locator("li.active")).to_contain_text("问候")
        await page.keyboard.press("Enter")
        await expect(page.locator("#reply-input")).to_have_value(
            "市民您好，这里是12319城建服务热线，我是座席 张敏，很高兴为您服务。请问有什么可以帮您？"
        )
        await page.keyboard.press("Control+Enter")
        agent_bubble = chat.locator("#transcript li.agent .bubble")
        await expect(agent_bubble).to_contain_text("这里是12319城建服务热线")
        await expect(page.locator("#reply-input")).to_have_value("")

        await page.keyboard.press("Escape")  # leave the composer, back in the list
        await page.keyboard.press("p")  # a private note
        await expect(page.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
        await page.keyboard.type("内部：市民情绪激动，注意安抚")
        await page.keyboard.press("Control+Enter")
        note = page.locator("#agent-transcript li.note")
        await expect(note).to_contain_text("内部备注 · 座席 张敏")
        await expect(note).to_contain_text("内部：市民情绪激动，注意安抚")

        await chat.fill("#input", "好的，什么时候能修好")
        await chat.press("#input", "Enter")
        await expect(page.locator("#agent-transcript")).to_contain_text("什么时候能修好")
        await page.keyboard.press("Escape")
        await page.keyboard.press("c")  # close: asks for the outcome and warns of the unanswered message
        dialog = page.locator("#close-dialog")
        await expect(dialog).to_be_visible()
        await expect(page.locator("#close-warning")).to_be_visible()
        await page.keyboard.press("Enter")  # nothing chosen yet
        await expect(page.locator("#close-error")).to_be_visible()
        await page.keyboard.press("ArrowDown")  # radios: the second outcome, 已登记工单
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        await expect(chat.locator("#transcript li.system").last).to_contain_text("结束", timeout=10000)
        closed = await live_hub.hub.service.store.get(conversation_id)
        assert (closed.status, closed.outcome) == (ConversationStatus.CLOSED, "order_registered")
        await expect(page.locator("#detail-meta")).to_contain_text("结束原因：已登记工单")

        await page.keyboard.press("?")
        await expect(page.locator("#help-dialog")).to_be_visible()
        await expect(page.locator("#help-dialog")).to_contain_text("键盘快捷键")
        await page.keyboard.press("Escape")
        await expect(page.locator("#help-dialog")).to_be_hidden()
        await page.keyboard.press("4")
        await expect(page.locator(f'#closed li[data-id="{conversation_id}"]')).to_contain_text("已登记工单")

        # the note never reached the citizen: not live, not after a reload, not in any stored message
        await chat.reload()
        await expect(chat.locator("#transcript li.agent .bubble")).to_have_count(1)
        assert "市民情绪激动" not in await chat.locator("body").inner_text()
        texts = [m.text for m in await live_hub.hub.service.store.messages(conversation_id)]
        assert not any("市民情绪激动" in t for t in texts)
        assert page.errors == []  # type: ignore[attr-defined]


async def test_new_order_opens_the_registration_with_the_chosen_message(
    agent_context: BrowserContext, live_hub: RunningHub
) -> None:
    first = await held(live_hub, "城东区幸福路12号路灯坏了", phone="13800001111")
    await citizen(live_hub, "已经三天了", conversation_id=first.id)
    page = await open_inbox(agent_context, live_hub)
    await page.locator(f'#mine li[data-id="{first.id}"]').click()
    bubbles = page.locator("#agent-transcript li.citizen")
    await expect(bubbles).to_have_count(2)
    first_id = await bubbles.first.get_attribute("data-message-id")
    last_id = await bubbles.last.get_attribute("data-message-id")
    async with agent_context.expect_page() as opened:
        await page.keyboard.press("n")  # no message chosen: the citizen's last one
    new = await opened.value
    assert new.url.endswith(f"/orders/new?conversation={first.id}&message={last_id}")
    await new.close()
    await bubbles.first.locator("button.correct-label").click()  # choosing a message for the correction
    await expect(page.locator("#label-message")).to_contain_text("城东区幸福路12号路灯坏了")
    async with agent_context.expect_page() as opened:
        await page.click("#new-order")
    new = await opened.value
    assert new.url.endswith(f"/orders/new?conversation={first.id}&message={first_id}")


async def test_unread_title_sound_and_desktop_notification(agent_context: BrowserContext, live_hub: RunningHub) -> None:
    mine = await held(live_hub, "井盖丢了", phone="13700003333", name="李女士")
    other = await held(live_hub, "停水了", phone="13900002222")
    page = await open_inbox(agent_context, live_hub)
    await expect(page).to_have_title(re.compile(r"^\(2\) 座席工作台 · "))
    await page.click("#enable-notify")  # permission asked from the agent's click (granted in this context)
    await expect(page.locator("#enable-notify")).to_have_text("桌面提醒已开启")
    await page.locator(f'#mine li[data-id="{other.id}"]').click()  # viewing another conversation
    await expect(page).to_have_title(re.compile(r"^\(1\) 座席工作台"))

    await citizen(live_hub, "请尽快处理<b>井盖</b>", conversation_id=mine.id)
    item = page.locator(f'#mine li[data-id="{mine.id}"]')
    await expect(item.locator(".unread")).to_have_text("2")
    await expect(page).to_have_title(re.compile(r"^\(2\) 座席工作台"))
    await until(page, "window.__notifications.length === 1")
    notes = await page.evaluate("window.__notifications")
    assert notes == [{"title": "李女士 发来新消息", "body": "请尽快处理<b>井盖</b>"}]
    assert await page.evaluate("window.__beeps") == 1

    await citizen(live_hub, "在吗", conversation_id=other.id)  # the open conversation: read at once, no alert
    await expect(page.locator("#agent-transcript")).to_contain_text("在吗")
    await expect(page).to_have_title(re.compile(r"^\(2\) 座席工作台"))
    assert await page.evaluate("window.__notifications.length") == 1

    await item.click()  # viewing it marks it read
    await expect(item.locator(".unread")).to_have_count(0)
    await expect(page).to_have_title(re.compile(r"^座席工作台"))
    fresh = await queued(live_hub, "燃气泄漏了", channel="web_chat")
    await until(page, "window.__notifications.length === 2")
    assert (await page.evaluate("window.__notifications"))[1]["title"] == "新的待接入会话"
    assert await page.evaluate("window.__beeps") == 2
    await expect(page).to_have_title(re.compile(r"^\(1\) 座席工作台"))
    await page.uncheck("#sound-toggle")  # muted: notified, no beep
    await queued(live_hub, "路灯不亮", channel="sms")
    await until(page, "window.__notifications.length === 3")
    assert await page.evaluate("window.__beeps") == 2
    await expect(page.locator("#queue-count")).to_have_text("2")
    assert fresh.id
    assert page.errors == []  # type: ignore[attr-defined]


async def test_kb_suggestions_above_the_floor_are_inserted_not_sent(
    agent_context: BrowserContext, live_hub: RunningHub
) -> None:
    conversation = await held(live_hub, "燃气开户需要带什么材料", phone="13800001111")
    page = await open_inbox(agent_context, live_hub)
    await page.locator(f'#mine li[data-id="{conversation.id}"]').click()
    suggestion = page.locator("#kb-suggestions li.suggestion").first
    await expect(suggestion).to_contain_text("燃气")
    await expect(suggestion).to_contain_text(re.compile(r"匹配度 \d+%"))
    answer = suggestion.locator(".answer")
    await expect(answer).to_be_hidden()
    await suggestion.locator("summary").click()
    await expect(answer).to_be_visible()  # the answer is visible before it is used
    text = await answer.inner_text()
    await suggestion.locator("button.insert-answer").click()
    await expect(page.locator("#reply-input")).to_have_value(text)
    await expect(page.locator("#reply-input")).to_be_focused()
    messages = await live_hub.hub.service.store.messages(conversation.id)
    assert [m.sender_kind.value for m in messages if m.sender_kind.value == "agent"] == []  # inserted, not sent

    live_hub.hub.app[SETTINGS].kb_floor = 1.01  # above any confidence (an exact question scores 1.0)
    await page.evaluate("window.RexianInbox.refresh()")
    await expect(page.locator("#kb-suggestions")).to_have_text("暂无达到可信度的推荐")


async def test_label_correction_names_the_message_and_the_extension_hook(
    agent_context: BrowserContext, live_hub: RunningHub
) -> None:
    conversation = await held(live_hub, "路灯坏了", phone="13800001111")
    await citizen(live_hub, "另外小区里噪音很大", conversation_id=conversation.id)
    page = await open_inbox(agent_context, live_hub)
    await page.locator(f'#mine li[data-id="{conversation.id}"]').click()
    await until(page, f"window.__conversations.includes('{conversation.id}')")
    assert await page.evaluate("typeof window.RexianInbox.csrf === 'string' && window.RexianInbox.csrf.length > 0")
    assert await page.evaluate("window.RexianInbox.labels['channel.sms']") == "短信"
    await expect(page.locator("#detail .detail-head #channel-actions.channel-actions")).to_have_count(1)
    second = page.locator("#agent-transcript li.citizen").nth(1)
    message_id = int(await second.get_attribute("data-message-id") or 0)
    await second.locator("button.correct-label").click()
    await expect(page.locator("#label-type")).to_be_focused()
    await expect(page.locator("#label-message")).to_contain_text("另外小区里噪音很大")
    await page.select_option("#label-type", "complaint")
    await page.select_option("#label-industry", "construction_safety")
    async with page.expect_request(f"**/api/conversations/{conversation.id}/labels") as sent:
        await page.click("#label-save")
    request = await sent.value
    assert request.post_data_json == {
        "request_type": "complaint",
        "industry": "construction_safety",
        "message_id": message_id,
    }
    await until(page, f"window.__conversations.filter(id => id === '{conversation.id}').length >= 2")
    await expect(page.locator("#detail-title")).to_contain_text("建筑质量与安全")


async def test_english_on_request(agent_context: BrowserContext, live_hub: RunningHub) -> None:
    conversation = await queued(live_hub, "路灯坏了", channel="sms", phone="13800001111")
    page = await open_inbox(agent_context, live_hub)
    await page.goto(live_hub.url + "/agent?lang=en")
    await expect(page.locator("#view-unassigned")).to_contain_text("Unassigned")
    item = page.locator(f'#queue li[data-id="{conversation.id}"]')
    await expect(item).to_contain_text("SMS")
    await expect(item.locator(".waiting")).to_contain_text("waiting")
    await item.click()
    await expect(page.locator("#claim")).to_contain_text("Claim")
    await expect(page).to_have_title(re.compile(r"Agent desk"))
