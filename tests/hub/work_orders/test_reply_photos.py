"""A department's photos reach the citizen with the closure notice where the channel shows pictures (web chat here;
Telegram, e-mail and SMS in tests/channels), and no notice mentions a photo the citizen cannot see."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from hub.models import SenderKind
from hub.web.context import CTX
from hub.work_orders.reply_photos import sniff, without_photo_mentions
from tests.fixtures.browser import new_context
from tests.fixtures.hub import RunningHub
from tests.fixtures.reply_photos import PHOTO, close_with_photo, png


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png(), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4", None),
        (b"\x89PNG fake", None),
        (b"", None),
    ],
)
def test_images_are_known_by_their_content(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        ("已更换灯泡，恢复照明，现场照片见附件。", "已更换灯泡，恢复照明。"),
        ("已修复。详见图片", "已修复。"),
        ("已清理，见附图，请查收。谢谢", "已清理，请查收。谢谢"),
        ("照片已上传", ""),
        ("已更换灯泡。", "已更换灯泡。"),
        ("Fixed, see the photo.", "Fixed."),
    ],
)
def test_clauses_about_photos_are_left_out(result: str, shown: str) -> None:
    assert without_photo_mentions(result) == shown


async def test_the_web_chat_closure_notice_carries_the_photo_and_only_to_its_citizen(live_hub: RunningHub) -> None:
    ctx = live_hub.hub.app[CTX]
    chat = await ctx.conversations.create("web_chat")
    number = await close_with_photo(live_hub, chat)
    messages = await ctx.conversations.messages(chat.id)
    [notice] = [m for m in messages if m.sender_kind is SenderKind.SYSTEM and "已办结" in m.text]
    assert number in notice.text and "附办理现场照片1张" in notice.text and "现场照片见附件" in notice.text
    [photo] = notice.attachments  # the PDF is not sent to the citizen
    assert photo["kind"] == "photo" and photo["name"] == "修复后.png" and photo["content_type"] == "image/png"
    url = f"{live_hub.url}/chat/photos/{notice.id}/0"
    async with live_hub.session.get(url, params={"c": chat.id}) as resp:
        assert resp.status == 200 and await resp.read() == PHOTO
        assert resp.headers["Content-Type"] == "image/png" and resp.headers["X-Content-Type-Options"] == "nosniff"
    other = await ctx.conversations.create("web_chat")
    for params, index in (({"c": other.id}, 0), ({}, 0), ({"c": chat.id}, 1)):
        async with live_hub.session.get(f"{live_hub.url}/chat/photos/{notice.id}/{index}", params=params) as resp:
            assert resp.status == 404


async def test_a_rest_client_gets_no_photo_and_no_mention_of_one(live_hub: RunningHub) -> None:
    ctx = live_hub.hub.app[CTX]
    rest = await ctx.conversations.create("rest", external_ref="app-user-1")  # REST shows no pictures
    await close_with_photo(live_hub, rest)
    [notice] = [m for m in await ctx.conversations.messages(rest.id) if "已办结" in m.text]
    assert notice.attachments == []
    assert not re.search("照片|图片", notice.text) and "已更换灯泡，恢复照明。" in notice.text


@pytest.mark.browser
async def test_the_citizen_sees_the_departments_photo_in_the_chat(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as context:
        citizen = await context.new_page()
        await citizen.goto(live_hub.url + "/chat")
        bot = citizen.locator("#transcript li.bot .bubble")
        await expect(bot.first).to_contain_text("12319")
        conversation_id = await citizen.evaluate("JSON.parse(localStorage.getItem('rexian.chat.v1')).conversation_id")
        chat = await live_hub.hub.app[CTX].conversations.get(conversation_id)
        number = await close_with_photo(live_hub, chat)
        notice = citizen.locator("#transcript li.system").filter(has_text=number)
        image = notice.locator("img")
        await expect(image).to_have_attribute("alt", "修复后.png")
        await expect(notice).to_contain_text("附办理现场照片1张")
        loaded = "() => [...document.querySelectorAll('#transcript li.system img')].some(i => i.naturalWidth === 8)"
        await citizen.wait_for_function(loaded)  # the image was fetched and decoded
