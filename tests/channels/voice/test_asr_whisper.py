"""faster-whisper with the real Whisper base model, fed Mandarin made from text and passed through μ-law like a call.

Assertions are on robust key words after normalisation (simplified characters, numbers as digits), never on exact
transcripts, and never on speed (that belongs in bench/).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import cn2an
import numpy as np
import pytest

from channels.voice import media
from channels.voice.asr import Partial, SpeechUnavailable, Utterance
from channels.voice.asr_results import Busy, SpeechEngine, SpeechStream
from channels.voice.asr_whisper import (
    Endpointer,
    RecognitionPool,
    WhisperRecognizer,
    WhisperStream,
    WhisperUtterance,
    confidence_of,
    is_hallucination,
    match_phrase,
    to_simplified,
)
from channels.voice.ivr import speech

Say = Callable[[str], bytes]
Result = Utterance | Partial | Busy
FRAME = 320  # 20 ms of 8 kHz 16-bit PCM
MENU = ["查询工单进度", "我要投诉", "转人工", "人工服务", "返回主菜单", "重听"]
STREETLIGHT = "我家楼下的路灯坏了，地址是解放路一百二十号"
WATER = "我们小区的水管爆了，一直在漏水，请尽快派人来修理"


def silence(seconds: float) -> bytes:
    return bytes(2 * int(8000 * seconds))


def phone(pcm: bytes) -> bytes:
    """Through G.711 μ-law and back, like the caller's audio after RTP."""
    return media.decode(media.encode(pcm, "PCMU"), "PCMU")


def noise(seconds: float, level_dbfs: float, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, 32768 * 10 ** (level_dbfs / 20), int(8000 * seconds))
    return bytes(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def plain(text: str) -> str:
    """Simplified, no punctuation or spaces, Chinese numbers as digits (一百二十 → 120)."""
    return str(cn2an.transform(speech.normalise(to_simplified(text)), "cn2an"))


async def feed_all(stream: SpeechStream, pcm: bytes) -> list[tuple[float, Result]]:
    """Feed ``pcm`` in 20 ms frames like RTP would (faster than real time); results with their position (s)."""
    out: list[tuple[float, Result]] = []
    for i in range(0, len(pcm), FRAME):
        result = await stream.feed(pcm[i : i + FRAME])
        if result is not None:
            out.append(((i + FRAME) / 16000, result))
    return out


async def settle(stream: WhisperStream, at: float) -> list[tuple[float, Result]]:
    """Collect the pending transcripts through ``feed(b"")``, as later RTP frames would (waits for the pool)."""
    out: list[tuple[float, Result]] = []
    for _ in range(3000):
        if not stream.pending:
            return out
        result = await stream.feed(b"")
        if result is None:
            await asyncio.sleep(0.01)
        else:
            out.append((at, result))
    raise AssertionError("transcripts still pending after 30 s")


async def run(stream: WhisperStream, pcm: bytes) -> list[tuple[float, Result]]:
    """Feed ``pcm``, collect the transcripts, finish; every result with its position in the audio (s)."""
    out = await feed_all(stream, pcm)
    out += await settle(stream, len(pcm) / 16000)
    last = await stream.finish()
    if last is not None:
        out.append((len(pcm) / 16000, last))
    return out


def utterances(results: list[tuple[float, Result]]) -> list[WhisperUtterance]:
    found = [r for _, r in results if isinstance(r, Utterance)]
    assert all(isinstance(u, WhisperUtterance) for u in found)
    return [u for u in found if isinstance(u, WhisperUtterance)]


# -- loading, status, failures -----------------------------------------------------------------------------------


async def test_model_loads_once(whisper_recognizer: WhisperRecognizer, whisper_model_dir: Path) -> None:
    engine: SpeechEngine = whisper_recognizer  # the session can hold either engine
    status = engine.status()
    assert status["available"] is True and status["reason"] is None and status["engine"] == "faster-whisper"
    assert status["model_dir"] == str(whisper_model_dir) and status["beam_size"] == 5
    assert isinstance(status["load_seconds"], float) and status["load_seconds"] > 0
    assert {
        "jobs_done",
        "busy_rejections",
        "mean_latency_ms",
        "last_latency_ms",
        "queue_depth",
        "active_streams",
    } <= set(status)
    await whisper_recognizer.load()  # idempotent
    assert whisper_recognizer.available
    assert whisper_recognizer.unknown_words(MENU) == []


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("none", "no speech model directory configured"),
        ("missing", "does not exist"),
        ("empty", "is not a faster-whisper model directory (missing model.bin, config.json"),
        ("garbage", "cannot load the Whisper model"),
    ],
)
async def test_load_failure_disables_speech_with_one_log_line(
    tmp_path: Path, whisper_model_dir: Path, caplog: pytest.LogCaptureFixture, setup: str, reason: str
) -> None:
    model_dir: Path | None = tmp_path / setup
    if setup == "none":
        model_dir = None
    elif setup == "empty":
        (tmp_path / setup).mkdir()
    elif setup == "garbage":
        (tmp_path / setup).mkdir()
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (tmp_path / setup / name).write_bytes((whisper_model_dir / name).read_bytes())
        (tmp_path / setup / "model.bin").write_bytes(b"\0" * 4096)
    recognizer = WhisperRecognizer(model_dir)
    with caplog.at_level(logging.INFO, logger="channels.voice.asr_whisper"):
        await recognizer.load()
    assert recognizer.available is False and recognizer.reason is not None and reason in recognizer.reason
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"speech input disabled: {recognizer.reason}"]
    assert caplog.records[0].levelno == logging.WARNING
    with pytest.raises(SpeechUnavailable):
        recognizer.stream()
    with pytest.raises(SpeechUnavailable):
        await recognizer.transcribe_wav(tmp_path / "whatever.wav")
    await recognizer.close()
    await recognizer.close()


