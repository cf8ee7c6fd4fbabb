"""The monitoring mixer: who hears whom per mode, clipping-safe sums, the per-leg jitter buffer, and the mixer
driving three real media legs on loopback sockets (tone peers on the far ends, analysed by FFT)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import numpy as np
import pytest

from channels.voice import g711
from channels.voice.leg import MediaClock, MediaLeg, bridge, open_leg_socket
from channels.voice.media import FRAME_SAMPLES
from channels.voice.mixer import MODES, ROUTES, JitterBuffer, Mixer, Mode, hears, mix, mix_many, parse_mode
from channels.voice.rtp import RtpPacket, RtpSender
from channels.voice.sdp import PCMU, Direction, Negotiated
from channels.voice.transport import RtpSocket, open_rtp_socket

HOST = "127.0.0.1"
CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440.0, 1000.0, 1800.0
TONES = (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)

# -- tone analysis ---------------------------------------------------------------------------------------------


def tone_shares(pcm: bytes, freqs: tuple[float, ...] = TONES) -> dict[float, float]:
    """Share of the signal's energy within ±20 Hz of each frequency (Hann-windowed FFT)."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    if x.size < 400:
        return dict.fromkeys(freqs, 0.0)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    bins = np.fft.rfftfreq(x.size, 1 / 8000)
    total = float(spectrum.sum())
    if total < x.size * 100.0:  # digital silence or a whisper of noise: nothing is heard
        return dict.fromkeys(freqs, 0.0)
    return {f: float(spectrum[np.abs(bins - f) <= 20].sum()) / total for f in freqs}


def heard(pcm: bytes, threshold: float = 0.05) -> set[float]:
    """The test tones present in ``pcm``."""
    return {f for f, share in tone_shares(pcm).items() if share >= threshold}


