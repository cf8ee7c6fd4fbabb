"""SIP peers inside the benchmark process for ``bench/voice_calls.py``: probe callers and echo agents.

Both are deliberately small: hand-written SIP text parsed with the project's own parser, asyncio UDP on 127.0.0.1,
and every arrival stamped with ``time.perf_counter()`` (CLOCK_MONOTONIC) in ``datagram_received``.

- :class:`EchoAgents` registers K agent accounts with Digest (``channels.voice.sip.digest.authorization`` answers the
  401), answers every INVITE from the hub at once with 200 + SDP (PCMU), and sends every RTP packet straight back to
  where it came from (symmetric), one SIP and one RTP socket for all agents.
- :class:`ProbeCaller` places one call and measures INVITE → 100 / 180 / 200, INVITE → first RTP packet and →
  first non-silent packet (the first prompt frame); in bridge mode it presses 0 (RFC 4733), then sends 50 packets/s
  whose payload carries (probe, sequence) through caller → hub → agent (echo) → hub → caller, and a few packets
  straight to the agents' echo socket (the anchor: the benchmark process and the loopback without the hub).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from channels.voice.agents import negotiated_from_answer
from channels.voice.media import silence_frames
from channels.voice.rtp import RtpPacket, RtpSender
from channels.voice.sdp import SdpParseError, SessionDescription, create_answer
from channels.voice.sip.digest import authorization
from channels.voice.sip.errors import SipParseError
from channels.voice.sip.message import SipRequest, SipResponse, make_response, parse_message

HOST = "127.0.0.1"
RELAY = b"RXR"  # probe → hub → agent → hub → probe
DIRECT = b"RXD"  # probe → agents' echo socket → probe (no hub: the anchor)
SILENCE = silence_frames(20, "PCMU")[0]
DTMF_PT = 101
Address = tuple[str, int]
Handler = Callable[[bytes, Address, float], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        self.handler(data, addr, time.perf_counter())


async def open_udp(handler: Handler) -> tuple[asyncio.DatagramTransport, int]:
    """A UDP socket on a free port of 127.0.0.1 delivering ``(data, source, arrival time)``."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(handler), local_addr=(HOST, 0))
    return transport, int(transport.get_extra_info("sockname")[1])


