"""A real softphone (baresip) registers to our registrar with digest auth; our UAC calls it; audio both ways."""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
from pathlib import Path

from channels.voice import g711
from channels.voice.rtp import RtpPacket, RtpSender
from channels.voice.sdp import PCMU, SessionDescription, create_offer
from channels.voice.sip.digest import DigestChallenger
from channels.voice.sip.registrar import AgentRegistered, AgentUnregistered, Binding, Registrar
from channels.voice.sip.transaction import Address
from channels.voice.sip.uas import CallEnded, Event, OutgoingAnswered, OutgoingFailed, UserAgent
from channels.voice.transport import SipEndpoint, open_rtp_socket, start_sip_endpoint
from tests.fixtures.softphone import HOST, SoftphoneFactory, free_udp_tcp_port, tone_power, write_tone_wav

AGENT_TONE = 1000.0  # what baresip plays to us
OUR_TONE = 440.0  # what we play to baresip
PASSWORDS = {"agent1": "pw-agent1"}


class Recorder:
    """Collects non-Send events and lets a test await one of a given type."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    def __call__(self, _endpoint: SipEndpoint, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, kind: type, timeout: float = 30.0) -> Event:
        async def wait() -> Event:
            while True:
                for event in self.events:
                    if isinstance(event, kind):
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), timeout)


async def start_registrar() -> tuple[SipEndpoint, Recorder, Registrar]:
    port = free_udp_tcp_port()
    clock = asyncio.get_running_loop().time
    registrar = Registrar("rexian", DigestChallenger("rexian", secret=b"test" * 8, clock=clock), PASSWORDS.get)
    counter = itertools.count()
    ua = UserAgent(HOST, port, registrar=registrar, token=lambda: f"tok{next(counter)}x")
    recorder = Recorder()
    endpoint = await start_sip_endpoint(ua, recorder, HOST, port)
    return endpoint, recorder, registrar


async def test_baresip_registers_answers_our_call_and_audio_flows_both_ways(
    softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    endpoint, recorder, registrar = await start_registrar()
    received: list[tuple[RtpPacket, Address]] = []
    first_packet = asyncio.Event()

    def on_packet(packet: RtpPacket, source: Address) -> None:
        received.append((packet, source))
        first_packet.set()

    rtp = await open_rtp_socket(HOST, on_packet)
    try:
        phone = await softphone(
            user="agent1", password=PASSWORDS["agent1"], registrar=(HOST, endpoint.ua.port),
            play=write_tone_wav(tmp_path / "agent.wav", AGENT_TONE, 10.0),
        )  # fmt: skip
        await phone.wait_registered()
        registered = await recorder.wait_for(AgentRegistered)
        assert isinstance(registered, AgentRegistered) and registered.user == "agent1"
        binding = registrar.lookup("agent1", endpoint.now())
        assert isinstance(binding, Binding) and binding.source == (HOST, phone.sip_port)
        assert registrar.auth_failures == 0  # baresip answered the 401 challenge right the first time

        offer = create_offer(HOST, rtp.port, session_id=7, codecs=(PCMU,), dtmf_payload_type=None)
        call_id, events = endpoint.ua.invite(binding, bytes(offer), endpoint.now(), from_display="12319")
        endpoint.execute(events)
        answered = await recorder.wait_for(OutgoingAnswered)
        assert isinstance(answered, OutgoingAnswered) and answered.call_id == call_id
        answer = SessionDescription.parse(answered.sdp)
        assert answer.media[0].port > 0 and answer.media[0].formats[0] == "0"
        await phone.wait_event("CALL_ESTABLISHED")

        # Symmetric RTP: baresip may advertise its eth0 address; send where its packets come from.
        await asyncio.wait_for(first_packet.wait(), 30)
        remote = received[0][1]
        sender = RtpSender(ssrc=0xCAFE, payload_type=0, start=endpoint.now())
        sent = await rtp.play(sender, tone_frames(OUR_TONE, 3.0), remote)
        assert sent == 150

        endpoint.execute(endpoint.ua.hangup(call_id, endpoint.now()))
        assert CallEnded(call_id, "hangup") in recorder.events
        await phone.wait_event("CALL_CLOSED")
    finally:
        rtp.close()
        endpoint.close()
    heard = g711.ulaw_decode(b"".join(p.payload for p, _ in received if p.payload_type == 0))
    assert len(heard) > 16000  # more than a second of baresip's audio
    assert tone_power(heard[8000:24000], AGENT_TONE) > 0.5
    recorded = phone.received_pcm()
    assert len(recorded) > 32000, phone.recordings()
    assert tone_power(recorded[-32000:], OUR_TONE) > 0.5  # baresip heard our tone
    assert tone_power(recorded[-32000:], AGENT_TONE) < 0.1


async def test_baresip_hangs_up_and_unregisters(softphone: SoftphoneFactory) -> None:
    endpoint, recorder, registrar = await start_registrar()
    rtp = await open_rtp_socket(HOST)
    try:
        phone = await softphone(user="agent1", password=PASSWORDS["agent1"], registrar=(HOST, endpoint.ua.port))
        await phone.wait_registered()
        binding = registrar.lookup("agent1", endpoint.now())
        assert binding is not None
        offer = create_offer(HOST, rtp.port, session_id=8, dtmf_payload_type=None)
        call_id, events = endpoint.ua.invite(binding, bytes(offer), endpoint.now())
        endpoint.execute(events)
        await recorder.wait_for(OutgoingAnswered)
        await phone.wait_event("CALL_ESTABLISHED")
        await phone.hangup()
        ended = await recorder.wait_for(CallEnded)
        assert ended == CallEnded(call_id, "bye")
        assert endpoint.ua.active_calls == 0
        await phone.stop()  # baresip un-registers (Expires 0) when it quits
        assert await recorder.wait_for(AgentUnregistered) == AgentUnregistered("agent1")
        assert registrar.lookup("agent1", endpoint.now()) is None
        assert not [e for e in recorder.events if isinstance(e, OutgoingFailed)]
    finally:
        rtp.close()
        endpoint.close()


def tone_frames(frequency: float, seconds: float) -> list[bytes]:
    """A sine tone as 20 ms PCMU payloads."""
    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / 8000))) for i in range(int(8000 * seconds))
    )
    coded = g711.ulaw_encode(pcm)
    return [coded[i : i + 160] for i in range(0, len(coded), 160)]
