"""nlu.runtime without a real Rasa: training hash, model cache, interpreter lookup, server failures."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from nlu import runtime


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "rasa_project"
    shutil.copytree(runtime.PROJECT_DIR, dest, ignore=shutil.ignore_patterns("__pycache__", ".rasa"))
    return dest


def test_training_hash_is_stable_and_location_independent(project_copy: Path) -> None:
    assert runtime.training_hash() == runtime.training_hash()
    assert runtime.training_hash(project_copy) == runtime.training_hash(runtime.PROJECT_DIR)
    assert len(runtime.training_hash()) == 64


@pytest.mark.parametrize(
    "relative",
    [
        "config.yml",
        "data/nlu/dialogue.yml",
        "data/nlu/requests/gas.yml",
        "data/jieba/userdict.txt",
        "components/industry_classifier.py",
    ],
)
def test_training_hash_changes_with_inputs(project_copy: Path, relative: str) -> None:
    before = runtime.training_hash(project_copy)
    with (project_copy / relative).open("a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    assert runtime.training_hash(project_copy) != before


def test_training_hash_changes_when_a_data_file_is_added(project_copy: Path) -> None:
    before = runtime.training_hash(project_copy)
    (project_copy / "data" / "nlu" / "extra.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    assert runtime.training_hash(project_copy) != before


def test_ensure_model_returns_cached_model_without_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REXIAN_RASA_MODELS", str(tmp_path))
    cached = tmp_path / f"{runtime.training_hash()}.tar.gz"
    cached.write_bytes(b"not really a model")

    def no_venv() -> Path:
        raise AssertionError("must not build the venv when the model is cached")

    monkeypatch.setattr(runtime, "ensure_venv", no_venv)
    assert runtime.ensure_model() == cached


def test_venv_dir_from_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REXIAN_RASA_VENV", str(tmp_path / "v"))
    assert runtime.venv_dir() == tmp_path / "v"
    monkeypatch.delenv("REXIAN_RASA_VENV")
    assert runtime.venv_dir().name.startswith("rasa-venv-")
    assert len(runtime.venv_dir().name) == len("rasa-venv-") + 12


def test_missing_python_named_in_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REXIAN_RASA_PYTHON", str(tmp_path / "python3.10"))
    with pytest.raises(runtime.RasaSetupError, match="REXIAN_RASA_PYTHON"):
        runtime.find_python310()


def test_rasa_env_is_quiet_and_finds_components() -> None:
    env = runtime.rasa_env()
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert env["PYTHONPATH"].split(":")[0] == str(runtime.PROJECT_DIR)


def _fake_venv(tmp_path: Path, script: str) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    rasa = venv / "bin" / "rasa"
    rasa.write_text("#!/bin/sh\n" + script + "\n")
    rasa.chmod(rasa.stat().st_mode | stat.S_IXUSR)
    return venv


def test_server_that_exits_reports_log_tail(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path, "echo 'boom: cannot load model' >&2; exit 3")
    server = runtime.RasaServer(tmp_path / "m.tar.gz", log_path=tmp_path / "log", venv=venv)
    server.launch()
    with pytest.raises(runtime.RasaSetupError, match="boom: cannot load model"):
        server.wait_ready_sync()
    assert not server.running


async def test_server_that_never_gets_ready_is_killed(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path, "echo starting; exec sleep 60")
    server = runtime.RasaServer(tmp_path / "m.tar.gz", log_path=tmp_path / "log", venv=venv, startup_timeout=1)
    with pytest.raises(runtime.RasaSetupError, match="not ready after 1 s"):
        await server.start()
    assert not server.running


async def test_find_running_false_when_nothing_listens() -> None:
    assert not await runtime.find_running(f"http://127.0.0.1:{runtime.free_port()}")
