"""Call recording: legs aligned on loop time, gaps as silence, mixed = clipped sum, safe file names."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from channels.voice.recording import _WRITER, CHUNK_BYTES, CallRecorder, safe_name


def hidden(folder: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in folder.glob(pattern))


def const(value: int, ms: int) -> bytes:
    return np.full(8 * ms, value, dtype="<i2").tobytes()


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int32)


async def test_two_legs_with_a_gap_are_aligned(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path, "call-1")
    t0 = 1000.0
    for i in range(50):  # caller: 1 s of frames, arriving with jitter
        rec.add("caller", const(1000, 20), t0 + i * 0.02 + (0.005 if i % 2 else 0.0))
    for i in range(25):  # agent joins 0.5 s in, talks 0.5 s, goes silent (hold) for 1 s, then 0.5 s more
        rec.add("agent", const(-3000, 20), t0 + 0.5 + i * 0.02)
    for i in range(25):
        rec.add("agent", const(-3000, 20), t0 + 2.0 + i * 0.02)
    result = await rec.close()

    assert result.duration_s == 2.5
    assert result.leg_audio_s == {"caller": 1.0, "agent": 1.0}
    caller, agent, mixed = read(result.legs["caller"]), read(result.legs["agent"]), read(result.mixed)  # type: ignore[arg-type]
    assert len(caller) == len(agent) == len(mixed) == 20000
    assert np.all(caller[:8000] == 1000) and np.all(caller[8000:] == 0)
    assert np.all(agent[:4000] == 0) and np.all(agent[4000:8000] == -3000)
    assert np.all(agent[8000:16000] == 0) and np.all(agent[16000:] == -3000)
    assert np.array_equal(mixed, caller + agent)


async def test_mix_clips_instead_of_wrapping(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path, "loud")
    rec.add("caller", const(30000, 20) + const(-30000, 20), 5.0)
    rec.add("agent", const(20000, 20) + const(-20000, 20), 5.0)
    result = await rec.close()
    mixed = read(result.mixed)  # type: ignore[arg-type]
    assert np.all(mixed[:160] == 32767) and np.all(mixed[160:] == -32768)


async def test_small_jitter_keeps_audio_contiguous(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path, "jitter")
    times = [0.0, 0.031, 0.035, 0.07, 0.09, 0.1]  # bunched and late arrivals within 60 ms
    for k, at in enumerate(times):
        rec.add("caller", const(k + 1, 20), at)
    result = await rec.close()
    caller = read(result.legs["caller"])
    assert len(caller) == 6 * 160
    assert [int(caller[i * 160]) for i in range(6)] == [1, 2, 3, 4, 5, 6]  # nothing dropped or overwritten


async def test_file_names_are_safe_and_distinct(tmp_path: Path) -> None:
    hostile = "../../etc/passwd\x00;rm -rf /"
    rec = CallRecorder(tmp_path / "rec", hostile)
    rec.add("caller", const(1, 20), 0.0)
    result = await rec.close()
    for path in [*result.legs.values(), result.mixed]:
        assert path is not None and path.parent == tmp_path / "rec" and path.exists()
        assert all(c.isalnum() or c in "-_." for c in path.name)
    assert safe_name("a/b") != safe_name("a_b")  # sanitised alike, told apart by the hash
    assert safe_name("").startswith("call-")
    assert len(safe_name("x" * 1000)) < 70


@pytest.mark.parametrize("leg", ["", "Caller", "../x", "mixed", "a" * 40, "呼叫"])
def test_bad_leg_names_are_rejected(tmp_path: Path, leg: str) -> None:
    with pytest.raises(ValueError, match="leg name"):
        CallRecorder(tmp_path, "c").add(leg, const(1, 20), 0.0)


async def test_empty_call_writes_nothing_and_close_is_idempotent(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path / "none", "c")
    rec.add("caller", b"", 0.0)
    result = await rec.close()
    assert result.legs == {} and result.mixed is None and result.duration_s == 0.0
    assert not (tmp_path / "none").exists()
    assert await rec.close() is result
    with pytest.raises(RuntimeError, match="closed"):
        rec.add("caller", const(1, 20), 1.0)


async def test_odd_byte_counts_are_trimmed(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path, "odd")
    rec.add("caller", const(7, 20) + b"\x01", 0.0)
    result = await rec.close()
    assert len(read(result.legs["caller"])) == 160


async def test_a_long_call_goes_to_disk_not_memory_and_comes_back_whole(tmp_path: Path) -> None:
    rec = CallRecorder(tmp_path, "long-call")
    seconds = 5 * 60  # two legs, five minutes, 20 ms frames, with a 2 s hold on the agent leg in the middle
    peak = 0
    for i in range(seconds * 50):
        at = i * 0.02
        rec.add("caller", const(i % 1000, 20), at)
        if not 7000 <= i < 7100:
            rec.add("agent", const(-(i % 500), 20), at)
        peak = max(peak, rec.memory_bytes())
    assert peak <= 2 * (CHUNK_BYTES + 320)  # bounded per leg, whatever the length of the call
    await asyncio.wrap_future(_WRITER.submit(lambda: None))  # the writer thread is FIFO: earlier chunks are written
    assert len(hidden(tmp_path, ".*.raw")) == 2  # the legs are on disk while the call goes on
    result = await rec.close()
    assert hidden(tmp_path, ".*") == []  # raw and temporary files are gone
    caller, agent, mixed = (read(result.legs["caller"]), read(result.legs["agent"]), read(result.mixed or Path()))
    assert len(caller) == len(agent) == len(mixed) == seconds * 8000
    expected_caller = np.repeat(np.arange(seconds * 50) % 1000, 160)
    assert np.array_equal(caller, expected_caller)
    assert not agent[7000 * 160 : 7100 * 160].any()  # the hold is silence, aligned
    assert agent[7100 * 160] == -(7100 % 500)
    assert np.array_equal(mixed, np.clip(caller + agent, -32768, 32767))
    assert result.leg_audio_s == {"caller": 300.0, "agent": 298.0}
