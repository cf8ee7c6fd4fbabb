"""In-band DTMF detection (Goertzel) over 8 kHz 16-bit PCM: the fallback when a peer does not send RFC 4733.

Blocks of 205 samples (~25.6 ms) are tested at the eight DTMF frequencies. A block holds a digit when one row and
one column tone stand out (each well above the other tones of its group), the twist is within limits, and the two
tones carry most of the block's energy (speech and single tones fail this). A digit is reported once it holds for
two consecutive blocks, and again only after a gap.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
BLOCK = 205


def goertzel_power(samples: array[int] | list[float], freq: float, rate: int = 8000) -> float:
    """Squared magnitude of ``freq`` in ``samples`` (Goertzel)."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def detect_block(samples: array[int] | list[float], rate: int = 8000, min_level: float = 200.0) -> str | None:
    """The DTMF key present in one block, or ``None``.

    Args:
        samples: one block of PCM samples (about 205 at 8 kHz).
        rate: sample rate.
        min_level: minimal RMS amplitude of the block (silence and faint noise give ``None``).
    """
    n = len(samples)
    if n == 0:
        return None
    energy = sum(float(x) * x for x in samples)
    if math.sqrt(energy / n) < min_level:
        return None
    rows = [goertzel_power(samples, f, rate) for f in ROWS]
    cols = [goertzel_power(samples, f, rate) for f in COLS]
    r = max(range(4), key=rows.__getitem__)
    c = max(range(4), key=cols.__getitem__)
    row_p, col_p = rows[r], cols[c]
    if any(p * 6.3 > row_p for i, p in enumerate(rows) if i != r):  # others at least 8 dB below
        return None
    if any(p * 6.3 > col_p for i, p in enumerate(cols) if i != c):
        return None
    if col_p > row_p * 6.3 or row_p > col_p * 2.5:  # reverse twist 8 dB, normal twist 4 dB (power ratios)
        return None
    # Goertzel power of a sinusoid of amplitude A over n samples is (A*n/2)^2; its energy is A^2*n/2.
    tone_energy = 2.0 * (row_p + col_p) / n
    if tone_energy < 0.6 * energy:
        return None
    return KEYS[r][c]


def pcm_samples(pcm: bytes) -> array[int]:
    """16-bit little-endian PCM bytes → samples."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    return samples


@dataclass
class InbandDtmfDetector:
    """Streaming detector: feed PCM of any length, get each key press once."""

    rate: int = 8000
    min_level: float = 200.0
    _buffer: array[int] = field(default_factory=lambda: array("h"), repr=False)
    _last: str | None = field(default=None, repr=False)
    _run: int = field(default=0, repr=False)
    _reported: bool = field(default=False, repr=False)

    def feed(self, pcm: bytes) -> list[str]:
        """Process 16-bit PCM; returns the digits that started in it."""
        self._buffer.extend(pcm_samples(pcm))
        digits: list[str] = []
        while len(self._buffer) >= BLOCK:
            block = self._buffer[:BLOCK]
            del self._buffer[:BLOCK]
            key = detect_block(block, self.rate, self.min_level)
            if key != self._last:
                self._last, self._run, self._reported = key, 1, False
            else:
                self._run += 1
            if key is not None and self._run >= 2 and not self._reported:
                self._reported = True
                digits.append(key)
        return digits
