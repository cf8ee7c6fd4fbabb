"""Mandarin speech on the phone: Whisper end-of-speech → text latency, Kokoro time to first audio, and bridged calls
while recognition runs.

Prints one JSON object on stdout (logs on stderr). Every figure has an anchor measured in the same run.

- ``asr``: a dozen hotline sentences (complaints, questions; about 3 s each) spoken by the project's Kokoro engine
  with the test caller's voice (``zf_xiaoyi`` at 0.95, not the prompts' voice), resampled to 8 kHz and passed through
  a μ-law round trip, with a -60 dBFS noise bed between them. For each N of ``--callers`` (default 1 2 4), N callers
  at once each open a :class:`WhisperStream` per turn on ONE shared :class:`WhisperRecognizer` built as production
  builds it on this machine (default workers / max_waiting / threads) and feed it 20 ms frames paced by the clock (as
  RTP arrives): a random pause, a sentence, then noise until the transcript comes back (``--utterances`` turns
  each). Per turn: ``latency`` = time the last speech frame was fed (the last frame the end-pointer counts as loud)
  → the ``feed()`` that returned the :class:`WhisperUtterance` (what the caller waits for; includes the end-pointer's
  ~0.7 s hangover), ``after_hangover`` = the segment's submission to the pool → that ``feed()`` (queue + model +
  up to one 20 ms frame of polling); ``Busy`` results (the caller would be asked for keys), rejected or empty
  transcripts, the character error rate of what came back. Anchor: bare ``faster_whisper.WhisperModel.transcribe``
  on one thread, sequential, of the same sentences at 16 kHz with the end-pointer's 0.3 s pre-roll and tail (model
  time only; the production decoding options).
- ``tts``: eight ~40-character dynamic answers (knowledge-base style), cold cache, with the production engine
  (``PromptSynthesizer(engine="kokoro")``, its default voice): (a) the whole text in one synthesis (what a
  non-streamed play waits for), (b) ``clauses(speakable(text))`` rendered one after another exactly as
  ``CallSession._play_streamed`` does (the next piece requested when the previous one is ready): time to the first
  piece's frames, the total, and for each following piece whether it was ready before the previous one would have
  finished playing (``underruns``, ``gap_ms``: silence the caller would hear). Anchors: espeak-ng's whole-text time
  (the fallback engine) and a cached prompt (memory hit; disk hit from a new synthesizer).
- ``bridged``: ``bench/voice_calls.py``'s bridged phase (sipp load calls pressing 0, echo agents, probe callers
  measuring relay delay and loss) for ``--bridged-calls`` calls, three times on one hub: alone (the anchor), while
  ``--asr-load-streams`` real-time callers (default 6, a little more than one worker can follow) keep the hub's own
  recognition pool busy *inside the hub process*, and alone again (how much the figures move between rounds anyway).
  The hub is ``voice_calls_hub.py`` run through this script's ``--as-hub`` mode, which adds ``GET /_bench/asr_load``;
  the load uses ``hub.voice.free_asr`` (the recognizer calls use) from the hub's event loop, turns as above.

    python bench/speech.py [--callers 1 2 4] [--utterances 5] [--skip-bridged] [--bridged-calls 50]
    (also --skip-asr, --skip-tts, --bridge-hold S, --asr-load-streams N, --audio-cache DIR; ~4.5 min on 2 cores)

The callers' sentences are cached under ``--audio-cache`` (test data, not measured); the bench hub's prompts under
``<audio cache>/hub-prompts`` (``voice_calls.py`` warms them before measuring too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from channels.voice import media  # noqa: E402
from channels.voice.asr import Utterance  # noqa: E402
from channels.voice.asr_results import Busy  # noqa: E402
from channels.voice.asr_whisper import Endpointer, WhisperRecognizer, to_simplified  # noqa: E402
from channels.voice.prompt_check import character_error_rate  # noqa: E402
from channels.voice.spoken_text import speakable  # noqa: E402
from channels.voice.tts import PromptSynthesizer, clauses, normalise  # noqa: E402

log = logging.getLogger("bench.speech")

CALLER_VOICE, CALLER_SPEED = "zf_xiaoyi", 0.95  # as tests/fixtures/mandarin_audio.py: not the prompts' voice
SENTENCES = [
    "我家的自来水从昨天晚上开始就停了。",
    "小区门口的路灯坏了好几天没人修。",
    "请问燃气费在哪里可以缴纳？",
    "楼上邻居装修噪音太大，晚上也不停。",
    "我想查询一下供暖什么时候开始。",
    "我们这条街的下水道堵了，污水都冒出来了。",
    "垃圾桶已经满了三天都没有人来清理。",
    "暖气片一直不热，家里温度太低了。",
    "请问办理燃气开户需要带什么材料？",
    "路边的井盖丢了，非常危险，请尽快处理。",
    "我要投诉物业乱收停车费。",
    "自来水有一股很重的消毒水味道。",
]
ANSWERS = [  # 38-40 characters once spoken (speakable)
    "本市居民用水价格为每立方米三元四角五分，污水处理费另行计算，按月随水费一并收取。",
    "燃气报修请拨打燃气公司抢修电话，维修人员将在两小时内上门，请您保持室内通风。",
    "本市供暖期为11月15日至次年3月15日，室温不低于18摄氏度，有问题请来电。",
    "您的工单已经受理，目前正在派发给相关部门处理，预计三个工作日内给您电话回复。",
    "您反映的路灯故障已派单至市政照明管理处，维修人员将在两个工作日内上门处理完毕。",
    "办理燃气开户需携带房产证明和户主身份证原件，到燃气公司任一营业厅现场办理即可。",
    "本次停水是因为主管道抢修，预计今天下午六点前恢复供水，请您提前做好储水准备。",
    "物业收费标准由市发展和改革委员会核定，如对收费有异议，可以向所在区住建局反映。",
]
FRAME_S = media.FRAME_MS / 1000
FRAME_BYTES = 2 * media.FRAME_SAMPLES
NOISE_DBFS = -60.0
PREROLL_S = TAIL_S = 0.3  # what the end-pointer keeps around an utterance (Endpointer's defaults)


# -- audio -----------------------------------------------------------------------------------------------------------


@dataclass
class Clip:
    """One sentence as the caller's 8 kHz PCM, in 20 ms frames."""

    text: str
    frames: list[bytes]
    last_loud: int  # index of the last frame the end-pointer counts as speech

    @property
    def seconds(self) -> float:
        return len(self.frames) * FRAME_S

    @property
    def pcm(self) -> bytes:
        return b"".join(self.frames)