async def test_close_is_idempotent_and_final(whisper_model_dir: Path) -> None:
    recognizer = WhisperRecognizer(whisper_model_dir, workers=1)
    await recognizer.load()
    assert recognizer.available
    stream = recognizer.stream()
    await recognizer.close()
    await recognizer.close()
    assert recognizer.available is False and recognizer.reason == "speech recognizer closed"
    assert recognizer.pool.closed
    with pytest.raises(SpeechUnavailable):
        recognizer.stream()
    stream.close()
    stream.close()
    assert recognizer.status()["active_streams"] == 0
    await recognizer.load()  # a closed recognizer stays closed
    assert recognizer.available is False


def test_grammar_must_have_phrases(whisper_recognizer: WhisperRecognizer) -> None:
    with pytest.raises(ValueError, match="no phrases"):
        whisper_recognizer.stream(["", "  "])


# -- transcription -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "keywords"),
    [
        ("我要投诉", ["投诉"]),
        ("查询工单进度", ["进度"]),
        (STREETLIGHT, ["楼下", "解放路", "120"]),
        (WATER, ["小区", "水管", "修理"]),
    ],
)
async def test_transcribes_mandarin(
    whisper_recognizer: WhisperRecognizer, mandarin_say: Say, sentence: str, keywords: list[str]
) -> None:
    pcm = silence(0.5) + phone(mandarin_say(sentence)) + silence(1.0)
    (utterance,) = utterances(await run(whisper_recognizer.stream(), pcm))
    said = plain(utterance.text)
    assert all(k in said for k in keywords), (utterance.text, keywords)
    assert utterance.raw == utterance.text and utterance.similarity == 1.0
    assert 0.5 < utterance.confidence <= 1.0
    assert 0.2 <= utterance.start_s < utterance.end_s <= len(pcm) / 16000
    assert whisper_recognizer.status()["active_streams"] == 0


async def test_output_is_simplified_chinese(whisper_recognizer: WhisperRecognizer, mandarin_say: Say) -> None:
    """Whisper base writes 這裡 / 服務 for this sentence; the transcript has the simplified characters."""
    pcm = phone(mandarin_say("你好，这里是幺二三幺九城建服务热线")) + silence(1.0)
    (utterance,) = utterances(await run(whisper_recognizer.stream(), pcm))
    assert "这里" in utterance.text and "服务" in utterance.text
    assert to_simplified(utterance.text) == utterance.text
    assert not set(utterance.text) & set("這裡務熱線")


def test_traditional_to_simplified() -> None:
    assert to_simplified(" 這裡是服務熱線，請說出您要反映的問題。 ") == "这里是服务热线，请说出您要反映的问题。"
    assert to_simplified("查詢  工單\n進度") == "查询 工单 进度"
    assert to_simplified("") == ""


