"""What monitoring costs: mixing calls' legs per 20 ms frame against the direct relay (the anchor).

Real :class:`~channels.voice.leg.MediaLeg` objects on real loopback UDP sockets, in this process, in two modes:

- ``relay`` (the anchor): every call's caller and agent legs are bridged; each receives one 20 ms PCMU packet every
  20 ms and forwards it to the other leg at once (what a bridged call costs today);
- ``mixed``: every call also has a supervisor leg and a :class:`~channels.voice.mixer.Mixer` in ``barge`` (three
  legs decoded, jitter-buffered, summed, clipped, encoded and sent every tick).

Input packets are handed to the legs as their sockets would (``_on_packet``), so no peer processes compete for the
CPU; what the legs send goes to a sink process that discards it. Reported:

- ``cpu_us_per_call_frame``: CPU per call per 20 ms frame in a tight loop (feeding included, no pacing: the figure
  least disturbed by other work on the machine), and ``cores_at_real_time`` for N calls;
- ``paced_<mode>_<n>_calls``: N calls (default 150) for ``--seconds`` on the real :class:`MediaClock`, fed on a
  20 ms schedule: ``cpu_percent`` of one core (``feed_only``: the feeder alone), the clock's worst lateness, and the
  latency one more call adds between real UDP peers: its caller sends a loud frame among silent ones, timed until the
  agent's peer receives it (``latency_ms`` p50 / p95 / max); with 0 other calls this is the mixer's own latency;
- ``sans_io``: :func:`~channels.voice.mixer.mix` call by call against :func:`~channels.voice.mixer.mix_many` for all
  calls at once (µs per tick).

Prints one JSON object. ``python bench/monitor_mix.py [--calls 150] [--seconds 10] [--target 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.voice import g711  # noqa: E402
from channels.voice.leg import MediaClock, MediaLeg, bridge, open_leg_socket  # noqa: E402
from channels.voice.media import FRAME_SAMPLES  # noqa: E402
from channels.voice.mixer import MODES, ROUTES, Mixer, mix, mix_many  # noqa: E402
from channels.voice.rtp import RtpPacket, RtpSender  # noqa: E402
from channels.voice.sdp import PCMU, Direction, Negotiated  # noqa: E402
from channels.voice.transport import RtpSocket, open_rtp_socket  # noqa: E402

HOST = "127.0.0.1"
SINK = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
buf = bytearray(2048)
while True:
    s.recv_into(buf)
"""


