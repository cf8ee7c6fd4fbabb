"""Quick replies by e-mail, end to end (dovecot mailbox over IMAP IDLE in, aiosmtpd out): a bot message's choices
are numbered lines in the mail's text and HTML bodies, and a reply whose first line is the number reaches the bot as
the number (the quoted original and a phone's signature are cut).

The bot message with choices is a real stored turn (``ConversationStore.commit_turn`` with ``choices``), published
as the conversation service publishes a bot turn's replies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from channels.email.sender import email_text
from channels.email.text import trim_quoted
from hub.events import MessageStored
from hub.models import Message, SenderKind
from tests.channels.email import mails
from tests.channels.email.helpers import (
    body,
    conversation_of,
    email_settings,
    inbound,
    mail_hub,
    new_citizen,
    replies,
    until,
)
from tests.fixtures.hub import ScriptedNlu
from tests.fixtures.mail import Mailbox, MailServer

CHOICES = [{"label": "确认登记", "value": "确认"}, {"label": "修改地址", "value": "修改地址"}]
READBACK = "请核对：路灯不亮，地址城东区幸福路12号。"
NUMBERED = "请回复以下数字之一（写在回信的第一行即可）：\n1. 确认登记\n2. 修改地址"


async def test_choices_are_numbered_lines_and_a_reply_of_1_reaches_the_bot(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    first = mails.new_id("qr")
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.send(
            mails.plain(citizen, mailbox.address, "你好", message_id=first), citizen, mailbox.address
        )
        await until(lambda: replies(mail_server, citizen))
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None
        store = hub.hub.service.store
        said, _ = await store.add_message(conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="地址")
        conversation, [readback] = await store.commit_turn(
            conversation.id, said.id, replies=[READBACK], nlu=None, updates={}, choices=CHOICES
        )
        await hub.hub.service.bus.publish(MessageStored(conversation, readback))
        await until(lambda: len(replies(mail_server, citizen)) == 2)
        mail = replies(mail_server, citizen)[1]
        assert body(mail).replace("\r\n", "\n") == f"{READBACK}\n\n{NUMBERED}"  # CRLF on the wire
        html_part = mail.get_body(("html",))
        assert html_part is not None and "1. 确认登记<br>" in str(html_part.get_content())

        bot_id = mail["Message-ID"].strip("<>")
        answer = "1\n\n发自我的iPhone\n\n在 2026年12月7日，12319城建服务热线 写道：\n> " + body(mail).replace(
            "\r\n", "\n> "
        )
        raw = mails.plain(
            citizen, mailbox.address, answer, subject="Re: 路灯", message_id=mails.new_id("qr"), in_reply_to=bot_id
        )
        await mail_server.send(raw, citizen, mailbox.address)

        async def picked() -> bool:
            return [m.text for m in await inbound(hub, citizen)][-1:] == ["1"]

        await until(picked)
        await hub.hub.service.drain()
        [stored] = [m for m in await inbound(hub, citizen) if m.text == "1"]
        assert stored.conversation_id == conversation.id and stored.processed_at is not None  # the bot's turn


def test_the_numbered_lines_follow_the_language_and_plain_messages_stay_as_they_are() -> None:
    message = Message(1, "c", "out", SenderKind.BOT, None, "Please check:", datetime.now(UTC), choices=CHOICES)
    assert email_text(message, "en") == (
        "Please check:\n\nReply with one of these numbers (on the first line of your reply):\n1. 确认登记\n2. 修改地址"
    )
    plain = Message(2, "c", "out", SenderKind.BOT, None, "您好", datetime.now(UTC))
    assert email_text(plain, "zh-CN") == "您好"


def test_a_phone_signature_under_the_number_is_cut_but_not_a_sentence() -> None:
    assert trim_quoted("2\n\nSent from my iPhone") == "2"
    assert trim_quoted("1\n发自我的华为手机") == "1"
    assert trim_quoted("发自我的手机") == "发自我的手机"  # nothing else: kept as written
    assert trim_quoted("1\n另外，楼道灯也坏了") == "1\n另外，楼道灯也坏了"


async def test_the_fallbacks_numbered_transfer_choice_answered_by_mail_queues_it(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        raw = mails.plain(citizen, mailbox.address, "啊啊啊啊", message_id=mails.new_id("qr"))  # not understood
        await mail_server.send(raw, citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))
        offer = replies(mail_server, citizen)[0]
        lines = body(offer).replace("\r\n", "\n").split("\n")
        numbered = {line.split(". ", 1)[1]: line.split(". ", 1)[0] for line in lines if line[:1].isdigit()}
        answer = f"{numbered['转人工']}\n\nSent from my iPhone"
        raw = mails.plain(
            citizen, mailbox.address, answer, message_id=mails.new_id("qr"), in_reply_to=offer["Message-ID"].strip("<>")
        )
        await mail_server.send(raw, citizen, mailbox.address)

        async def queued() -> bool:
            conversation = await conversation_of(hub, citizen)
            return conversation is not None and conversation.status.value == "queued"

        await until(queued)
        assert [m.text for m in await inbound(hub, citizen)] == ["啊啊啊啊", numbered["转人工"]]
