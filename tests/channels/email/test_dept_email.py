"""Departments and citizens over e-mail, through the real SMTP server and IMAP mailbox: a department's photo
reaches the citizen attached to the closure notice, and a unit set to e-mail alerts gets its alert."""

from __future__ import annotations

from pathlib import Path

from hub.web.context import CTX
from tests.channels.email import mails
from tests.channels.email.helpers import (
    body,
    conversation_of,
    email_settings,
    mail_hub,
    new_citizen,
    replies,
    until,
)
from tests.fixtures.hub import ScriptedNlu
from tests.fixtures.mail import Mailbox, MailServer
from tests.fixtures.reply_photos import PHOTO, close_with_photo

UNIT_ADDRESS = "qiangxian@gas.example.com"  # demo: 市燃气集团抢险抢修中心 is alerted by e-mail


async def test_the_closure_mail_carries_the_departments_photo(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        await mail_server.send(mails.plain(citizen, mailbox.address, "你好"), citizen, mailbox.address)
        await until(lambda: replies(mail_server, citizen))  # read by IMAP IDLE, answered by the bot
        conversation = await conversation_of(hub, citizen)
        assert conversation is not None
        number = await close_with_photo(hub, conversation)

        def closure() -> list[object]:
            return [m for m in replies(mail_server, citizen) if number in body(m) and "已办结" in body(m)]

        await until(closure)
        [mail] = [m for m in replies(mail_server, citizen) if number in body(m) and "已办结" in body(m)]
    assert "附办理现场照片1张" in body(mail)
    [attachment] = list(mail.iter_attachments())  # the PDF of the reply is not sent to the citizen
    assert attachment.get_content_type() == "image/png" and attachment.get_filename() == "修复后.png"
    assert attachment.get_content() == PHOTO


async def test_a_unit_set_to_email_gets_its_alert_in_full(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    before = len(replies(mail_server, UNIT_ADDRESS))
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        service = hub.hub.app[CTX].orders
        assert service is not None
        order = await service.register(
            request_type="repair", description="楼道里煤气味很重", industry="gas", category="gas.leak",
            district=None, address="城西区和平路8号2单元", phone="13912345678", urgent=True,
            conversation_id=None, contact_id=None, unit="gas_company.emergency",
        )  # fmt: skip
        await until(lambda: len(replies(mail_server, UNIT_ADDRESS)) > before)
        [alert] = replies(mail_server, UNIT_ADDRESS)[before:]
        history = await service.store.history(order.id)
    assert alert["Subject"] == f"【12319】紧急工单 {order.number}" and alert["Auto-Submitted"] == "auto-generated"
    text = body(alert)
    for part in (order.number, "求助", "燃气泄漏", "城西区和平路8号2单元", "13912345678", "煤气味", "15分钟"):
        assert part in text
    assert [h["data"]["via"] for h in history if h["action"] == "alert"] == ["email"]
