"""Free-form Mandarin recognition with faster-whisper (Whisper base, int8 on the CPU) after voice-activity end-pointing.

Whisper is not a streaming recogniser: it transcribes whole utterances. A :class:`WhisperStream` therefore runs the
energy end-pointer of :mod:`channels.voice.media` over the caller's 8 kHz audio and, when the caller has been quiet
for ``hangover_ms`` after speaking, hands the utterance (with ``preroll_ms`` before the speech onset) to the
recognizer's bounded :class:`RecognitionPool`. The same public surface as the vosk
:class:`~channels.voice.asr.SpeechRecognizer` lets the call session use either engine.

What a stream's :meth:`~WhisperStream.feed` returns (it never waits for the model):

- ``Partial("")`` as soon as speech starts (barge-in: stop the prompt), then again every ``hold_ms`` of audio while
  the caller speaks or a result is pending, so that the session's no-input timeout keeps being re-armed. The text is
  empty on purpose: Whisper has no running hypothesis, and a marker text could be mistaken for words heard.
- a :class:`WhisperUtterance` (an :class:`~channels.voice.asr.Utterance`) once the pool has transcribed a segment;
  results come back in the order the caller spoke. Silence, noise and hallucinations give nothing.
- :class:`~channels.voice.asr_results.Busy` when the caller finished an utterance while all ``workers`` were busy
  and ``max_waiting`` jobs were already queued: the utterance is dropped at once (ask the caller for keys).

Confidence is ``exp(avg_logprob)`` (the geometric mean of the token probabilities), averaged over Whisper's segments
weighted by their text length, and scaled down linearly once ``no_speech_prob`` exceeds 0.5 (``× 2·(1 − p)``).
Telephone speech that Whisper gets right scores 0.6-0.9; garbled short words 0.25-0.45.

With a grammar (menu phrases) the transcript is compared with each phrase (edit distance over characters,
punctuation and spaces ignored); when one phrase alone is at least ``phrase_similarity`` similar, the utterance's
``text`` is that phrase, otherwise the transcript. ``raw`` always holds the transcript. Containment ("我要转人工")
is left to :func:`channels.voice.ivr.speech.best_phrase`.

Decoding is bounded (greedy temperature, no fallback, ``max_new_tokens`` in proportion to the audio) and every
transcript goes through :func:`is_hallucination` (too many characters per second, decoder loops, subtitle credits,
hesitation sounds only, very low confidence): Whisper invents text on noise rather than returning nothing.

Voicemail (:meth:`WhisperRecognizer.transcribe_wav`) shares the pool without pushing callers out: it is cut at the
caller's pauses into windows of at most ``voicemail_window_s``, and each window waits for an idle worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import re
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import soxr

from channels.voice.asr import Partial, SpeechUnavailable, Utterance
from channels.voice.asr_results import Busy
from channels.voice.ivr.speech import normalise as normalise_phrase
from channels.voice.media import FRAME_MS, VoiceActivity
from hub.background import wait_event

__all__ = [
    "MIN_CONFIDENCE",
    "Busy",
    "Endpointer",
    "Partial",
    "RecognitionPool",
    "SpeechSegment",
    "WhisperRecognizer",
    "WhisperStream",
    "WhisperUtterance",
    "confidence_of",
    "is_hallucination",
    "match_phrase",
    "to_simplified",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_RATE = 8000
_MODEL_RATE = 16000
_FRAME_BYTES = 2 * _RATE * FRAME_MS // 1000
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_MAX_TOKENS = 400  # Whisper's limit is 448 including the 4-token prompt
_CJK_OR_ALNUM = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
_DIGITS = set("0123456789零〇一二两三四五六七八九十幺")
_FILLERS = set("啊嗯呃哦噢唉额呵诶欸哎")  # hesitation sounds: what Whisper hears in breaths, coughs and crackle
MIN_CONFIDENCE = 0.2  # below this a transcript is noise (correct words score 0.35 and up, usually 0.6-0.9)
# Subtitle credits and video outros Whisper was trained on, and produces from noise.
_BOILERPLATE = re.compile(
    r"字幕(?:由|提供|制作|志愿者)|中文字幕|请不吝|点赞.{0,6}订阅|订阅.{0,6}(?:转发|打赏|频道)|谢谢观看|感谢观看|"
    r"明镜与点点|独播剧场|amara\.org|yoyo television",
    re.IGNORECASE,
)

# -- text ------------------------------------------------------------------------------------------------------------

_opencc_lock = threading.Lock()
_opencc: Any = None


def to_simplified(text: str) -> str:
    """Whisper output → simplified Chinese (Whisper base often writes traditional: 這裡 → 这里), whitespace trimmed.

    OpenCC's ``t2s`` tables (Apache-2.0); one converter, used under a lock.
    """
    global _opencc
    import opencc

    with _opencc_lock:
        if _opencc is None:
            _opencc = opencc.OpenCC("t2s")
        converted = str(_opencc.convert(text))
    return " ".join(converted.split())


def _chars(text: str) -> str:
    """Only the letters, digits and CJK characters of ``text``."""
    return "".join(_CJK_OR_ALNUM.findall(text))


def is_hallucination(text: str, audio_s: float, compression_ratio: float = 0.0, confidence: float = 1.0) -> str | None:
    """Why a transcript of ``audio_s`` seconds cannot be what the caller said, or ``None`` when it is plausible.

    Rejected: nothing but hesitation sounds (啊, 嗯 ...), more than 10 characters per second (nobody speaks that
    fast: Whisper invents text), a unit of 1-8 characters repeated 5 or more times in a row (decoder loops such as
    靖靖靖靖靖; digits are exempt, phone numbers repeat), a gzip compression ratio above 2.4 (Whisper's own loop
    test), subtitle credits (字幕由…, 请不吝点赞订阅…), and a confidence below :data:`MIN_CONFIDENCE`.
    """
    chars = _chars(text)
    if not chars:
        return "no words"
    if set(chars) <= _FILLERS:
        return "only hesitation sounds"
    if len(chars) > 10 * max(audio_s, 0.5):
        return f"{len(chars)} characters in {audio_s:.1f} s"
    for m in re.finditer(r"(.{1,8}?)\1{4,}", chars):
        if not set(m.group(1)) <= _DIGITS:
            return f"{m.group(1)!r} repeated {len(m.group(0)) // len(m.group(1))} times"
    if compression_ratio > 2.4:
        return f"compression ratio {compression_ratio:.1f}"
    if _BOILERPLATE.search(text):
        return "subtitle boilerplate"
    if confidence < MIN_CONFIDENCE:
        return f"confidence {confidence:.2f}"
    return None


def confidence_of(segments: Sequence[tuple[str, float, float]]) -> float:
    """Confidence (0..1) from Whisper segments given as (text, avg_logprob, no_speech_prob); see the module doc."""
    total = weight = 0.0
    for text, avg_logprob, no_speech_prob in segments:
        n = max(len(_chars(text)), 1)
        speech = min(1.0, 2.0 * (1.0 - no_speech_prob))
        total += n * math.exp(min(avg_logprob, 0.0)) * speech
        weight += n
    return round(total / weight, 3) if weight else 0.0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (characters)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def match_phrase(text: str, phrases: Sequence[str], threshold: float = 0.66) -> tuple[str, float] | None:
    """The one phrase ``text`` is a near match of, and the similarity (1 − edit distance ÷ the longer length).

    ``None`` when no phrase reaches ``threshold`` or two phrases tie for the best score. Spaces and punctuation are
    ignored, so "查询公单进度。" matches "查询工单进度" (5/6), but "我要转人工服务" matches nothing (a containment,
    for :func:`~channels.voice.ivr.speech.best_phrase`).
    """
    said = normalise_phrase(text)
    if not said:
        return None
    scored: dict[str, float] = {}
    for phrase in phrases:
        key = normalise_phrase(phrase)
        if key:
            score = 1.0 - edit_distance(said, key) / max(len(said), len(key))
            if score > scored.get(key, -1.0):
                scored[key] = score
    if not scored:
        return None
    best = max(scored.values())
    winners = [k for k, s in scored.items() if s == best]
    if best < threshold or len(winners) != 1:
        return None
    phrase = next(p for p in phrases if normalise_phrase(p) == winners[0])
    return phrase, round(best, 3)


# -- end-pointing ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechSegment:
    """One utterance cut out of a stream: 8 kHz PCM with pre-roll and a short tail.

    Attributes:
        pcm: the audio handed to Whisper.
        start_s: speech onset, seconds from the start of the stream.
        end_s: end of the last loud frame.
        cut: the segment was ended by the length cap, not by a pause.
    """

    pcm: bytes
    start_s: float
    end_s: float
    cut: bool = False


class Endpointer:
    """Sans-IO: cuts 8 kHz PCM into speech segments with :class:`~channels.voice.media.VoiceActivity`.

    Speech starts after ``speech_ms`` of loud frames and ends after ``hangover_ms`` of quiet ones. A segment starts
    ``preroll_ms`` before the onset (soft consonants), keeps ``tail_ms`` after the last loud frame, is cut at
    ``max_segment_s``, and is dropped if it has less than ``min_speech_ms`` of loud frames (a click, a cough).

    Attributes:
        in_speech: whether a segment is open.
        time_s: audio seen so far, in seconds.
    """

    def __init__(
        self,
        *,
        hangover_ms: int = 700,
        preroll_ms: int = 300,
        tail_ms: int = 300,
        speech_ms: int = 100,
        min_speech_ms: int = 200,
        max_segment_s: float = 15.0,
        threshold_db: float = -45.0,
        margin_db: float = 10.0,
    ) -> None:
        """Create an end-pointer; see the class doc for the parameters."""
        if max_segment_s <= 1.0:
            raise ValueError("max_segment_s must be more than 1 s")
        self.vad = VoiceActivity(
            threshold_db=threshold_db, margin_db=margin_db, speech_ms=speech_ms, hangover_ms=hangover_ms
        )
        self._speech_frames = -(-speech_ms // FRAME_MS)
        self._preroll: deque[bytes] = deque(maxlen=max(-(-preroll_ms // FRAME_MS), self._speech_frames))
        self._tail_frames = tail_ms // FRAME_MS
        self._min_loud = -(-min_speech_ms // FRAME_MS)
        self._max_frames = int(max_segment_s * 1000 // FRAME_MS)
        self._pending = b""
        self._frames: list[bytes] = []
        self._index = 0  # frames seen
        self._first = 0  # frame index of _frames[0]
        self._onset = 0  # frame index of the speech onset
        self._last_loud = 0
        self._loud = 0
        self.in_speech = False

    @property
    def time_s(self) -> float:
        """Seconds of audio seen."""
        return self._index * FRAME_MS / 1000

    def push(self, pcm: bytes) -> tuple[bool, list[SpeechSegment]]:
        """Process PCM of any length: (speech started in it, segments that ended in it)."""
        data = self._pending + pcm
        end = len(data) - len(data) % _FRAME_BYTES
        self._pending = data[end:]
        started = False
        done: list[SpeechSegment] = []
        for i in range(0, end, _FRAME_BYTES):
            frame = data[i : i + _FRAME_BYTES]
            was = self.vad.state
            state = self.vad.feed(frame)
            if not self.in_speech:
                self._preroll.append(frame)
                if was == "silence" and state == "speech":
                    started = True
                    self._open()
            else:
                self._frames.append(frame)
                if state == "speech" and self.vad.silence_ms == 0:
                    self._loud += 1
                    self._last_loud = self._index
                if state == "silence":
                    segment = self._close(cut=False)
                    if segment is not None:
                        done.append(segment)
                elif len(self._frames) >= self._max_frames:
                    segment = self._close(cut=True)
                    if segment is not None:
                        done.append(segment)
                    self._frames, self._first, self._onset, self._loud = [], self._index + 1, self._index + 1, 0
                    self.in_speech = True
            self._index += 1
        return started, done

    def _open(self) -> None:
        self.in_speech = True
        self._frames = list(self._preroll)
        self._preroll.clear()
        self._first = self._index - len(self._frames) + 1
        self._onset = self._index - self._speech_frames + 1
        self._last_loud = self._index
        self._loud = self._speech_frames

    def _close(self, *, cut: bool) -> SpeechSegment | None:
        self.in_speech = False
        keep = len(self._frames)
        if not cut:
            keep = min(keep, self._last_loud - self._first + 1 + self._tail_frames)
        frames, loud = self._frames[:keep], self._loud
        self._frames, self._loud = [], 0
        if loud < self._min_loud:
            return None
        end = (self._index + 1) if cut else (self._last_loud + 1)
        return SpeechSegment(b"".join(frames), max(self._onset, 0) * FRAME_MS / 1000, end * FRAME_MS / 1000, cut=cut)

    def flush(self) -> SpeechSegment | None:
        """End the open segment, if any (the stream is finishing)."""
        return self._close(cut=False) if self.in_speech else None


# -- the pool --------------------------------------------------------------------------------------------------------


class RecognitionPool:
    """A fixed number of worker threads and a bounded queue in front of them.

    :meth:`try_submit` never waits: with ``workers`` jobs running and ``max_waiting`` queued it refuses (and counts
    the refusal). :meth:`run_when_idle` is for work nobody waits on live (voicemail): it waits until a worker is idle
    and nothing is queued, so callers' utterances always go first.
    """

    def __init__(self, workers: int = 1, max_waiting: int | None = None) -> None:
        """Start ``workers`` threads; ``max_waiting`` defaults to twice that."""
        if workers < 1:
            raise ValueError("a recognition pool needs at least one worker")
        self.workers = workers
        self.max_waiting = 2 * workers if max_waiting is None else max_waiting
        if self.max_waiting < 0:
            raise ValueError("max_waiting must not be negative")
        self.rejected = 0
        self.jobs_done = 0
        self.last_latency_ms: float | None = None
        self._latency_total_ms = 0.0
        self._outstanding = 0
        self._running = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._executor: concurrent.futures.ThreadPoolExecutor | None = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="rexian-whisper"
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._executor is None

    @property
    def queue_depth(self) -> int:
        """Jobs accepted but not started yet."""
        with self._lock:
            return self._outstanding - self._running

    @property
    def running(self) -> int:
        """Jobs being worked on."""
        with self._lock:
            return self._running

    @property
    def mean_latency_ms(self) -> float | None:
        """Mean time from submission to result over the finished jobs."""
        with self._lock:
            return round(self._latency_total_ms / self.jobs_done, 1) if self.jobs_done else None

    def _job(self, fn: Callable[..., T], args: tuple[Any, ...], submitted: float) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            latency = (time.perf_counter() - submitted) * 1000
            with self._lock:
                self._running -= 1
                self.jobs_done += 1
                self._latency_total_ms += latency
                self.last_latency_ms = round(latency, 1)

    def _finished(self, _future: concurrent.futures.Future[Any]) -> None:
        """Any thread: a job ended or was cancelled; wake whoever waits for an idle worker."""
        with self._lock:
            self._outstanding -= 1
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: its waiter is gone
                loop.call_soon_threadsafe(event.set)

    def _submit_locked(self, fn: Callable[..., T], args: tuple[Any, ...]) -> concurrent.futures.Future[T]:
        assert self._executor is not None
        self._outstanding += 1
        try:
            future = self._executor.submit(self._job, fn, args, time.perf_counter())
        except RuntimeError:
            self._outstanding -= 1
            raise
        return future

    def try_submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T] | None:
        """Run ``fn(*args)`` in a worker; ``None`` (a counted refusal) if the workers and the queue are full.

        Raises:
            SpeechUnavailable: the pool is shut down.
        """
        with self._lock:
            if self._executor is None:
                raise SpeechUnavailable("speech recognizer closed")
            if self._outstanding >= self.workers + self.max_waiting:
                self.rejected += 1
                return None
            future = self._submit_locked(fn, args)
        future.add_done_callback(self._finished)
        return future

    async def run_when_idle(self, fn: Callable[..., T], *args: Any, wait_s: float) -> T:
        """Wait (at most ``wait_s`` seconds) until a worker is idle and nothing is queued, then run ``fn(*args)`` there.

        Raises:
            TimeoutError: no worker became idle in time.
            SpeechUnavailable: the pool is shut down.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            event = asyncio.Event()
            with self._lock:
                if self._executor is None:
                    raise SpeechUnavailable("speech recognizer closed")
                if self._outstanding < self.workers:
                    future = self._submit_locked(fn, args)
                    break
                self._waiters.append((loop, event))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no idle recognition worker within {wait_s:.0f} s")
            await wait_event(event, remaining)
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Cancel queued jobs, wait for the running ones, stop the threads (blocking; idempotent)."""
        with self._lock:
            executor, self._executor = self._executor, None
            waiters, self._waiters = self._waiters, []
        if executor is not None:  # queued jobs are cancelled before anyone is told: none may start afterwards
            executor.shutdown(wait=False, cancel_futures=True)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)
        if executor is not None:
            executor.shutdown(wait=True)


# -- the recognizer --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhisperUtterance(Utterance):
    """An :class:`~channels.voice.asr.Utterance` from Whisper.

    Attributes:
        raw: the simplified-Chinese transcript, always (``text`` is the matched grammar phrase when there is one).
        similarity: how close ``raw`` is to that phrase (1.0 without a grammar or when nothing matched).
    """

    raw: str = ""
    similarity: float = 1.0


@dataclass
class _Result:
    """What a worker hands back for one segment."""

    text: str
    confidence: float
    rejected: str | None = None


class WhisperRecognizer:
    """Loads Whisper base once and transcribes the utterances of every call in a bounded pool of threads.

    Attributes:
        available: whether speech input works (``False`` until :meth:`load` succeeds).
        reason: why it does not, or ``None``.
    """

    sample_rate = _MODEL_RATE

    def __init__(
        self,
        model_dir: Path | None,
        *,
        workers: int | None = None,
        max_waiting: int | None = None,
        cpu_threads: int | None = None,
        beam_size: int = 5,
        language: str = "zh",
        hangover_ms: int = 700,
        max_segment_s: float = 15.0,
        phrase_similarity: float = 0.66,
        voicemail_window_s: float = 30.0,
        voicemail_wait_s: float = 120.0,
    ) -> None:
        """Create the recognizer; nothing is loaded until :meth:`load`.

        Args:
            model_dir: a faster-whisper model directory (see :func:`channels.voice.speech_models.ensure_whisper_base`)
                or ``None`` (speech disabled).
            workers: utterances transcribed at the same time (default: half the CPU cores, at least 1).
            max_waiting: utterances allowed to wait for a worker before callers get :class:`Busy` (default 2×workers).
            cpu_threads: CTranslate2 threads per worker (default: the cores left after one for the event loop,
                shared among the workers, at least 1).
            beam_size: beam search width (5: slightly better than 1 on telephone speech at about the same cost).
            language: Whisper language code.
            hangover_ms: silence that ends an utterance.
            max_segment_s: longest utterance handed to Whisper in one piece.
            phrase_similarity: how close a transcript must be to a grammar phrase to be replaced by it.
            voicemail_window_s: longest piece of a voicemail transcribed in one job.
            voicemail_wait_s: how long one voicemail piece may wait for an idle worker.
        """
        cores = os.cpu_count() or 2
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.workers = workers or max(1, cores // 2)
        self.cpu_threads = cpu_threads or max(1, (cores - 1) // self.workers)
        self.beam_size = beam_size
        self.language = language
        self.hangover_ms = hangover_ms
        self.max_segment_s = max_segment_s
        self.phrase_similarity = phrase_similarity
        self.voicemail_window_s = voicemail_window_s
        self.voicemail_wait_s = voicemail_wait_s
        self.available = False
        self.reason: str | None = "speech model not loaded yet"
        self.load_seconds: float | None = None
        self.active_streams = 0
        self.pool = RecognitionPool(self.workers, max_waiting)
        self._model: Any = None
        self._load_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the model in a thread; never raises (see ``available`` and ``reason``)."""
        async with self._load_lock:
            if self.available or self.pool.closed:
                return
            reason = self._check_dir()
            if reason is None:
                started = time.perf_counter()
                try:
                    self._model = await asyncio.to_thread(self._load_model)
                except ImportError as exc:
                    reason = f"faster-whisper is not installed ({exc})"
                except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for a bad model
                    reason = f"cannot load the Whisper model from {self.model_dir}: {exc}"
                else:
                    self.load_seconds = round(time.perf_counter() - started, 3)
            if reason is not None:
                self.available, self.reason = False, reason
                log.warning("speech input disabled: %s", reason)
                return
            self.available, self.reason = True, None
            log.info(
                "speech input enabled: Whisper model %s loaded in %.1f s (%d worker(s) × %d thread(s), beam %d)",
                self.model_dir,
                self.load_seconds,
                self.workers,
                self.cpu_threads,
                self.beam_size,
            )

    def _check_dir(self) -> str | None:
        if self.model_dir is None:
            return "no speech model directory configured"
        if not self.model_dir.is_dir():
            return f"speech model directory {self.model_dir} does not exist"
        missing = [name for name in _MODEL_FILES if not (self.model_dir / name).is_file()]
        if missing:
            return f"{self.model_dir} is not a faster-whisper model directory (missing {', '.join(missing)})"
        return None

    def _load_model(self) -> Any:
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # "Processing audio with duration" per call
        to_simplified("")  # load the conversion tables now, not in the first call's worker
        return WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=self.cpu_threads,
            num_workers=self.workers,  # lets the pool's threads decode in parallel
        )

    async def close(self) -> None:
        """Cancel queued work, wait for running work, stop the threads, release the model; idempotent."""
        if self.pool.closed:
            return
        await asyncio.to_thread(self.pool.shutdown)
        self._model = None
        self.available, self.reason = False, "speech recognizer closed"

    def status(self) -> dict[str, object]:
        """Health for ``/healthz``."""
        return {
            "engine": "faster-whisper",
            "available": self.available,
            "reason": self.reason,
            "model_dir": str(self.model_dir) if self.model_dir else None,
            "sample_rate": self.sample_rate,
            "load_seconds": self.load_seconds,
            "beam_size": self.beam_size,
            "workers": self.workers,
            "cpu_threads": self.cpu_threads,
            "max_waiting": self.pool.max_waiting,
            "active_streams": self.active_streams,
            "running": self.pool.running,
            "queue_depth": self.pool.queue_depth,
            "jobs_done": self.pool.jobs_done,
            "busy_rejections": self.pool.rejected,
            "mean_latency_ms": self.pool.mean_latency_ms,
            "last_latency_ms": self.pool.last_latency_ms,
        }

    def _require(self) -> Any:
        if not self.available or self._model is None:
            raise SpeechUnavailable(f"speech input disabled: {self.reason}")
        return self._model

    def unknown_words(self, phrases: Sequence[str]) -> list[str]:
        """Always ``[]``: Whisper has an open vocabulary."""
        return []

    def stream(self, grammar: Sequence[str] | None = None) -> WhisperStream:
        """Open a recognition stream.

        Args:
            grammar: menu phrases a transcript is mapped to when it is a near match; ``None`` for free-form speech.

        Raises:
            SpeechUnavailable: no model is loaded.
            ValueError: the grammar has no phrases.
        """
        self._require()
        phrases = None
        if grammar is not None:
            phrases = [p.strip() for p in grammar if p.strip()]
            if not phrases:
                raise ValueError("grammar has no phrases")
        return WhisperStream(self, phrases)

    # -- transcription (worker threads) ----------------------------------------------------------------------

    def _transcribe(self, audio: np.ndarray) -> _Result:
        """Worker: 16 kHz float32 audio → checked, simplified transcript."""
        model = self._model
        if model is None:
            raise SpeechUnavailable("speech recognizer closed")
        audio_s = len(audio) / _MODEL_RATE
        segments, _info = model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            temperature=0.0,  # no fallback: on bad audio it only makes decoding slow; the guard rejects instead
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # we end-point ourselves
            max_new_tokens=min(_MAX_TOKENS, 16 + int(12 * audio_s)),
        )
        parts = [(to_simplified(s.text), s.avg_logprob, s.no_speech_prob, s.compression_ratio) for s in segments]
        parts = [p for p in parts if p[0]]
        text = _join(p[0] for p in parts)
        result = _Result(text, confidence_of([p[:3] for p in parts]))
        ratio = max((p[3] for p in parts), default=0.0)
        result.rejected = is_hallucination(text, audio_s, ratio, result.confidence)
        if result.rejected and text:
            log.info("speech: discarded %r (%s)", text, result.rejected)
        return result

    def _transcribe_pcm8k(self, pcm8k: bytes) -> _Result:
        samples = np.frombuffer(pcm8k, dtype="<i2").astype(np.float32) / 32768.0
        return self._transcribe(soxr.resample(samples, _RATE, _MODEL_RATE, quality="HQ").astype(np.float32))

    # -- voicemail -------------------------------------------------------------------------------------------

    async def transcribe_wav(self, path: Path) -> str:
        """Mandarin transcript of a 16-bit PCM WAV file (any rate, mono or stereo), e.g. a voicemail.

        The recording is cut at pauses into windows of at most ``voicemail_window_s``; each window waits for an idle
        worker (callers' utterances go first). ``""`` when nobody spoke.

        Raises:
            SpeechUnavailable: no model is loaded.
            ValueError: the file is not a 16-bit PCM WAV.
            TimeoutError: a window waited longer than ``voicemail_wait_s`` for a worker.
        """
        self._require()
        return await self.transcribe_pcm(await asyncio.to_thread(_read_wav_8k, Path(path)))

    async def transcribe_pcm(self, pcm8k: bytes) -> str:
        """Mandarin transcript of 8 kHz 16-bit mono PCM, as :meth:`transcribe_wav` (windows, idle workers)."""
        self._require()
        texts: list[str] = []
        for window in await asyncio.to_thread(self._voicemail_windows, pcm8k):
            result = await self.pool.run_when_idle(self._transcribe_pcm8k, window, wait_s=self.voicemail_wait_s)
            if not result.rejected:
                texts.append(result.text)
        return " ".join(texts)

    def _voicemail_windows(self, pcm8k: bytes) -> list[bytes]:
        """Speech of a recording grouped into windows ≤ ``voicemail_window_s`` (pauses kept, long silences not)."""
        endpointer = Endpointer(hangover_ms=self.hangover_ms, max_segment_s=self.voicemail_window_s)
        _, segments = endpointer.push(pcm8k + bytes(2 * _RATE * (self.hangover_ms + 100) // 1000))
        limit = int(self.voicemail_window_s * _RATE) * 2
        pause = bytes(2 * _RATE // 5)  # 200 ms between two utterances (they keep 300 ms of their own either side)
        windows: list[bytes] = []
        current = b""
        for seg in segments:
            if current and len(current) + len(pause) + len(seg.pcm) > limit:
                windows.append(current)
                current = b""
            current = current + pause + seg.pcm if current else seg.pcm
        if current:
            windows.append(current)
        return windows


def _join(texts: Any) -> str:
    """Whisper segment texts → one transcript (a space only between two Latin letters or digits)."""
    out = ""
    for text in texts:
        if out and text and out[-1].isascii() and out[-1].isalnum() and text[0].isascii() and text[0].isalnum():
            out += " "
        out += text
    return out


def _read_wav_8k(path: Path) -> bytes:
    """A 16-bit PCM WAV as 8 kHz mono PCM."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    if width != 2:
        raise ValueError(f"expected 16-bit samples, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).mean(axis=1)
    if rate != _RATE:
        samples = soxr.resample(samples, rate, _RATE, quality="HQ")
    return bytes(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


class WhisperStream:
    """One caller's speech turn: feed telephone PCM, get barge-in signals and transcripts.

    Created by :meth:`WhisperRecognizer.stream`; ``feed`` calls must be awaited one after another. ``feed`` does
    not wait for the model: a finished utterance is transcribed in the pool and its result is returned by a later
    ``feed`` (RTP brings one every 20 ms; ``feed(b"")`` only collects results) or by :meth:`finish`.

    Attributes:
        grammar: the menu phrases, or ``None``.
    """

    def __init__(self, owner: WhisperRecognizer, grammar: list[str] | None, *, hold_ms: int = 500) -> None:
        """Use :meth:`WhisperRecognizer.stream`."""
        self.grammar = grammar
        self._owner = owner
        self._endpointer = Endpointer(hangover_ms=owner.hangover_ms, max_segment_s=owner.max_segment_s)
        self._pending: deque[tuple[SpeechSegment, concurrent.futures.Future[_Result]]] = deque()
        self._hold_ms = hold_ms
        self._since_partial_ms = 0
        self._onset = False
        self._finished = False
        owner.active_streams += 1

    @property
    def pending(self) -> int:
        """Utterances handed to the pool whose results :meth:`feed` has not returned yet."""
        return len(self._pending)

    def _submit(self, segment: SpeechSegment) -> bool:
        """Hand a segment to the pool; ``False`` if the pool refused it."""
        future = self._owner.pool.try_submit(self._owner._transcribe_pcm8k, segment.pcm)
        if future is None:
            log.info("speech: recognition pool full, utterance of %.1f s dropped", segment.end_s - segment.start_s)
            return False
        self._pending.append((segment, future))
        return True

    def _utterance(self, segment: SpeechSegment, result: _Result) -> WhisperUtterance | None:
        if result.rejected or not result.text:
            return None
        text, similarity = result.text, 1.0
        if self.grammar:
            match = match_phrase(result.text, self.grammar, self._owner.phrase_similarity)
            if match is not None:
                text, similarity = match
        return WhisperUtterance(text, result.confidence, segment.start_s, segment.end_s, result.text, similarity)

    def _ready(self) -> WhisperUtterance | None:
        """The next transcript in speaking order, if it is done (empty and rejected ones are skipped)."""
        while self._pending:
            segment, future = self._pending[0]
            if not future.done():
                return None
            self._pending.popleft()
            try:
                result = future.result()
            except concurrent.futures.CancelledError:
                continue
            utterance = self._utterance(segment, result)
            if utterance is not None:
                return utterance
        return None

    async def feed(self, pcm8k: bytes) -> Utterance | Partial | Busy | None:
        """Feed 8 kHz 16-bit mono PCM (any length, e.g. one decoded 20 ms frame).

        Returns:
            :class:`Busy` at once if an utterance ending in this audio was refused by the full pool; else the next
            finished :class:`WhisperUtterance` if there is one; else ``Partial("")`` at the speech onset and every
            ``hold_ms`` while the caller speaks or a transcript is pending; else ``None``.

        Raises:
            RuntimeError: the stream is finished.
            SpeechUnavailable: the recognizer was closed.
        """
        if self._finished:
            raise RuntimeError("recognition stream is finished")
        started, segments = self._endpointer.push(pcm8k)
        refused = [segment for segment in segments if not self._submit(segment)]
        self._onset |= started
        self._since_partial_ms += len(pcm8k) // 2 * 1000 // _RATE
        if refused:
            return Busy()
        result = self._ready()
        if result is not None:
            return result
        if self._onset or ((self._endpointer.in_speech or self._pending) and self._since_partial_ms >= self._hold_ms):
            self._onset = False
            self._since_partial_ms = 0
            return Partial("")
        return None

    def close(self) -> None:
        """Abandon the stream (the caller hung up or the menu ended): queued utterances are cancelled."""
        if self._finished:
            return
        self._finished = True
        self._owner.active_streams -= 1
        for _segment, future in self._pending:
            future.cancel()
        self._pending.clear()

    async def finish(self) -> Utterance | None:
        """Flush the utterance in progress, wait for every pending transcript and close the stream.

        Returns:
            the results not returned by :meth:`feed` yet, joined into one utterance (``None`` if there are none).
            A flushed utterance waits for an idle worker instead of being refused.
        """
        if self._finished:
            return None
        tail = self._endpointer.flush()
        waits = list(self._pending)
        self._pending.clear()
        results: list[WhisperUtterance] = []
        try:
            for segment, future in waits:
                with contextlib.suppress(concurrent.futures.CancelledError):
                    utterance = self._utterance(segment, await asyncio.wrap_future(future))
                    if utterance is not None:
                        results.append(utterance)
            if tail is not None:
                result = await self._owner.pool.run_when_idle(
                    self._owner._transcribe_pcm8k, tail.pcm, wait_s=self._owner.voicemail_wait_s
                )
                utterance = self._utterance(tail, result)
                if utterance is not None:
                    results.append(utterance)
        finally:
            self.close()
        if not results:
            return None
        if len(results) == 1:
            return results[0]
        raw = _join(u.raw for u in results)
        return WhisperUtterance(
            _join(u.text for u in results),
            round(sum(u.confidence for u in results) / len(results), 3),
            results[0].start_s,
            results[-1].end_s,
            raw,
            1.0,
        )
