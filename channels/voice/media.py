"""Sans-IO media helpers for the IVR: G.711 by codec name, 20 ms framing, tones, hold music and voice activity.

Everything here is pure computation on 8 kHz 16-bit little-endian mono PCM (the telephone band) or on G.711
payloads; nothing touches sockets, files or clocks. Codecs are named as in SDP: ``"PCMU"`` (μ-law, payload type 0)
and ``"PCMA"`` (A-law, payload type 8).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np

from channels.voice import g711

RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000  # 160: one G.711 frame is 160 bytes, its PCM 320 bytes
CODECS: dict[str, int] = {"PCMU": 0, "PCMA": 8}


def payload_type(codec: str) -> int:
    """RTP payload type of a codec name; raises ``ValueError`` for anything but PCMU/PCMA."""
    try:
        return CODECS[codec]
    except KeyError:
        raise ValueError(f"unsupported codec {codec!r}: expected one of {', '.join(CODECS)}") from None


def encode(pcm: bytes, codec: str) -> bytes:
    """16-bit PCM → G.711 payload of ``codec`` (one byte per sample; a trailing odd byte is ignored)."""
    pt = payload_type(codec)
    return g711.encode(pcm[: len(pcm) - len(pcm) % 2], pt)


def decode(payload: bytes, codec: str) -> bytes:
    """G.711 payload of ``codec`` → 16-bit PCM (two bytes per sample)."""
    return g711.decode(payload, payload_type(codec))


def frames_from_pcm(pcm: bytes, codec: str) -> list[bytes]:
    """Cut 8 kHz PCM into 20 ms G.711 frames of 160 bytes; the last one is padded with silence."""
    payload_type(codec)
    samples = len(pcm) // 2
    padded = -samples % FRAME_SAMPLES
    coded = encode(pcm[: samples * 2] + bytes(2 * padded), codec)
    return [coded[i : i + FRAME_SAMPLES] for i in range(0, len(coded), FRAME_SAMPLES)]


def _frame_count(ms: int) -> int:
    if ms < 0:
        raise ValueError(f"duration must not be negative: {ms} ms")
    return -(-ms // FRAME_MS)


def silence_frames(ms: int, codec: str) -> list[bytes]:
    """``ms`` of silence (rounded up to whole 20 ms frames)."""
    frame = encode(bytes(2 * FRAME_SAMPLES), codec)
    return [frame] * _frame_count(ms)


def _to_pcm(samples: np.ndarray) -> bytes:
    return bytes(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def _fade(n: int, ramp: int) -> np.ndarray:
    """Envelope of ``n`` samples rising and falling over ``ramp`` samples (no clicks at the edges)."""
    env = np.ones(n)
    ramp = min(ramp, n // 2)
    if ramp:
        up = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, ramp))
        env[:ramp] = up
        env[n - ramp :] = up[::-1]
    return env


def tone_pcm(freq: float, ms: int, *, level_dbfs: float = -12.0) -> bytes:
    """A sine tone as 8 kHz PCM with 5 ms raised-cosine edges."""
    if not 0 < freq < RATE / 2:
        raise ValueError(f"tone frequency must be between 0 and {RATE // 2} Hz: {freq}")
    n = _frame_count(ms) * FRAME_SAMPLES
    amp = 32767.0 * 10 ** (level_dbfs / 20)
    t = np.arange(n) / RATE
    return _to_pcm(amp * np.sin(2 * math.pi * freq * t) * _fade(n, RATE * 5 // 1000))


def tone_frames(freq: float, ms: int, codec: str, *, level_dbfs: float = -12.0) -> list[bytes]:
    """A sine tone (e.g. the 1 kHz beep before voicemail) as 20 ms frames."""
    return frames_from_pcm(tone_pcm(freq, ms, level_dbfs=level_dbfs), codec)


# A I–vi–IV–V progression in C major, arpeggiated: (root MIDI note of each bar, chord intervals).
_PROGRESSION = ((60, (0, 4, 7, 12)), (57, (0, 3, 7, 12)), (53, (0, 4, 7, 12)), (55, (0, 4, 7, 11)))
_PATTERN = (0, 1, 2, 3, 2, 1, 0, 1)  # eighth notes per bar, indexes into the chord
_NOTE_S = 0.25


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


@lru_cache(maxsize=1)
def hold_music_pcm() -> bytes:
    """An 8-second seamless loop: a soft arpeggio over a sustained bass, telephone band (8 kHz PCM)."""
    note_n = int(_NOTE_S * RATE)
    bar_n = note_n * len(_PATTERN)
    out = np.zeros(bar_n * len(_PROGRESSION))
    t_note = np.arange(note_n) / RATE
    t_bar = np.arange(bar_n) / RATE
    # Plucked envelope: fast attack, exponential decay, released before the next note.
    pluck = np.exp(-t_note * 6.0) * _fade(note_n, RATE * 8 // 1000)
    for b, (root, chord) in enumerate(_PROGRESSION):
        start = b * bar_n
        for k, idx in enumerate(_PATTERN):
            f = _midi_hz(root + 12 + chord[idx])  # one octave up: stays well inside 300–3400 Hz
            wave = np.sin(2 * math.pi * f * t_note) + 0.3 * np.sin(4 * math.pi * f * t_note)
            out[start + k * note_n : start + (k + 1) * note_n] += 0.55 * wave * pluck
        bass = _midi_hz(root)  # 175–262 Hz fundamentals; the 2nd and 3rd harmonics carry it on a phone line
        pad = sum(a * np.sin(2 * math.pi * h * bass * t_bar) for h, a in ((1, 0.25), (2, 0.3), (3, 0.15)))
        out[start : start + bar_n] += pad * _fade(bar_n, RATE * 40 // 1000)
    peak = float(np.max(np.abs(out)))
    return _to_pcm(out * (32767.0 * 10 ** (-9.0 / 20) / peak))


def hold_music_frames(codec: str) -> list[bytes]:
    """The hold-music loop as 20 ms frames; play it round-robin (the loop is seamless)."""
    return frames_from_pcm(hold_music_pcm(), codec)


def level_dbfs(pcm: bytes) -> float:
    """RMS level of 16-bit PCM in dB relative to full scale (``-inf`` for digital silence or no samples)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(samples * samples)))
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


