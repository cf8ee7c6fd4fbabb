"""IVR prompts: text-to-speech in one worker thread, cached as 20 ms G.711 frames on disk and in memory.

The engine (:mod:`channels.voice.tts_engine`: Kokoro's neural Mandarin voice, or espeak-ng 1.52 as the fallback) is
created and loaded lazily in the synthesizer's single worker thread, so nothing heavy runs on the event loop and an
engine never sees two texts at once. A prompt is rendered once, resampled to 8 kHz mono with soxr,
level-normalised, encoded and stored under ``sha256(text, engine identity, codec)``; later requests are served from
a small in-memory LRU or the disk cache without touching the engine, and concurrent requests for the same prompt
share one synthesis.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from channels.voice import media

from .tts_engine import TtsEngine, TtsUnavailable, candidates, load_first

__all__ = ["MAX_TEXT_CHARS", "PromptSynthesizer", "TtsUnavailable", "clauses", "normalise"]

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
_TARGET_RMS_DBFS = -20.0
_PEAK_LIMIT_DBFS = -1.0


_CLAUSE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[，,、：:])")
FIRST_CLAUSE_CHARS = 6  # the first piece is short: it is what the caller waits for
CLAUSE_CHARS = 14  # later pieces are longer: each engine call has a fixed cost


def clauses(text: str) -> list[str]:
    """``text`` cut at punctuation into pieces to synthesise one after another (dynamic text: the first plays
    while the next is rendered). Pieces are merged up to :data:`FIRST_CLAUSE_CHARS`, then :data:`CLAUSE_CHARS`."""
    pieces: list[str] = []
    current = ""
    for part in _CLAUSE_END.split(text):
        if not part:
            continue
        current += part
        wanted = FIRST_CLAUSE_CHARS if not pieces else CLAUSE_CHARS
        if len(current.strip()) >= wanted:
            pieces.append(current.strip())
            current = ""
    if current.strip():
        if pieces and len(current.strip()) < FIRST_CLAUSE_CHARS:
            pieces[-1] += current.strip()
        else:
            pieces.append(current.strip())
    return pieces


def normalise(samples: np.ndarray) -> bytes:
    """Scale speech to about -20 dBFS RMS with peaks at most -1 dBFS; returns 16-bit PCM."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0:
        return b""
    rms = float(np.sqrt(np.mean(samples * samples)))
    peak = float(np.max(np.abs(samples)))
    if rms <= 0.0:
        return bytes(2 * samples.size)
    gain = min(32768.0 * 10 ** (_TARGET_RMS_DBFS / 20) / rms, 32767.0 * 10 ** (_PEAK_LIMIT_DBFS / 20) / peak)
    return bytes(np.clip(np.rint(samples * gain), -32768, 32767).astype("<i2").tobytes())