def tone(freq: float) -> bytes:
    t = np.arange(FRAME_SAMPLES) / 8000
    return g711.ulaw_encode((6000 * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes())


class Probe:
    """A real UDP peer: sends silence with a loud frame every ``every`` frames, or times the loud frames it gets."""

    def __init__(self) -> None:
        self.socket: RtpSocket | None = None
        self.sent_at: list[float] = []
        self.heard_at: list[float] = []

    async def open(self) -> int:
        self.socket = await open_rtp_socket(HOST, self._on_packet)
        return self.socket.port

    def _on_packet(self, packet: RtpPacket, _source: tuple[str, int]) -> None:
        if packet.payload_type != 0:
            return
        pcm = np.frombuffer(g711.ulaw_decode(packet.payload), dtype="<i2").astype(np.float64)
        if float(np.sqrt(np.mean(pcm * pcm))) > 3000:
            self.heard_at.append(time.perf_counter())

    async def send(self, remote: tuple[str, int], seconds: float, every: int = 13) -> None:
        assert self.socket is not None
        loop = asyncio.get_running_loop()
        sender = RtpSender(ssrc=0xBEEF, payload_type=0, start=loop.time())
        loud, quiet = tone(1000), g711.ulaw_encode(bytes(2 * FRAME_SAMPLES))
        for n in range(int(seconds / 0.02)):
            is_loud = n % every == every - 1
            if is_loud:
                self.sent_at.append(time.perf_counter())
            self.socket.send(sender.packetize(loud if is_loud else quiet), remote)
            await asyncio.sleep(max(0.0, sender.next_deadline() - loop.time()))


def latencies(sent: list[float], heard: list[float]) -> list[float]:
    """Each loud frame sent → the first loud frame received after it (ms)."""
    out, j = [], 0
    for t in sent:
        while j < len(heard) and heard[j] < t:
            j += 1
        if j < len(heard) and heard[j] - t < 0.2:
            out.append((heard[j] - t) * 1000)
    return out


async def run_mode(mode: str, calls: int, seconds: float, sink: tuple[str, int], target: int = 2) -> dict[str, object]:
    clock = MediaClock()
    negotiated = Negotiated(PCMU, 101, *sink, Direction.SENDRECV)
    parties = 3 if mode == "mixed" else 2 if mode == "relay" else 0
    legs: list[list[MediaLeg]] = []
    for _ in range(calls if parties else 0):
        call = []
        for name in ("caller", "agent", "supervisor")[:parties]:
            call.append(MediaLeg(name, await open_leg_socket(HOST), negotiated, clock))
        bridge(call[0], call[1])
        legs.append(call)
    # the probe call: real peers on both ends of the caller and agent legs
    caller_probe, agent_probe = Probe(), Probe()
    probe_legs: list[MediaLeg] = []
    if parties:
        for probe, name in ((caller_probe, "caller"), (agent_probe, "agent")):
            port = await probe.open()
            leg = MediaLeg(
                name, await open_leg_socket(HOST), Negotiated(PCMU, 101, HOST, port, Direction.SENDRECV), clock
            )
            probe_legs.append(leg)
        bridge(probe_legs[0], probe_legs[1])
        if mode == "mixed":
            probe_legs.append(MediaLeg("supervisor", await open_leg_socket(HOST), negotiated, clock))
    loop = asyncio.get_running_loop()
    mixers = []
    if mode == "mixed":
        for call in [*legs, probe_legs]:
            mixer = Mixer(call[0], call[1], call[2], "barge", target=target)
            mixer.attach(loop.time())
            mixers.append(mixer)
    payloads = [tone(f) for f in (440.0, 1000.0, 1800.0)]
    senders = [[RtpSender(ssrc=i * 4 + p, payload_type=0, start=0.0) for p in range(3)] for i in range(calls)]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    late0 = clock.late_ms_max
    probe_task = asyncio.create_task(caller_probe.send((HOST, probe_legs[0].socket.port), seconds)) if parties else None
    start = loop.time()
    frames = int(seconds / 0.02)
    for n in range(frames):
        for i in range(calls):
            for p in range(3 if mode != "relay" else 2):
                packet = senders[i][p].packetize(payloads[p])
                if parties:
                    legs[i][p]._on_packet(packet, sink)
        await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
    if probe_task is not None:
        await probe_task
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    lat = latencies(caller_probe.sent_at, agent_probe.heard_at)
    result: dict[str, object] = {
        "calls": calls,
        "cpu_percent": round(100 * cpu / wall, 1),
        "wall_s": round(wall, 1),
        "clock_late_ms_max": round(max(clock.late_ms_max, late0), 1),
    }
    if lat:
        ordered = sorted(lat)
        result["latency_ms"] = {
            "p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1),
            "samples": len(ordered),
        }
    if mixers:
        totals = {"late": 0, "dropped": 0, "underruns": 0}
        for mixer in mixers:
            for stats in mixer.stats().values():
                for key in totals:
                    totals[key] += stats[key]  # type: ignore[index]
        result["jitter_buffers"] = totals
        for mixer in mixers:
            mixer.detach()
    for leg in [*(leg for call in legs for leg in call), *probe_legs]:
        leg.close()
    for probe in (caller_probe, agent_probe):
        if probe.socket is not None:
            probe.socket.close()
    return result


async def cpu_per_call_frame(mode: str, calls: int, frames: int, sink: tuple[str, int]) -> float:
    """CPU µs per call per 20 ms frame, in a tight loop (no pacing: insensitive to other processes on the machine)."""
    clock = MediaClock()
    negotiated = Negotiated(PCMU, 101, *sink, Direction.SENDRECV)
    parties = 3 if mode == "mixed" else 2
    legs = []
    for _ in range(calls):
        call = [MediaLeg(n, await open_leg_socket(HOST), negotiated, clock) for n in ("caller", "agent", "supervisor")]
        bridge(call[0], call[1])
        legs.append(call)
    mixers = []
    now = asyncio.get_running_loop().time()
    for call in legs:
        if mode == "mixed":
            mixer = Mixer(call[0], call[1], call[2], "barge")
            mixer.attach(now)
            clock.remove(mixer)  # ticked below, not by the clock
            mixers.append(mixer)
        for leg in call:
            clock.remove(leg)
    payloads = [tone(f) for f in (440.0, 1000.0, 1800.0)]
    senders = [[RtpSender(ssrc=i * 4 + p, payload_type=0, start=0.0) for p in range(3)] for i in range(calls)]
    start = time.process_time()
    for _ in range(frames):
        for i, call in enumerate(legs):
            for p in range(parties):
                call[p]._on_packet(senders[i][p].packetize(payloads[p]), sink)
        for mixer in mixers:
            mixer.tick()
        await asyncio.sleep(0)  # let the transports flush
    spent = time.process_time() - start
    for mixer in mixers:
        mixer.detach()
    for call in legs:
        for leg in call:
            leg.close()
    return spent / calls / frames * 1e6


def sans_io(calls: int, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    frames = rng.integers(-12000, 12000, size=(calls, 3, FRAME_SAMPLES), dtype=np.int16)
    modes = [MODES[i % 3] for i in range(calls)]
    routes = np.stack([ROUTES[m] for m in modes])
    start = time.perf_counter()
    for _ in range(rounds):
        for i in range(calls):
            mix(modes[i], frames[i])
    one_by_one = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        mix_many(routes, frames)
    batch = (time.perf_counter() - start) / rounds
    return {"mix_call_by_call_us_per_tick": round(one_by_one * 1e6, 1), "mix_many_us_per_tick": round(batch * 1e6, 1)}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    sink_proc = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert sink_proc.stdout is not None
        sink = (HOST, int(sink_proc.stdout.readline()))
        out: dict[str, object] = {"calls": args.calls, "seconds": args.seconds, "target_frames": args.target}
        cpu = {mode: await cpu_per_call_frame(mode, args.calls, 300, sink) for mode in ("relay", "mixed")}
        out["cpu_us_per_call_frame"] = {mode: round(us, 1) for mode, us in cpu.items()}
        out["cores_at_real_time"] = {mode: round(us * args.calls / 20_000, 3) for mode, us in cpu.items()}
        print(f"cpu: {out['cpu_us_per_call_frame']}", file=sys.stderr)
        for calls in (0, args.calls):
            for mode in ("feed_only", "relay", "mixed") if calls else ("relay", "mixed"):
                key = f"paced_{mode}_{calls}_calls"
                out[key] = await run_mode(mode, calls, args.seconds, sink, args.target)
                print(f"{key}: {out[key]}", file=sys.stderr)
        out["sans_io"] = sans_io(args.calls, 200)
        return out
    finally:
        sink_proc.kill()
        sink_proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--target", type=int, default=2, help="jitter-buffer frames before playout (the mixer's)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