def telephone_pcm(samples: np.ndarray, rate: int) -> bytes:
    """Float speech → 8 kHz PCM at about -20 dBFS after a μ-law round trip (tests/fixtures/mandarin_audio.py)."""
    import soxr

    pcm = normalise(soxr.resample(np.asarray(samples, dtype=np.float32), rate, media.RATE, quality="HQ"))
    return b"".join(media.decode(frame, "PCMU") for frame in media.frames_from_pcm(pcm, "PCMU"))


def noise_frames(count: int = 64, seed: int = 7) -> list[bytes]:
    """A -60 dBFS noise bed (a quiet phone line, through μ-law), as 20 ms frames."""
    rng = np.random.default_rng(seed)
    level = 32768 * 10 ** (NOISE_DBFS / 20)
    samples = np.clip(np.rint(rng.normal(0, level, count * media.FRAME_SAMPLES)), -32768, 32767).astype("<i2")
    pcm = samples.tobytes()
    return [media.decode(frame, "PCMU") for frame in media.frames_from_pcm(pcm, "PCMU")]


def last_loud_frame(frames: list[bytes], noise: list[bytes], hangover_ms: int) -> int:
    """The index of the clip's last frame the end-pointer counts as speech (run offline, noise either side)."""
    lead = noise[:25]
    endpointer = Endpointer(hangover_ms=hangover_ms)
    _, segments = endpointer.push(b"".join(lead + frames + noise[: 2 + hangover_ms // media.FRAME_MS]))
    if segments:
        return min(len(frames) - 1, round(segments[-1].end_s / FRAME_S) - 1 - len(lead))
    loud = [i for i, f in enumerate(frames) if media.level_dbfs(f) > -45.0]
    return loud[-1] if loud else len(frames) - 1


def caller_clips(cache: Path, hangover_ms: int) -> list[Clip]:
    """The sentences spoken by the caller's voice (synthesised once, cached as PCM under ``cache``)."""
    from channels.voice.tts_kokoro import KokoroEngine

    engine = KokoroEngine(voice=CALLER_VOICE, speed=CALLER_SPEED)
    noise = noise_frames()
    clips: list[Clip] = []
    loaded = False
    for text in SENTENCES:
        spoken = speakable(text)
        key = hashlib.sha256(json.dumps([spoken, engine.identity]).encode()).hexdigest()[:24]
        path = cache / f"{key}.pcm"
        if path.is_file():
            pcm = path.read_bytes()
        else:
            if not loaded:
                engine.load()
                loaded = True
            pcm = telephone_pcm(engine.synthesise(spoken), engine.sample_rate)
            cache.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pcm)
        pcm += bytes(-len(pcm) % FRAME_BYTES)
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        clips.append(Clip(spoken, frames, last_loud_frame(frames, noise, hangover_ms)))
    if loaded:
        engine.close()
    return clips


# -- one caller turn, fed in real time -------------------------------------------------------------------------------


class Line:
    """The caller's side of an RTP stream: one 20 ms frame per tick of the clock (late ticks catch up at once, as
    buffered datagrams would), a noise bed when the caller is silent."""

    def __init__(self, noise: list[bytes]) -> None:
        self.loop = asyncio.get_running_loop()
        self.next_t = self.loop.time()
        self.late_max_s = 0.0
        self._noise = noise
        self._i = 0

    async def tick(self) -> float:
        """Wait for the next frame's time; the time it is fed."""
        delay = self.next_t - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        now = self.loop.time()
        self.late_max_s = max(self.late_max_s, now - self.next_t)
        self.next_t += FRAME_S
        return now

    def silence(self) -> bytes:
        self._i += 1
        return self._noise[self._i % len(self._noise)]


@dataclass
class Turn:
    """What one utterance got."""

    reference: str
    text: str = ""
    busy: bool = False
    rejected: bool = False  # a segment was submitted but nothing came back (empty or hallucination guard)
    timeout: bool = False
    segments: int = 0
    latency_s: float | None = None  # last speech frame fed → the feed() returning the utterance
    after_hangover_s: float | None = None  # the segment's submission → that feed()
    endpoint_s: float | None = None  # last speech frame → submission (the end-pointer's hangover)


async def speak(recognizer: WhisperRecognizer, line: Line, clip: Clip, pause_s: float, limit_s: float = 30.0) -> Turn:
    """A caller's turn: ``pause_s`` of noise, the sentence, then noise until the transcript (or Busy) comes back."""
    stream = recognizer.stream()
    turn = Turn(clip.text)
    texts: list[str] = []
    try:
        for _ in range(round(pause_s / FRAME_S)):
            await line.tick()
            await stream.feed(line.silence())
        end_t = submitted_t = result_t = None
        pending = 0
        limit = len(clip.frames) + round(limit_s / FRAME_S)
        for k in range(limit):
            now = await line.tick()
            out = await stream.feed(clip.frames[k] if k < len(clip.frames) else line.silence())
            t = line.loop.time()
            if k == clip.last_loud:
                end_t = now
            if stream.pending > pending:
                submitted_t = t
                turn.segments += 1
            pending = stream.pending
            if isinstance(out, Busy):
                turn.busy = True
                break
            if isinstance(out, Utterance):
                texts.append(getattr(out, "raw", "") or out.text)
                result_t = t
            if end_t is not None and submitted_t is not None and submitted_t >= end_t and pending == 0:
                break
        else:
            turn.timeout = True
        turn.text = "".join(texts)
        if end_t is not None and submitted_t is not None:
            turn.endpoint_s = submitted_t - end_t
            if result_t is not None and result_t >= submitted_t:
                turn.latency_s = result_t - end_t
                turn.after_hangover_s = result_t - submitted_t
        turn.rejected = turn.segments > 0 and not texts and not turn.busy
    finally:
        stream.close()
    return turn


def ms(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p99, max in ms (nearest rank, as voice_calls_stats.percentiles)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))], 1)

    return {"n": len(ordered), "p50": at(50), "p99": at(99), "max": round(1000 * ordered[-1], 1)}


