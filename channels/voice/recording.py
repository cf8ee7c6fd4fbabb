"""Call recording: one WAV per leg plus a mixed WAV, aligned on the event-loop clock.

Frames arrive with network jitter, so each leg's audio is appended contiguously and only a gap longer than
``max_jitter`` (a lost burst, hold, a leg that joined later) is filled with silence up to the frame's arrival time;
early frames are never dropped. A leg's audio (16 kB per second at 8 kHz) is kept in memory only up to
:data:`CHUNK_BYTES`, then appended to a hidden raw file next to the recordings by one writer thread shared by every
call, so a long call costs disk, not memory. :meth:`close` flushes the rest and assembles the files in a worker
thread, chunk by chunk: every leg is padded to the call's length so all files line up, and the mix is the clipped
sum of the legs. Files are 8 kHz 16-bit mono PCM WAV.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import wave
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 8000
CHUNK_BYTES = 64 * 1024  # ~4 s of one leg in memory before it goes to the leg's raw file
ASSEMBLE_SAMPLES = 256 * 1024  # samples per step when the WAV files are assembled (~32 s)

#: One thread appends every call's audio to disk, in submission order (so each leg's chunks stay in order).
_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-writer")
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
        self._stem = safe_name(call_id)
        self._origin: float | None = None
        self._pending: dict[str, bytearray] = {}  # per leg: audio not yet handed to the writer thread
        self._length: dict[str, int] = {}  # per leg: bytes recorded so far (on disk + pending)
        self._received: dict[str, int] = {}
        self._writes: list[Future[None]] = []
        self._result: Recording | None = None
        self._closing = False

    def _raw_path(self, leg: str) -> Path:
        return self.directory / f".{self._stem}-{leg}.raw"

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
        buf = self._pending.setdefault(leg, bytearray())
        length = self._length.get(leg, 0)
        start = 2 * round((at - self._origin) * RATE)
        if start - length > 2 * round(self.max_jitter * RATE):
            buf += bytes(start - length)
            length = start
        buf += pcm
        self._length[leg] = length + len(pcm)
        self._received[leg] = self._received.get(leg, 0) + len(pcm)
        if len(buf) >= CHUNK_BYTES:
            self._spill(leg)

    def _spill(self, leg: str) -> None:
        """Hand the pending audio of ``leg`` to the writer thread."""
        data = bytes(self._pending[leg])
        self._pending[leg].clear()
        self._writes.append(_WRITER.submit(_append, self.directory, self._raw_path(leg), data))
        # keep unfinished writes, and failed ones so that close() raises their error
        self._writes = [w for w in self._writes if not w.done() or w.exception() is not None]

    def memory_bytes(self) -> int:
        """Audio held in memory right now (at most about :data:`CHUNK_BYTES` per leg)."""
        return sum(len(buf) for buf in self._pending.values())

    async def close(self) -> Recording:
        """Write one WAV per leg and the mix (in a worker thread) and return their paths; idempotent."""
        if self._result is not None:
            return self._result
        self._closing = True
        for leg, buf in self._pending.items():
            if buf:
                self._spill(leg)
        writes, self._writes = self._writes, []
        for write in writes:
            await asyncio.wrap_future(write)
        legs = {leg: (self._raw_path(leg), length) for leg, length in self._length.items() if length}
        self._result = await asyncio.get_running_loop().run_in_executor(None, self._assemble, legs)
        return self._result

    @classmethod
    async def recover(cls, directory: Path, call_id: str) -> Recording | None:
        """Assemble the WAVs of a call whose process died mid-call from its leftover raw files (None: there are none).

        The legs start together (their alignment within the call is as recorded); what was still in memory is lost.
        """
        recorder = cls(directory, call_id)
        prefix = f".{recorder._stem}-"  # the stem holds only A-Z a-z 0-9 _ - (no glob wildcards)

        def leftovers() -> dict[str, tuple[Path, int]]:
            found = {raw.name[len(prefix) : -len(".raw")]: raw for raw in Path(directory).glob(f"{prefix}*.raw")}
            return {leg: (raw, raw.stat().st_size // 2 * 2) for leg, raw in sorted(found.items()) if _LEG_RE.match(leg)}

        legs = await asyncio.to_thread(leftovers)
        recorder._received = {leg: size for leg, (_, size) in legs.items()}
        if not any(size for _, size in legs.values()):
            return None
        recorder._closing = True
        recorder._result = await asyncio.get_running_loop().run_in_executor(None, recorder._assemble, legs)
        return recorder._result

    def _assemble(self, legs: dict[str, tuple[Path, int]]) -> Recording:
        received = {name: round(n / 2 / RATE, 3) for name, n in self._received.items()}
        if not legs:
            return Recording(self.call_id)
        length = max(size for _, size in legs.values()) // 2
        paths: dict[str, Path] = {}
        mixed = self.directory / f"{self._stem}-mixed.wav"
        try:
            with contextlib.ExitStack() as files:
                sources = {name: files.enter_context(raw.open("rb")) for name, (raw, _) in legs.items()}
                outputs = {}
                for name in legs:
                    paths[name] = self.directory / f"{self._stem}-{name}.wav"
                    outputs[name] = files.enter_context(_WavWriter(paths[name]))
                mix = files.enter_context(_WavWriter(mixed))
                for offset in range(0, length, ASSEMBLE_SAMPLES):
                    count = min(ASSEMBLE_SAMPLES, length - offset)
                    total = np.zeros(count, dtype=np.int32)
                    for name, source in sources.items():
                        samples = np.zeros(count, dtype="<i2")
                        data = source.read(2 * count)
                        samples[: len(data) // 2] = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
                        total += samples
                        outputs[name].write(samples.tobytes())
                    mix.write(np.clip(total, -32768, 32767).astype("<i2").tobytes())
        finally:
            for raw, _ in legs.values():
                raw.unlink(missing_ok=True)
        return Recording(self.call_id, paths, mixed, round(length / RATE, 3), received)


def _append(directory: Path, raw: Path, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with raw.open("ab") as f:
        f.write(data)


class _WavWriter:
    """An 8 kHz mono 16-bit WAV written in pieces to a temporary name and renamed into place when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._wav: wave.Wave_write | None = None

    def __enter__(self) -> _WavWriter:
        self._wav = wave.open(str(self._tmp), "wb")  # closed in __exit__
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        return self

    def write(self, pcm: bytes) -> None:
        assert self._wav is not None
        self._wav.writeframes(pcm)

    def __exit__(self, kind: object, *_: object) -> None:
        assert self._wav is not None
        self._wav.close()
        if kind is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
