"""Email threading storage on both backends (SQLite and a real PostgreSQL 15), and the channel's config surface."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.email import cli as email_cli
from channels.email.store import MAX_REFERENCES, EmailStore, key_of
from hub.models import SenderKind
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.outbox import OutboxStore
from rexian.schema import migrate
from tests.fixtures.hub import RunningHub
from tests.fixtures.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    await migrate(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


async def test_threads_dedupe_and_bounces(engine: AsyncEngine) -> None:
    conversations = ConversationStore(engine)
    emails = EmailStore(engine)
    conversation = await conversations.create("email", external_ref="wang@citizen.test")
    contact = await conversations.ensure_contact_by_email("Wang@Citizen.test", "王芳")
    assert (await conversations.ensure_contact_by_email("wang@citizen.test")).id == contact.id
    assert contact.email == "wang@citizen.test"

    first, _ = await conversations.add_message(
        conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="你好", external_id="mail:1"
    )
    assert await emails.thread(conversation.id) is None
    await emails.record_inbound(
        message_key=key_of("a@citizen.test"),
        message_id="a@citizen.test",
        conversation_id=conversation.id,
        hub_message_id=first.id,
        address="wang@citizen.test",
        subject="路灯坏了",
        thread_ids=(),
        answerable=True,
    )
    assert await emails.stored_inbound(key_of("a@citizen.test"))
    assert not await emails.stored_inbound(key_of("b@citizen.test"))

    reply, _ = await conversations.add_message(
        conversation.id, direction="out", sender_kind=SenderKind.BOT, text="请提供地址"
    )
    await emails.record_outbound("rexian.1.x@rexian.test", conversation.id, reply.id)
    await emails.record_outbound("rexian.1.x@rexian.test", conversation.id, reply.id)  # a retry: no error
    assert await emails.conversation_of(("unknown@x", "rexian.1.x@rexian.test")) == conversation.id
    assert await emails.conversation_of(("unknown@x",)) is None

    # a long thread keeps its root and the newest ids; the newest mail is what the next reply answers
    ids = tuple(f"m{i}@citizen.test" for i in range(40))
    await emails.record_inbound(
        message_key=key_of("b@citizen.test"),
        message_id="b@citizen.test",
        conversation_id=conversation.id,
        hub_message_id=first.id,
        address="wang@citizen.test",
        subject="Re: 路灯坏了",
        thread_ids=tuple(reversed(ids)),
        answerable=True,
    )
    thread = await emails.thread(conversation.id)
    assert thread is not None
    assert thread.subject == "路灯坏了"
    assert thread.last_message_id == "b@citizen.test"
    assert len(thread.references) == MAX_REFERENCES
    assert thread.references[0] == "a@citizen.test" and thread.references[-1] == "b@citizen.test"

    outbox = OutboxStore(engine)
    assert await outbox.enqueue(reply.id, conversation.id, "email")
    assert await emails.fail_bounced(("rexian.1.x@rexian.test", "a@citizen.test"), "bounced: 5.1.1") == [reply.id]
    assert (await outbox.counts("email")) == {"failed": 1}

    assert await conversations.attachment(first.id, 0, "email") is None  # no attachments
    async with engine.connect() as conn:
        assert (await conn.scalar(sa.text("SELECT count(*) FROM email_messages"))) == 3


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    email_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REXIAN_IMAP_HOST", "REXIAN_SMTP_USER", "REXIAN_IMAP_SSL", "REXIAN_SMTP_TLS", "REXIAN_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert email_cli.settings_from(_args()) is None
    flags = ["--imap-host", "imap.example.cn", "--imap-user", "hotline", "--imap-password", "pw"]
    settings = email_cli.settings_from(_args(*flags, "--mail-from", "12319@example.cn"))
    assert settings is not None
    assert (settings.imap_port, settings.use_imap_ssl, settings.smtp_host, settings.smtp_port) == (
        993,
        True,
        "imap.example.cn",
        587,
    )
    assert (settings.smtp_user, settings.smtp_password, settings.domain) == ("hotline", "pw", "example.cn")
    monkeypatch.setenv("REXIAN_SMTP_USER", "")
    no_auth = email_cli.settings_from(_args("--imap-host", "h", "--imap-user", "u", "--mail-from", "a@b.cn"))
    assert no_auth is not None and no_auth.smtp_user is None
    with pytest.raises(ValueError, match="mail-from"):
        email_cli.settings_from(_args("--imap-host", "h", "--imap-user", "u"))


async def test_health_says_disabled_without_settings(live_hub: RunningHub) -> None:
    async with live_hub.session.get(f"{live_hub.url}/healthz") as resp:
        body = await resp.json()
    assert body["components"]["channels"]["email"] == {"status": "ok", "enabled": False, "mode": "disabled"}