def _branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def _request(method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {uri} SIP/2.0", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def marked(mark: bytes, probe: int, seq: int) -> bytes:
    """A 160-byte PCMU payload that carries ``(probe, seq)`` (relayed as is: both legs speak PCMU)."""
    return (mark + struct.pack("!HI", probe, seq)).ljust(160, b"\x55")


def unmark(payload: bytes) -> tuple[bytes, int, int] | None:
    """``(mark, probe, seq)`` of a marked payload, else None."""
    mark = payload[:3]
    if mark not in (RELAY, DIRECT) or len(payload) < 9:
        return None
    probe, seq = struct.unpack_from("!HI", payload, 3)
    return mark, probe, seq


# -- agents ----------------------------------------------------------------------------------------------------


class EchoAgents:
    """K registered softphones answering every call and echoing RTP; per marked packet (arrival, echo) times."""

    def __init__(self, accounts: list[tuple[str, str]], hub: Address) -> None:
        self.accounts = accounts
        self.hub = hub
        self.sip: asyncio.DatagramTransport | None = None
        self.rtp: asyncio.DatagramTransport | None = None
        self.sip_port = 0
        self.rtp_port = 0
        self.stamps: dict[tuple[bytes, int, int], tuple[float, float]] = {}
        self.echoed = 0
        self.active: dict[str, bytes] = {}  # Call-ID → our 200 OK (re-sent on retransmitted INVITEs)
        self.max_active = 0
        self.answered = 0
        self._registering: dict[str, tuple[str, str, int, asyncio.Future[int]]] = {}
        self._last: dict[str, bytes] = {}

    async def start(self) -> None:
        """Open the sockets and register every account, 20 at a time (raises if one is refused)."""
        self.sip, self.sip_port = await open_udp(self._on_sip)
        self.rtp, self.rtp_port = await open_udp(self._on_rtp)
        gate = asyncio.Semaphore(20)  # a burst of 160 REGISTERs overflows this socket's buffer with the answers
        statuses = await asyncio.wait_for(asyncio.gather(*(self._register(u, s, gate) for u, s in self.accounts)), 60)
        if any(s != 200 for s in statuses):
            raise RuntimeError(f"agent registration failed: {sorted(set(statuses))}")

    async def _register(self, user: str, secret: str, gate: asyncio.Semaphore) -> int:
        async with gate:
            call_id = f"reg-{user}-{secrets.token_hex(6)}"
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._registering[call_id] = (user, secret, 1, future)
            self._send_register(call_id, user, 1, None)
            for _ in range(6):  # retransmit the last request (timer E) until it is answered
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future), 1.0)
                assert self.sip is not None
                self.sip.sendto(self._last[call_id], self.hub)
            return await future

    def close(self) -> None:
        """Close both sockets (registrations simply expire)."""
        for transport in (self.sip, self.rtp):
            if transport is not None:
                transport.close()

    def _send_register(self, call_id: str, user: str, cseq: int, auth: str | None) -> None:
        assert self.sip is not None
        uri = f"sip:{self.hub[0]}:{self.hub[1]}"
        headers = [
            ("Via", f"SIP/2.0/UDP {HOST}:{self.sip_port};branch={_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{self.hub[0]}>;tag={call_id[-12:]}"),
            ("To", f"<sip:{user}@{self.hub[0]}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} REGISTER"),
            ("Contact", f"<sip:{user}@{HOST}:{self.sip_port}>"),
            ("Expires", "3600"),
        ]
        if auth is not None:
            headers.append(("Authorization", auth))
        self._last[call_id] = _request("REGISTER", uri, headers)
        self.sip.sendto(self._last[call_id], self.hub)

    def _on_sip(self, data: bytes, addr: Address, _at: float) -> None:
        try:
            msg = parse_message(data)
        except SipParseError:
            return
        if isinstance(msg, SipResponse):
            self._registered(msg)
        else:
            self._request(msg, addr)

    def _registered(self, msg: SipResponse) -> None:
        pending = self._registering.get(msg.call_id)
        if pending is None or msg.is_provisional:
            return
        user, secret, cseq, future = pending
        challenge = msg.headers.get("WWW-Authenticate")
        if msg.status == 401 and challenge is not None and cseq == 1:
            uri = f"sip:{self.hub[0]}:{self.hub[1]}"
            self._registering[msg.call_id] = (user, secret, 2, future)
            self._send_register(msg.call_id, user, 2, authorization(challenge, "REGISTER", uri, user, secret))
            return
        del self._registering[msg.call_id]
        if not future.done():
            future.set_result(msg.status)

    def _request(self, msg: SipRequest, addr: Address) -> None:
        assert self.sip is not None
        method = msg.method
        if method == "INVITE":
            known = self.active.get(msg.call_id)
            if known is None:
                known = bytes(self._answer(msg))
                self.active[msg.call_id] = known
                self.answered += 1
                self.max_active = max(self.max_active, len(self.active))
            self.sip.sendto(known, addr)
        elif method in ("BYE", "CANCEL", "OPTIONS"):
            if method == "BYE":
                self.active.pop(msg.call_id, None)
            self.sip.sendto(bytes(make_response(msg, 200)), addr)
        # ACK: nothing to do

    def _answer(self, invite: SipRequest) -> SipResponse:
        try:
            offer = SessionDescription.parse(invite.body)
            answer, negotiated = create_answer(offer, HOST, self.rtp_port, session_id=secrets.randbits(31))
        except SdpParseError:
            negotiated = None
        if negotiated is None:
            return make_response(invite, 488, to_tag=secrets.token_hex(4))
        user = invite.to.uri.split(":", 1)[-1].split("@", 1)[0]
        return make_response(
            invite,
            200,
            to_tag=secrets.token_hex(4),
            extra=[("Contact", f"<sip:{user}@{HOST}:{self.sip_port}>"), ("Content-Type", "application/sdp")],
            body=bytes(answer),
        )

    def _on_rtp(self, data: bytes, addr: Address, at: float) -> None:
        assert self.rtp is not None
        self.rtp.sendto(data, addr)
        self.echoed += 1
        key = unmark(data[12:21])
        if key is not None:
            self.stamps[key] = (at, time.perf_counter())


# -- probe caller ----------------------------------------------------------------------------------------------


@dataclass
class ProbeResult:
    """One probe call; times in ms from sending the INVITE (None: never seen)."""

    trying_ms: float | None = None
    ringing_ms: float | None = None
    ok_ms: float | None = None
    first_rtp_ms: float | None = None
    first_audio_ms: float | None = None
    bridged_ms: float | None = None
    error: str | None = None
    relay_ms: list[float] = field(default_factory=list)  # (RTT - agent echo time) / 2 through the hub
    up_ms: list[float] = field(default_factory=list)  # caller → hub → agent
    down_ms: list[float] = field(default_factory=list)  # agent → hub → caller
    direct_ms: list[float] = field(default_factory=list)  # RTT / 2 to the echo socket without the hub
    sent: int = 0
    lost: int = 0


