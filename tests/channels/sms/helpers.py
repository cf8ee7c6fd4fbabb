"""Helpers for hub-level SMS tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hub.events import MessageStored
from hub.models import Conversation, Message, SenderKind
from tests.fixtures.hub import RunningHub
from tests.fixtures.smsc import Smsc

CITIZEN = "13812345678"


def sms_settings(smsc: Smsc, **overrides: Any) -> dict[str, Any]:
    return {"sms": smsc.settings(**overrides), "outbox_retry_base_s": 0.05, "outbox_retry_max_s": 0.3}


async def until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], rounds: int = 300) -> None:
    """Poll (bounded, never timed) until ``check`` holds."""
    for _ in range(rounds):
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def health(hub: RunningHub) -> dict[str, Any]:
    async with hub.session.get(f"{hub.url}/healthz") as resp:
        body: dict[str, Any] = await resp.json()
    return dict(body["components"]["channels"]["sms"])


async def bound(hub: RunningHub) -> None:
    async def check() -> bool:
        return (await health(hub)).get("session") == "bound"

    await until(check)


async def conversation_of(hub: RunningHub, number: str = CITIZEN) -> Conversation:
    found = await hub.hub.service.store.find_open_by_ref("sms", number)
    assert found is not None
    return found


async def citizen_texts(hub: RunningHub, number: str = CITIZEN) -> list[str]:
    found = await hub.hub.service.store.find_open_by_ref("sms", number)
    if found is None:
        return []
    messages = await hub.hub.service.store.messages(found.id)
    return [m.text for m in messages if m.sender_kind is SenderKind.CITIZEN]


async def notify(hub: RunningHub, conversation: Conversation, text: str) -> Message:
    """Store an outbound system message (as a work-order notice would) and publish it to the outbox."""
    message, _ = await hub.hub.service.store.add_message(
        conversation.id, direction="out", sender_kind=SenderKind.SYSTEM, text=text
    )
    await hub.hub.service.bus.publish(MessageStored(conversation, message))
    return message
