"""``rexian telegram webhook set|info|delete`` against the local Bot API server."""

from __future__ import annotations

import asyncio
import json

import pytest

from channels.telegram import webhook_path
from channels.telegram.cli import webhook_url
from rexian.cli import main
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi

SECRET = "s3cret-token_for-tests"


async def rexian(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_set_info_and_delete_the_webhook(bot_api: FakeBotApi, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--telegram-token", TOKEN, "--telegram-base-url", bot_api.base_url]
    await rexian(
        "telegram", "webhook", "set", *common, "--telegram-secret", SECRET, "--public-url", "https://hotline.example/"
    )
    expected = f"https://hotline.example/webhooks/telegram/{webhook_path(TOKEN)}"
    assert bot_api.webhook["url"] == expected
    assert bot_api.webhook["secret_token"] == SECRET
    assert json.loads(bot_api.webhook["allowed_updates"]) == ["message", "callback_query"]
    assert f"webhook set: {expected}" in capsys.readouterr().out

    await rexian("telegram", "webhook", "info", *common)
    assert f"url: {expected}" in capsys.readouterr().out

    await rexian("telegram", "webhook", "delete", *common)
    assert bot_api.webhook == {}
    await rexian("telegram", "webhook", "info", *common)
    assert "url: (none)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--telegram-secret", "bad secret!", "--public-url", "https://h.example"], "telegram-secret"),
        (["--telegram-secret", SECRET, "--public-url", "hotline.example"], "absolute https://"),
        (["--telegram-secret", SECRET, "--public-url", "https://h.example/?x=1"], "without query"),
    ],
    ids=["secret", "relative-url", "query"],
)
async def test_bad_arguments_are_refused_before_calling_telegram(
    bot_api: FakeBotApi, extra: list[str], message: str
) -> None:
    common = ["--telegram-token", TOKEN, "--telegram-base-url", bot_api.base_url]
    with pytest.raises(SystemExit, match=message):
        await rexian("telegram", "webhook", "set", *common, *extra)
    assert "setWebhook" not in bot_api.calls


async def test_a_refusal_of_the_bot_api_is_reported_without_the_token(bot_api: FakeBotApi) -> None:
    common = ["--telegram-token", TOKEN, "--telegram-base-url", bot_api.base_url]
    bot_api.token = "999:another-bot"  # the server no longer knows our token: 401
    with pytest.raises(SystemExit) as refused:
        await rexian("telegram", "webhook", "info", *common)
    assert "the Bot API refused" in str(refused.value) and TOKEN not in str(refused.value)


def test_telegram_needs_https_unless_a_local_bot_api_is_used() -> None:
    with pytest.raises(ValueError, match="https"):
        webhook_url("http://hotline.example", TOKEN)
    assert webhook_url("http://10.0.0.5:8080", TOKEN, allow_http=True).startswith("http://10.0.0.5:8080/webhooks/")


async def test_no_token_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="no bot token"):
        await rexian("telegram", "webhook", "info", "--telegram-token", "")
