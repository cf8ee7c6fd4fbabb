"""The text-to-speech engine interface behind :class:`channels.voice.tts.PromptSynthesizer`, and engine selection.

An engine turns one piece of text into mono samples at its own rate; it is called from a single worker thread (the
synthesizer's), so engines need no locking of their own beyond process-global state (espeak-ng). The synthesizer
does everything else: caching, resampling to 8 kHz, level normalisation and G.711 encoding.

Engines, best first (ADR 0027):

- ``kokoro``: Kokoro-82M (Apache-2.0), a neural voice run with onnxruntime (:mod:`channels.voice.tts_kokoro`).
- ``espeak``: espeak-ng 1.52 with its full Mandarin dictionary from the ``espeakng-loader`` wheel
  (:mod:`channels.voice.tts_espeak`); robotic but always installable. Debian's espeak-ng 1.51 is never used.

``auto`` takes the first that loads and logs why it skipped the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

ENGINE_NAMES = ("auto", "kokoro", "espeak")


class TtsUnavailable(RuntimeError):
    """The speech engine cannot synthesise (library missing, voice not installed, engine error or timeout)."""


class TtsEngine(Protocol):
    """One speech engine with one voice."""

    name: str
    """Short engine name (``kokoro``, ``espeak``)."""
    sample_rate: int
    """Rate of the samples :meth:`synthesise` returns."""

    @property
    def identity(self) -> str:
        """Everything that changes the audio (engine, version, voice, speed): part of the prompt cache key."""
        ...

    def load(self) -> None:
        """Load the model/library (blocking; worker thread). Raises :class:`TtsUnavailable`."""
        ...

    def synthesise(self, text: str) -> np.ndarray:
        """``text`` → mono float samples in [-1, 1] at :attr:`sample_rate` (blocking; worker thread).

        Raises:
            TtsUnavailable: the engine failed.
        """
        ...

    def describe(self) -> dict[str, object]:
        """Name, voice, version and licence for ``/healthz`` and the prompt check."""
        ...

    def close(self) -> None:
        """Release the model (worker thread)."""
        ...


def make_engine(name: str, *, voice: str | None = None, speed: float = 1.0) -> TtsEngine:
    """The engine called ``name`` (not loaded yet); ``auto`` is resolved by :func:`load_first`.

    Raises:
        ValueError: unknown engine name.
    """
    if name == "kokoro":
        from .tts_kokoro import KokoroEngine

        return KokoroEngine(voice=voice, speed=speed)
    if name == "espeak":
        from .tts_espeak import EspeakEngine

        return EspeakEngine(voice=voice, speed=speed)
    raise ValueError(f"unknown TTS engine {name!r} (expected one of {', '.join(ENGINE_NAMES)})")


def candidates(name: str, *, voice: str | None = None, speed: float = 1.0) -> list[Callable[[], TtsEngine]]:
    """Factories of the engines to try for the setting ``name`` (``auto``: kokoro, then espeak)."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown TTS engine {name!r} (expected one of {', '.join(ENGINE_NAMES)})")
    names: Sequence[str] = ("kokoro", "espeak") if name == "auto" else (name,)
    # A voice names one engine's voice: it is only passed to the engine that was asked for by name.
    return [
        (lambda n=n: make_engine(n, voice=voice if name != "auto" else None, speed=speed))  # type: ignore[misc]
        for n in names
    ]


def load_first(factories: Sequence[Callable[[], TtsEngine]]) -> TtsEngine:
    """Create and load engines in order; the first that loads is returned (worker thread).

    Raises:
        TtsUnavailable: none loaded (the message lists every reason).
    """
    reasons: list[str] = []
    for make in factories:
        try:
            engine = make()
            engine.load()
        except TtsUnavailable as exc:
            reasons.append(str(exc))
            log.warning("text-to-speech engine skipped: %s", exc)
            continue
        if reasons:
            log.warning("text-to-speech falls back to %s (%s)", engine.name, "; ".join(reasons))
        return engine
    raise TtsUnavailable("no text-to-speech engine could be loaded: " + "; ".join(reasons))
