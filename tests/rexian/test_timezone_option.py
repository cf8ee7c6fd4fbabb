"""``rexian serve --timezone`` / ``REXIAN_TIMEZONE``: an unknown zone is refused before anything starts, a known one
reaches ``Settings.city`` (docs/adr/0024-time-zones.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.localtime import DEFAULT_TIMEZONE, UnknownTimezone
from rexian.cli import build_parser
from rexian.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    """Our environment without REXIAN_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REXIAN_")}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Path, int]:
    data_dir, port = tmp_path / "data", _free_port()
    command = [sys.executable, "-m", "rexian.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.run(
        [*command, "--no-rasa", "--sip-port", "0", *args],
        cwd=REPO,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc, data_dir, port


@pytest.mark.parametrize("zone", ["Nowhere/Else", "", "Asia/Shanghai "])
def test_serve_with_an_unknown_zone_exits_2_before_starting_anything(tmp_path: Path, zone: str) -> None:
    proc, data_dir, port = _serve(tmp_path, "--timezone", zone)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("usage: rexian serve")
    assert lines[-1] == (
        f"rexian serve: error: argument --timezone: unknown time zone {zone!r} "
        "(expected an IANA name such as Asia/Shanghai)"
    )
    assert proc.stdout == ""
    assert not data_dir.exists()  # no store was created or migrated
    assert _port_is_free(port)
    assert "Traceback" not in proc.stderr and "serving on" not in proc.stderr


def test_an_unknown_zone_in_the_environment_is_refused_the_same_way(tmp_path: Path) -> None:
    proc, data_dir, _port = _serve(tmp_path, env=_env(REXIAN_TIMEZONE="Mars/Olympus_Mons"))
    assert proc.returncode == 2, proc.stderr
    assert "argument --timezone: unknown time zone 'Mars/Olympus_Mons'" in proc.stderr
    assert not data_dir.exists()


def test_help_names_the_option_its_default_and_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--timezone ZONE" in text
    assert f"default {DEFAULT_TIMEZONE}; env REXIAN_TIMEZONE" in text


def test_the_option_and_the_variable_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REXIAN_TIMEZONE", raising=False)
    assert build_parser().parse_args(["serve"]).timezone == DEFAULT_TIMEZONE
    assert build_parser().parse_args(["serve", "--timezone", "Europe/Berlin"]).timezone == "Europe/Berlin"
    monkeypatch.setenv("REXIAN_TIMEZONE", "America/New_York")
    args = build_parser().parse_args(["serve"])
    assert args.timezone == "America/New_York"
    assert build_parser().parse_args(["serve", "--timezone", "Europe/Berlin"]).timezone == "Europe/Berlin"
    settings = Settings(data_dir=Path("/nonexistent"), timezone=args.timezone)
    assert settings.city.name == "America/New_York"


def test_settings_default_to_shanghai(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.timezone == DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert settings.city.name == "Asia/Shanghai"


@pytest.mark.parametrize("zone", ["Nowhere/Else", "", "Asia/Shanghai "])
def test_settings_refuse_an_unknown_zone(tmp_path: Path, zone: str) -> None:
    with pytest.raises(UnknownTimezone, match="unknown time zone"):
        Settings(data_dir=tmp_path, timezone=zone)
    assert not (tmp_path / "rexian.db").exists()
