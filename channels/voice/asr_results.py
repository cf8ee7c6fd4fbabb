"""What any speech engine of the IVR gives the call session, so that vosk and Whisper are interchangeable.

- :class:`~channels.voice.asr.Utterance` and :class:`~channels.voice.asr.Partial` (defined in ``asr.py``, re-exported
  here) are the final and intermediate results of a :class:`SpeechStream`.
- :class:`Busy` is new: the recognizer had no room for the caller's utterance and dropped it; the session should ask
  for keys instead of waiting.
- :class:`SpeechEngine` / :class:`SpeechStream` are the public surface both
  :class:`~channels.voice.asr.SpeechRecognizer` (vosk) and :class:`~channels.voice.asr_whisper.WhisperRecognizer`
  implement; type the session's recognizer with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from channels.voice.asr import Partial, SpeechUnavailable, Utterance

__all__ = ["Busy", "Partial", "SpeechEngine", "SpeechStream", "SpeechUnavailable", "Utterance"]


@dataclass(frozen=True)
class Busy:
    """Every recognition slot was taken when the caller finished speaking: the utterance was dropped, not queued.

    The caller should be told to use the keypad for this menu; nothing else is coming for that utterance.
    """


class SpeechStream(Protocol):
    """One caller's speech turn (``feed`` calls awaited one after another)."""

    async def feed(self, pcm8k: bytes) -> Utterance | Partial | Busy | None:
        """Feed 8 kHz 16-bit mono PCM; a result, a sign of speech, a refusal or nothing."""
        ...

    async def finish(self) -> Utterance | None:
        """Flush and close; the last utterance, if any."""
        ...

    def close(self) -> None:
        """Abandon the stream."""
        ...


class SpeechEngine(Protocol):
    """A loaded (or disabled) speech recognizer."""

    available: bool
    reason: str | None

    async def load(self) -> None:
        """Load the model; never raises (see ``available`` and ``reason``)."""
        ...

    def stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        """Open a stream (``grammar``: menu phrases, ``None`` for free-form speech)."""
        ...

    async def transcribe_wav(self, path: Path) -> str:
        """Transcript of a WAV file (a voicemail)."""
        ...

    def unknown_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the engine can never recognise."""
        ...

    def status(self) -> dict[str, object]:
        """Health for ``/healthz``."""
        ...

    async def close(self) -> None:
        """Stop the worker threads; idempotent."""
        ...
