"""The Telegram channel end to end: a running hub, its webhook, and a local fake Bot API server via base_url."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from channels.telegram import webhook_path
from hub.models import Conversation
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

SECRET = "s3cret-token_for-tests"
CHAT = 987654321


def tg_settings(api: FakeBotApi) -> dict[str, Any]:
    return {
        "telegram_token": TOKEN,
        "telegram_secret": SECRET,
        "telegram_base_url": api.base_url,
        "outbox_retry_base_s": 0.05,
        "outbox_retry_max_s": 0.3,
    }


@pytest.fixture
async def tg_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as running:
        yield running


def message_update(update_id: int, chat_id: int = CHAT, **fields: Any) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "王", "last_name": "芳"}
    message = {"message_id": update_id, "date": 1764000000, "chat": {"id": chat_id, "type": "private"}, "from": user}
    message.update(fields)
    return {"update_id": update_id, "message": message}


async def post(hub: RunningHub, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    url = f"{hub.url}/webhooks/telegram/{webhook_path(TOKEN)}"
    kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    async with hub.session.post(url, headers=headers, **kwargs) as resp:
        return resp.status


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


async def conversation_of(hub: RunningHub, chat_id: int = CHAT) -> Conversation:
    found = await hub.hub.service.store.find_open_by_ref("telegram", str(chat_id))
    assert found is not None
    return found


async def health(hub: RunningHub) -> dict[str, Any]:
    async with hub.session.get(f"{hub.url}/healthz") as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
    return dict(body["components"]["channels"]["telegram"])


async def test_text_gets_the_bot_reply_then_an_agent_reply(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    assert await post(tg_hub, message_update(1, text="你好")) == 200
    await until(lambda: len(bot_api.texts(CHAT)) >= 1)
    conversation = await conversation_of(tg_hub)
    assert conversation.channel == "telegram"

    assert await post(tg_hub, message_update(2, text="转人工")) == 200
    await until(lambda: _queued(tg_hub))
    agent, csrf = await tg_hub.login("agent1", "agent123")
    try:
        base = f"{tg_hub.url}/api/conversations/{conversation.id}"
        async with agent.post(f"{base}/claim", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
        async with agent.post(
            f"{base}/reply", json={"text": "您好，我是座席张敏"}, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status in (200, 201), await r.text()
    finally:
        await agent.close()
    await until(lambda: "您好，我是座席张敏" in bot_api.texts(CHAT))
    assert (await health(tg_hub))["pending"] == 0


def _queued(hub: RunningHub) -> Awaitable[bool]:
    async def check() -> bool:
        conversation = await conversation_of(hub)
        return conversation.status.value == "queued"

    return check()


@pytest.mark.parametrize(
    ("secret", "status"),
    [(None, 401), ("wrong", 401), ("", 401), (SECRET, 200)],
    ids=["missing", "wrong", "empty", "ok"],
)
async def test_secret_token_is_required(tg_hub: RunningHub, secret: str | None, status: int) -> None:
    assert await post(tg_hub, message_update(10, text="你好"), secret=secret) == status


async def test_wrong_path_is_not_found(tg_hub: RunningHub) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with tg_hub.session.post(f"{tg_hub.url}/webhooks/telegram/nope", json={}, headers=headers) as resp:
        assert resp.status == 404


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": {"text": "no chat"}}',
        b'{"update_id": 7, "message": "not an object"}',
    ],
    ids=["broken", "binary", "array", "no-update-id", "string-id", "no-chat", "message-string"],
)
async def test_invalid_updates_are_rejected_with_400(tg_hub: RunningHub, raw: bytes) -> None:
    assert await post(tg_hub, None, raw=raw) == 400
    assert await post(tg_hub, message_update(11, text="你好")) == 200  # still serving


async def test_duplicate_update_is_processed_once(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    update = message_update(20, text="你好")
    assert await post(tg_hub, update) == 200
    assert await post(tg_hub, update) == 200
    await until(lambda: len(bot_api.texts(CHAT)) >= 1)
    await tg_hub.hub.service.drain()
    conversation = await conversation_of(tg_hub)
    messages = await tg_hub.hub.service.store.messages(conversation.id)
    assert [m.external_id for m in messages if m.direction == "in"] == ["tg:20"]
    await until(lambda: bot_api.texts(CHAT) == [m.text for m in messages if m.direction == "out"])


async def test_contact_share_sets_the_phone(tg_hub: RunningHub) -> None:
    contact = {"phone_number": "+8613812345678", "first_name": "王", "user_id": CHAT}
    assert await post(tg_hub, message_update(30, contact=contact)) == 200
    conversation = await conversation_of(tg_hub)
    assert conversation.contact_id is not None
    stored = await tg_hub.hub.service.store.get_contact(conversation.contact_id)
    assert stored is not None and stored.phone == "13812345678"


async def test_someone_elses_contact_is_not_linked(tg_hub: RunningHub) -> None:
    contact = {"phone_number": "+8613900000000", "first_name": "李", "user_id": 42}
    assert await post(tg_hub, message_update(31, contact=contact)) == 200
    assert (await conversation_of(tg_hub)).contact_id is None


async def test_location_becomes_an_address_message(tg_hub: RunningHub) -> None:
    location = {"latitude": 31.2304, "longitude": 121.4737}
    assert await post(tg_hub, message_update(40, location=location)) == 200
    conversation = await conversation_of(tg_hub)
    messages = await tg_hub.hub.service.store.messages(conversation.id)
    assert messages[0].text == "位置：31.2304,121.4737"


async def test_photo_is_stored_as_attachment(tg_hub: RunningHub) -> None:
    photo = [
        {"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 60, "file_size": 1000},
        {"file_id": "large", "file_unique_id": "u2", "width": 1280, "height": 853, "file_size": 90000},
    ]
    assert await post(tg_hub, message_update(50, photo=photo, caption="井盖坏了")) == 200
    conversation = await conversation_of(tg_hub)
    message = (await tg_hub.hub.service.store.messages(conversation.id))[0]
    assert message.text == "井盖坏了"
    record = {k: v for k, v in message.attachments[0].items() if k not in ("download", "error")}
    assert record == {
        "kind": "photo",
        "source": "telegram",
        "file_id": "large",
        "file_unique_id": "u2",
        "width": 1280,
        "height": 853,
        "file_size": 90000,
    }
    assert len(message.attachments) == 1  # tests/channels/telegram/test_photos.py follows the download


async def test_bot_api_down_keeps_messages_pending_until_it_is_back(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    await bot_api.stop()  # connection refused
    assert await post(tg_hub, message_update(60, text="你好")) == 200

    async def shows_pending() -> bool:
        state = await health(tg_hub)
        return state["pending"] >= 1 and state["last_error"] is not None and state["status"] == "degraded"

    await until(shows_pending)
    await bot_api.start()  # same port
    await until(lambda: len(bot_api.texts(CHAT)) >= 1)

    async def drained() -> bool:
        state = await health(tg_hub)
        return state["pending"] == 0 and state["status"] == "ok"

    await until(drained)


async def test_pending_messages_are_delivered_after_a_hub_restart(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    bot_api.fail_with_500 = True
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as first:
        assert await post(first, message_update(70, text="你好")) == 200

        async def failed_once() -> bool:
            return (await health(first))["last_error"] is not None

        await until(failed_once)
        await first.hub.service.drain()
    assert bot_api.sent == []
    bot_api.fail_with_500 = False
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as second:
        await until(lambda: len(bot_api.texts(CHAT)) >= 1)

        async def drained() -> bool:
            return (await health(second))["pending"] == 0

        await until(drained)


async def test_healthz_shows_telegram_disabled_without_a_token(live_hub: RunningHub) -> None:
    assert await health(live_hub) == {"status": "ok", "enabled": False, "mode": "disabled"}
