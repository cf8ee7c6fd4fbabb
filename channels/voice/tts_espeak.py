"""espeak-ng 1.52 through its C API, from the ``espeakng-loader`` wheel (library and full data, no system package).

Debian 12's espeak-ng 1.51 has a reduced Mandarin dictionary and reads most characters as English-spelled pinyin,
so this engine never uses the system library: it loads the wheel's ``libespeak-ng.so`` by path, always passes the
wheel's data directory (a NULL data path makes that build call ``exit(1)``) and refuses versions before 1.52.

espeak-ng is one global state per process (voice, rate, synth callback): every call holds :data:`ESPEAK_LOCK` and
sets voice and rate again, so several engines (a Mandarin one for prompts, a Korean one in tests) can coexist.
Synthesis is synchronous (``AUDIO_OUTPUT_SYNCHRONOUS``): ``espeak_Synth`` returns when the callback has received
every sample.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

import numpy as np

from .tts_engine import TtsUnavailable

log = logging.getLogger(__name__)

ESPEAK_LOCK = threading.Lock()
MIN_VERSION = (1, 52)
DEFAULT_VOICE = "cmn"  # Mandarin (espeak's sit/cmn); "zh" silently speaks English
BASE_RATE_WPM = 150  # speed 1.0; slower than espeak's default 175 so the tones stay audible
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_RATE_PARAMETER = 1
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_library: Any = None
_sample_rate = 0
_version = ""
_chunks: list[bytes] = []


def _on_samples(wav: Any, count: int, _events: Any) -> int:
    if count > 0 and wav:
        _chunks.append(ctypes.string_at(wav, 2 * count))
    return 0


_callback = _SYNTH_CALLBACK(_on_samples)  # module-level: the C library keeps the pointer


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _initialise() -> tuple[Any, int, str]:
    """Load and initialise the wheel's library once per process (caller holds the lock)."""
    global _library, _sample_rate, _version
    if _library is not None:
        return _library, _sample_rate, _version
    try:
        import espeakng_loader
    except ImportError as exc:
        raise TtsUnavailable("espeak-ng unavailable: pip package espeakng-loader is not installed") from exc
    data = espeakng_loader.get_data_path()
    try:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
    except OSError as exc:
        raise TtsUnavailable(f"espeak-ng library cannot be loaded: {exc}") from exc
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    version = (lib.espeak_Info(None) or b"").decode(errors="replace")
    if _parse_version(version) < MIN_VERSION:
        raise TtsUnavailable(f"espeak-ng {version} is too old (its Mandarin dictionary is incomplete); need 1.52+")
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0)
    if rate <= 0:
        raise TtsUnavailable(f"espeak-ng could not initialise with data from {data}")
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback(_callback)
    _library, _sample_rate, _version = lib, rate, version
    log.info("espeak-ng %s loaded from the espeakng-loader wheel (%d Hz)", version, rate)
    return lib, rate, version


class EspeakEngine:
    """espeak-ng 1.52 with one voice (Mandarin ``cmn`` by default).

    Args:
        voice: an espeak-ng voice name (``cmn``, ``ko``, ``en`` ...).
        speed: 1.0 is :data:`BASE_RATE_WPM` words per minute.
    """

    name = "espeak"

    def __init__(self, *, voice: str | None = None, speed: float = 1.0) -> None:
        if not 0.5 <= speed <= 2.5:
            raise ValueError(f"speech speed must be between 0.5 and 2.5: {speed}")
        self.voice = voice or DEFAULT_VOICE
        self.speed = speed
        self.rate_wpm = round(BASE_RATE_WPM * speed)
        self.sample_rate = 22050
        self.version = ""

    @property
    def identity(self) -> str:
        """Engine, version, voice and rate."""
        return f"espeak-ng/{self.version or '?'}/{self.voice}/{self.rate_wpm}"

    def load(self) -> None:
        """Initialise the library and check that the voice exists."""
        with ESPEAK_LOCK:
            lib, self.sample_rate, self.version = _initialise()
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise TtsUnavailable(f"espeak-ng voice {self.voice!r} is not installed")

    def synthesise(self, text: str) -> np.ndarray:
        """Mono float samples of ``text`` at 22050 Hz."""
        encoded = text.encode()
        with ESPEAK_LOCK:
            lib, _rate, _version = _initialise()
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise TtsUnavailable(f"espeak-ng voice {self.voice!r} is not installed")
            lib.espeak_SetParameter(_RATE_PARAMETER, self.rate_wpm, 0)
            _chunks.clear()
            status = lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
            raw = b"".join(_chunks)
            _chunks.clear()
        if status != 0:
            raise TtsUnavailable(f"espeak-ng synthesis failed (error {status})")
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0

    def describe(self) -> dict[str, object]:
        """Engine facts for ``/healthz``."""
        return {
            "engine": self.name,
            "version": self.version,
            "voice": self.voice,
            "rate_wpm": self.rate_wpm,
            "licence": "GPL-3.0-or-later (espeak-ng, dynamically loaded)",
        }

    def close(self) -> None:
        """Nothing to release: the library stays loaded for the process."""