class ProbeCaller:
    """Places one call to the hub and measures it (see the module docstring)."""

    def __init__(self, probe_id: int, hub: Address, agents: EchoAgents | None = None) -> None:
        self.id = probe_id
        self.hub = hub
        self.agents = agents
        self.result = ProbeResult()
        self.call_id = f"probe-{probe_id}-{secrets.token_hex(8)}"
        self.tag = secrets.token_hex(4)
        self.caller = f"1380000{probe_id:04d}"
        self._t0 = 0.0
        self._final: asyncio.Future[SipResponse] | None = None
        self._bye: asyncio.Future[SipResponse] | None = None
        self._audio = asyncio.Event()
        self._echo = asyncio.Event()
        self._sent_at: dict[tuple[bytes, int], float] = {}
        self._back: dict[tuple[bytes, int], float] = {}

    async def run(self, *, hold_s: float, bridge_s: float | None = None, wait_agent_s: float = 30.0) -> ProbeResult:
        """Call, listen until the first prompt frame (and, with ``bridge_s``, talk to an agent), hang up."""
        loop = asyncio.get_running_loop()
        self._final = loop.create_future()
        sip, self.sip_port = await open_udp(self._on_sip)
        rtp, self.rtp_port = await open_udp(self._on_rtp)
        self.sip, self.rtp = sip, rtp
        sender: asyncio.Task[None] | None = None
        try:
            ok = await self._invite()
            if ok is None:
                return self.result
            remote = self._ack(ok)
            self._stream = _Stream(rtp, remote, bridge=bridge_s is not None, probe=self)
            sender = asyncio.create_task(self._stream.run())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._audio.wait(), 10)
            if bridge_s is None:
                await asyncio.sleep(hold_s)
            else:
                try:
                    await asyncio.wait_for(self._echo.wait(), wait_agent_s)
                except TimeoutError:
                    self.result.error = "never bridged to an agent"
                else:
                    self.result.bridged_ms = (time.perf_counter() - self._t0) * 1000
                    first_seq = self._stream.seq
                    await asyncio.sleep(bridge_s)
                    last_seq = self._stream.seq
                    self._stream.stop()
                    await asyncio.sleep(0.5)  # late packets still count
                    self._account(first_seq, last_seq)
            await self._hangup(ok)
        except Exception as exc:  # one broken probe must not end the benchmark
            self.result.error = f"{type(exc).__name__}: {exc}"
        finally:
            if sender is not None:
                sender.cancel()
            sip.close()
            rtp.close()
        return self.result

    async def _invite(self) -> SipResponse | None:
        offer = (
            f"v=0\r\no=probe {self.id} 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP 0 {DTMF_PT}\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{DTMF_PT} telephone-event/8000\r\na=fmtp:{DTMF_PT} 0-15\r\n"
        ).encode()
        self._invite_headers = [
            ("Via", f"SIP/2.0/UDP {HOST}:{self.sip_port};branch={_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"probe" <sip:{self.caller}@{HOST}>;tag={self.tag}'),
            ("To", f"<sip:12319@{self.hub[0]}>"),
            ("Call-ID", self.call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:{self.caller}@{HOST}:{self.sip_port}>"),
            ("Content-Type", "application/sdp"),
        ]
        data = _request("INVITE", f"sip:12319@{self.hub[0]}:{self.hub[1]}", self._invite_headers, offer)
        assert self._final is not None
        self._t0 = time.perf_counter()
        for wait in (0.5, 1.0, 2.0, 4.0):  # timer A until the first response
            self.sip.sendto(data, self.hub)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._final), wait)
            if self._final.done() or self.result.trying_ms is not None:
                break
        try:
            final = await asyncio.wait_for(self._final, 15)
        except TimeoutError:
            self.result.error = "no final response to INVITE"
            return None
        if final.status != 200:
            self.result.error = f"INVITE answered {final.status}"
            return None
        return final

    def _ack(self, ok: SipResponse) -> Address:
        contact = ok.contacts[0].uri if ok.contacts else f"sip:12319@{self.hub[0]}:{self.hub[1]}"
        self._dialog_uri, self._to = contact, ok.headers.get("To") or ""
        self.sip.sendto(_request("ACK", contact, self._in_dialog("ACK", 1)), self.hub)
        negotiated = negotiated_from_answer(SessionDescription.parse(ok.body))
        if negotiated is None:
            raise RuntimeError("no usable SDP in the 200 OK")
        return negotiated.remote_address, negotiated.remote_port

    def _in_dialog(self, method: str, cseq: int) -> list[tuple[str, str]]:
        return [
            ("Via", f"SIP/2.0/UDP {HOST}:{self.sip_port};branch={_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"probe" <sip:{self.caller}@{HOST}>;tag={self.tag}'),
            ("To", self._to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]

    async def _hangup(self, _ok: SipResponse) -> None:
        self._bye = asyncio.get_running_loop().create_future()
        data = _request("BYE", self._dialog_uri, self._in_dialog("BYE", 2))
        for wait in (0.5, 1.0, 2.0):
            self.sip.sendto(data, self.hub)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._bye), wait)
                return

    def _on_sip(self, data: bytes, addr: Address, at: float) -> None:
        try:
            msg = parse_message(data)
        except SipParseError:
            return
        ms = (at - self._t0) * 1000
        if isinstance(msg, SipRequest):  # the hub hangs up (or OPTIONS): say OK
            if msg.method != "ACK":
                self.sip.sendto(bytes(make_response(msg, 200)), addr)
            return
        if msg.cseq.method == "BYE":
            if self._bye is not None and not self._bye.done() and not msg.is_provisional:
                self._bye.set_result(msg)
            return
        if msg.status == 100 and self.result.trying_ms is None:
            self.result.trying_ms = ms
        elif msg.status in (180, 183) and self.result.ringing_ms is None:
            self.result.ringing_ms = ms
        elif msg.status >= 200 and self._final is not None and not self._final.done():
            if msg.status == 200:
                self.result.ok_ms = ms
            self._final.set_result(msg)

    def _on_rtp(self, data: bytes, _addr: Address, at: float) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return
        ms = (at - self._t0) * 1000
        if self.result.first_rtp_ms is None:
            self.result.first_rtp_ms = ms
        key = unmark(packet.payload)
        if key is not None:
            if key[1] == self.id:
                self._back[(key[0], key[2])] = at
                if key[0] == RELAY:
                    self._echo.set()
            return
        if packet.payload_type == 0 and packet.payload != SILENCE and self.result.first_audio_ms is None:
            self.result.first_audio_ms = ms
            self._audio.set()

    def sent(self, mark: bytes, seq: int, at: float) -> None:
        """Called by the stream for every marked packet."""
        self._sent_at[(mark, seq)] = at

    def _account(self, first_seq: int, last_seq: int) -> None:
        stamps = self.agents.stamps if self.agents is not None else {}
        r = self.result
        for (mark, seq), sent_at in self._sent_at.items():
            back = self._back.get((mark, seq))
            if mark == DIRECT:
                if back is not None:
                    r.direct_ms.append((back - sent_at) * 500)
                continue
            if not first_seq <= seq < last_seq:
                continue  # before the bridge, or after the window
            r.sent += 1
            if back is None:
                r.lost += 1
                continue
            echo = stamps.get((mark, self.id, seq))
            spent = (echo[1] - echo[0]) if echo is not None else 0.0
            r.relay_ms.append((back - sent_at - spent) * 500)
            if echo is not None:
                r.up_ms.append((echo[0] - sent_at) * 1000)
                r.down_ms.append((back - echo[1]) * 1000)


