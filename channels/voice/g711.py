"""G.711 μ-law (PCMU) and A-law (PCMA) ⇄ 16-bit little-endian PCM, through audioop (audioop-lts on 3.13+)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # Python 3.11/3.12 warn that audioop goes away in 3.13, where the audioop-lts package provides it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM → μ-law (one byte per sample)."""
    return audioop.lin2ulaw(pcm, 2)


def ulaw_decode(data: bytes) -> bytes:
    """μ-law → 16-bit PCM."""
    return audioop.ulaw2lin(data, 2)


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM → A-law (one byte per sample)."""
    return audioop.lin2alaw(pcm, 2)


def alaw_decode(data: bytes) -> bytes:
    """A-law → 16-bit PCM."""
    return audioop.alaw2lin(data, 2)


def encode(pcm: bytes, payload_type: int) -> bytes:
    """Encode for RTP payload type 0 (PCMU) or 8 (PCMA)."""
    if payload_type == 0:
        return ulaw_encode(pcm)
    if payload_type == 8:
        return alaw_encode(pcm)
    raise ValueError(f"not a G.711 payload type: {payload_type}")


def decode(data: bytes, payload_type: int) -> bytes:
    """Decode RTP payload type 0 (PCMU) or 8 (PCMA)."""
    if payload_type == 0:
        return ulaw_decode(data)
    if payload_type == 8:
        return alaw_decode(data)
    raise ValueError(f"not a G.711 payload type: {payload_type}")