def summarise(turns: list[Turn]) -> dict[str, Any]:
    """Latency percentiles, Busy/rejected/timeouts and the character error rate over a set of turns."""
    edits = chars = 0
    for turn in turns:
        if turn.text:
            _, e, n = character_error_rate(turn.reference, turn.text)
            edits, chars = edits + e, chars + n
    return {
        "turns": len(turns),
        "latency_ms": ms([t.latency_s for t in turns if t.latency_s is not None]),
        "after_hangover_ms": ms([t.after_hangover_s for t in turns if t.after_hangover_s is not None]),
        "endpoint_hangover_ms": ms([t.endpoint_s for t in turns if t.endpoint_s is not None]),
        "busy": sum(t.busy for t in turns),
        "rejected_or_empty": sum(t.rejected for t in turns),
        "timeouts": sum(t.timeout for t in turns),
        "split_into_segments": sum(t.segments > 1 for t in turns),
        "cer": round(edits / chars, 3) if chars else None,
    }


# -- ASR -------------------------------------------------------------------------------------------------------------


class BareWhisper:
    """The anchor: bare faster-whisper, int8, one thread, sequential, the production decoding options; model time of
    each sentence at 16 kHz with the end-pointer's pre-roll and tail (noise) around it."""

    def __init__(self, model_dir: Path, clips: list[Clip], beam_size: int) -> None:
        import soxr
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=1, num_workers=1)
        self.beam_size = beam_size
        self.clips = clips
        pad = b"".join(noise_frames()[: round(PREROLL_S / FRAME_S)])
        self.audios = []
        for clip in clips:
            pcm = pad + b"".join(clip.frames[: clip.last_loud + 1]) + pad
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            self.audios.append(soxr.resample(samples, media.RATE, 16000, quality="HQ").astype(np.float32))
        self._transcribe(self.audios[0])  # first call: allocations, not measured

    def _transcribe(self, audio: np.ndarray) -> str:
        audio_s = len(audio) / 16000
        segments, _ = self.model.transcribe(
            audio, language="zh", beam_size=self.beam_size, temperature=0.0, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False, max_new_tokens=min(400, 16 + int(12 * audio_s)),
        )  # fmt: skip
        return "".join(s.text for s in segments)

    def measure(self) -> dict[str, Any]:
        times, audio_total, edits, chars = [], 0.0, 0, 0
        for clip, audio in zip(self.clips, self.audios, strict=True):
            started = time.perf_counter()
            text = self._transcribe(audio)
            times.append(time.perf_counter() - started)
            audio_total += len(audio) / 16000
            _, e, n = character_error_rate(clip.text, to_simplified(text))
            edits, chars = edits + e, chars + n
        return {
            "model_ms": ms(times),
            "audio_s_mean": round(audio_total / len(self.clips), 2),
            "rtf": round(sum(times) / audio_total, 3),
            "cer": round(edits / chars, 3),
            "loadavg": loadavg(),
        }