def sine_frames(freq: float, amplitude: float = 8000.0) -> Callable[[int], bytes]:
    """Frame ``n`` (160 samples of 16-bit PCM) of a continuous sine."""

    def frame(n: int) -> bytes:
        t = (np.arange(FRAME_SAMPLES) + n * FRAME_SAMPLES) / 8000
        return (amplitude * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()

    return frame


class TonePeer:
    """A far end on a loopback UDP socket: sends a sine as PCMU RTP every 20 ms, keeps what it receives."""

    def __init__(self, freq: float | None) -> None:
        self.frame = sine_frames(freq) if freq is not None else (lambda _n: bytes(2 * FRAME_SAMPLES))
        self.received: list[bytes] = []
        self.socket: RtpSocket | None = None
        self.remote: tuple[str, int] | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> int:
        self.socket = await open_rtp_socket(HOST, self._on_packet)
        return self.socket.port

    def _on_packet(self, packet: RtpPacket, _source: tuple[str, int]) -> None:
        if packet.payload_type == 0:
            self.received.append(g711.ulaw_decode(packet.payload))

    def send_to(self, remote: tuple[str, int]) -> None:
        self.remote = remote
        self._task = asyncio.create_task(self._send_loop())

    async def _send_loop(self) -> None:
        assert self.socket is not None and self.remote is not None
        loop = asyncio.get_running_loop()
        sender = RtpSender(ssrc=0x1234, payload_type=0, start=loop.time())
        n = 0
        while True:
            self.socket.send(sender.packetize(g711.ulaw_encode(self.frame(n))), self.remote)
            n += 1
            await asyncio.sleep(max(0.0, sender.next_deadline() - loop.time()))

    def mark(self) -> int:
        """How many frames were received so far (what a check after a change starts from)."""
        return len(self.received)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.socket is not None:
            self.socket.close()


async def hears_exactly(
    peers: dict[str, TonePeer], expected: dict[str, set[float]], *, settle: int = 10, window: int = 25
) -> None:
    """Wait (10 s at most) until every peer's latest ``window`` frames received ``settle`` frames after now carry
    exactly the expected tones."""
    marks = {name: peer.mark() + settle for name, peer in peers.items()}
    got: dict[str, set[float]] = {}
    for _ in range(200):
        got = {}
        for name, peer in peers.items():
            frames = peer.received[marks[name] :]
            got[name] = heard(b"".join(frames[-window:])) if len(frames) >= window else {-1.0}
        if got == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {expected}, heard {got}")


# -- the pure parts ----------------------------------------------------------------------------------------------


BOTH = ("caller", "agent")


@pytest.mark.parametrize(
    ("mode", "table"),
    [
        ("listen", {"caller": ("agent",), "agent": ("caller",), "supervisor": BOTH}),
        ("whisper", {"caller": ("agent",), "agent": ("caller", "supervisor"), "supervisor": BOTH}),
        ("barge", {"caller": ("agent", "supervisor"), "agent": ("caller", "supervisor"), "supervisor": BOTH}),
    ],
)
def test_who_hears_whom(mode: Mode, table: dict[str, tuple[str, ...]]) -> None:
    assert hears(mode) == table


@pytest.mark.parametrize("mode", MODES)
def test_mix_sums_what_each_party_hears_and_never_their_own_voice(mode: Mode) -> None:
    frames = np.stack([np.full(FRAME_SAMPLES, v, dtype=np.int16) for v in (1, 10, 100)])
    out = mix(mode, frames)
    values = {"caller": 1, "agent": 10, "supervisor": 100}
    for row, (party, sources) in zip(out, hears(mode).items(), strict=True):
        assert row.dtype == np.int16 and set(row.tolist()) == {sum(values[s] for s in sources)}, party
        assert party not in sources


def test_the_supervisor_is_never_heard_by_the_caller_unless_barging() -> None:
    for mode in MODES:
        assert ("supervisor" in hears(mode)["caller"]) == (mode == "barge")
        assert ("supervisor" in hears(mode)["agent"]) == (mode != "listen")


def test_mix_clips_instead_of_wrapping() -> None:
    loud = np.array([[30000] * FRAME_SAMPLES, [30000] * FRAME_SAMPLES, [-30000] * FRAME_SAMPLES], dtype=np.int16)
    out = mix("barge", loud)
    assert out[0].tolist() == [0] * FRAME_SAMPLES  # agent + supervisor cancel out
    assert out[2].tolist() == [32767] * FRAME_SAMPLES  # caller + agent saturate
    quiet = np.array([[-30000] * FRAME_SAMPLES, [-30000] * FRAME_SAMPLES, [0] * FRAME_SAMPLES], dtype=np.int16)
    assert mix("listen", quiet)[2].tolist() == [-32768] * FRAME_SAMPLES


def test_mix_many_matches_mix_call_by_call() -> None:
    rng = np.random.default_rng(7)
    frames = rng.integers(-32768, 32767, size=(12, 3, FRAME_SAMPLES), dtype=np.int16)
    modes = [MODES[i % 3] for i in range(12)]
    batch = mix_many(np.stack([ROUTES[m] for m in modes]), frames)
    for i, mode in enumerate(modes):
        assert np.array_equal(batch[i], mix(mode, frames[i]))


@pytest.mark.parametrize("value", ["listen", "whisper", "barge"])
def test_parse_mode_accepts_the_three_modes(value: str) -> None:
    assert parse_mode(value) == value


@pytest.mark.parametrize("value", ["stop", "LISTEN", "", None, 1, ["listen"]])
def test_parse_mode_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError, match="unknown monitor mode"):
        parse_mode(value)


# -- the jitter buffer -----------------------------------------------------------------------------------------


def pcm(value: int, frames: int = 1) -> bytes:
    return np.full(FRAME_SAMPLES * frames, value, dtype="<i2").tobytes()


def played(buffer: JitterBuffer, ticks: int) -> list[int | None]:
    out: list[int | None] = []
    for _ in range(ticks):
        frame = buffer.pop()
        out.append(None if frame is None else int(np.frombuffer(frame, dtype="<i2")[0]))
    return out


