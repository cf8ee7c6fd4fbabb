"""One RTP stream of a call (a *leg*): paced output, decoded input, DTMF, relaying to another leg.

Output is paced by one shared :class:`MediaClock` (a single loop timer every 20 ms for every leg of the process,
instead of one sleeping task per call): on each tick a leg sends the frames that are due, taken from the current
prompt, else from its background (hold music), else silence — a stream never stops, so NATs and SBCs keep the
pinhole and the far end's jitter buffer stays primed.

Input arrives on the leg's :class:`~channels.voice.transport.RtpSocket`: RFC 4733 events become digits; audio is
decoded to 8 kHz PCM for whoever listens (ASR, voicemail recording, in-band DTMF when the peer negotiated no
telephone-event). When the leg is bridged to another leg, received audio is forwarded at once (no pacing delay):
the same codec is forwarded as is, another codec is transcoded.

Symmetric RTP: the first packet's source address replaces the address from SDP (softphones behind NAT, baresip
advertising its eth0 address).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from .inband_dtmf import InbandDtmfDetector
from .media import decode, encode, silence_frames
from .rtp import DtmfEventDetector, RtpPacket, RtpSender
from .sdp import Negotiated
from .sip.transaction import Address
from .transport import RtpSocket, open_rtp_socket

log = logging.getLogger(__name__)

PTIME = 0.02
MAX_CATCH_UP = 5  # frames sent at once after the loop stalled; older ones are dropped, not bunched


class Paced(Protocol):
    """What the clock paces: a leg, or a driver of several legs (the monitoring :class:`~.mixer.Mixer`)."""

    name: str

    def pump(self, now: float) -> None:
        """Send what is due at ``now``."""


class Takeover(Protocol):
    """Takes a leg over (a mixer): receives its decoded input; the leg neither relays nor paces its own output."""

    def received(self, leg: MediaLeg, packet: RtpPacket, pcm: bytes) -> None:
        """One audio packet of ``leg``, decoded to 16-bit PCM."""


class MediaClock:
    """Ticks every 20 ms and lets every registered leg send what is due."""

    def __init__(self) -> None:
        self._legs: set[Paced] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next = 0.0
        self.ticks = 0
        self.late_ms_max = 0.0

    def add(self, leg: Paced) -> None:
        """Start pacing ``leg``."""
        self._legs.add(leg)
        if self._handle is None:
            self._loop = asyncio.get_running_loop()
            self._next = self._loop.time()
            self._handle = self._loop.call_at(self._next, self._tick)

    def remove(self, leg: Paced) -> None:
        """Stop pacing ``leg``; the timer stops with the last leg."""
        self._legs.discard(leg)
        if not self._legs and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.ticks += 1
        self.late_ms_max = max(self.late_ms_max, (now - self._next) * 1000)
        for leg in list(self._legs):
            try:
                leg.pump(now)
            except Exception:  # one broken leg must not stop every call's audio
                log.exception("media leg %s failed; closing it", leg.name)
                self.remove(leg)
        self._next += PTIME
        if self._next < now - PTIME * MAX_CATCH_UP:
            self._next = now  # the loop stalled: resynchronise instead of bursting
        if self._legs:
            self._handle = self._loop.call_at(self._next, self._tick)
        else:
            self._handle = None


class MediaLeg:
    """An RTP stream to one peer with a negotiated codec.

    Args:
        name: for logs (e.g. ``caller`` / ``agent``) — never a phone number.
        socket: the bound RTP socket (the leg installs itself as its packet handler).
        negotiated: codec, telephone-event payload type and the peer's address from SDP.
        clock: the shared pacing clock.
    """

    def __init__(self, name: str, socket: RtpSocket, negotiated: Negotiated, clock: MediaClock) -> None:
        self.name = name
        self.socket = socket
        self.codec = negotiated.codec.name.upper()
        self.remote: Address = (negotiated.remote_address, negotiated.remote_port)
        self.dtmf_pt = negotiated.dtmf_payload_type
        self.clock = clock
        start = asyncio.get_running_loop().time()
        self.sender = RtpSender(ssrc=secrets.randbits(32), payload_type=negotiated.codec.payload_type, start=start)
        self._silence = silence_frames(20, self.codec)[0]
        self._prompt: deque[bytes] = deque()
        self._prompt_done: asyncio.Future[bool] | None = None
        self._background: Sequence[bytes] = ()
        self._bg_pos = 0
        self._events = DtmfEventDetector(self.dtmf_pt) if self.dtmf_pt is not None else None
        self._inband: InbandDtmfDetector | None = None
        self._learned = False
        self.peer: MediaLeg | None = None  # bridged: received audio goes straight to the peer
        self.takeover: Takeover | None = None  # monitored: a mixer gets the input and sends the output
        self.on_pcm: Callable[[bytes, float], None] | None = None  # decoded input (ASR, recording)
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_hold = False
        self.received = 0
        self.sent = 0
        self.closed = False
        socket.on_packet = self._on_packet
        clock.add(self)

    # -- output ----------------------------------------------------------------------------------------------

    def play(self, frames: Sequence[bytes]) -> asyncio.Future[bool]:
        """Queue ``frames`` (encoded in this leg's codec) after what is playing.

        Returns:
            A future resolved with True when the last frame was sent, False if playback was stopped first.
        """
        self._prompt.extend(frames)
        if self._prompt_done is None or self._prompt_done.done():
            self._prompt_done = asyncio.get_running_loop().create_future()
        if not self._prompt:
            self._prompt_done.set_result(True)
        return self._prompt_done

    def stop_playback(self) -> None:
        """Drop what is queued (barge-in); the pending :meth:`play` future resolves False."""
        self._prompt.clear()
        if self._prompt_done is not None and not self._prompt_done.done():
            self._prompt_done.set_result(False)

    @property
    def playing(self) -> bool:
        """A prompt is being played."""
        return bool(self._prompt)

    def set_background(self, frames: Sequence[bytes]) -> None:
        """Loop ``frames`` (hold music) whenever no prompt plays; ``()`` for silence."""
        self._background, self._bg_pos = frames, 0

    def pump(self, now: float) -> None:
        """Send the frames due at ``now`` (called by the clock)."""
        if self.closed:
            return
        if (self.peer is not None or self.takeover is not None) and not self._prompt:
            return  # bridged: the peer's packets are relayed as they arrive and advance our sender (or a mixer's)
        due = self.sender.due(now)
        if due > MAX_CATCH_UP:  # the loop stalled: skip what cannot be sent in time (keep the timestamps true)
            skipped = due - MAX_CATCH_UP
            self.sender.sent += skipped
            self.sender.timestamp = (self.sender.timestamp + skipped * self.sender.samples_per_packet) & 0xFFFFFFFF
            due = MAX_CATCH_UP
        for _ in range(due):
            self._send(self._next_frame())

    def resync(self) -> None:
        """Restart pacing from now (after relaying, whose packets followed the peer's timing)."""
        self.sender.start = asyncio.get_running_loop().time() - self.sender.sent * PTIME
        self.sender.talkspurt()

    def _next_frame(self) -> bytes:
        if self._prompt:
            frame = self._prompt.popleft()
            if not self._prompt and self._prompt_done is not None and not self._prompt_done.done():
                self._prompt_done.set_result(True)
            return frame
        if self._background:
            frame = self._background[self._bg_pos % len(self._background)]
            self._bg_pos += 1
            return frame
        return self._silence

    def _send(self, payload: bytes) -> None:
        packet = self.sender.packetize(payload)
        if not self.on_hold:  # held by the peer: keep the clock running, send nothing
            self.socket.send(packet, self.remote)
            self.sent += 1

    def send_frame(self, payload: bytes) -> None:
        """Send one frame (in this leg's codec) now: a :class:`Takeover` driving the leg."""
        self._send(payload)

    def send_dtmf(self, digit: str) -> None:
        """Send one RFC 4733 key press (if the peer negotiated telephone-event)."""
        if self.dtmf_pt is None:
            return
        for packet in self.sender.dtmf(digit, self.dtmf_pt):
            self.socket.send(packet, self.remote)

    # -- input -----------------------------------------------------------------------------------------------

    def detect_inband(self, enabled: bool) -> None:
        """Run the Goertzel detector on received audio (only useful when no telephone-event was negotiated)."""
        self._inband = InbandDtmfDetector() if enabled and self.dtmf_pt is None else None

    def _on_packet(self, packet: RtpPacket, source: Address) -> None:
        if self.closed:
            return
        if not self._learned or source != self.remote:
            if not self._learned:
                log.debug("leg %s: symmetric RTP to %s:%d", self.name, *source)
            self.remote, self._learned = source, True
        self.received += 1
        if self._events is not None and packet.payload_type == self.dtmf_pt:
            pressed = self._events.feed(packet, asyncio.get_running_loop().time())
            if pressed is not None and self.on_dtmf is not None:
                self.on_dtmf(pressed.digit)
            return
        if packet.payload_type != self.sender.payload_type and packet.payload_type not in (0, 8):
            return  # comfort noise, video, whatever else: not ours
        codec = "PCMU" if packet.payload_type == 0 else "PCMA" if packet.payload_type == 8 else self.codec
        peer = self.peer
        pcm = None
        if self.takeover is not None:
            pcm = decode(packet.payload, codec)
            self.takeover.received(self, packet, pcm)
        elif peer is not None and not peer.closed and not peer._prompt:
            payload = packet.payload if peer.codec == codec else encode(decode(packet.payload, codec), peer.codec)
            peer._send(payload)
        if self.on_pcm is None and self._inband is None:
            return
        pcm = decode(packet.payload, codec) if pcm is None else pcm
        if self._inband is not None and self.on_dtmf is not None:
            for digit in self._inband.feed(pcm):
                self.on_dtmf(digit)
        if self.on_pcm is not None:
            self.on_pcm(pcm, asyncio.get_running_loop().time())

    # -- lifetime --------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop sending and receiving; close the socket."""
        if self.closed:
            return
        self.closed = True
        self.stop_playback()
        self.clock.remove(self)
        if self.peer is not None and self.peer.peer is self:
            self.peer.peer = None
        self.peer = None
        self.socket.close()


def bridge(a: MediaLeg, b: MediaLeg) -> None:
    """Relay audio both ways between two legs (prompts on a leg still take precedence on that leg)."""
    a.peer, b.peer = b, a


def unbridge(a: MediaLeg, b: MediaLeg) -> None:
    """Stop relaying between two legs; each resumes its own paced output."""
    for leg, other in ((a, b), (b, a)):
        if leg.peer is other:
            leg.peer = None
            if not leg.closed:
                leg.resync()


async def open_leg_socket(host: str) -> RtpSocket:
    """An RTP socket on an even free port (RFC 3550 §11 convention) of ``host``."""
    for _ in range(20):
        sock = await open_rtp_socket(host)
        if sock.port % 2 == 0:
            return sock
        sock.close()
    return await open_rtp_socket(host)
