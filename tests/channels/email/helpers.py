"""Helpers for the email channel tests: a hub reading a test mailbox, polling, IMAP flag checks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aioimaplib import IMAP4

from channels.email import EMAIL_CHANNEL, EmailChannel, EmailSettings
from hub.models import Conversation, Message
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.mail import Mailbox, MailServer

_citizens = itertools.count(1)


def new_citizen() -> str:
    """A citizen address no other test uses (the SMTP server's record is session-wide)."""
    return f"citizen{next(_citizens)}@citizen.test"


def email_settings(server: MailServer, box: Mailbox, **overrides: Any) -> EmailSettings:
    """Settings for a hub reading ``box`` with fast reconnects."""
    values = server.settings(box, reconnect_base_s=0.05, reconnect_max_s=0.5)
    values.update(overrides)
    return EmailSettings(**values)


@asynccontextmanager
async def mail_hub(data_dir: Path, nlu: ScriptedNlu, settings: EmailSettings) -> AsyncIterator[RunningHub]:
    """A demo hub with the email channel on, fast outbox retries."""
    async with running_hub(
        data_dir, nlu=nlu, email=settings, outbox_retry_base_s=0.05, outbox_retry_max_s=0.3
    ) as running:
        yield running


def channel(hub: RunningHub) -> EmailChannel:
    return hub.hub.app[EMAIL_CHANNEL]


async def until(check: Callable[[], Awaitable[bool]] | Callable[[], object], rounds: int = 400) -> None:
    """Poll (bounded, never timed) until ``check`` holds."""
    for _ in range(rounds):
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def conversation_of(hub: RunningHub, address: str) -> Conversation | None:
    return await hub.hub.service.store.find_open_by_ref("email", address)


async def inbound(hub: RunningHub, address: str) -> list[Message]:
    """The citizen's stored messages in their open email conversation."""
    conversation = await conversation_of(hub, address)
    if conversation is None:
        return []
    return [m for m in await hub.hub.service.store.messages(conversation.id) if m.direction == "in"]


def replies(server: MailServer, address: str) -> list[EmailMessage]:
    """Mails the hub sent to ``address`` (as the SMTP server received them)."""
    return [r.message for r in server.sent_to(address)]


def body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).strip()


async def health(hub: RunningHub) -> dict[str, Any]:
    async with hub.session.get(f"{hub.url}/healthz") as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
    return dict(data["components"]["channels"]["email"])


async def unseen(server: MailServer, box: Mailbox) -> list[int]:
    """UIDs of the mailbox's mails without ``\\Seen`` (read with a separate IMAP session)."""
    client = IMAP4("127.0.0.1", server.imap_port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(box.login, box.password)).result == "OK"
    assert (await client.select("INBOX")).result == "OK"
    response = await client.uid_search("UNSEEN", charset=None)
    await client.logout()
    return [int(t) for line in response.lines[:-1] if isinstance(line, bytes) for t in line.split() if t.isdigit()]


async def agent_reply(hub: RunningHub, conversation_id: str, text: str) -> None:
    """agent1 claims the conversation and replies through the inbox HTTP API."""
    agent, csrf = await hub.login("agent1", "agent123")
    try:
        base = f"{hub.url}/api/conversations/{conversation_id}"
        async with agent.post(f"{base}/claim", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
        async with agent.post(f"{base}/reply", json={"text": text}, headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status in (200, 201), await resp.text()
    finally:
        await agent.close()
