"""Telegram polling (development mode): getUpdates against the local Bot API server, store before acknowledging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.channels.telegram.test_telegram import CHAT, message_update
from tests.fixtures.hub import Rule, RunningHub, ScriptedNlu, running_hub


def polling_settings(api: FakeBotApi) -> dict[str, object]:
    return {
        "telegram_token": TOKEN,
        "telegram_polling": True,
        "telegram_base_url": api.base_url,
        "outbox_retry_base_s": 0.05,
        "outbox_retry_max_s": 0.3,
    }


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def citizen_texts(hub: RunningHub) -> list[str]:
    store = hub.hub.service.store
    conversation = await store.find_open_by_ref("telegram", str(CHAT))
    if conversation is None:
        return []
    return [m.text for m in await store.messages(conversation.id) if m.direction == "in"]


async def test_polling_stores_updates_and_the_bot_answers(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    scripted_nlu.rules.append(Rule("你好", "greet"))
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **polling_settings(bot_api)) as hub:
        bot_api.push(message_update(501, text="你好"))
        await until(lambda: bool(bot_api.texts(CHAT)))
        assert "deleteWebhook" in bot_api.calls  # getUpdates is refused while a webhook is set
        assert await citizen_texts(hub) == ["你好"]
        async with hub.session.get(hub.url + "/healthz") as r:
            telegram = (await r.json())["components"]["channels"]["telegram"]
        assert telegram["mode"] == "polling" and telegram["status"] == "ok" and telegram["stored"] == 1


async def test_a_redelivered_update_is_processed_once(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **polling_settings(bot_api)) as hub:
        bot_api.push(message_update(601, text="停水了"))
        await until(lambda: len(bot_api.texts(CHAT)) >= 1)
        replies = len(bot_api.texts(CHAT))
        bot_api.push(message_update(601, text="停水了"))  # Telegram sends it again
        bot_api.push(message_update(602, text="还是没水"))
        await until(lambda: len(bot_api.texts(CHAT)) > replies)
        assert await citizen_texts(hub) == ["停水了", "还是没水"]


async def test_an_update_that_could_not_be_stored_is_not_acknowledged(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **polling_settings(bot_api)) as hub:
        service = hub.hub.service
        real_receive = service.receive
        failures = [RuntimeError("database is locked")]

        async def flaky_receive(*args: Any, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return await real_receive(*args, **kwargs)

        service.receive = flaky_receive  # type: ignore[method-assign]
        bot_api.push(message_update(701, text="路灯不亮"))
        await until(lambda: bool(bot_api.texts(CHAT)))
        assert not failures and await citizen_texts(hub) == ["路灯不亮"]
        assert bot_api.updates == []  # acknowledged once stored


async def test_a_redelivery_after_a_restart_is_not_processed_twice(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    data = tmp_path / "data"
    async with running_hub(data, nlu=scripted_nlu, **polling_settings(bot_api)):
        bot_api.push(message_update(711, text="井盖没了"))
        await until(lambda: len(bot_api.texts(CHAT)) >= 1)
    replies = len(bot_api.texts(CHAT))
    bot_api.push(message_update(711, text="井盖没了"))  # the acknowledgement was lost: Telegram sends it again
    bot_api.push(message_update(712, text="在幸福路12号"))
    async with running_hub(data, nlu=scripted_nlu, **polling_settings(bot_api)) as hub:
        await until(lambda: len(bot_api.texts(CHAT)) > replies)
        assert await citizen_texts(hub) == ["井盖没了", "在幸福路12号"]


async def test_bot_api_down_is_retried_and_shown(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    settings = {**polling_settings(bot_api)}
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **settings) as hub:
        await until(lambda: "getUpdates" in bot_api.calls)
        await bot_api.stop()
        poller_health = None
        for _ in range(100):
            async with hub.session.get(hub.url + "/healthz") as r:
                poller_health = (await r.json())["components"]["channels"]["telegram"]
            if poller_health["status"] == "degraded":
                break
            await asyncio.sleep(0.1)
        assert poller_health is not None and poller_health["last_poll_error"]
        await bot_api.start()
        bot_api.push(message_update(801, text="燃气味很重"))
        await until(lambda: bool(bot_api.texts(CHAT)), timeout=30)
        assert await citizen_texts(hub) == ["燃气味很重"]
