"""IVR prompts: pyttsx3/espeak-ng synthesis in one worker thread, cached as 20 ms G.711 frames on disk and in memory.

espeak-ng is process-global C state and pyttsx3's ``runAndWait`` deadlocks when called concurrently, so each
:class:`PromptSynthesizer` owns a single-thread executor in which it creates its engine, and a process-wide lock
serialises synthesis between instances. A prompt is rendered once (``save_to_file`` + ``runAndWait`` to a temporary
WAV), resampled to 8 kHz mono with soxr, level-normalised, encoded and stored under
``sha256(text, voice, rate, codec)``; later requests are served from a small in-memory LRU or the disk cache without
touching the engine, and concurrent requests for the same prompt share one synthesis.

The default voice is espeak-ng's ``sit/cmn`` (Mandarin); ``zh`` silently speaks English.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import wave
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from channels.voice import media

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
# espeak-ng keeps global state (voice, rate, synth callback): never synthesise from two threads at once.
_ESPEAK_LOCK = threading.Lock()
_TARGET_RMS_DBFS = -20.0
_PEAK_LIMIT_DBFS = -1.0


class TtsUnavailable(RuntimeError):
    """The speech engine cannot synthesise (library missing, voice not installed, engine error or timeout)."""


def _quiet_print(*args: object, **_kwargs: object) -> None:
    """Stand-in for ``print`` inside pyttsx3's espeak driver, which announces every saved file on stdout."""
    log.debug("pyttsx3: %s", " ".join(str(a) for a in args))


RENDER_ATTEMPTS = 3


def _complete_wav(path: Path) -> bool:
    """The WAV's header announces frames and the file holds them all (espeak's writer has closed it)."""
    try:
        with wave.open(str(path), "rb") as w:
            expected = 44 + w.getnframes() * w.getsampwidth() * w.getnchannels()
            return w.getnframes() > 0 and path.stat().st_size >= expected
    except (wave.Error, EOFError, OSError):
        return False


def _read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV → float64 mono samples and the sample rate."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise TtsUnavailable(f"engine wrote {8 * width}-bit audio, expected 16-bit")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).mean(axis=1)
    return samples, rate


