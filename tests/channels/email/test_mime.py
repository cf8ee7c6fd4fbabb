"""Parsing inbound mail (standard library only): charsets, HTML, quoted history, loops, limits, reply headers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.config import EmailSettings, MailLimits
from channels.email.loops import AUTO_REPLY, BOUNCE, NORMAL
from channels.email.mime import MailRejected, parse_mail, read_headers, safe_filename
from channels.email.sender import build_reply, reply_subject
from channels.email.store import Thread
from channels.email.text import codec_for, decode_bytes, html_to_text, trim_quoted
from hub.models import Conversation, ConversationStatus, Message, SenderKind
from tests.channels.email import mails

LIMITS = MailLimits()
HUB = "hotline@rexian.test"


def test_gb18030_mail_with_attachment() -> None:
    raw = mails.gb18030_with_attachment("wang@citizen.test", HUB, "gb-1@citizen.test")
    parsed = parse_mail(raw, LIMITS, own_address=HUB)
    assert parsed.envelope.sender == "wang@citizen.test"
    assert parsed.envelope.sender_name == mails.GB_NAME
    assert parsed.envelope.subject == mails.GB_SUBJECT  # labelled GB2312, holds a GBK-only character
    assert parsed.envelope.message_id == "gb-1@citizen.test"
    assert parsed.text == mails.GB_BODY  # the quoted history is trimmed
    assert parsed.classification.kind == NORMAL
    [attachment] = parsed.attachments
    assert (attachment.name, attachment.content_type, attachment.data) == (mails.PHOTO_NAME, "image/png", mails.PHOTO)
    assert attachment.sha256 == hashlib.sha256(mails.PHOTO).hexdigest()


def test_html_only_mail_becomes_text_without_scripts_styles_or_quotes() -> None:
    parsed = parse_mail(mails.html_only("li@citizen.test", HUB, "h-1@citizen.test"), LIMITS)
    assert parsed.text == "小区 停水了，\n什么时候恢复？"
    assert parsed.envelope.subject == "停水"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("utf-8", "utf-8"),
        (None, "utf-8"),
        ("unknown-charset-x", "utf-8"),
        ("big5", "big5"),
        ('"GB2312"', "gb18030"),
    ],
)
def test_charset_labels(label: str | None, expected: str) -> None:
    assert codec_for(label) == expected


def test_mislabelled_utf8_falls_back_to_gb18030_and_never_raises() -> None:
    assert decode_bytes("小区停水了".encode("gb18030"), "utf-8") == "小区停水了"
    assert "\ufffd" in decode_bytes(b"\x81\x20", "gb18030")  # an invalid lead byte: replaced, no error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("新问题\n\n在 2026年11月25日，热线 写道：\n> 旧内容", "新问题"),
        ("New issue\nOn Tue, Nov 25, 2026 at 10:00 Hotline <h@x.cn> wrote:\n> old", "New issue"),
        ("第一行\n> 引用\n第二行", "第一行\n第二行"),
        ("问题\n-----原始邮件-----\n发件人: 热线", "问题"),
        ("问题\n-----Original Message-----\nFrom: x", "问题"),
        ("问题\n-- \n王芳\n电话", "问题"),
        ("> 全是引用", "> 全是引用"),  # nothing new: keep the text rather than store nothing
    ],
)
def test_quoted_history_is_trimmed(text: str, expected: str) -> None:
    assert trim_quoted(text) == expected


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>井盖<b>丢了<div></p></i>&amp;<") == "井盖丢了\n&<"


@pytest.mark.parametrize(
    ("extra", "subject", "sender", "kind"),
    [
        ((), "咨询", "a@citizen.test", NORMAL),
        (("Auto-Submitted: no",), "咨询", "a@citizen.test", NORMAL),
        (("Auto-Submitted: auto-replied",), "咨询", "a@citizen.test", AUTO_REPLY),
        (("X-Autoreply: yes",), "咨询", "a@citizen.test", AUTO_REPLY),
        (("X-Autorespond: yes",), "咨询", "a@citizen.test", AUTO_REPLY),
        (("Precedence: bulk",), "咨询", "a@citizen.test", AUTO_REPLY),
        (("List-Id: <news.citizen.test>",), "咨询", "a@citizen.test", AUTO_REPLY),
        (("List-Unsubscribe: <mailto:u@citizen.test>",), "咨询", "a@citizen.test", AUTO_REPLY),
        ((), "自动回复：我正在休假", "a@citizen.test", AUTO_REPLY),
        ((), "Out of Office: back Monday", "a@citizen.test", AUTO_REPLY),
        ((), "Automatic reply: 咨询", "a@citizen.test", AUTO_REPLY),
        ((), "咨询", HUB, AUTO_REPLY),  # our own mail coming back
        ((), "咨询", "MAILER-DAEMON@mx.citizen.test", BOUNCE),
        ((), "咨询", "postmaster@mx.citizen.test", BOUNCE),
        (("Return-Path: <>",), "咨询", "a@citizen.test", BOUNCE),
        ((), "Undeliverable: 咨询", "a@citizen.test", BOUNCE),
        ((), "系统退信", "a@citizen.test", BOUNCE),
    ],
)
def test_loop_classification(extra: tuple[str, ...], subject: str, sender: str, kind: str) -> None:
    raw = mails.plain(sender, HUB, "内容", subject=subject, extra=extra)
    assert parse_mail(raw, LIMITS, own_address=HUB).classification.kind == kind


def test_bounce_report_names_our_message() -> None:
    raw = mails.bounce("MAILER-DAEMON@mx.citizen.test", HUB, "rexian.7.abc@rexian.test", "dsn-1@mx.citizen.test")
    parsed = parse_mail(raw, LIMITS, own_address=HUB)
    assert parsed.classification.kind == BOUNCE
    assert "rexian.7.abc@rexian.test" in parsed.bounced_ids
    assert parsed.attachments == ()  # the report's parts are not attachments


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"depth": 40}, "nesting deeper"), ({"parts": 5000}, "more than 100 MIME parts")],
    ids=["deep", "wide"],
)
def test_mime_bombs_are_rejected(kwargs: dict[str, int], reason: str) -> None:
    raw = mails.mime_bomb("a@citizen.test", HUB, "bomb@citizen.test", **kwargs)
    with pytest.raises(MailRejected, match=reason):
        parse_mail(raw, LIMITS)


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\xff\xfe garbage without headers", b"\r\n\r\nbody only"], ids=["empty", "binary", "no-headers"]
)
def test_not_a_mail_is_rejected(raw: bytes) -> None:
    with pytest.raises(MailRejected):
        parse_mail(raw, LIMITS)


def test_size_and_attachment_limits() -> None:
    raw = mails.gb18030_with_attachment("wang@citizen.test", HUB, "gb-2@citizen.test")
    with pytest.raises(MailRejected, match="over the 1000-byte limit"):
        parse_mail(raw, MailLimits(max_message_bytes=1000))
    small = parse_mail(raw, MailLimits(max_attachment_bytes=100))
    assert small.attachments == ()
    assert small.notes and "现场照片.png" in small.notes[0]
    none = parse_mail(raw, MailLimits(max_attachments=0))
    assert none.attachments == () and "超过 0 个" in none.notes[0]


def test_headers_of_an_oversized_mail_are_readable_alone() -> None:
    raw = mails.gb18030_with_attachment("wang@citizen.test", HUB, "gb-3@citizen.test")
    envelope = read_headers(raw.split(b"\r\n\r\n", 1)[0])
    assert (envelope.sender, envelope.subject, envelope.message_id) == (
        "wang@citizen.test",
        mails.GB_SUBJECT,
        "gb-3@citizen.test",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\报告.pdf", "报告.pdf"),
        ("..", "attachment-3"),
        (None, "attachment-3"),
        ("a b<script>.html", "a_b_script_.html"),
    ],
)
def test_safe_filenames(name: str | None, expected: str) -> None:
    assert safe_filename(name, 3) == expected


def _message(kind: SenderKind, text: str = "您好\n<b>请</b>提供地址") -> Message:
    return Message(
        7, "3f2a1b4c-0000-4000-8000-000000000000", "out", kind, None, text, datetime(2026, 11, 26, tzinfo=UTC)
    )


def test_reply_is_threaded_multipart_and_marks_bot_mail_auto() -> None:
    settings = EmailSettings(imap_host="h", imap_user="u", imap_password="p", smtp_host="h", mail_from=HUB)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    conv = Conversation(
        id="3f2a1b4c-0000-4000-8000-000000000000",
        channel="email",
        external_ref="wang@citizen.test",
        contact_id=None,
        status=ConversationStatus.BOT,
        assignee_id=None,
        locale="zh-CN",
        dialogue_state={},
        handoff_reason=None,
        request_type=None,
        industry=None,
        created_at=now,
        updated_at=now,
    )
    thread = Thread(conv.id, "wang@citizen.test", "路灯坏了", ("a@citizen.test", "b@citizen.test"), "b@citizen.test")
    mail = build_reply(settings, conv, _message(SenderKind.BOT), "wang@citizen.test", thread)
    assert mail["Subject"] == "Re: 路灯坏了"
    assert mail["In-Reply-To"] == "<b@citizen.test>"
    assert mail["References"] == "<a@citizen.test> <b@citizen.test>"
    assert mail["Message-ID"] == "<rexian.7.3f2a1b4c0000@rexian.test>"
    assert mail["Auto-Submitted"] == "auto-replied"
    plain_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert plain_part is not None and html_part is not None
    assert plain_part.get_content().strip() == "您好\n<b>请</b>提供地址"
    assert "&lt;b&gt;请&lt;/b&gt;" in html_part.get_content()
    agent = build_reply(settings, conv, _message(SenderKind.AGENT), "wang@citizen.test", thread)
    assert agent["Auto-Submitted"] is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("路灯坏了", "Re: 路灯坏了"),
        ("Re: 路灯坏了", "Re: 路灯坏了"),
        ("回复：路灯", "回复：路灯"),
        ("", "12319城建服务热线回复"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject, "zh-CN") == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"mail_from": "not-an-address"}, {"smtp_tls": "maybe"}, {"imap_host": ""}, {"imap_port": 0}],
)
def test_settings_are_validated(kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {
        "imap_host": "h",
        "imap_user": "u",
        "imap_password": "p",
        "smtp_host": "h",
        "mail_from": HUB,
    }
    values.update(kwargs)
    with pytest.raises(ValueError):
        EmailSettings(**values)  # type: ignore[arg-type]


_SEED = mails.gb18030_with_attachment("wang@citizen.test", HUB, "fuzz@citizen.test")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_parser(raw: bytes) -> None:
    try:
        parsed = parse_mail(raw, LIMITS, own_address=HUB)
    except MailRejected as exc:
        assert str(exc)  # a reason agents can read
    else:
        assert isinstance(parsed.text, str)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255)), max_size=20))
def test_corrupted_mails_never_crash_the_parser(edits: list[tuple[int, int]]) -> None:
    raw = bytearray(_SEED)
    for position, value in edits:
        raw[position] = value
    try:
        parsed = parse_mail(bytes(raw), LIMITS, own_address=HUB)
    except MailRejected:
        return
    assert isinstance(parsed.text, str)
