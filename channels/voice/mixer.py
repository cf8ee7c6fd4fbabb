"""Mixing the three legs of a monitored call (listen, whisper, barge), per 20 ms frame.

A bridged call relays RTP packet for packet between the caller's and the agent's legs (:mod:`.leg`). While a
supervisor monitors it, the :class:`Mixer` takes over the three legs instead: each leg's decoded input goes into its
own :class:`JitterBuffer`; on every tick of the shared :class:`~channels.voice.leg.MediaClock` one frame is taken
from each buffer, :func:`mix` sums what each party may hear (clipped to 16 bits), and every leg sends its mix.

Who hears whom (rows: the listener; the supervisor's input is dropped in ``listen``)::

    mode      caller hears          agent hears              supervisor hears
    listen    agent                 caller                   caller + agent
    whisper   agent                 caller + supervisor      caller + agent
    barge     agent + supervisor    caller + supervisor      caller + agent

Everything above :class:`Mixer` is sans-IO (numpy over 160-sample frames, RTP timestamps as data); the mixer itself
only touches the legs it drives. A prompt playing on a leg (the order number read-out) takes precedence over the mix
on that leg, as it does over the relay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, get_args

import numpy as np

from .leg import MAX_CATCH_UP, PTIME, MediaLeg
from .media import FRAME_SAMPLES, encode
from .rtp import RtpPacket

log = logging.getLogger(__name__)

Mode = Literal["listen", "whisper", "barge"]
MODES: tuple[Mode, ...] = get_args(Mode)
PARTIES = ("caller", "agent", "supervisor")
CALLER, AGENT, SUPERVISOR = range(3)

_ROUTES: dict[Mode, tuple[tuple[int, int, int], ...]] = {
    # rows: caller, agent, supervisor hear ...; columns: caller, agent, supervisor speak
    "listen": ((0, 1, 0), (1, 0, 0), (1, 1, 0)),
    "whisper": ((0, 1, 0), (1, 0, 1), (1, 1, 0)),
    "barge": ((0, 1, 1), (1, 0, 1), (1, 1, 0)),
}
ROUTES: dict[Mode, np.ndarray] = {mode: np.array(rows, dtype=np.int32) for mode, rows in _ROUTES.items()}
"""The routing matrix of each mode: ``ROUTES[mode][listener, speaker]`` is 1 when the listener hears the speaker."""

FRAME_BYTES = 2 * FRAME_SAMPLES
SILENCE = bytes(FRAME_BYTES)


def parse_mode(value: object) -> Mode:
    """``value`` as a mode; raises ``ValueError`` for anything but listen / whisper / barge."""
    if isinstance(value, str) and value in MODES:
        return value
    raise ValueError(f"unknown monitor mode {value!r}: expected one of {', '.join(MODES)}")


def hears(mode: Mode) -> dict[str, tuple[str, ...]]:
    """Who each party hears in ``mode`` (``{"caller": ("agent",), ...}``)."""
    matrix = _ROUTES[mode]
    return {PARTIES[i]: tuple(PARTIES[j] for j in range(3) if matrix[i][j]) for i in range(3)}


def frames_of(pcm: Sequence[bytes]) -> np.ndarray:
    """Whole 20 ms frames of 16-bit little-endian PCM (320 bytes each) as an int16 array of shape ``(n, 160)``."""
    return np.frombuffer(b"".join(pcm), dtype="<i2").reshape(len(pcm), FRAME_SAMPLES)


def mix(mode: Mode, frames: np.ndarray) -> np.ndarray:
    """What each party hears this frame.

    Args:
        mode: the monitoring mode.
        frames: shape ``(3, 160)``: the caller's, the agent's and the supervisor's input (silence where missing).

    Returns:
        Shape ``(3, 160)`` int16: the caller's, the agent's and the supervisor's output, each the sum of what that
        party may hear, computed in 32 bits and clipped to the 16-bit range (two loud voices saturate, never wrap).
    """
    return _clipped(ROUTES[mode] @ frames.astype(np.int32))


def mix_many(routes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """:func:`mix` for many calls at once: ``routes`` ``(n, 3, 3)``, ``frames`` ``(n, 3, 160)`` → ``(n, 3, 160)``."""
    return _clipped(np.matmul(routes, frames.astype(np.int32)))


def _clipped(summed: np.ndarray) -> np.ndarray:
    np.minimum(summed, 32767, out=summed)  # in place: cheaper than np.clip on 20 ms frames
    np.maximum(summed, -32768, out=summed)
    return summed.astype(np.int16)


class JitterBuffer:
    """Decoded 20 ms frames of one leg, put in RTP timestamp order and played out one per tick (sans-IO).

    Playout starts once ``target`` frames are buffered (the added latency: ``target`` × 20 ms at most, plus up to
    one tick). A frame that is missing while enough later ones wait is skipped (lost); when the buffer runs dry the
    playout waits (silence) instead of moving on, so a late frame is still played; when more than ``max_depth``
    frames pile up (the sender's clock runs fast, a burst after a stall) the oldest are dropped back to ``target``.
    Latency gained in a stall (frames that waited out an underrun) is given back: every ``shrink_every`` ticks, frames
    that were never needed in that window are dropped. A new SSRC or a timestamp jump (silence suppression, a
    re-INVITE) restarts the buffer.

    Args:
        target: frames buffered before playout starts.
        max_depth: frames kept at most.
        reprime_after: empty ticks after which the buffer waits for ``target`` frames again.
        shrink_every: ticks of the window over which the fewest frames left waiting is watched: when even that
            low point is above what the target needs, the surplus (latency gained in a stall) is dropped.
    """

    JUMP_FRAMES = 50  # a timestamp this far (1 s) from the playout point is a new stream, not jitter

    def __init__(self, *, target: int = 2, max_depth: int = 6, reprime_after: int = 5, shrink_every: int = 50) -> None:
        if not 1 <= target <= max_depth:
            raise ValueError("need 1 <= target <= max_depth")
        self.target = target
        self.max_depth = max_depth
        self.reprime_after = reprime_after
        self.shrink_every = shrink_every
        self._window = 0  # ticks in the current shrink window
        self._low = max_depth  # the fewest frames left after a tick in the window
        self._frames: dict[int, bytes] = {}
        self._ssrc: int | None = None
        self._base_ts = 0
        self._next: int | None = None  # frame index played next (None: not primed)
        self._empty = 0
        self.received = 0
        self.played = 0
        self.late = 0
        self.dropped = 0
        self.underruns = 0

    @property
    def depth(self) -> int:
        """Frames waiting."""
        return len(self._frames)

    def _index(self, timestamp: int) -> int:
        offset = (timestamp - self._base_ts) & 0xFFFFFFFF
        if offset >= 1 << 31:
            offset -= 1 << 32
        return offset // FRAME_SAMPLES

    def _restart(self, ssrc: int, timestamp: int) -> None:
        self._frames.clear()
        self._ssrc, self._base_ts, self._next, self._empty = ssrc, timestamp, None, 0

    def push(self, ssrc: int, timestamp: int, pcm: bytes) -> None:
        """A received packet's decoded 16-bit PCM (a multiple of 20 ms; anything else is cut into 20 ms frames, the
        last one padded with silence)."""
        if ssrc != self._ssrc:
            self._restart(ssrc, timestamp)
        index = self._index(timestamp)
        anchor = self._next if self._next is not None else min(self._frames, default=index)
        if abs(index - anchor) > self.JUMP_FRAMES:
            self._restart(ssrc, timestamp)
            index = 0
        for offset in range(0, len(pcm), FRAME_BYTES):
            self.received += 1
            if self._next is not None and index < self._next:
                self.late += 1  # its turn has passed
            else:
                frame = pcm[offset : offset + FRAME_BYTES] if len(pcm) != FRAME_BYTES else pcm
                self._frames[index] = frame if len(frame) == FRAME_BYTES else frame.ljust(FRAME_BYTES, b"\0")
            index += 1

    def pop(self) -> bytes | None:
        """The next frame to play (None: nothing to play, play silence)."""
        frames = self._frames
        if self._next is None:
            if len(frames) < self.target:
                return None
            self._next = min(frames)
        if not frames:
            self._empty += 1
            self.underruns += 1
            self._low = 0
            if self._empty >= self.reprime_after:
                self._next = None  # a pause in the stream: buffer up again before playing
            return None
        self._empty = 0
        if len(frames) > self.max_depth:
            for index in sorted(frames)[: len(frames) - self.target]:
                del frames[index]
                self.dropped += 1
            self._next = min(frames)
        frame = frames.pop(self._next, None)
        if frame is None:
            if len(frames) < self.target:
                self.underruns += 1
                self._low = 0
                return None  # maybe only late: wait for it
            self._next = min(frames)  # lost: skip to what is there
            frame = frames.pop(self._next)
        self._next += 1
        self.played += 1
        self._shrink()
        return frame

    def _shrink(self) -> None:
        frames = self._frames
        self._low = min(self._low, len(frames))
        self._window += 1
        if self._window < self.shrink_every:
            return
        surplus = self._low - (self.target - 1)  # after a tick, target - 1 frames are all the next ones need
        if surplus > 0:
            unneeded = sorted(frames)[:surplus]
            for index in unneeded:
                del frames[index]
            self.dropped += len(unneeded)
            self._next = unneeded[-1] + 1
        self._window, self._low = 0, self.max_depth


class Mixer:
    """Mixes a bridged call's caller and agent legs with a supervisor's leg, on the media clock's ticks.

    While attached, the three legs do not relay or pace themselves: their received audio comes here (the legs'
    ``takeover`` hook) and each tick sends every leg its mix. :meth:`detach` gives the legs back: the caller and the
    agent relay to each other directly again.

    Args:
        caller: the citizen's leg.
        agent: the agent's leg (bridged with ``caller``).
        supervisor: the supervisor's leg.
        mode: the initial mode.
        on_ended: called once when the mixer stops by itself because the call is over (a leg closed, or the caller
            and the agent are no longer bridged).
        target: jitter-buffer frames before playout (see :class:`JitterBuffer`).
    """

    name = "mixer"

    def __init__(
        self,
        caller: MediaLeg,
        agent: MediaLeg,
        supervisor: MediaLeg,
        mode: Mode,
        *,
        on_ended: Callable[[], None] | None = None,
        target: int = 2,
        max_depth: int = 6,
    ) -> None:
        self.legs = (caller, agent, supervisor)
        self.mode: Mode = mode
        self.on_ended = on_ended
        self.buffers = tuple(JitterBuffer(target=target, max_depth=max_depth) for _ in self.legs)
        self.clock = caller.clock
        self.attached = False
        self.ticks = 0
        self._start = 0.0

    def attach(self, now: float) -> None:
        """Take the three legs over, starting now."""
        for leg in self.legs:
            leg.takeover = self
            leg.resync()  # the mixer's ticks pace the leg from now (a prompt on it too)
        self._start, self.ticks, self.attached = now, 0, True
        self.clock.add(self)

    def set_mode(self, mode: Mode) -> None:
        """Switch who hears whom from the next frame on (nobody hangs up)."""
        self.mode = mode

    def detach(self) -> None:
        """Stop mixing: the caller and the agent relay directly again (idempotent)."""
        if not self.attached:
            return
        self.attached = False
        self.clock.remove(self)
        for leg in self.legs:
            if leg.takeover is self:
                leg.takeover = None
            if not leg.closed and leg.peer is None:
                leg.resync()  # pacing its own output again (prompts, silence)

    # -- the legs' takeover hook -------------------------------------------------------------------------------

    def received(self, leg: MediaLeg, packet: RtpPacket, pcm: bytes) -> None:
        """A leg's decoded input (called by the leg for every audio packet)."""
        for index, own in enumerate(self.legs):
            if own is leg:
                self.buffers[index].push(packet.ssrc, packet.timestamp, pcm)
                return

    # -- the clock's tick --------------------------------------------------------------------------------------

    def pump(self, now: float) -> None:
        """Mix and send the frames due at ``now`` (called by the media clock every 20 ms)."""
        if not self.attached:
            return
        caller, agent, _supervisor = self.legs
        if any(leg.closed for leg in self.legs) or caller.peer is not agent or agent.peer is not caller:
            self.detach()
            if self.on_ended is not None:
                self.on_ended()
            return
        due = int((now - self._start) / PTIME) + 1 - self.ticks
        if due > MAX_CATCH_UP:  # the loop stalled: mix only what can still be sent in time
            self.ticks += due - MAX_CATCH_UP
            due = MAX_CATCH_UP
        for _ in range(max(due, 0)):
            self.ticks += 1
            self.tick()

    def tick(self) -> None:
        """One frame: take one from every buffer, mix, send each leg its mix (unless a prompt plays on it)."""
        out = mix(self.mode, frames_of([buffer.pop() or SILENCE for buffer in self.buffers])).tobytes()
        for index, leg in enumerate(self.legs):
            if not leg.playing and not leg.closed:
                leg.send_frame(encode(out[index * FRAME_BYTES : (index + 1) * FRAME_BYTES], leg.codec))

    def stats(self) -> Mapping[str, object]:
        """Per-leg buffer counters (for logs and the bench)."""
        return {
            party: {
                "received": b.received,
                "played": b.played,
                "late": b.late,
                "dropped": b.dropped,
                "underruns": b.underruns,
                "depth": b.depth,
            }
            for party, b in zip(PARTIES, self.buffers, strict=True)
        }