async def bench_callers(
    recognizer: WhisperRecognizer, clips: list[Clip], n: int, utterances: int, seed: int
) -> dict[str, Any]:
    """N callers at once, each ``utterances`` turns with random pauses, on the shared recognizer."""
    rng = random.Random(seed * 100 + n)
    noise = noise_frames()
    order = list(range(len(clips)))
    rng.shuffle(order)
    plans = [
        [(clips[order[(c + k * n) % len(clips)]], rng.uniform(0.0, 1.5) if k == 0 else rng.uniform(0.5, 2.5))
         for k in range(utterances)]
        for c in range(n)
    ]  # fmt: skip
    rejected0, jobs0 = recognizer.pool.rejected, recognizer.pool.jobs_done
    lines: list[Line] = []

    async def caller(plan: list[tuple[Clip, float]]) -> list[Turn]:
        line = Line(noise)
        lines.append(line)
        return [await speak(recognizer, line, clip, pause) for clip, pause in plan]

    cpu0, wall0 = time.process_time(), time.perf_counter()
    busy0 = machine_busy()
    turns = [t for per in await asyncio.gather(*(caller(p) for p in plans)) for t in per]
    wall = time.perf_counter() - wall0
    out = summarise(turns)
    out["pool_jobs"] = recognizer.pool.jobs_done - jobs0
    out["pool_refusals"] = recognizer.pool.rejected - rejected0
    out["feed_late_max_ms"] = round(1000 * max(line.late_max_s for line in lines), 1)
    out["wall_s"] = round(wall, 1)
    out["this_process_cpu_pct"] = round(100 * (time.process_time() - cpu0) / wall, 1)
    out["machine_cpu_busy_pct_of_all_cores"] = machine_busy_pct(busy0)
    out["examples"] = [f"{t.reference} → {t.text or ('Busy' if t.busy else '∅')}" for t in turns[:3]]
    log.info("asr x%d: %s", n, {k: out[k] for k in ("latency_ms", "after_hangover_ms", "busy", "cer")})
    return out