Activity = Literal["speech", "silence"]


class VoiceActivity:
    """Energy-based speech/silence detector over 8 kHz PCM, sans-IO (end-of-speech and no-input timeouts).

    PCM of any length is cut into 20 ms frames. A frame is *loud* when its RMS level is above ``threshold_db`` and
    at least ``margin_db`` above the tracked noise floor. The state becomes ``"speech"`` after ``speech_ms`` of
    consecutive loud frames and falls back to ``"silence"`` after ``hangover_ms`` of quiet ones, so short pauses
    between words do not end an utterance.

    Attributes:
        state: the current state.
        heard_speech: whether speech was detected since creation or :meth:`reset`.
        silence_ms: length of the current quiet run (ms); with ``heard_speech`` it gives "caller stopped talking".
        speech_ms_total: total milliseconds of loud frames while in the speech state.
        noise_floor_db: the tracked noise floor (starts at -70 dBFS).
    """

    def __init__(
        self,
        *,
        threshold_db: float = -45.0,
        margin_db: float = 10.0,
        speech_ms: int = 60,
        hangover_ms: int = 400,
        sample_rate: int = RATE,
    ) -> None:
        """Create a detector.

        Args:
            threshold_db: absolute RMS level (dBFS) a frame must exceed to count as speech.
            margin_db: how far above the tracked noise floor a frame must be as well.
            speech_ms: loud time needed to enter the speech state.
            hangover_ms: quiet time needed to leave it.
            sample_rate: PCM sample rate (frames stay 20 ms).
        """
        if speech_ms <= 0 or hangover_ms <= 0:
            raise ValueError("speech_ms and hangover_ms must be positive")
        self.threshold_db = threshold_db
        self.margin_db = margin_db
        self.speech_ms = speech_ms
        self.hangover_ms = hangover_ms
        self._frame_bytes = 2 * sample_rate * FRAME_MS // 1000
        self._pending = b""
        self.reset()

    def reset(self) -> None:
        """Forget everything heard so far (e.g. when a new prompt ends and the caller's turn begins)."""
        self.state: Activity = "silence"
        self.heard_speech = False
        self.silence_ms = 0
        self.speech_ms_total = 0
        self.noise_floor_db = -70.0
        self._loud_run = 0
        self._quiet_run = 0
        self._pending = b""

    def feed(self, pcm: bytes) -> Activity:
        """Process PCM of any length and return the state after it."""
        data = self._pending + pcm
        end = len(data) - len(data) % self._frame_bytes
        for i in range(0, end, self._frame_bytes):
            self._frame(level_dbfs(data[i : i + self._frame_bytes]))
        self._pending = data[end:]
        return self.state

    def _frame(self, level: float) -> None:
        level = max(level, -90.0)
        floor = self.noise_floor_db
        loud = level > self.threshold_db and level > floor + self.margin_db
        # Noise floor: follows quieter frames down at once and rises slowly (0.5 dB per quiet frame, 0.2 dB per loud
        # one), so steady line noise stops counting as speech within seconds while the dips between syllables keep
        # the floor low under real speech.
        self.noise_floor_db = level if level < floor else min(level, floor + (0.2 if loud else 0.5))
        if loud:
            self._loud_run += FRAME_MS
            self._quiet_run = 0
            if self.state == "silence" and self._loud_run >= self.speech_ms:
                self.state = "speech"
                self.heard_speech = True
            if self.state == "speech":
                self.speech_ms_total += FRAME_MS
                self.silence_ms = 0
            else:
                self.silence_ms += FRAME_MS
            return
        self._loud_run = 0
        self._quiet_run += FRAME_MS
        self.silence_ms += FRAME_MS
        if self.state == "speech" and self._quiet_run >= self.hangover_ms:
            self.state = "silence"