async def test_voicemail_transcript(whisper_recognizer: WhisperRecognizer, mandarin_say: Say, tmp_path: Path) -> None:
    pcm = silence(1.0) + phone(mandarin_say(WATER)) + silence(3.0) + phone(mandarin_say(STREETLIGHT)) + silence(2.0)
    path = tmp_path / "voicemail.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    text = await whisper_recognizer.transcribe_wav(path)
    said = plain(text)
    assert all(k in said for k in ("水管", "修理", "解放路", "120")), text
    assert to_simplified(text) == text


async def test_voicemail_is_cut_into_windows(whisper_model_dir: Path, mandarin_say: Say, tmp_path: Path) -> None:
    """A 16 kHz stereo voicemail longer than the window: several jobs, every sentence transcribed, in order."""
    recognizer = WhisperRecognizer(whisper_model_dir, workers=1, voicemail_window_s=6.0)
    await recognizer.load()
    try:
        parts = [mandarin_say(WATER), mandarin_say("我要投诉"), mandarin_say(STREETLIGHT)]
        pcm8k = b"".join(silence(1.5) + phone(p) for p in parts) + silence(1.0)
        samples = np.frombuffer(pcm8k, dtype="<i2").astype(np.float32)
        wide = np.repeat(samples, 2)  # 16 kHz (sample doubling is enough for speech under 4 kHz)
        stereo = np.stack([wide, wide * 0.5], axis=1)
        path = tmp_path / "long.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(np.rint(stereo).astype("<i2").tobytes())
        windows = recognizer._voicemail_windows(pcm8k)
        assert len(windows) >= 2 and all(len(w) <= 2 * 8000 * 6 for w in windows)
        text = plain(await recognizer.transcribe_wav(path))
        assert recognizer.status()["jobs_done"] == len(windows)
        assert "水管" in text and "投诉" in text and "解放路" in text
        assert text.index("水管") < text.index("投诉") < text.index("解放路")
    finally:
        await recognizer.close()