async def bench_asr(args: argparse.Namespace, clips: list[Clip], model_dir: Path) -> dict[str, Any]:
    recognizer = WhisperRecognizer(model_dir)  # production defaults for this machine
    await recognizer.load()
    if not recognizer.available:
        raise SystemExit(f"Whisper did not load: {recognizer.reason}")
    warm = Line(noise_frames())
    await speak(recognizer, warm, clips[0], 0.2)  # the pool thread's first job, not measured
    out: dict[str, Any] = {
        "sentences": len(clips),
        "sentence_s": {
            "min": round(min(c.seconds for c in clips), 2),
            "max": round(max(c.seconds for c in clips), 2),
            "mean": round(statistics.mean(c.seconds for c in clips), 2),
        },
        "recognizer": {
            k: recognizer.status()[k] for k in ("workers", "cpu_threads", "max_waiting", "beam_size", "load_seconds")
        }
        | {"hangover_ms": recognizer.hangover_ms},
    }
    bare = await asyncio.to_thread(BareWhisper, model_dir, clips, recognizer.beam_size)
    anchor: dict[str, Any] = {"what": "faster_whisper transcribe, int8, cpu_threads=1, sequential, same options"}
    anchor["before_rounds"] = await asyncio.to_thread(bare.measure)
    log.info("asr anchor: %s", anchor["before_rounds"])
    for n in args.callers:
        out[f"callers_{n}"] = await bench_callers(recognizer, clips, n, args.utterances, args.seed)
    await recognizer.close()
    anchor["after_rounds"] = await asyncio.to_thread(bare.measure)
    log.info("asr anchor: %s", anchor["after_rounds"])
    out["anchor_bare_whisper"] = anchor
    return out


# -- TTS -------------------------------------------------------------------------------------------------------------


async def streamed(synth: PromptSynthesizer, text: str) -> dict[str, Any]:
    """``CallSession._play_streamed`` without the playing: piece i+1 is requested when piece i's frames are ready."""
    pieces = clauses(speakable(text))
    started = time.perf_counter()
    ready: list[float] = []
    audio: list[float] = []
    upcoming = asyncio.create_task(synth.frames(pieces[0]))
    for index in range(len(pieces)):
        frames = await upcoming
        ready.append(time.perf_counter() - started)
        audio.append(len(frames) * FRAME_S)
        if index + 1 < len(pieces):
            upcoming = asyncio.create_task(synth.frames(pieces[index + 1]))
    # playback timeline: piece i starts when it is ready and the previous one has finished playing
    gaps, play_end = [], ready[0] + audio[0]
    for i in range(1, len(pieces)):
        gaps.append(max(0.0, ready[i] - play_end))
        play_end = max(ready[i], play_end) + audio[i]
    return {
        "pieces": [len(p) for p in pieces],
        "first_audio_ms": round(1000 * ready[0], 1),
        "total_ms": round(1000 * ready[-1], 1),
        "audio_s": round(sum(audio), 2),
        "first_piece_audio_s": round(audio[0], 2),
        "underruns": sum(g > 0 for g in gaps),
        "gap_ms": [round(1000 * g, 1) for g in gaps],
    }


async def timed_frames(synth: PromptSynthesizer, text: str) -> tuple[float, float]:
    """(seconds until the frames, seconds of audio)."""
    started = time.perf_counter()
    frames = await synth.frames(text)
    return time.perf_counter() - started, len(frames) * FRAME_S


