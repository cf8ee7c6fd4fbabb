"""In real headless Chromium: an agent sees a citizen's email (subject, attachment) in the inbox and downloads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.channels.email import mails
from tests.channels.email.helpers import conversation_of, email_settings, mail_hub, new_citizen, until
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu
from tests.fixtures.mail import Mailbox, MailServer

pytestmark = [pytest.mark.browser]


async def _queued(hub: RunningHub, citizen: str) -> bool:
    conversation = await conversation_of(hub, citizen)
    return conversation is not None and conversation.status.value == "queued"


async def test_agent_downloads_an_email_attachment_from_the_inbox(
    browser: Browser, mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        first = mails.new_id("gb")
        raw = mails.gb18030_with_attachment(citizen, mailbox.address, first)
        await mail_server.send(raw, citizen, mailbox.address)
        await mail_server.send(
            mails.plain(citizen, mailbox.address, "转人工", in_reply_to=first), citizen, mailbox.address
        )
        await until(lambda: _queued(hub, citizen))
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None

        async with new_context(browser, accept_downloads=True) as context:
            page = await context.new_page()
            await sign_in(page, hub.url, "agent1", "agent123")
            item = page.locator(f'#queue li[data-id="{conversation.id}"]')
            await expect(item.locator(".subject")).to_have_text(mails.GB_SUBJECT)
            await item.click()
            await expect(page.locator("#detail-subject")).to_have_text("主题：" + mails.GB_SUBJECT)
            await expect(page.locator("#agent-transcript")).to_contain_text("朝阳路12号的路灯坏了")
            link = page.locator("#agent-transcript a.attachment")
            await expect(link).to_have_count(1)
            await expect(link).to_contain_text(mails.PHOTO_NAME)
            async with page.expect_download() as info:
                await link.click()
            download = await info.value
            assert download.suggested_filename == mails.PHOTO_NAME
            saved = await download.path()
            assert saved.read_bytes() == mails.PHOTO
            await page.screenshot(path=str(tmp_path / "inbox-attachment.png"))