async def test_silent_voicemail_costs_nothing(whisper_recognizer: WhisperRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(silence(5.0))
    done = whisper_recognizer.status()["jobs_done"]
    assert await whisper_recognizer.transcribe_wav(path) == ""
    assert whisper_recognizer.status()["jobs_done"] == done


async def test_voicemail_must_be_pcm_wav(whisper_recognizer: WhisperRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "not.wav"
    path.write_bytes(b"RIFF....WAVEfmt nonsense")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        await whisper_recognizer.transcribe_wav(path)


# -- end-pointing and barge-in -----------------------------------------------------------------------------------


def test_endpointer_cuts_one_utterance_between_silences(mandarin_say: Say) -> None:
    speech_pcm = phone(mandarin_say("我要投诉"))
    endpointer = Endpointer()
    started, segments = endpointer.push(silence(1.0) + speech_pcm + silence(1.0))
    assert started and len(segments) == 1 and not endpointer.in_speech
    (segment,) = segments
    spoken_s = len(speech_pcm) / 16000
    assert 1.0 <= segment.start_s <= 1.0 + spoken_s / 2  # the onset lies inside the speech
    assert segment.start_s < segment.end_s <= 1.0 + spoken_s + 0.05
    assert not segment.cut
    # 300 ms of pre-roll before the onset, at most 300 ms kept after the last loud frame
    assert len(segment.pcm) / 16000 <= segment.end_s - segment.start_s + 0.3 + 0.3 + 0.02
    assert endpointer.push(silence(2.0)) == (False, [])


def test_endpointer_separates_two_utterances_but_not_a_short_pause(mandarin_say: Say) -> None:
    a, b = phone(mandarin_say("我要投诉")), phone(mandarin_say("转人工"))
    _, two = Endpointer().push(silence(0.5) + a + silence(1.5) + b + silence(1.0))
    assert len(two) == 2 and two[0].end_s < two[1].start_s
    _, one = Endpointer().push(silence(0.5) + a + silence(0.3) + b + silence(1.0))
    assert len(one) == 1


def test_endpointer_caps_a_segment(mandarin_say: Say) -> None:
    talk = phone(mandarin_say(WATER))
    endpointer = Endpointer(max_segment_s=2.0)
    _, segments = endpointer.push(silence(0.5) + talk + silence(1.0))
    assert len(segments) >= 2
    assert segments[0].cut and all(len(s.pcm) <= 2 * 8000 * 2 for s in segments)
    assert all(x.end_s <= y.start_s for x, y in itertools.pairwise(segments))


def test_endpointer_flush_and_clicks(mandarin_say: Say) -> None:
    endpointer = Endpointer()
    started, segments = endpointer.push(silence(0.3) + phone(mandarin_say("我要投诉")))
    assert started and segments == [] and endpointer.in_speech
    flushed = endpointer.flush()
    assert flushed is not None and not endpointer.in_speech and endpointer.flush() is None
    click = Endpointer()
    _, none = click.push(silence(0.5) + noise(0.12, -15) + silence(1.0))  # too short to be speech
    assert none == []


async def test_speech_onset_signals_barge_in_before_the_utterance(
    whisper_recognizer: WhisperRecognizer, mandarin_say: Say
) -> None:
    talk = phone(mandarin_say(STREETLIGHT))
    pcm = silence(1.0) + talk + silence(3.0)
    results = await run(whisper_recognizer.stream(), pcm)
    partials = [(at, r) for at, r in results if isinstance(r, Partial)]
    finals = [(at, r) for at, r in results if isinstance(r, Utterance)]
    assert len(finals) == 1 and partials
    assert all(p.text == "" for _, p in partials)
    first_at = partials[0][0]
    assert 1.0 < first_at <= 1.0 + 0.5  # at the onset, not at the end of the speech
    assert first_at < finals[0][0]
    # while the caller speaks and the transcript is pending, partials keep coming (the session re-arms its timeout)
    holds = [at for at, _ in partials if at < finals[0][0]]
    assert all(b - a <= 0.52 for a, b in itertools.pairwise(holds))
    assert holds[-1] >= 1.0 + len(talk) / 16000


async def test_two_utterances_in_one_stream_come_back_in_order(
    whisper_recognizer: WhisperRecognizer, mandarin_say: Say
) -> None:
    stream = whisper_recognizer.stream()
    first = silence(0.5) + phone(mandarin_say(WATER)) + silence(1.5)
    results = await feed_all(stream, first)
    results += await settle(stream, len(first) / 16000)
    results += await run(stream, phone(mandarin_say(STREETLIGHT)) + silence(1.0))
    found = utterances(results)
    assert len(found) == 2
    assert "水管" in plain(found[0].text) and "解放路" in plain(found[1].text)
    assert found[0].end_s < found[1].start_s


async def test_silence_and_noise_give_no_utterance(whisper_recognizer: WhisperRecognizer) -> None:
    quiet = await run(whisper_recognizer.stream(), silence(3.0))
    assert quiet == []
    rng = np.random.default_rng(3)
    bursts = b"".join(noise(0.2, -20, seed=int(rng.integers(1000))) + silence(0.3) for _ in range(6))
    for pcm in (noise(3.0, -25), noise(3.0, -40), bursts, media.hold_music_pcm()[: 2 * 8000 * 3]):
        assert utterances(await run(whisper_recognizer.stream(), pcm + silence(1.0))) == []


async def test_concurrent_streams(whisper_recognizer: WhisperRecognizer, mandarin_say: Say) -> None:
    pcms = [silence(0.3) + phone(mandarin_say(s)) + silence(1.0) for s in ("我要投诉", WATER, STREETLIGHT)]
    results = await asyncio.gather(*(run(whisper_recognizer.stream(), p) for p in pcms))
    texts = [plain(utterances(r)[0].text) for r in results]
    assert "投诉" in texts[0] and "水管" in texts[1] and "解放路" in texts[2]
    assert whisper_recognizer.status()["active_streams"] == 0


async def test_feed_after_finish_raises(whisper_recognizer: WhisperRecognizer) -> None:
    stream = whisper_recognizer.stream()
    assert await stream.finish() is None
    assert await stream.finish() is None
    with pytest.raises(RuntimeError, match="finished"):
        await stream.feed(silence(0.02))


# -- grammar -----------------------------------------------------------------------------------------------------


def test_match_phrase() -> None:
    assert match_phrase("查询公单进度。", MENU) == ("查询工单进度", 0.833)
    assert match_phrase("查醒功单进度", MENU) == ("查询工单进度", 0.667)
    assert match_phrase("我要投诉", MENU) == ("我要投诉", 1.0)
    assert match_phrase("我要转人工服务", MENU) is None  # containment is best_phrase's job
    assert match_phrase("今天天气很好", MENU) is None
    assert match_phrase("人工", ["人工服务", "人工客服"]) is None  # a tie
    assert match_phrase("", MENU) is None and match_phrase("，。", MENU) is None
    assert match_phrase("中厅", MENU) is None  # 2 characters, one wrong: too far (0.5)


async def test_grammar_maps_near_matches_and_keeps_the_transcript(
    whisper_recognizer: WhisperRecognizer, mandarin_say: Say
) -> None:
    pcm = silence(0.5) + phone(mandarin_say("我要投诉")) + silence(1.0)
    (utterance,) = utterances(await run(whisper_recognizer.stream(MENU), pcm))
    assert utterance.text == "我要投诉" and "投诉" in utterance.raw
    choices = [("查询工单进度", "orders"), ("我要投诉", "complaint")]
    assert speech.best_phrase(utterance.text, choices) == "complaint"
    pcm = silence(0.5) + phone(mandarin_say(WATER)) + silence(1.0)
    (free,) = utterances(await run(whisper_recognizer.stream(MENU), pcm))
    assert free.text == free.raw and "水管" in plain(free.text)  # nothing like a menu phrase: the transcript


@pytest.mark.parametrize("phrase", MENU)
async def test_a_spoken_menu_phrase_never_picks_another_option(
    whisper_recognizer: WhisperRecognizer, mandarin_say: Say, phrase: str
) -> None:
    """Whisper base often mishears short commands (转人工 → 转员工); the mapping may fix that, never make it worse."""
    pcm = silence(0.5) + phone(mandarin_say(phrase)) + silence(1.0)
    found = utterances(await run(whisper_recognizer.stream(MENU), pcm))
    assert len(found) <= 1
    for utterance in found:
        assert utterance.text == phrase or utterance.text == utterance.raw
        picked = speech.best_phrase(utterance.text, [(p, p) for p in MENU])
        assert picked in (phrase, None), (phrase, utterance)


# -- hallucination guard and confidence --------------------------------------------------------------------------


def test_hallucination_guard() -> None:
    assert is_hallucination("我家楼下的路灯坏了", 3.0) is None
    assert is_hallucination("我的电话是一三八八八八八八八八八", 4.0) is None  # digits may repeat
    assert is_hallucination("", 2.0) == "no words"
    assert is_hallucination("。，", 2.0) == "no words"
    assert is_hallucination("啊啊啊啊", 2.0) == "only hesitation sounds"
    assert "repeated" in (is_hallucination("靖靖靖靖靖靖靖靖", 4.0) or "")
    assert "repeated" in (is_hallucination("亚文汉,亚文汉,亚文汉,亚文汉,亚文汉", 8.0) or "")
    assert "characters in" in (is_hallucination("我家楼下的路灯坏了地址是解放路", 1.0) or "")
    assert is_hallucination("字幕由Amara.org社区提供", 3.0) == "subtitle boilerplate"
    assert is_hallucination("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", 6.0) == "subtitle boilerplate"
    assert is_hallucination("我被强制订阅了短信业务", 3.0) is None
    assert "compression" in (is_hallucination("路灯坏了", 2.0, compression_ratio=3.1) or "")
    assert "confidence" in (is_hallucination("路灯坏了", 2.0, confidence=0.1) or "")


def test_confidence_mapping() -> None:
    assert confidence_of([]) == 0.0
    assert confidence_of([("我要投诉", 0.0, 0.0)]) == 1.0
    assert confidence_of([("我要投诉", -0.3, 0.2)]) == pytest.approx(0.741, abs=0.001)  # exp(-0.3)
    assert confidence_of([("我要投诉", -0.3, 0.75)]) == pytest.approx(0.370, abs=0.001)  # × 2·(1 − 0.75)
    assert confidence_of([("转员工", -1.1, 0.1)]) < 0.5
    # weighted by length: a long good segment outweighs a short bad one
    assert confidence_of([("我家楼下的路灯坏了", -0.2, 0.0), ("嗯", -2.0, 0.0)]) > 0.7


# -- the pool ----------------------------------------------------------------------------------------------------


class Gate:
    """A job that holds a worker until released (deterministic: no sleeping)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        assert self.release.wait(30), "the test never released the worker"
        return "released"

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 30)


async def test_pool_refuses_when_full_and_voicemail_waits_for_an_idle_worker() -> None:
    pool = RecognitionPool(workers=1, max_waiting=1)
    gate = Gate()
    running = pool.try_submit(gate)
    assert running is not None
    await gate.wait_started()
    queued = pool.try_submit(str.upper, "queued")
    assert queued is not None and pool.queue_depth == 1 and pool.running == 1
    assert pool.try_submit(str.upper, "refused") is None and pool.rejected == 1
    idle = asyncio.create_task(pool.run_when_idle(str.upper, "voicemail", wait_s=30))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not idle.done()  # waits behind the running and the queued job
    with pytest.raises(TimeoutError, match="no idle recognition worker"):
        await pool.run_when_idle(str.upper, "late", wait_s=0.05)
    gate.release.set()
    assert await asyncio.wrap_future(running) == "released"
    assert await asyncio.wrap_future(queued) == "QUEUED"
    assert await idle == "VOICEMAIL"
    assert pool.jobs_done == 3 and pool.queue_depth == 0 and pool.running == 0
    assert pool.mean_latency_ms is not None and pool.last_latency_ms is not None
    await asyncio.to_thread(pool.shutdown)
    pool.shutdown()
    with pytest.raises(SpeechUnavailable):
        pool.try_submit(str.upper, "closed")


async def test_pool_shutdown_cancels_queued_work_and_wakes_waiters() -> None:
    pool = RecognitionPool(workers=1, max_waiting=2)
    gate = Gate()
    assert pool.try_submit(gate) is not None
    await gate.wait_started()
    queued = pool.try_submit(str.upper, "never")
    assert queued is not None
    waiter = asyncio.create_task(pool.run_when_idle(str.upper, "never", wait_s=30))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(asyncio.to_thread(pool.shutdown))
    with pytest.raises(SpeechUnavailable):
        await waiter
    gate.release.set()
    await stopping
    assert queued.cancelled()


def test_pool_arguments() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        RecognitionPool(workers=0)
    with pytest.raises(ValueError, match="negative"):
        RecognitionPool(workers=1, max_waiting=-1)
    pool = RecognitionPool(workers=2)
    assert pool.max_waiting == 4
    pool.shutdown()


async def test_full_pool_answers_busy_at_once(whisper_model_dir: Path, mandarin_say: Say) -> None:
    recognizer = WhisperRecognizer(whisper_model_dir, workers=1, max_waiting=0)
    await recognizer.load()
    gate = Gate()
    try:
        blocker = recognizer.pool.try_submit(gate)
        assert blocker is not None
        await gate.wait_started()
        stream = recognizer.stream(MENU)
        pcm = silence(0.3) + phone(mandarin_say("我要投诉")) + silence(1.0)
        results = [r for _, r in await feed_all(stream, pcm)]
        assert results[0] == Partial("")
        assert Busy() in results and not any(isinstance(r, Utterance) for r in results)
        busy_at = results.index(Busy())
        assert all(isinstance(r, Partial) for r in results[:busy_at])
        status = recognizer.status()
        assert status["busy_rejections"] == 1 and status["running"] == 1 and status["queue_depth"] == 0
        gate.release.set()
        assert await asyncio.wrap_future(blocker) == "released"
        # with the worker free again the same stream recognises the next utterance
        (utterance,) = utterances(await run(stream, pcm))
        assert utterance.text == "我要投诉"
    finally:
        gate.release.set()
        await recognizer.close()


async def test_closing_a_stream_cancels_its_queued_utterances(whisper_model_dir: Path, mandarin_say: Say) -> None:
    recognizer = WhisperRecognizer(whisper_model_dir, workers=1, max_waiting=2)
    await recognizer.load()
    gate = Gate()
    try:
        assert recognizer.pool.try_submit(gate) is not None
        await gate.wait_started()
        stream = recognizer.stream()
        await feed_all(stream, silence(0.3) + phone(mandarin_say("我要投诉")) + silence(1.0))
        assert recognizer.status()["queue_depth"] == 1
        stream.close()
        assert recognizer.status()["queue_depth"] == 0 and recognizer.status()["active_streams"] == 0
    finally:
        gate.release.set()
        await recognizer.close()
