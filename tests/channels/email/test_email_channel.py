"""The email channel end to end: a running hub reading a dovecot mailbox (IMAP IDLE), replying through aiosmtpd."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import aiohttp

from channels.email.config import MailLimits
from tests.channels.email import mails
from tests.channels.email.helpers import (
    agent_reply,
    body,
    conversation_of,
    email_settings,
    health,
    inbound,
    mail_hub,
    new_citizen,
    replies,
    unseen,
    until,
)
from tests.fixtures.hub import RunningHub, ScriptedNlu
from tests.fixtures.mail import Mailbox, MailServer


async def test_gb18030_mail_with_attachment_is_stored_shown_and_answered_in_thread(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    mid = mails.new_id("gb")
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.send(mails.gb18030_with_attachment(citizen, mailbox.address, mid), citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))

        [message] = await inbound(hub, citizen)
        assert message.text == mails.GB_BODY
        assert message.external_id == "mail:" + hashlib.sha256(f"<{mid}>".encode()).hexdigest()
        [attachment] = message.attachments
        assert attachment["name"] == mails.PHOTO_NAME
        assert attachment["size"] == len(mails.PHOTO)
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None and conversation.contact_id is not None
        contact = await hub.hub.service.store.get_contact(conversation.contact_id)
        assert contact is not None and (contact.email, contact.name) == (citizen, mails.GB_NAME)

        reply = replies(mail_server, citizen)[0]
        assert reply["In-Reply-To"] == f"<{mid}>"
        assert reply["References"] == f"<{mid}>"
        assert reply["Subject"] == f"Re: {mails.GB_SUBJECT}"
        assert reply["Auto-Submitted"] == "auto-replied"
        assert reply["From"].addresses[0].addr_spec == mailbox.address
        assert reply.get_body(("html",)) is not None

        url = f"{hub.url}/api/email/attachments/{message.id}/0"
        async with hub.session.get(url) as resp:
            assert resp.status == 401  # no login
        agent, _csrf = await hub.login("agent1", "agent123")
        try:
            async with agent.get(f"{hub.url}/api/conversations/{conversation.id}") as resp:
                detail = await resp.json()
            shown = detail["messages"][0]["attachments"][0]
            assert shown["name"] == mails.PHOTO_NAME
            assert detail["conversation"]["subject"] == mails.GB_SUBJECT  # the inbox shows the thread's subject
            async with agent.get(url) as resp:
                assert resp.status == 200
                assert await resp.read() == mails.PHOTO
                assert resp.headers["Content-Type"] == "application/octet-stream"
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert f"filename*=UTF-8''{quote(mails.PHOTO_NAME)}" in resp.headers["Content-Disposition"]
            for wrong in (f"{message.id}/1", f"{message.id + 1000}/0"):
                async with agent.get(f"{hub.url}/api/email/attachments/{wrong}") as resp:
                    assert resp.status == 404
        finally:
            await agent.close()
        await until(lambda: _no_unseen(mail_server, mailbox))


async def _no_unseen(server: MailServer, box: Mailbox) -> bool:
    return await unseen(server, box) == []


async def test_department_staff_cannot_download(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        raw = mails.gb18030_with_attachment(citizen, mailbox.address, mails.new_id("gb"))
        await mail_server.send(raw, citizen, mailbox.address)
        await until(lambda: _stored(hub, citizen, 1))
        [message] = await inbound(hub, citizen)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as dept:
            async with dept.post(
                f"{hub.url}/login", data={"username": "dept", "password": "dept123"}, allow_redirects=False
            ) as resp:
                assert resp.status == 302
            async with dept.get(f"{hub.url}/api/email/attachments/{message.id}/0") as resp:
                assert resp.status == 403


async def _stored(hub: RunningHub, citizen: str, n: int) -> bool:
    return len(await inbound(hub, citizen)) >= n


async def test_html_only_mail_reaches_the_bot_as_text(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.send(mails.html_only(citizen, mailbox.address, mails.new_id("h")), citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))
        [message] = await inbound(hub, citizen)
        assert message.text == "小区 停水了，\n什么时候恢复？"
        assert "小区 停水了，\n什么时候恢复？" in scripted_nlu.calls


async def test_citizen_mail_bot_reply_handoff_and_agent_reply_stay_in_one_thread(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    first = mails.new_id("e2e")
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        raw = mails.plain(citizen, mailbox.address, "你好", subject="咨询停水", message_id=first)
        await mail_server.send(raw, citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))
        bot_mail = replies(mail_server, citizen)[0]
        bot_id = bot_mail["Message-ID"].strip("<>")
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None

        second = mails.new_id("e2e")
        raw = mails.plain(
            citizen,
            mailbox.address,
            "转人工\n\n在 2026年11月26日，12319热线 写道：\n> " + body(bot_mail),
            subject="Re: 咨询停水",
            message_id=second,
            in_reply_to=bot_id,
            references=(first, bot_id),
        )
        await mail_server.send(raw, citizen, mailbox.address)
        await until(lambda: _status(hub, citizen, "queued"))
        again = await conversation_of(hub, citizen)
        assert again is not None and again.id == conversation.id  # the reply joined the same conversation
        assert [m.text for m in await inbound(hub, citizen)] == ["你好", "转人工"]

        await agent_reply(hub, conversation.id, "您好，我是座席张敏，停水预计今晚恢复。")
        await until(lambda: any("座席张敏" in body(m) for m in replies(mail_server, citizen)))
        agent_mail = next(m for m in replies(mail_server, citizen) if "座席张敏" in body(m))
        assert agent_mail["In-Reply-To"] == f"<{second}>"
        assert agent_mail["References"].split() == [f"<{first}>", f"<{bot_id}>", f"<{second}>"]
        assert agent_mail["Subject"] == "Re: 咨询停水"
        assert agent_mail["Auto-Submitted"] is None  # a person wrote it
        ids = [m["Message-ID"] for m in replies(mail_server, citizen)]
        assert len(ids) == len(set(ids))
        assert (await health(hub))["smtp"]["pending"] == 0


async def _status(hub: RunningHub, citizen: str, status: str) -> bool:
    conversation = await conversation_of(hub, citizen)
    return conversation is not None and conversation.status.value == status


async def test_bounce_fails_our_mail_and_auto_replies_are_never_answered(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    daemon = "MAILER-DAEMON@mx.citizen.test"
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.send(mails.plain(citizen, mailbox.address, "你好"), citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))
        ours = replies(mail_server, citizen)[0]["Message-ID"].strip("<>")
        await until(lambda: _sent(hub, 1))

        await mail_server.deliver(mailbox, mails.bounce(daemon, mailbox.address, ours, mails.new_id("dsn")), "")
        automatic = [
            ("Auto-Submitted: auto-replied",),
            ("X-Autoreply: yes",),
            ("Precedence: bulk",),
            ("List-Id: <news.citizen.test>",),
        ]
        for extra in automatic:
            await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "我正在休假", extra=extra))
        await mail_server.deliver(
            mailbox, mails.plain(citizen, mailbox.address, "我正在休假", subject="自动回复：休假")
        )
        sentinel = mails.new_id("sentinel")
        await mail_server.send(
            mails.plain(citizen, mailbox.address, "谢谢", message_id=sentinel), citizen, mailbox.address
        )
        await until(lambda: any(m["In-Reply-To"] == f"<{sentinel}>" for m in replies(mail_server, citizen)))
        await hub.hub.service.drain()

        assert scripted_nlu.calls.count("我正在休假") == 0  # the bot never saw them
        later = replies(mail_server, citizen)[1:]
        assert later and all(m["In-Reply-To"] == f"<{sentinel}>" for m in later)
        assert replies(mail_server, daemon) == []
        texts = [m.text for m in await inbound(hub, citizen)]
        assert texts[0] == "你好" and texts[-1] == "谢谢"
        assert sum(t.startswith("[自动回复：") for t in texts) == 5
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None
        stored = await hub.hub.service.store.messages(conversation.id)
        assert any(m.text.startswith("[退信：") for m in stored)  # the bounce joined the conversation it reports on
        state = await health(hub)
        assert state["smtp"]["failed"] == 1  # our bounced reply
        assert state["imap"]["ingested"]["bounce"] == 1
        assert state["imap"]["ingested"]["auto_reply"] == 5


async def _sent(hub: RunningHub, n: int) -> bool:
    return int((await health(hub))["smtp"]["sent"]) >= n


async def test_mime_bomb_and_oversized_mail_become_notes_and_the_reader_carries_on(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    settings = email_settings(mail_server, mailbox, limits=MailLimits(max_message_bytes=400_000))
    async with mail_hub(tmp_path / "data", scripted_nlu, settings) as hub:
        for bomb in (
            mails.mime_bomb(citizen, mailbox.address, mails.new_id("bomb"), parts=5000),
            mails.mime_bomb(citizen, mailbox.address, mails.new_id("bomb"), depth=60),
            mails.plain(citizen, mailbox.address, "大" * 200_000, subject="超大邮件"),
        ):
            await mail_server.deliver(mailbox, bomb, citizen)
        sentinel = mails.new_id("sentinel")
        await mail_server.send(
            mails.plain(citizen, mailbox.address, "你好", message_id=sentinel), citizen, mailbox.address
        )
        await until(lambda: any(m["In-Reply-To"] == f"<{sentinel}>" for m in replies(mail_server, citizen)))
        texts = [m.text for m in await inbound(hub, citizen)]
        assert texts[0] == "[邮件被拒收：more than 100 MIME parts] 主题：bomb"
        assert texts[1] == "[邮件被拒收：MIME nesting deeper than 8] 主题：bomb"
        assert texts[2].startswith("[邮件被拒收：mail of ") and texts[2].endswith("主题：超大邮件")
        assert texts[3] == "你好"
        assert scripted_nlu.calls == ["你好"]
        assert all(m["In-Reply-To"] == f"<{sentinel}>" for m in replies(mail_server, citizen))
        assert await unseen(mail_server, mailbox) == []
        assert (await health(hub))["imap"]["ingested"]["rejected"] == 3


async def test_the_same_mail_delivered_twice_is_stored_and_answered_once(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    raw = mails.plain(citizen, mailbox.address, "你好")
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.deliver(mailbox, raw, citizen)
        await mail_server.deliver(mailbox, raw, citizen)
        sentinel = mails.new_id("sentinel")
        await mail_server.send(
            mails.plain(citizen, mailbox.address, "谢谢", message_id=sentinel), citizen, mailbox.address
        )
        await until(lambda: any(m["In-Reply-To"] == f"<{sentinel}>" for m in replies(mail_server, citizen)))
        assert [m.text for m in await inbound(hub, citizen)] == ["你好", "谢谢"]
        assert scripted_nlu.calls == ["你好", "谢谢"]
        assert (await health(hub))["imap"]["ingested"]["duplicate"] == 1