def test_playout_starts_after_the_target_depth_in_order() -> None:
    buffer = JitterBuffer(target=2)
    buffer.push(1, 1000, pcm(1))
    assert buffer.pop() is None  # one frame: not yet
    buffer.push(1, 1160, pcm(2))
    buffer.push(1, 1320, pcm(3))
    assert played(buffer, 4) == [1, 2, 3, None]


def test_reordered_frames_play_in_timestamp_order() -> None:
    buffer = JitterBuffer(target=3)
    for ts, value in ((320, 3), (0, 1), (160, 2)):
        buffer.push(9, ts, pcm(value))
    assert played(buffer, 3) == [1, 2, 3]


def test_a_frame_arriving_after_its_turn_is_dropped() -> None:
    buffer = JitterBuffer(target=2)
    buffer.push(1, 0, pcm(1))
    buffer.push(1, 160, pcm(2))
    assert played(buffer, 2) == [1, 2]
    buffer.push(1, 0, pcm(9))  # a duplicate of a played frame
    assert buffer.late == 1 and buffer.depth == 0


def test_a_lost_frame_is_skipped_when_later_ones_wait() -> None:
    buffer = JitterBuffer(target=2)
    for ts, value in ((0, 1), (320, 3), (480, 4)):  # 160 lost
        buffer.push(1, ts, pcm(value))
    assert played(buffer, 3) == [1, 3, 4]


def test_an_underrun_waits_for_the_late_frame_instead_of_moving_on() -> None:
    buffer = JitterBuffer(target=2)
    buffer.push(1, 0, pcm(1))
    buffer.push(1, 160, pcm(2))
    assert played(buffer, 3) == [1, 2, None]
    buffer.push(1, 320, pcm(3))  # late, but still played
    assert played(buffer, 1) == [3] and buffer.late == 0 and buffer.underruns == 1


def test_a_pile_up_is_trimmed_back_to_the_target() -> None:
    buffer = JitterBuffer(target=2, max_depth=4)
    for i in range(8):
        buffer.push(1, i * 160, pcm(i))
    assert played(buffer, 3) == [6, 7, None]
    assert buffer.dropped == 6


def test_a_new_ssrc_or_a_timestamp_jump_restarts_the_stream() -> None:
    buffer = JitterBuffer(target=1)
    buffer.push(1, 0, pcm(1))
    assert played(buffer, 1) == [1]
    buffer.push(2, 777_777, pcm(2))  # another source
    assert played(buffer, 1) == [2]
    buffer.push(2, 777_777 + 160 * 500, pcm(3))  # 10 s later: a new talkspurt, not 500 lost frames
    assert played(buffer, 1) == [3]


def test_timestamps_wrap_around() -> None:
    buffer = JitterBuffer(target=2)
    start = 0xFFFFFFFF - 159
    for i in range(3):
        buffer.push(1, (start + i * 160) & 0xFFFFFFFF, pcm(i + 1))
    assert played(buffer, 3) == [1, 2, 3]


def test_latency_gained_in_a_stall_is_given_back_after_a_window() -> None:
    buffer = JitterBuffer(target=2, max_depth=8, shrink_every=10)
    for i in range(6):  # a stall: six frames arrive at once
        buffer.push(1, i * 160, pcm(i))
    out = []
    for i in range(6, 18):  # then one frame per tick, as it should be
        buffer.push(1, i * 160, pcm(i))
        out.extend(played(buffer, 1))
    assert out == [*range(10), 15, 16]  # five frames nobody needed were dropped at the end of the window
    assert buffer.depth == 1 and buffer.dropped == 5


def test_a_40_ms_packet_becomes_two_frames() -> None:
    buffer = JitterBuffer(target=2)
    buffer.push(1, 0, pcm(5, frames=1) + pcm(6, frames=1))
    assert played(buffer, 2) == [5, 6]


