"""Sans-IO media helpers: codecs by name, framing, tones, hold music and the voice-activity detector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from channels.voice import g711, media
from channels.voice.inband_dtmf import goertzel_power, pcm_samples

CODECS = ["PCMU", "PCMA"]


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


@pytest.mark.parametrize(("codec", "pt"), [("PCMU", 0), ("PCMA", 8)])
def test_encode_decode_by_codec_name(codec: str, pt: int) -> None:
    pcm = media.tone_pcm(440.0, 20)
    assert media.encode(pcm, codec) == g711.encode(pcm, pt)
    back = media.decode(media.encode(pcm, codec), codec)
    assert len(back) == len(pcm)
    assert np.max(np.abs(samples(back) - samples(pcm))) < 300


@pytest.mark.parametrize("bad", ["G729", "pcmu", "", "opus"])
def test_unknown_codec_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="unsupported codec"):
        media.encode(b"\x00\x00", bad)
    with pytest.raises(ValueError, match="unsupported codec"):
        media.silence_frames(20, bad)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(("ms", "frames"), [(0, 0), (1, 1), (20, 1), (21, 2), (1000, 50)])
def test_silence_frames_round_up_to_20ms(codec: str, ms: int, frames: int) -> None:
    out = media.silence_frames(ms, codec)
    assert len(out) == frames
    assert all(len(f) == 160 for f in out)
    assert all(np.max(np.abs(samples(media.decode(f, codec)))) <= 8 for f in out)  # A-law has no exact zero


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        media.silence_frames(-20, "PCMU")


@pytest.mark.parametrize("codec", CODECS)
def test_frames_from_pcm_pads_the_last_frame_with_silence(codec: str) -> None:
    pcm = media.tone_pcm(1000.0, 20) + media.tone_pcm(1000.0, 20)[:100]  # 210 samples
    out = media.frames_from_pcm(pcm, codec)
    assert [len(f) for f in out] == [160, 160]
    tail = samples(media.decode(out[1], codec))
    assert np.all(np.abs(tail[50:]) <= 8) and np.max(np.abs(tail[:50])) > 1000


@pytest.mark.parametrize("codec", CODECS)
def test_beep_is_a_clean_tone_at_the_requested_frequency(codec: str) -> None:
    frames = media.tone_frames(1000.0, 300, codec)
    assert len(frames) == 15 and all(len(f) == 160 for f in frames)
    pcm = b"".join(media.decode(f, codec) for f in frames)
    block = pcm_samples(pcm[1600:2010])  # 205 samples from the steady part
    on = goertzel_power(block, 1000.0)
    assert on > 100 * goertzel_power(block, 700.0) and on > 100 * goertzel_power(block, 1400.0)
    assert -15.5 < media.level_dbfs(pcm[1600:-1600]) < -14.5  # -12 dBFS peak sine = -15 dBFS RMS (+ G.711 noise)
    first = samples(pcm[:20])
    assert np.max(np.abs(first)) < 0.1 * 32767 * 10 ** (-12 / 20)  # faded in: no click


@pytest.mark.parametrize("freq", [0.0, -5.0, 4000.0, 9000.0])
def test_tone_frequency_outside_the_band_is_rejected(freq: float) -> None:
    with pytest.raises(ValueError, match="frequency"):
        media.tone_frames(freq, 100, "PCMU")


@pytest.mark.parametrize("codec", CODECS)
def test_hold_music_is_a_seamless_musical_loop(codec: str) -> None:
    frames = media.hold_music_frames(codec)
    assert len(frames) == 400 and all(len(f) == 160 for f in frames)  # 8 s
    pcm = media.hold_music_pcm()
    x = samples(pcm)
    assert -24 < media.level_dbfs(pcm) < -12
    assert np.max(np.abs(x)) < 32767
    # Not silence anywhere: every half second carries sound.
    assert all(media.level_dbfs(pcm[i : i + 8000]) > -35 for i in range(0, len(pcm), 8000))
    # Seamless: both ends fade to (near) zero, so looping does not click.
    assert abs(x[0]) < 200 and abs(x[-1]) < 200
    # Tonal, inside the telephone band: most energy between 300 and 3400 Hz... and the bass harmonics.
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 8000)
    assert spectrum[(freqs > 150) & (freqs < 3400)].sum() > 0.98 * spectrum.sum()
    # The four chords differ (it is music, not one repeated tone).
    bars = [x[i * 16000 : (i + 1) * 16000] for i in range(4)]
    peaks = {int(freqs[np.argmax(np.abs(np.fft.rfft(b)))] * 2) for b in bars}
    assert len(peaks) >= 3


def test_level_of_silence_and_empty_input() -> None:
    assert media.level_dbfs(b"") == -math.inf
    assert media.level_dbfs(bytes(320)) == -math.inf


def noise(ms: int, level_dbfs: float, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 32768 * 10 ** (level_dbfs / 20), 8 * ms)
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()


def test_voice_activity_tone_vs_silence() -> None:
    vad = media.VoiceActivity()
    assert vad.feed(bytes(16 * 500)) == "silence"
    assert not vad.heard_speech and vad.silence_ms == 500
    assert vad.feed(media.tone_pcm(300.0, 40, level_dbfs=-20)) == "silence"  # shorter than speech_ms (60)
    assert vad.feed(media.tone_pcm(300.0, 400, level_dbfs=-20)) == "speech"
    assert vad.heard_speech and vad.silence_ms == 0
    # A pause shorter than the hangover keeps the utterance going.
    assert vad.feed(bytes(16 * 200)) == "speech"
    assert vad.silence_ms == 200
    assert vad.feed(media.tone_pcm(300.0, 200, level_dbfs=-20)) == "speech"
    assert vad.feed(bytes(16 * 400)) == "silence"
    assert vad.silence_ms == 400 and vad.speech_ms_total >= 500
    vad.reset()
    assert not vad.heard_speech and vad.state == "silence"


def test_voice_activity_ignores_line_noise_and_hears_speech_over_it() -> None:
    vad = media.VoiceActivity()
    assert vad.feed(noise(2000, -55)) == "silence"  # faint hiss below the absolute threshold
    hiss = media.VoiceActivity()
    assert hiss.feed(noise(3000, -40)) == "silence"  # loud steady hiss: the noise floor catches up with it
    assert hiss.noise_floor_db > -42
    assert hiss.feed(noise(300, -15, seed=3)) == "speech"  # a caller 25 dB above the hiss is heard


def test_voice_activity_accepts_odd_sized_chunks() -> None:
    vad = media.VoiceActivity()
    pcm = media.tone_pcm(500.0, 200, level_dbfs=-20)
    for i in range(0, len(pcm), 77):
        state = vad.feed(pcm[i : i + 77])
    assert state == "speech"


@pytest.mark.parametrize("kwargs", [{"speech_ms": 0}, {"hangover_ms": -1}])
def test_voice_activity_rejects_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        media.VoiceActivity(**kwargs)
