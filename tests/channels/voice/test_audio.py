"""G.711 codecs and the in-band (Goertzel) DTMF detector on generated tones."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from channels.voice import g711
from channels.voice.inband_dtmf import COLS, KEYS, ROWS, InbandDtmfDetector, detect_block
from channels.voice.rtp import RtpPacket

from .pcap import SIPP_PCAPS, udp_payloads


def tone(freqs: tuple[float, ...], ms: int, amp: float = 6000.0, noise: float = 0.0, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    n = 8 * ms
    out = array("h")
    for i in range(n):
        v = sum(amp * math.sin(2 * math.pi * f * i / 8000) for f in freqs) + (rng.gauss(0, noise) if noise else 0)
        out.append(int(max(-32768, min(32767, v))))
    return out.tobytes()


def silence(ms: int) -> bytes:
    return bytes(16 * ms)


def key_freqs(key: str) -> tuple[float, float]:
    r = next(i for i, row in enumerate(KEYS) if key in row)
    return ROWS[r], COLS[KEYS[r].index(key)]


@pytest.mark.parametrize(
    ("encode", "decode", "zero"),
    [(g711.ulaw_encode, g711.ulaw_decode, 0xFF), (g711.alaw_encode, g711.alaw_decode, 0xD5)],
)
def test_g711_round_trip(encode: object, decode: object, zero: int) -> None:
    assert callable(encode) and callable(decode)
    pcm = tone((1000.0,), 20)
    coded = encode(pcm)
    assert len(coded) == 160
    assert encode(bytes(2)) == bytes([zero])
    back = array("h", decode(coded))
    orig = array("h", pcm)
    assert max(abs(a - b) for a, b in zip(orig, back, strict=True)) < 300


@pytest.mark.parametrize("pt", [0, 8])
def test_g711_by_payload_type(pt: int) -> None:
    pcm = tone((440.0,), 20)
    assert len(g711.decode(g711.encode(pcm, pt), pt)) == len(pcm)


def test_g711_rejects_other_payload_types() -> None:
    with pytest.raises(ValueError):
        g711.encode(b"", 18)


def test_decode_sipp_alaw_capture() -> None:
    payload = RtpPacket.parse(udp_payloads(SIPP_PCAPS / "g711a.pcap")[50]).payload
    assert len(g711.alaw_decode(payload)) == 2 * len(payload)


@pytest.mark.parametrize("key", list("0123456789*#ABCD"))
def test_every_key(key: str) -> None:
    detector = InbandDtmfDetector()
    assert detector.feed(silence(40) + tone(key_freqs(key), 80) + silence(40)) == [key]


def test_noisy_tone_is_detected() -> None:
    pcm = tone(key_freqs("7"), 100, amp=5000, noise=1200)
    assert InbandDtmfDetector().feed(pcm) == ["7"]


@pytest.mark.parametrize(
    "freqs", [(1000.0,), (350.0, 440.0), (697.0,), (697.0, 770.0), (1209.0, 1336.0), (300.0, 1100.0, 2400.0)]
)
def test_non_dtmf_tones_are_ignored(freqs: tuple[float, ...]) -> None:
    assert InbandDtmfDetector().feed(tone(freqs, 200)) == []


def test_silence_and_noise_are_ignored() -> None:
    assert InbandDtmfDetector().feed(silence(100) + tone((), 100, noise=3000)) == []


def test_sequence_with_repeats_fed_in_20ms_frames() -> None:
    pcm = b"".join(tone(key_freqs(k), 70) + silence(50) for k in "1231100")
    detector = InbandDtmfDetector()
    digits: list[str] = []
    for i in range(0, len(pcm), 320):
        digits += detector.feed(pcm[i : i + 320])
    assert "".join(digits) == "1231100"


def test_too_short_a_tone_is_ignored() -> None:
    assert InbandDtmfDetector().feed(silence(30) + tone(key_freqs("5"), 20) + silence(30)) == []


def test_detect_block_strong_twist_rejected() -> None:
    row, col = key_freqs("5")
    pcm = array("h", tone((row,), 26, amp=8000))
    weak = array("h", tone((col,), 26, amp=500))
    mixed = array("h", [a + b for a, b in zip(pcm, weak, strict=True)][:205])
    assert detect_block(mixed) is None