class PromptSynthesizer:
    """Text → cached 20 ms G.711 frames for the IVR.

    Args:
        cache_dir: directory of the disk cache (created on demand); one ``<sha256>.<codec>`` file per prompt.
        engine: ``auto`` (Kokoro, falling back to espeak-ng 1.52), ``kokoro`` or ``espeak``.
        voice: the engine's voice (``zf_xiaoyi`` for Kokoro, ``cmn`` or ``ko`` for espeak); None: its default.
        speed: speaking speed, 1.0 = the engine's normal pace.
        memory_items: prompts kept in the in-memory LRU.
        timeout: seconds a single synthesis may take before :class:`TtsUnavailable` is raised.
        engines: engine factories to try in order (overrides ``engine``/``voice``/``speed``; tests).
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        engine: str = "auto",
        voice: str | None = None,
        speed: float = 1.0,
        memory_items: int = 128,
        timeout: float = 60.0,
        engines: Sequence[Callable[[], TtsEngine]] | None = None,
    ) -> None:
        """See the class docstring."""
        if not 0.5 <= speed <= 2.5:
            raise ValueError(f"speech speed must be between 0.5 and 2.5: {speed}")
        self.cache_dir = Path(cache_dir)
        self.requested = engine
        self._factories = list(engines) if engines is not None else candidates(engine, voice=voice, speed=speed)
        self.timeout = timeout
        self._memory: OrderedDict[str, list[bytes]] = OrderedDict()
        self._memory_items = memory_items
        self._inflight: dict[str, asyncio.Task[list[bytes]]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rexian-tts")
        self._engine: TtsEngine | None = None  # created and used in the worker thread only
        self._threads: set[int] = set()
        self._closed = False
        self.syntheses = 0
        self.memory_hits = 0
        self.disk_hits = 0
        self.disk_entries: int | None = None
        self.last_error: str | None = None
        self.synthesis_seconds = 0.0

    @property
    def synthesis_threads(self) -> frozenset[int]:
        """Identifiers of the threads that ran the engine (at most one)."""
        return frozenset(self._threads)

    @property
    def engine(self) -> TtsEngine | None:
        """The loaded engine (None before the first synthesis or :meth:`load`)."""
        return self._engine

    async def load(self) -> TtsEngine:
        """Load the engine now (the first synthesis would otherwise); raises :class:`TtsUnavailable`."""
        if self._closed:
            raise RuntimeError("prompt synthesizer is closed")
        return await asyncio.wrap_future(self._executor.submit(self._engine_in_thread))

    def _key(self, text: str, codec: str, identity: str) -> str:
        blob = json.dumps([text, identity, codec], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def _check(self, text: str, codec: str) -> str:
        media.payload_type(codec)
        text = text.strip()
        if not text:
            raise ValueError("prompt text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"prompt text is longer than {MAX_TEXT_CHARS} characters")
        if self._closed:
            raise RuntimeError("prompt synthesizer is closed")
        return text

    async def frames(self, text: str, codec: str = "PCMU") -> list[bytes]:
        """The prompt as 20 ms frames of 160 bytes (the last padded with silence), μ-law or A-law at 8 kHz.

        Raises:
            ValueError: empty or over-long text, or a codec other than PCMU/PCMA.
            TtsUnavailable: the engine failed (the status turns ``degraded``).
            RuntimeError: the synthesizer is closed.
        """
        text = self._check(text, codec)
        engine = self._engine if self._engine is not None else await self._load_reporting()
        key = self._key(text, codec, engine.identity)
        cached = self._memory.get(key)
        if cached is not None:
            self._memory.move_to_end(key)
            self.memory_hits += 1
            return list(cached)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._produce(key, text, codec))
            self._inflight[key] = task
            task.add_done_callback(self._finished)
        # Shielded: a caller that hangs up does not cancel the synthesis others are waiting for.
        return list(await asyncio.shield(task))

    async def _load_reporting(self) -> TtsEngine:
        engine: TtsEngine = await self._reporting(self.load(), "loading the speech engine")
        return engine

    async def _synthesise_reporting(self, text: str) -> bytes:
        job = asyncio.wrap_future(self._executor.submit(self._synthesise, text))
        pcm: bytes = await self._reporting(job, "synthesis")
        self.last_error = None
        return pcm

    async def _reporting(self, job: Awaitable[Any], what: str) -> Any:
        """Await ``job`` within the timeout; a failure is kept as ``last_error`` (the status turns degraded)."""
        try:
            return await asyncio.wait_for(job, self.timeout)
        except TtsUnavailable as exc:
            self.last_error = str(exc)
            raise
        except TimeoutError:
            self.last_error = f"{what} took longer than {self.timeout:g} s"
            raise TtsUnavailable(self.last_error) from None

    def _finished(self, task: asyncio.Task[list[bytes]]) -> None:
        for key, running in list(self._inflight.items()):
            if running is task:
                del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have hung up already

    async def _produce(self, key: str, text: str, codec: str) -> list[bytes]:
        loop = asyncio.get_running_loop()
        path = self.cache_dir / f"{key}.{codec.lower()}"
        coded = await loop.run_in_executor(None, self._read_cache, path)
        if coded is not None:
            self.disk_hits += 1
        else:
            pcm = await self._synthesise_reporting(text)
            self.syntheses += 1
            coded = b"".join(media.frames_from_pcm(pcm, codec))
            await loop.run_in_executor(None, self._write_cache, path, coded)
        frames = [coded[i : i + media.FRAME_SAMPLES] for i in range(0, len(coded), media.FRAME_SAMPLES)]
        self._memory[key] = frames
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
        return frames

    def _read_cache(self, path: Path) -> bytes | None:
        if self.disk_entries is None:
            self.disk_entries = len(list(self.cache_dir.glob("*.pcm[ua]"))) if self.cache_dir.is_dir() else 0
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if not data or len(data) % media.FRAME_SAMPLES:
            log.warning("ignoring corrupt prompt cache file %s (%d bytes)", path.name, len(data))
            return None
        return data

    def _write_cache(self, path: Path, coded: bytes) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(coded)
        existed = path.exists()
        os.replace(tmp, path)
        if not existed:
            self.disk_entries = (self.disk_entries or 0) + 1

    def _engine_in_thread(self) -> TtsEngine:
        """The engine, created and loaded on first use in the worker thread."""
        self._threads.add(threading.get_ident())
        if self._engine is None:
            self._engine = load_first(self._factories)
            log.info("text-to-speech: %s", self._engine.identity)
        return self._engine

    def _synthesise(self, text: str) -> bytes:
        """Render ``text`` to normalised 8 kHz PCM (worker thread only)."""
        engine = self._engine_in_thread()
        started = time.perf_counter()
        try:
            samples = engine.synthesise(text)
        except TtsUnavailable:
            raise
        except Exception as exc:  # an engine bug must not take the call down: the prompt is skipped and logged
            raise TtsUnavailable(f"synthesis failed: {type(exc).__name__}: {exc}") from exc
        self.synthesis_seconds += time.perf_counter() - started
        if not samples.size or not np.any(samples):
            raise TtsUnavailable("synthesis produced no audio")
        if engine.sample_rate != media.RATE:
            samples = soxr.resample(np.asarray(samples, dtype=np.float32), engine.sample_rate, media.RATE, quality="HQ")
        return normalise(samples)

    async def warm(self, texts: Iterable[str], codec: str = "PCMU") -> None:
        """Render and cache every prompt (at start-up), one after another; failures are raised."""
        for text in texts:
            await self.frames(text, codec)

    def status(self) -> dict[str, object]:
        """Health for ``/healthz``: ``state`` is ``ok`` or ``degraded`` (with ``last_error``) and cache counters."""
        engine = self._engine
        return {
            "state": "degraded" if self.last_error else "ok",
            "ok": self.last_error is None,
            "requested": self.requested,
            "engine": engine.describe() if engine is not None else None,
            "memory_entries": len(self._memory),
            "disk_entries": self.disk_entries,
            "syntheses": self.syntheses,
            "synthesis_seconds": round(self.synthesis_seconds, 3),
            "memory_hits": self.memory_hits,
            "disk_hits": self.disk_hits,
            "last_error": self.last_error,
        }

    async def close(self) -> None:
        """Wait for running syntheses and stop the worker thread; later :meth:`frames` calls raise."""
        if self._closed:
            return
        self._closed = True
        if self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._release_engine)
        await loop.run_in_executor(None, self._executor.shutdown)

    def _release_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None