def normalise(samples: np.ndarray) -> bytes:
    """Scale speech to about -20 dBFS RMS with peaks at most -1 dBFS; returns 16-bit PCM."""
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
        voice: espeak-ng voice identifier (``sit/cmn`` for Mandarin, ``ko`` for Korean ...).
        rate: speaking rate in words per minute.
        memory_items: prompts kept in the in-memory LRU.
        timeout: seconds a single synthesis may take before :class:`TtsUnavailable` is raised.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        voice: str = "sit/cmn",
        rate: int = 160,
        memory_items: int = 128,
        timeout: float = 60.0,
    ) -> None:
        """See the class docstring."""
        if not 80 <= rate <= 450:
            raise ValueError(f"speaking rate must be between 80 and 450 words per minute: {rate}")
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.rate = rate
        self.timeout = timeout
        self._memory: OrderedDict[str, list[bytes]] = OrderedDict()
        self._memory_items = memory_items
        self._inflight: dict[str, asyncio.Task[list[bytes]]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rexian-tts")
        self._engine: Any = None  # only touched in the worker thread
        self._threads: set[int] = set()
        self._done = threading.Event()
        self._phase = ""  # "" idle, "queued" after save_to_file, "started" once espeak began our utterance
        self._token: Any = None
        self._start_token: Any = None
        self._closed = False
        self.syntheses = 0
        self.memory_hits = 0
        self.disk_hits = 0
        self.disk_entries: int | None = None
        self.last_error: str | None = None

    @property
    def synthesis_threads(self) -> frozenset[int]:
        """Identifiers of the threads that ran the engine (at most one)."""
        return frozenset(self._threads)

    def _key(self, text: str, codec: str) -> str:
        blob = json.dumps([text, self.voice, self.rate, codec], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    async def frames(self, text: str, codec: str = "PCMU") -> list[bytes]:
        """The prompt as 20 ms frames of 160 bytes (the last padded with silence), μ-law or A-law at 8 kHz.

        Raises:
            ValueError: empty or over-long text, or a codec other than PCMU/PCMA.
            TtsUnavailable: the engine failed (the status turns ``degraded``).
            RuntimeError: the synthesizer is closed.
        """
        media.payload_type(codec)
        text = text.strip()
        if not text:
            raise ValueError("prompt text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"prompt text is longer than {MAX_TEXT_CHARS} characters")
        if self._closed:
            raise RuntimeError("prompt synthesizer is closed")
        key = self._key(text, codec)
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
            try:
                pcm = await asyncio.wait_for(
                    asyncio.wrap_future(self._executor.submit(self._synthesise, text)), self.timeout
                )
            except TtsUnavailable as exc:
                self.last_error = str(exc)
                raise
            except TimeoutError:
                self.last_error = f"synthesis took longer than {self.timeout:g} s"
                raise TtsUnavailable(self.last_error) from None
            self.syntheses += 1
            self.last_error = None
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

    def _engine_in_thread(self) -> Any:
        """The pyttsx3 engine, created on first use in the worker thread."""
        if self._engine is not None:
            return self._engine
        try:
            import pyttsx3

            engine = pyttsx3.init("espeak")
            driver_module = sys.modules.get("pyttsx3.drivers.espeak")
            if driver_module is not None:
                driver_module.print = _quiet_print  # type: ignore[attr-defined]
            voices = {v.id for v in engine.getProperty("voices")}
        except Exception as exc:  # ImportError/OSError without libespeak-ng, RuntimeError from espeak_Initialize
            raise TtsUnavailable(f"text-to-speech engine unavailable: {type(exc).__name__}: {exc}") from exc
        if self.voice not in voices:
            raise TtsUnavailable(f"text-to-speech voice {self.voice!r} is not installed")
        # espeak runs in AUDIO_OUTPUT_RETRIEVAL mode: synthesis continues in espeak's own thread and pyttsx3's
        # runAndWait may return before the WAV is written. "finished-utterance" comes after the file is saved.
        # pyttsx3.init() returns one shared engine per driver, so every instance's callbacks see every utterance
        # (and the espeak driver reports no utterance names for files): only an end that follows the start of our
        # own utterance may wake us, or a late event would hand us a half-written file.
        self._token = engine.connect("finished-utterance", self._on_finished)
        self._start_token = engine.connect("started-utterance", self._on_started)
        self._engine = engine
        return engine

    def _on_started(self, **_kw: Any) -> None:
        if self._phase == "queued":
            self._phase = "started"

    def _on_finished(self, **_kw: Any) -> None:
        if self._phase == "started":
            self._phase = ""
            self._done.set()

    def _synthesise(self, text: str) -> bytes:
        """Render ``text`` to normalised 8 kHz PCM (worker thread only)."""
        self._threads.add(threading.get_ident())
        with _ESPEAK_LOCK:
            engine = self._engine_in_thread()
            try:
                # Another engine created in this process may have taken espeak's (global) synth callback.
                driver = engine.proxy._driver
                from pyttsx3.drivers import _espeak

                _espeak.SetSynthCallback(driver._onSynth)
            except (AttributeError, ImportError):
                pass
            samples, rate = np.zeros(0), media.RATE
            for attempt in range(1, RENDER_ATTEMPTS + 1):
                samples, rate = self._render_once(engine, text)
                if samples.size:
                    break
                # espeak occasionally reports the end before the file holds the audio: never cache silence
                log.warning("text-to-speech produced no audio (attempt %d of %d)", attempt, RENDER_ATTEMPTS)
            if not samples.size:
                raise TtsUnavailable("synthesis produced no audio")
        if rate != media.RATE:
            samples = soxr.resample(samples, rate, media.RATE, quality="HQ")
        return normalise(np.asarray(samples, dtype=np.float64))

    def _render_once(self, engine: Any, text: str) -> tuple[np.ndarray, int]:
        """One espeak rendering of ``text`` to a temporary WAV (worker thread, under the espeak lock)."""
        with tempfile.TemporaryDirectory(prefix="rexian-tts-") as tmp:
            wav = Path(tmp) / "prompt.wav"
            try:
                engine.setProperty("voice", self.voice)
                engine.setProperty("rate", self.rate)
                self._done.clear()
                self._phase = "queued"
                engine.save_to_file(text, str(wav))
                engine.runAndWait()
            except Exception as exc:
                raise TtsUnavailable(f"synthesis failed: {type(exc).__name__}: {exc}") from exc
            if not self._done.wait(self.timeout):
                engine.stop()
                raise TtsUnavailable(f"synthesis did not finish within {self.timeout:g} s")
            for _ in range(50):  # the WAV header is completed when the file is closed
                if wav.exists() and _complete_wav(wav):
                    break
                time.sleep(0.02)
            if not wav.exists():
                raise TtsUnavailable("synthesis produced no audio file")
            return _read_wav_mono(wav)

    async def warm(self, texts: Iterable[str], codec: str = "PCMU") -> None:
        """Render and cache every prompt (at start-up), one after another; failures are raised."""
        for text in texts:
            await self.frames(text, codec)

    def status(self) -> dict[str, object]:
        """Health for ``/healthz``: ``state`` is ``ok`` or ``degraded`` (with ``last_error``) and cache counters."""
        return {
            "state": "degraded" if self.last_error else "ok",
            "ok": self.last_error is None,
            "voice": self.voice,
            "rate": self.rate,
            "memory_entries": len(self._memory),
            "disk_entries": self.disk_entries,
            "syntheses": self.syntheses,
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
        """Worker thread: stop listening to the (process-shared) pyttsx3 engine."""
        if self._engine is not None:
            with _ESPEAK_LOCK:
                for token in (self._token, self._start_token):
                    if token is not None:
                        self._engine.disconnect(token)
        self._engine = self._token = self._start_token = None