class _Stream:
    """The probe's RTP: 20 ms paced; in bridge mode "0" (RFC 4733) first, then marked packets."""

    def __init__(self, rtp: asyncio.DatagramTransport, remote: Address, *, bridge: bool, probe: ProbeCaller) -> None:
        self.rtp, self.remote, self.bridge, self.probe = rtp, remote, bridge, probe
        self.sender = RtpSender(ssrc=secrets.randbits(32), payload_type=0, start=time.perf_counter())
        self.seq = 0
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    async def run(self) -> None:
        tick = 0
        start = time.perf_counter()
        while not self._stopped:
            tick += 1
            if self.bridge and tick == 25:  # 0.5 s after the ACK: press 0 (one packet per tick)
                for packet in self.sender.dtmf("0", DTMF_PT):
                    self.rtp.sendto(bytes(packet), self.remote)
                    await asyncio.sleep(0.02)
            elif self.bridge and tick > 25:
                self._marked(RELAY, self.remote)
                if tick % 5 == 0 and self.probe.agents is not None:
                    self._marked(DIRECT, (HOST, self.probe.agents.rtp_port))
            else:
                self.rtp.sendto(bytes(self.sender.packetize(SILENCE)), self.remote)
            delay = start + tick * 0.02 - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))

    def _marked(self, mark: bytes, to: Address) -> None:
        if mark == RELAY:
            seq = self.seq
            self.seq += 1
            packet = self.sender.packetize(marked(RELAY, self.probe.id, seq))
        else:
            seq = self.seq * 1000 + 1  # a separate number space for the direct packets
            packet = RtpPacket(0, 0, 0, 0x0D1EC7, marked(DIRECT, self.probe.id, seq))
        self.probe.sent(mark, seq, time.perf_counter())
        self.rtp.sendto(bytes(packet), to)
