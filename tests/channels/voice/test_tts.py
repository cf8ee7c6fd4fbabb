"""Prompt synthesis with the real espeak-ng 1.52 engine (fast), the disk/memory cache, the worker thread, fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from channels.voice import media
from channels.voice.tts import PromptSynthesizer, TtsUnavailable

GREETING = "您好，欢迎致电城建服务热线。"
MENU = ["供水问题请按1", "燃气问题请按2", "人工服务请按0", "查询工单进度请按9"]


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.pcmu"))


def pcm_of(frames: list[bytes], codec: str = "PCMU") -> bytes:
    return b"".join(media.decode(f, codec) for f in frames)


@pytest.fixture
async def synth(tmp_path: Path) -> AsyncIterator[PromptSynthesizer]:
    s = PromptSynthesizer(tmp_path / "cache", engine="espeak")
    yield s
    await s.close()


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
async def test_chinese_prompt_is_valid_g711_speech(synth: PromptSynthesizer, codec: str) -> None:
    frames = await synth.frames(GREETING, codec)
    assert frames and all(len(f) == 160 for f in frames)
    pcm = pcm_of(frames, codec)
    seconds = len(frames) * 0.02
    assert 1.5 < seconds < 8.0  # 14 characters of Mandarin at 160 wpm
    assert -24 < media.level_dbfs(pcm) < -16  # normalised to about -20 dBFS
    levels = [media.level_dbfs(pcm[i : i + 3200]) for i in range(0, len(pcm) - 3200, 3200)]
    assert sum(level > -40 for level in levels) > len(levels) / 2  # sound through most of it, not one blip
    x = np.frombuffer(pcm, dtype="<i2")
    assert np.max(np.abs(x)) < 32000  # peak-limited, no clipping


async def test_longer_text_takes_longer(synth: PromptSynthesizer) -> None:
    short = await synth.frames("您好")
    long = await synth.frames("您好，您的工单已经受理，我们会在三个工作日内联系您。")
    assert len(long) > 3 * len(short)


async def test_second_request_hits_memory_then_disk_without_the_engine(tmp_path: Path) -> None:
    first = PromptSynthesizer(tmp_path, engine="espeak")
    frames = await first.frames(GREETING)
    assert first.syntheses == 1
    assert await first.frames(GREETING) == frames
    assert first.syntheses == 1 and first.memory_hits == 1
    await first.close()
    assert len(cache_files(tmp_path)) == 1

    second = PromptSynthesizer(tmp_path, engine="espeak")
    assert await second.frames(GREETING) == frames
    assert second.disk_hits == 1 and second.syntheses == 0
    # Another codec, voice or speed is another cache entry.
    await second.frames(GREETING, "PCMA")
    assert second.syntheses == 1
    assert second.status()["disk_entries"] == 2
    await second.close()


async def test_concurrent_requests_share_syntheses_in_one_thread(synth: PromptSynthesizer) -> None:
    texts = [MENU[i % 3] for i in range(24)]
    results = await asyncio.gather(*(synth.frames(t) for t in texts))
    assert synth.syntheses == 3
    assert len(synth.synthesis_threads) == 1
    by_text: dict[str, list[bytes]] = {}
    for text, frames in zip(texts, results, strict=True):
        assert by_text.setdefault(text, frames) == frames
    assert len({tuple(f) for f in by_text.values()}) == 3


async def test_warm_renders_everything_up_front(synth: PromptSynthesizer) -> None:
    await synth.warm(MENU)
    assert synth.syntheses == 4
    for text in MENU:
        await synth.frames(text)
    assert synth.syntheses == 4 and synth.memory_hits == 4
    status = synth.status()
    assert status["state"] == "ok" and status["memory_entries"] == 4 and status["last_error"] is None


async def test_a_caller_hanging_up_does_not_cancel_a_shared_synthesis(synth: PromptSynthesizer) -> None:
    waiting = asyncio.ensure_future(synth.frames(MENU[3]))
    other = asyncio.ensure_future(synth.frames(MENU[3]))
    await asyncio.sleep(0)
    waiting.cancel()
    frames = await other
    assert frames and synth.syntheses == 1
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_corrupt_cache_file_is_resynthesised(tmp_path: Path) -> None:
    s = PromptSynthesizer(tmp_path, engine="espeak")
    good = await s.frames("请稍候")
    await s.close()
    (entry,) = cache_files(tmp_path)
    entry.write_bytes(b"\xff" * 100)  # not a whole number of frames
    again = PromptSynthesizer(tmp_path, engine="espeak")
    frames = await again.frames("请稍候")
    assert again.syntheses == 1
    assert abs(len(frames) - len(good)) <= 2 and media.level_dbfs(pcm_of(frames)) > -24
    assert entry.stat().st_size == 160 * len(frames)  # the cache file was rewritten
    await again.close()


async def test_missing_voice_is_a_clear_error_and_degrades_status(tmp_path: Path) -> None:
    s = PromptSynthesizer(tmp_path, engine="espeak", voice="xx-no-such-voice")
    with pytest.raises(TtsUnavailable, match="xx-no-such-voice"):
        await s.frames(GREETING)
    status = s.status()
    assert status["state"] == "degraded" and status["ok"] is False
    assert "not installed" in str(status["last_error"])
    await s.close()


@pytest.mark.parametrize(
    ("text", "codec", "match"),
    [("", "PCMU", "empty"), ("  ", "PCMU", "empty"), ("好" * 2001, "PCMU", "longer"), ("好", "G722", "codec")],
)
async def test_bad_requests_are_rejected(synth: PromptSynthesizer, text: str, codec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        await synth.frames(text, codec)
    assert synth.syntheses == 0


async def test_closed_synthesizer_refuses_work(tmp_path: Path) -> None:
    s = PromptSynthesizer(tmp_path, engine="espeak")
    await s.close()
    with pytest.raises(RuntimeError, match="closed"):
        await s.frames(GREETING)


async def test_engine_does_not_write_to_stdout(synth: PromptSynthesizer, capfd: pytest.CaptureFixture[str]) -> None:
    await synth.frames("谢谢您的来电，再见。")
    assert synth.syntheses == 1
    assert capfd.readouterr().out == ""


def test_speed_and_engine_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        PromptSynthesizer(tmp_path, speed=5)
    with pytest.raises(ValueError, match="unknown TTS engine"):
        PromptSynthesizer(tmp_path, engine="festival")


async def test_another_voice_or_speed_is_another_cache_entry(tmp_path: Path) -> None:
    slow = PromptSynthesizer(tmp_path, engine="espeak", speed=0.8)
    fast = PromptSynthesizer(tmp_path, engine="espeak", speed=1.3)
    assert len(await slow.frames(GREETING)) > len(await fast.frames(GREETING))
    assert slow.syntheses == fast.syntheses == 1 and len(cache_files(tmp_path)) == 2
    await slow.close()
    await fast.close()


async def test_only_the_wheels_espeak_ng_is_loaded_never_debians(synth: PromptSynthesizer) -> None:
    await synth.frames(GREETING)
    engine = synth.engine
    assert engine is not None
    assert engine.describe()["version"] >= "1.52"
    maps = await asyncio.to_thread(Path("/proc/self/maps").read_text)
    loaded = {line.split()[-1] for line in maps.splitlines() if "libespeak-ng" in line}
    assert loaded and all("espeakng_loader" in path for path in loaded), loaded


class _Broken:
    name = "broken"
    sample_rate = 16000
    identity = "broken"

    def load(self) -> None:
        raise TtsUnavailable("broken engine: model missing")

    def synthesise(self, text: str) -> np.ndarray:
        raise AssertionError("never loaded")

    def describe(self) -> dict[str, object]:
        return {"engine": self.name}

    def close(self) -> None:
        pass


async def test_an_engine_that_cannot_load_falls_back_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from channels.voice.tts_engine import make_engine

    s = PromptSynthesizer(tmp_path, engines=[_Broken, lambda: make_engine("espeak")])
    frames = await s.frames(GREETING)
    assert frames and s.engine is not None and s.engine.name == "espeak"
    assert s.status()["engine"] == s.engine.describe()
    assert any("falls back to espeak" in r.getMessage() and "model missing" in r.getMessage() for r in caplog.records)
    await s.close()
    alone = PromptSynthesizer(tmp_path, engines=[_Broken])
    with pytest.raises(TtsUnavailable, match="no text-to-speech engine could be loaded: broken engine"):
        await alone.frames(GREETING)
    assert alone.status()["state"] == "degraded"
    await alone.close()