def test_a_short_packet_is_padded_to_a_whole_frame() -> None:
    buffer = JitterBuffer(target=1)
    buffer.push(1, 0, pcm(7)[:100])
    frame = buffer.pop()
    assert frame is not None and len(frame) == 320 and frame[:100] == pcm(7)[:100] and frame[100:] == bytes(220)


def test_the_buffer_reprimes_after_a_pause() -> None:
    buffer = JitterBuffer(target=2, reprime_after=3)
    buffer.push(1, 0, pcm(1))
    buffer.push(1, 160, pcm(2))
    assert played(buffer, 5) == [1, 2, None, None, None]
    buffer.push(1, 480, pcm(3))  # one frame after the pause: waits for the target depth again
    assert played(buffer, 1) == [None]
    buffer.push(1, 640, pcm(4))
    assert played(buffer, 2) == [3, 4]


# -- the mixer on real legs ------------------------------------------------------------------------------------


async def test_the_mixer_routes_three_real_legs_by_mode_and_gives_the_relay_back() -> None:
    clock = MediaClock()
    peers = {"caller": TonePeer(CALLER_HZ), "agent": TonePeer(AGENT_HZ), "supervisor": TonePeer(SUPERVISOR_HZ)}
    legs: dict[str, MediaLeg] = {}
    try:
        for name, peer in peers.items():
            port = await peer.open()
            socket = await open_leg_socket(HOST)
            legs[name] = MediaLeg(name, socket, Negotiated(PCMU, 101, HOST, port, Direction.SENDRECV), clock)
            peer.send_to((HOST, socket.port))
        bridge(legs["caller"], legs["agent"])
        await hears_exactly(peers, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()})
        ended: list[bool] = []
        mixer = Mixer(legs["caller"], legs["agent"], legs["supervisor"], "listen", on_ended=lambda: ended.append(True))
        mixer.attach(asyncio.get_running_loop().time())
        await hears_exactly(peers, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": {CALLER_HZ, AGENT_HZ}})
        mixer.set_mode("whisper")
        await hears_exactly(
            peers, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ, SUPERVISOR_HZ}, "supervisor": {CALLER_HZ, AGENT_HZ}}
        )
        mixer.set_mode("barge")
        await hears_exactly(
            peers,
            {
                "caller": {AGENT_HZ, SUPERVISOR_HZ},
                "agent": {CALLER_HZ, SUPERVISOR_HZ},
                "supervisor": {CALLER_HZ, AGENT_HZ},
            },
        )
        stats = mixer.stats()
        assert all(s["played"] > 0 for s in stats.values()), stats  # type: ignore[index]
        mixer.detach()
        assert all(leg.takeover is None for leg in legs.values()) and not ended
        received = mixer.buffers[0].received
        await hears_exactly(peers, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()})
        assert mixer.buffers[0].received == received, "after detach the legs relay directly again"
        assert legs["caller"].peer is legs["agent"]
    finally:
        for peer in peers.values():
            peer.close()
        for leg in legs.values():
            leg.close()


async def test_the_mixer_stops_by_itself_when_the_call_is_over() -> None:
    clock = MediaClock()
    sockets = [await open_leg_socket(HOST) for _ in range(3)]
    legs = [
        MediaLeg(name, s, Negotiated(PCMU, None, HOST, 9, Direction.SENDRECV), clock)
        for name, s in zip(("caller", "agent", "supervisor"), sockets, strict=True)
    ]
    bridge(legs[0], legs[1])
    ended = asyncio.Event()
    mixer = Mixer(legs[0], legs[1], legs[2], "listen", on_ended=ended.set)
    mixer.attach(asyncio.get_running_loop().time())
    legs[1].close()  # the agent hung up
    await asyncio.wait_for(ended.wait(), 5)
    assert not mixer.attached and legs[0].takeover is None and legs[2].takeover is None
    for leg in legs:
        leg.close()
