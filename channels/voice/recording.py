"""Call recording: one WAV per leg plus a mixed WAV, aligned on the event-loop clock.

Frames arrive with network jitter, so each leg's audio is appended contiguously and only a gap longer than
``max_jitter`` (a lost burst, hold, a leg that joined later) is filled with silence up to the frame's arrival time;
early frames are never dropped. Audio stays in memory (16 kB per second per leg at 8 kHz) until :meth:`close`,
which writes the files in a worker thread: every leg is padded to the call's length so all files line up, and the
mix is the clipped sum of the legs. Files are 8 kHz 16-bit mono PCM WAV.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 8000
_LEG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(call_id: str) -> str:
    """A file-name stem for an untrusted call id: ASCII letters, digits, ``-``/``_`` and a hash of the original."""
    slug = _UNSAFE.sub("_", call_id).strip("_-")[:48] or "call"
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}"


@dataclass(frozen=True)
class Recording:
    """The files written for one call.

    Attributes:
        call_id: the call id as given.
        legs: WAV path per leg name.
        mixed: WAV of all legs summed (``None`` when nothing was recorded).
        duration_s: length of every file.
        leg_audio_s: seconds of audio actually received per leg (the rest is silence).
    """

    call_id: str
    legs: Mapping[str, Path] = field(default_factory=dict)
    mixed: Path | None = None
    duration_s: float = 0.0
    leg_audio_s: Mapping[str, float] = field(default_factory=dict)


class CallRecorder:
    """Collects the PCM of each leg of a call and writes the WAV files when the call ends.

    Args:
        directory: where the files go (created if needed).
        call_id: the call's id (untrusted text: only used through :func:`safe_name`).
        max_jitter: arrival-time slack in seconds before a gap is treated as silence.
    """

    def __init__(self, directory: Path, call_id: str, *, max_jitter: float = 0.06) -> None:
        """See the class docstring."""
        self.directory = Path(directory)
        self.call_id = call_id
        self.max_jitter = max_jitter
        self._origin: float | None = None
        self._legs: dict[str, bytearray] = {}
        self._received: dict[str, int] = {}
        self._result: Recording | None = None
        self._closing = False

    def add(self, leg: str, pcm8k: bytes, at: float) -> None:
        """Record ``pcm8k`` (8 kHz 16-bit mono) of ``leg`` that arrived at loop time ``at`` (seconds).

        Raises:
            ValueError: a leg name other than lower-case ``[a-z][a-z0-9_-]*`` (at most 32 characters).
            RuntimeError: the recorder is closed.
        """
        if self._closing:
            raise RuntimeError("call recorder is closed")
        if not _LEG_RE.match(leg) or leg == "mixed":
            raise ValueError(f"invalid leg name {leg!r}")
        pcm = pcm8k[: len(pcm8k) - len(pcm8k) % 2]
        if not pcm:
            return
        if self._origin is None:
            self._origin = at
        buf = self._legs.setdefault(leg, bytearray())
        start = 2 * round((at - self._origin) * RATE)
        if start - len(buf) > 2 * round(self.max_jitter * RATE):
            buf += bytes(start - len(buf))
        buf += pcm
        self._received[leg] = self._received.get(leg, 0) + len(pcm)

    async def close(self) -> Recording:
        """Write one WAV per leg and the mix (in a worker thread) and return their paths; idempotent."""
        if self._result is not None:
            return self._result
        self._closing = True
        legs = {name: bytes(buf) for name, buf in self._legs.items()}
        self._legs.clear()
        self._result = await asyncio.get_running_loop().run_in_executor(None, self._write, legs)
        return self._result

    def _write(self, legs: dict[str, bytes]) -> Recording:
        received = {name: round(n / 2 / RATE, 3) for name, n in self._received.items()}
        if not legs:
            return Recording(self.call_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = safe_name(self.call_id)
        length = max(len(pcm) for pcm in legs.values()) // 2
        total = np.zeros(length, dtype=np.int32)
        paths: dict[str, Path] = {}
        for name, pcm in legs.items():
            samples = np.zeros(length, dtype="<i2")
            samples[: len(pcm) // 2] = np.frombuffer(pcm, dtype="<i2")
            total += samples
            paths[name] = self.directory / f"{stem}-{name}.wav"
            _write_wav(paths[name], samples.tobytes())
        mixed = self.directory / f"{stem}-mixed.wav"
        _write_wav(mixed, np.clip(total, -32768, 32767).astype("<i2").tobytes())
        return Recording(self.call_id, paths, mixed, round(length / RATE, 3), received)


def _write_wav(path: Path, pcm: bytes) -> None:
    """Write 8 kHz mono 16-bit WAV atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    os.replace(tmp, path)