async def bench_tts(work: Path) -> dict[str, Any]:
    kokoro = PromptSynthesizer(work / "kokoro")
    started = time.perf_counter()
    engine = await kokoro.load()
    load_s = time.perf_counter() - started
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(ANSWERS):
        row: dict[str, Any] = {"chars": len(text), "spoken_chars": len(speakable(text))}
        if i % 2:  # every other answer whole first: neither way profits from running second
            whole_s, audio_s = await timed_frames(kokoro, speakable(text))
            row["streamed"] = await streamed(kokoro, text)
        else:
            row["streamed"] = await streamed(kokoro, text)
            whole_s, audio_s = await timed_frames(kokoro, speakable(text))
        row["whole"] = {"first_audio_ms": round(1000 * whole_s, 1), "audio_s": round(audio_s, 2)}
        row["whole_rtf"] = round(whole_s / audio_s, 3)
        memory_s, _ = await timed_frames(kokoro, speakable(text))
        row["cached_memory_ms"] = round(1000 * memory_s, 3)
        rows.append(row)
        log.info("tts %s", row)
    await kokoro.close()
    disk = PromptSynthesizer(work / "kokoro")
    await disk.load()
    disk_ms = [round(1000 * (await timed_frames(disk, speakable(text)))[0], 3) for text in ANSWERS]
    await disk.close()
    espeak = PromptSynthesizer(work / "espeak", engine="espeak")
    espeak_engine = await espeak.load()
    await timed_frames(espeak, "预热。")
    espeak_ms = []
    for text in ANSWERS:
        espeak_s, _ = await timed_frames(espeak, speakable(text))
        espeak_ms.append(round(1000 * espeak_s, 1))
    await espeak.close()

    def p50(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    return {
        "engine": engine.identity,
        "engine_load_s": round(load_s, 2),
        "answers": rows,
        "summary": {
            "streamed_first_audio_ms_p50": p50([r["streamed"]["first_audio_ms"] for r in rows]),
            "streamed_first_audio_ms_max": max(r["streamed"]["first_audio_ms"] for r in rows),
            "streamed_total_ms_p50": p50([r["streamed"]["total_ms"] for r in rows]),
            "whole_first_audio_ms_p50": p50([r["whole"]["first_audio_ms"] for r in rows]),
            "whole_first_audio_ms_max": max(r["whole"]["first_audio_ms"] for r in rows),
            "answers_with_underrun": sum(r["streamed"]["underruns"] > 0 for r in rows),
            "anchor_espeak_whole_ms_p50": p50(espeak_ms),
            "anchor_cached_memory_ms_p50": round(statistics.median(r["cached_memory_ms"] for r in rows), 3),
            "anchor_cached_disk_ms_p50": round(statistics.median(disk_ms), 3),
        },
        "anchor_espeak": {"engine": espeak_engine.identity, "whole_ms": espeak_ms},
        "anchor_cached_disk_ms": disk_ms,
    }


# -- bridged calls while recognition runs ----------------------------------------------------------------------------


class HubAsrLoad:
    """Inside the bench hub: real-time callers speaking to ``hub.voice.free_asr`` on the hub's own event loop."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.tasks: list[asyncio.Task[None]] = []
        self.turns: list[Turn] = []
        self.lines: list[Line] = []
        self.started = 0.0
        self.jobs0 = self.rejected0 = 0

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        recognizer = self.hub.voice.free_asr
        if not isinstance(recognizer, WhisperRecognizer) or not recognizer.available:
            return web.json_response({"error": f"no Whisper recognizer in the hub: {recognizer.status()}"})
        if request.query.get("action") == "start":
            clips = await asyncio.to_thread(read_clips, Path(request.query["dir"]))
            self.turns, self.lines = [], []
            self.jobs0, self.rejected0 = recognizer.pool.jobs_done, recognizer.pool.rejected
            self.started = time.perf_counter()
            streams = int(request.query.get("streams", "3"))
            self.tasks = [asyncio.create_task(self._caller(recognizer, clips, i)) for i in range(streams)]
            return web.json_response({"started": streams, "clips": len(clips)})
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        body = summarise(self.turns)
        body["seconds"] = round(time.perf_counter() - self.started, 1)
        body["pool_jobs"] = recognizer.pool.jobs_done - self.jobs0
        body["pool_refusals"] = recognizer.pool.rejected - self.rejected0
        body["feed_late_max_ms"] = round(1000 * max((ln.late_max_s for ln in self.lines), default=0.0), 1)
        body["recognizer"] = {k: recognizer.status()[k] for k in ("workers", "cpu_threads", "max_waiting")}
        return web.json_response(body)

    async def _caller(self, recognizer: WhisperRecognizer, clips: list[Clip], index: int) -> None:
        rng = random.Random(index)
        line = Line(noise_frames())
        self.lines.append(line)
        while True:
            self.turns.append(await speak(recognizer, line, rng.choice(clips), rng.uniform(0.2, 0.8)))


def write_clips(folder: Path, clips: list[Clip]) -> None:
    """The sentences for the hub's load: ``NN.pcm`` and ``NN.json`` (text, last loud frame)."""
    folder.mkdir(parents=True)
    for i, clip in enumerate(clips):
        (folder / f"{i:02d}.pcm").write_bytes(clip.pcm)
        (folder / f"{i:02d}.json").write_text(json.dumps({"text": clip.text, "last_loud": clip.last_loud}))


def read_clips(folder: Path) -> list[Clip]:
    """What :func:`write_clips` wrote."""
    clips = []
    for path in sorted(folder.glob("*.json")):
        meta = json.loads(path.read_text())
        pcm = path.with_suffix(".pcm").read_bytes()
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        clips.append(Clip(meta["text"], frames, meta["last_loud"]))
    return clips


def hub_main(argv: list[str]) -> None:
    """``--as-hub``: bench/voice_calls_hub.py with ``GET /_bench/asr_load?action=start&streams=N&dir=D|stop``."""
    import voice_calls_hub

    build = voice_calls_hub.build_hub

    async def build_with_load(settings: Any) -> Any:
        hub = await build(settings)
        hub.app.router.add_get("/_bench/asr_load", HubAsrLoad(hub).handle)
        return hub

    voice_calls_hub.build_hub = build_with_load  # type: ignore[assignment]
    sys.argv = [str(ROOT / "bench" / "voice_calls_hub.py"), *argv]
    voice_calls_hub.main()


async def start_hub(data_dir: Path, prompt_cache: Path, *, agents: int, max_calls: int) -> Any:
    """``voice_calls_stats.HubProcess.start`` with this script's ``--as-hub`` and a persistent prompt cache."""
    from voice_calls_stats import HubProcess

    from tests.channels.voice.sipp_calls import free_udp_port

    def prepare() -> Any:
        data_dir.mkdir(parents=True)
        prompt_cache.mkdir(parents=True, exist_ok=True)
        (data_dir / "prompts").symlink_to(prompt_cache, target_is_directory=True)
        return (data_dir.parent / "hub.log").open("wb")

    log_file = await asyncio.to_thread(prepare)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--as-hub", str(data_dir),
        "--sip-port", str(free_udp_port()), "--http-port", str(free_udp_port()),
        "--agents", str(agents), "--max-calls", str(max_calls),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log_file,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 300)
    if not line:
        log_file.close()
        tail = (data_dir.parent / "hub.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the hub did not start:\n{tail}")
    return HubProcess(proc, json.loads(line), log_file)


