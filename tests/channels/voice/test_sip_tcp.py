"""SIP over TCP: stream framing, limits, a real sipp call over TCP on the UDP port number, UAC over TCP."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from channels.voice.sdp import SessionDescription, create_answer, create_offer
from channels.voice.sip.framing import FramingError, StreamFramer
from channels.voice.sip.message import Limits, SipResponse, parse_message
from channels.voice.sip.transaction import Send
from channels.voice.sip.uas import (
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    OutgoingAnswered,
    UserAgent,
)
from channels.voice.transport import SipEndpoint, start_sip_endpoint
from channels.voice.transport_tcp import SipTcpServer, start_sip_tcp_server

FIXTURES = Path(__file__).parent / "fixtures"
HOST = "127.0.0.1"
INVITE = (FIXTURES / "invite_sdp.sip").read_bytes()
OPTIONS = (FIXTURES / "options.sip").read_bytes()
needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (apt sip-tester) is not installed")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port


# -- framing ---------------------------------------------------------------------------------------------------------


def test_framer_splits_and_joins_chunks() -> None:
    framer = StreamFramer()
    stream = b"\r\n\r\n" + INVITE + OPTIONS
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
    assert out == [INVITE, OPTIONS] and framer.buffered == 0 and framer.keepalives == 1
    assert framer.feed(INVITE + OPTIONS[:10]) == [INVITE] and framer.buffered == 10


def test_framer_waits_for_the_body() -> None:
    framer = StreamFramer()
    head, body = INVITE.split(b"\r\n\r\n", 1)
    assert framer.feed(head + b"\r\n\r\n" + body[:-1]) == []
    assert framer.feed(body[-1:]) == [INVITE]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (OPTIONS.replace(b"Content-Length: 0\r\n", b""), "missing Content-Length"),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: abc"), "bad Content-Length"),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"), "duplicate Content-Length"),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 99999"), "message too large"),
        (b"OPTIONS sip:x SIP/2.0\r\nX: " + b"a" * 70000, "header section too large"),
    ],
)
def test_framer_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError) as info:
        StreamFramer(Limits(max_message=65536)).feed(data)
    assert info.value.reason == reason


# -- the UA core over TCP --------------------------------------------------------------------------------------------


def test_responses_over_tcp_go_to_the_connection_and_advertise_tcp() -> None:
    ua = UserAgent("198.51.100.5", 5060)
    data = INVITE.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")
    source = ("192.0.2.10", 41234)  # the connection's remote port, not the Via's 5060
    events = ua.receive_datagram(data, source, 0.0, transport="TCP")
    (trying,) = [e for e in events if isinstance(e, Send)]
    assert trying.transport == "TCP" and trying.address == source
    (incoming,) = [e for e in events if isinstance(e, IncomingCall)]
    (ok,) = ua.answer(incoming.call_id, b"v=0\r\n", 0.1)
    assert isinstance(ok, Send) and isinstance(ok.message, SipResponse)
    assert ok.message.contacts[0].uri == "sip:rexian@198.51.100.5:5060;transport=tcp"
    assert ua.handle_timeout(0.6) == []  # reliable: no 2xx retransmission


# -- real sockets ----------------------------------------------------------------------------------------------------


class Answerer:
    """Answers every incoming call with a PCMU answer (no media needed for signalling tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = asyncio.Event()

    def __call__(self, endpoint: SipEndpoint, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, IncomingCall):
            offer = SessionDescription.parse(event.request.body)
            answer, _ = create_answer(offer, HOST, 40002, session_id=1)
            endpoint.execute(endpoint.ua.answer(event.call_id, bytes(answer), endpoint.now()))
        if isinstance(event, CallEnded | OutgoingAnswered):
            self.done.set()


async def start_both(app: Answerer) -> tuple[SipEndpoint, SipTcpServer, int]:
    port = free_port()
    ua = UserAgent(HOST, port)
    udp = await start_sip_endpoint(ua, app, HOST, port)
    tcp = await start_sip_tcp_server(ua, app, HOST, port, udp=udp)
    return udp, tcp, port


@needs_sipp
async def test_sipp_calls_over_tcp_on_the_udp_port() -> None:
    app = Answerer()
    udp, tcp, port = await start_both(app)
    try:
        proc = await asyncio.create_subprocess_exec(
            "sipp", "-sn", "uac", f"{HOST}:{port}", "-t", "t1", "-i", HOST, "-p", str(free_port()),
            "-m", "1", "-d", "200", "-timeout", "30s", "-timeout_error", "-nostdin",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (stdout[-2000:], stderr[-2000:])
        assert udp.stats()["tcp_connections"] in (0, 1)
    finally:
        await tcp.close()
        udp.close()
    assert [type(e) for e in app.events] == [IncomingCall, CallConfirmed, CallEnded]
    assert app.events[-1] == CallEnded(app.events[0].call_id, "bye")  # type: ignore[union-attr]


@needs_sipp
async def test_our_invite_over_tcp_to_sipp_uas() -> None:
    app = Answerer()
    udp, tcp, _ = await start_both(app)
    sipp_port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "sipp", "-sn", "uas", "-t", "t1", "-i", HOST, "-p", str(sipp_port), "-m", "1",
        "-timeout", "30s", "-timeout_error", "-nostdin",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):  # wait until sipp listens (connecting is the readiness probe)
            try:
                _, writer = await asyncio.open_connection(HOST, sipp_port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        offer = create_offer(HOST, 40000, session_id=1, dtmf_payload_type=None)
        target = (f"sip:service@{HOST}:{sipp_port};transport=tcp", (HOST, sipp_port))
        call_id, events = udp.ua.invite(target, bytes(offer), udp.now())
        udp.execute(events)
        await asyncio.wait_for(app.done.wait(), 30)
        assert isinstance(app.events[-1], OutgoingAnswered) and app.events[-1].call_id == call_id
        udp.execute(udp.ua.hangup(call_id, udp.now()))
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (stdout[-2000:], stderr[-2000:])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await tcp.close()
        udp.close()


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 30)  # until the server closes


async def test_framing_error_gets_400_then_close() -> None:
    app = Answerer()
    udp, tcp, port = await start_both(app)
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(OPTIONS.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP").replace(b"Content-Length: 0", b"l: x"))
        data = await _read_all(reader)
        writer.close()
    finally:
        await tcp.close()
        udp.close()
    response = parse_message(data)
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason) == (400, "Bad Request: Invalid Content-Length")
    assert tcp.framing_errors == 1 and udp.ua.stats.bad_requests == 1


async def test_connection_limit_and_idle_timeout() -> None:
    port = free_port()
    ua = UserAgent(HOST, port)
    tcp = await start_sip_tcp_server(ua, lambda _s, _e: None, HOST, port, max_connections=1, idle_timeout=0.3)
    try:
        first_reader, first = await asyncio.open_connection(HOST, port)
        first.write(OPTIONS.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
        response = parse_message(await asyncio.wait_for(first_reader.readuntil(b"\r\n\r\n"), 30))
        assert isinstance(response, SipResponse) and response.status == 200
        second_reader, second = await asyncio.open_connection(HOST, port)
        assert await _read_all(second_reader) == b""  # refused: closed at once
        second.close()
        assert tcp.refused == 1
        assert await _read_all(first_reader) == b""  # idle timeout closes the first one
        first.close()
    finally:
        await tcp.close()
    assert tcp.connections == 0
