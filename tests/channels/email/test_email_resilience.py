"""Nothing accepted is lost: seen only after stored, hub restarts, SMTP and IMAP outages, permanent SMTP refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.channels.email import mails
from tests.channels.email.helpers import email_settings, health, inbound, mail_hub, new_citizen, replies, unseen, until
from tests.fixtures.hub import RunningHub, ScriptedNlu
from tests.fixtures.mail import Mailbox, MailServer


async def test_a_mail_stays_unseen_until_it_is_stored_then_is_processed_once(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu, monkeypatch: Any
) -> None:
    citizen = new_citizen()
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
        store = hub.hub.service.store
        original = store.add_message
        failures: list[str] = []
        broken = True

        async def flaky(*args: Any, **kwargs: Any) -> Any:
            if broken and kwargs.get("direction") == "in":
                failures.append(kwargs["text"])
                raise OperationalError("INSERT INTO messages", {}, Exception("disk I/O error"))
            return await original(*args, **kwargs)

        monkeypatch.setattr(store, "add_message", flaky)
        await mail_server.send(mails.plain(citizen, mailbox.address, "你好"), citizen, mailbox.address)
        await until(lambda: len(failures) >= 2)  # fetched, failed, reconnected, fetched again
        assert len(await unseen(mail_server, mailbox)) == 1
        assert await inbound(hub, citizen) == []

        broken = False
        await until(lambda: _unseen_count(mail_server, mailbox, 0))
        await until(lambda: replies(mail_server, citizen))
        await hub.hub.service.drain()
        assert [m.text for m in await inbound(hub, citizen)] == ["你好"]
        assert scripted_nlu.calls == ["你好"]


async def _unseen_count(server: MailServer, box: Mailbox, n: int) -> bool:
    return len(await unseen(server, box)) == n


async def _pending(hub: RunningHub, n: int) -> bool:
    state = await health(hub)
    return int(state["smtp"]["pending"]) >= n and state["status"] == "degraded"


async def test_smtp_down_and_a_hub_restart_lose_nothing(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    first, second = mails.new_id("r"), mails.new_id("r")
    data_dir = tmp_path / "data"
    settings = email_settings(mail_server, mailbox)
    mail_server.stop_smtp()
    try:
        async with mail_hub(data_dir, scripted_nlu, settings) as hub:
            await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "你好", message_id=first), citizen)
            await until(lambda: _pending(hub, 1))  # stored, answered, the answer waits for SMTP
            state = await health(hub)
            assert state["smtp"]["last_error"] and state["smtp"]["sent"] == 0
            assert state["imap"]["connected"] is True
        # the hub is down: a second mail arrives meanwhile
        await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "谢谢", message_id=second), citizen)
    finally:
        mail_server.start_smtp()
    async with mail_hub(data_dir, scripted_nlu, settings) as hub:
        # the restarted hub reconnects to IMAP and SMTP first: a generous bound for a loaded 2-core machine
        await until(
            lambda: {m["In-Reply-To"] for m in replies(mail_server, citizen)} >= {f"<{first}>", f"<{second}>"},
            rounds=1600,
        )
        await until(lambda: _all_sent(hub), rounds=1600)
        assert [m.text for m in await inbound(hub, citizen)] == ["你好", "谢谢"]
        assert scripted_nlu.calls == ["你好", "谢谢"]  # each answered once, across both processes
        sent = [m["Message-ID"] for m in replies(mail_server, citizen)]
        assert len(sent) == len(set(sent))
        assert await unseen(mail_server, mailbox) == []


async def _all_sent(hub: RunningHub) -> bool:
    state = await health(hub)
    return state["status"] == "ok" and state["smtp"]["pending"] == 0


async def test_imap_down_at_start_is_retried_with_backoff_then_mail_is_read(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    citizen = new_citizen()
    mail_server.stop_imap()
    try:
        async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
            await until(lambda: _imap_retries(hub, 3))
            state = await health(hub)
            assert state["status"] == "degraded" and state["imap"]["connected"] is False
            assert "Connect" in state["imap"]["last_error"] or "refused" in state["imap"]["last_error"]
            mail_server.start_imap()
            await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "你好"), citizen)
            await until(lambda: replies(mail_server, citizen))
            assert [m.text for m in await inbound(hub, citizen)] == ["你好"]
            state = await health(hub)
            assert state["imap"]["connected"] is True and state["imap"]["last_error"] is None

            mail_server.stop_imap()  # and a server lost while idling
            await until(lambda: _imap_retries(hub, 1))
            mail_server.start_imap()
            await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "谢谢"), citizen)
            await until(lambda: len(replies(mail_server, citizen)) >= 2)
            assert [m.text for m in await inbound(hub, citizen)] == ["你好", "谢谢"]
    finally:
        mail_server.start_imap()


async def _imap_retries(hub: RunningHub, n: int) -> bool:
    return int((await health(hub))["imap"]["retries"]) >= n


@pytest.mark.parametrize(("reply", "failed"), [("550 5.1.1 no such user", True), ("451 4.3.0 try later", False)])
async def test_smtp_refusals(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu, reply: str, failed: bool
) -> None:
    citizen = new_citizen()
    mail_server.reject_with = reply
    try:
        async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as hub:
            await mail_server.deliver(mailbox, mails.plain(citizen, mailbox.address, "你好"), citizen)
            await until(lambda: _smtp_error(hub, reply.split()[0]))
            state = (await health(hub))["smtp"]
            if failed:  # a 5xx fails the message for good
                await until(lambda: _failed(hub))
                assert (await health(hub))["smtp"]["pending"] == 0
            else:  # a 4xx is retried until the server takes it
                assert state["pending"] >= 1 and state["failed"] == 0
                mail_server.reject_with = None
                await until(lambda: replies(mail_server, citizen))
                await until(lambda: _all_sent(hub))
    finally:
        mail_server.reject_with = None


async def _smtp_error(hub: RunningHub, code: str) -> bool:
    return code in str((await health(hub))["smtp"]["last_error"])


async def _failed(hub: RunningHub) -> bool:
    state = (await health(hub))["smtp"]
    return int(state["failed"]) >= 1 and int(state["pending"]) == 0
