"""Configuring the Telegram channel: flags, environment, refusal of a token without a secret; pure helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.telegram.inbound import normalise_tg_phone
from channels.telegram.sender import split_text
from rexian.cli import _settings, build_parser, main
from rexian.settings import Settings


def test_flags_configure_telegram() -> None:
    args = build_parser().parse_args(
        ["serve", "--telegram-token", "1:abc", "--telegram-secret", "s", "--telegram-base-url", "http://h/bot"]
    )
    settings = _settings(args)
    assert (settings.telegram_token, settings.telegram_secret, settings.telegram_base_url) == (
        "1:abc",
        "s",
        "http://h/bot",
    )


def test_environment_configures_telegram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REXIAN_TELEGRAM_TOKEN", "2:def")
    monkeypatch.setenv("REXIAN_TELEGRAM_SECRET", "t")
    monkeypatch.setenv("REXIAN_TELEGRAM_BASE_URL", "http://x/bot")
    settings = _settings(build_parser().parse_args(["serve"]))
    assert (settings.telegram_token, settings.telegram_secret, settings.telegram_base_url) == (
        "2:def",
        "t",
        "http://x/bot",
    )


def test_disabled_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REXIAN_TELEGRAM_TOKEN", raising=False)
    assert _settings(build_parser().parse_args(["serve"])).telegram_token is None


@pytest.mark.parametrize("secret", [None, "", "has space", "x" * 257])
def test_token_without_valid_secret_is_refused(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ValueError, match="telegram-secret"):
        Settings(data_dir=tmp_path, telegram_token="1:abc", telegram_secret=secret)


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("+8613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("13812345678", "13812345678"),
        ("+1 202 555 0100", None),
        ("abc", None),
    ],
)
def test_telegram_phones_are_normalised(raw: str, phone: str | None) -> None:
    assert normalise_tg_phone(raw) == phone


def test_long_texts_are_split_at_the_bot_api_limit() -> None:
    assert [len(p) for p in split_text("热" * 9000)] == [4096, 4096, 808]
    assert split_text("") == [""]


def test_serve_without_secret_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REXIAN_TELEGRAM_SECRET", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--telegram-token", "1:abc"])
    assert exited.value.code == 2
    assert "telegram-secret" in capsys.readouterr().err
