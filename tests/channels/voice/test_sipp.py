"""A real SIP peer (sipp, Debian sip-tester) calls the asyncio UAS on 127.0.0.1; we answer and play a prompt."""

from __future__ import annotations

import asyncio
import math
import shutil
import socket

import pytest

from channels.voice import g711
from channels.voice.rtp import RtpPacket, RtpSender
from channels.voice.sdp import SessionDescription, create_answer
from channels.voice.sip.transaction import Address
from channels.voice.sip.uas import CallConfirmed, CallEnded, Event, IncomingCall, UserAgent
from channels.voice.transport import RtpSocket, SipEndpoint, open_rtp_socket, start_sip_endpoint

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (apt sip-tester) is not installed")
HOST = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def prompt_frames(seconds: float = 1.0) -> list[bytes]:
    """A 425 Hz tone (the Chinese ring-back frequency) as 20 ms PCMU frames."""
    pcm = bytearray()
    for i in range(int(8000 * seconds)):
        pcm += int(6000 * math.sin(2 * math.pi * 425 * i / 8000)).to_bytes(2, "little", signed=True)
    coded = g711.ulaw_encode(bytes(pcm))
    return [coded[i : i + 160] for i in range(0, len(coded), 160)]


class PromptApp:
    """Answers every call, plays the prompt once the ACK arrives, records what happened."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.rtp: dict[str, RtpSocket] = {}
        self.remote: dict[str, Address] = {}
        self.played: list[asyncio.Task[int]] = []
        self.echoed: list[RtpPacket] = []

    def on_event(self, endpoint: SipEndpoint, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, IncomingCall):
            asyncio.get_running_loop().create_task(self.answer(endpoint, event))
        elif isinstance(event, CallConfirmed):
            sock, addr = self.rtp[event.call_id], self.remote[event.call_id]
            sender = RtpSender(ssrc=0x1234, payload_type=0, start=endpoint.now())
            self.played.append(asyncio.get_running_loop().create_task(sock.play(sender, prompt_frames(), addr)))

    async def answer(self, endpoint: SipEndpoint, call: IncomingCall) -> None:
        sock = await open_rtp_socket(HOST, lambda pkt, _addr: self.echoed.append(pkt))
        self.rtp[call.call_id] = sock
        offer = SessionDescription.parse(call.request.body)
        answer, negotiated = create_answer(offer, HOST, sock.port, session_id=1)
        assert negotiated is not None
        self.remote[call.call_id] = (negotiated.remote_address, negotiated.remote_port)
        endpoint.execute(endpoint.ua.ringing(call.call_id, endpoint.now()))
        endpoint.execute(endpoint.ua.answer(call.call_id, bytes(answer), endpoint.now()))


async def test_sipp_call_is_answered_and_hears_the_prompt() -> None:
    app = PromptApp()
    sip_port = free_udp_port()
    endpoint = await start_sip_endpoint(UserAgent(HOST, sip_port), app.on_event, HOST, sip_port)
    try:
        proc = await asyncio.create_subprocess_exec(
            "sipp", "-sn", "uac", f"{HOST}:{sip_port}",
            "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST, "-mp", str(free_udp_port()),
            "-m", "1", "-d", "1500", "-rtp_echo", "-timeout", "20s", "-timeout_error", "-nostdin",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (stdout[-2000:], stderr[-2000:])
        sent = await asyncio.gather(*app.played)
    finally:
        endpoint.close()
        for sock in app.rtp.values():
            sock.close()
    kinds = [type(e).__name__ for e in app.events]
    assert kinds == ["IncomingCall", "CallConfirmed", "CallEnded"]
    assert isinstance(app.events[-1], CallEnded) and app.events[-1].cause == "bye"
    assert sent == [50]
    assert app.echoed, "sipp -rtp_echo sent none of our RTP back"
    assert {p.ssrc for p in app.echoed} == {0x1234}