def phase_figures(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of a voice_calls.py bridged phase that the comparison needs."""
    probes = result.get("probes", {})
    return {
        "sipp_ok_failed": [result.get("sipp", {}).get("successful"), result.get("sipp", {}).get("failed")],
        "relay_ms": probes.get("relay_delay"),
        "relay_lost": f"{probes.get('relay_lost')} / {probes.get('relay_packets')}",
        "anchor_direct_echo_ms": probes.get("anchor_direct_echo"),
        "probe_invite_to_200_ms": probes.get("invite_to_200"),
        "sipp_invite_to_200_ms": result.get("sipp", {}).get("invite_to_200_ms"),
        "hub": result.get("hub"),
    }


async def bench_bridged(args: argparse.Namespace, clips: list[Clip], work: Path) -> dict[str, Any]:
    import voice_calls
    from voice_calls_peers import HOST, EchoAgents

    from tests.channels.voice.sipp_calls import tone_pcm, write_rtp_pcap

    if voice_calls.SIPP is None:
        return {"skipped": "sipp (apt sip-tester) is not installed"}
    clip_dir = work / "clips"
    await asyncio.to_thread(write_clips, clip_dir, clips)
    n = args.bridged_calls
    ns = argparse.Namespace(
        rate=50, ivr_hold=12.0, bridge_hold=args.bridge_hold, probes=20, bridge_probes=8, bridge_measure=5.0,
        profile=None,
    )  # fmt: skip
    pcaps = {"bridge": write_rtp_pcap(work / "bridge.pcap", tone_pcm((440.0,), int(args.bridge_hold * 1000), 1500.0))}
    started = time.perf_counter()
    hub = await start_hub(work / "data", args.audio_cache / "hub-prompts", agents=n + 13, max_calls=n + 40)
    out: dict[str, Any] = {
        "what": f"voice_calls.py bridged phase, {n} sipp calls + {ns.bridge_probes} probes, twice on one hub",
        "hub_start_s": round(time.perf_counter() - started, 1),
        "hub_ready": {k: hub.ready[k] for k in ("loop", "prompts_warmed", "warm_s", "gc_frozen_objects")},
        "hub_rss_mib_idle": hub.rss_mib(),
    }
    agents = EchoAgents(hub.agents, (HOST, hub.sip_port))
    try:
        await agents.start()
        next_id = [0]

        async def speech_status() -> dict[str, Any]:
            health = await hub.get("/healthz")
            status = health["components"]["channels"]["voice"]["speech_input"]["free_speech"]
            return {k: status.get(k) for k in ("engine", "available", "jobs_done", "busy_rejections")}

        out["speech_input_before"] = await speech_status()
        for name in ("alone", "asr_load", "alone_again"):
            folder = work / name
            folder.mkdir()
            load = None
            if name == "asr_load":
                load = await hub.get(f"/_bench/asr_load?action=start&streams={args.asr_load_streams}&dir={clip_dir}")
                if "error" in load:
                    out["asr_load_error"] = load["error"]
                    break
                await asyncio.sleep(3.0)  # the first utterances reach the pool
            loadavg_before = loadavg()
            result = await voice_calls.phase("bridged", n, ns, hub, agents, folder, pcaps, next_id)
            out[name] = phase_figures(result) | {"loadavg_before": loadavg_before}
            if load is not None:
                out[name]["recognition_in_hub"] = await hub.get("/_bench/asr_load?action=stop")
            out[name]["speech_input_after"] = await speech_status()
            log.info("bridged %s: %s", name, out[name]["relay_ms"])
    finally:
        agents.close()
        await hub.stop()
    return out


# -- main ------------------------------------------------------------------------------------------------------------


def loadavg() -> str:
    """/proc/loadavg's 1/5/15-minute load."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def other_processes(sample_s: float = 1.0) -> list[dict[str, Any]]:
    """Other processes using more than 5 % of a core over ``sample_s`` (the machine may be shared)."""
    tick = os.sysconf("SC_CLK_TCK")

    def snapshot() -> dict[int, tuple[str, int, int]]:
        out: dict[int, tuple[str, int, int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = stat.read_text()
                fields = text[text.rindex(")") + 2 :].split()
                comm = text[text.index("(") + 1 : text.rindex(")")]
                out[int(stat.parent.name)] = (comm, int(fields[11]) + int(fields[12]), int(fields[16]))
        return out

    before = snapshot()
    time.sleep(sample_s)
    after = snapshot()
    rows = []
    for pid, (comm, cpu, nice) in after.items():
        if pid != os.getpid() and pid in before:
            pct = 100 * (cpu - before[pid][1]) / tick / sample_s
            if pct > 5:
                rows.append({"pid": pid, "comm": comm, "nice": nice, "cpu_pct": round(pct)})
    return sorted(rows, key=lambda r: -int(r["cpu_pct"]))


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def machine_busy_pct(since: tuple[int, int]) -> float:
    busy, total = machine_busy()
    return round(100 * (busy - since[0]) / max(1, total - since[1]), 1)


@dataclass
class Section:
    """Wall time, this process's CPU and the whole machine's busy share over one section (others' work shows)."""

    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.process_time)
    busy0: tuple[int, int] = field(default_factory=machine_busy)
    load0: str = field(default_factory=loadavg)

    def end(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall0
        return {
            "wall_s": round(wall, 1),
            "this_process_cpu_pct": round(100 * (time.process_time() - self.cpu0) / wall, 1),
            "machine_cpu_busy_pct_of_all_cores": machine_busy_pct(self.busy0),
            "loadavg_start": self.load0,
            "loadavg_end": loadavg(),
        }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from channels.voice.config import default_model_root
    from channels.voice.speech_models import ensure_whisper_base

    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg(),
            "nice": os.nice(0),
            "other_processes_at_start": other_processes(),
        },
        "args": {"callers": args.callers, "utterances": args.utterances, "bridged_calls": args.bridged_calls},
    }
    model_dir = await asyncio.to_thread(ensure_whisper_base, default_model_root())
    section = Section()
    clips = await asyncio.to_thread(caller_clips, args.audio_cache / "callers", 700)
    out["caller_audio"] = {"voice": f"kokoro {CALLER_VOICE} ×{CALLER_SPEED}", **section.end()}
    with tempfile.TemporaryDirectory(prefix="rexian-speech-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_asr:
            section = Section()
            out["asr"] = await bench_asr(args, clips, model_dir)
            out["asr"]["section"] = section.end()
        if not args.skip_tts:
            section = Section()
            out["tts"] = await bench_tts(work / "tts")
            out["tts"]["section"] = section.end()
        if not args.skip_bridged:
            section = Section()
            out["bridged"] = await bench_bridged(args, clips, work / "bridged")
            out["bridged"]["section"] = section.end()
    out["machine"]["loadavg_end"] = loadavg()
    out["machine"]["other_processes_at_end"] = other_processes()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--as-hub":
        hub_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 2, 4], help="concurrent callers per round")
    parser.add_argument("--utterances", type=int, default=5, help="turns per caller")
    parser.add_argument("--seed", type=int, default=12319)
    parser.add_argument("--skip-asr", action="store_true", help="skip the recognition latency rounds")
    parser.add_argument("--skip-tts", action="store_true", help="skip the time-to-first-audio measurements")
    parser.add_argument("--skip-bridged", action="store_true", help="skip the sipp bridged-calls comparison")
    parser.add_argument("--bridged-calls", type=int, default=50)
    parser.add_argument("--bridge-hold", type=float, default=15.0, help="seconds of audio after pressing 0")
    parser.add_argument("--asr-load-streams", type=int, default=6, help="real-time callers speaking inside the hub")
    parser.add_argument("--audio-cache", type=Path, default=Path("~/.cache/rexian/bench/speech").expanduser())
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
