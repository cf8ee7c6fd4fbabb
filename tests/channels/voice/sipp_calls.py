"""Helpers to call the hub with sipp (Debian sip-tester): generated UAC scenarios, generated RTP pcaps.

A scenario is a list of steps after the ACK: ``("pause", ms)`` or ``("play", pcap_path)`` (sipp's
``play_pcap_audio``: the RTP packets of the pcap are sent to the hub's media port with their timing). Pcaps are
written from 8 kHz PCM by :func:`write_rtp_pcap` (PCMU), so a test can send speech, in-band DTMF tones or anything
else through a real SIP peer.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import socket
import struct
from pathlib import Path

from channels.voice import g711
from channels.voice.rtp import RtpPacket

SIPP = shutil.which("sipp")
HOST = "127.0.0.1"
DTMF_PCAPS = Path("/usr/share/sip-tester")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_sip_port() -> int:
    """A port free for both UDP and TCP (the hub listens on both with one number)."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def dtmf_pcap(key: str) -> Path:
    """sip-tester's RFC 4733 capture of one key (payload type 101)."""
    name = {"#": "pound", "*": "star"}.get(key, key)
    return DTMF_PCAPS / f"dtmf_2833_{name}.pcap"


def tone_pcm(freqs: tuple[float, ...], ms: int, level: float = 6000.0) -> bytes:
    out = bytearray()
    for i in range(8 * ms):
        v = sum(math.sin(2 * math.pi * f * i / 8000) for f in freqs) / len(freqs)
        out += int(level * v).to_bytes(2, "little", signed=True)
    return bytes(out)


DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
}  # fmt: skip


def inband_digit(key: str, ms: int = 120) -> bytes:
    """An in-band DTMF key press (both tones) followed by as much silence."""
    return tone_pcm(DTMF_FREQS[key], ms) + bytes(16 * ms)


def silence(ms: int) -> bytes:
    return bytes(16 * ms)


def write_rtp_pcap(path: Path, pcm: bytes, *, payload_type: int = 0) -> Path:
    """A libpcap file of PCMU RTP packets (20 ms each) carrying ``pcm`` (8 kHz 16-bit mono)."""
    coded = g711.ulaw_encode(pcm) if payload_type == 0 else g711.alaw_encode(pcm)
    frames = [coded[i : i + 160].ljust(160, b"\xff") for i in range(0, len(coded), 160)]
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, frame in enumerate(frames):
        rtp = bytes(RtpPacket(payload_type, n, n * 160, 0x5EED, frame, n == 0))
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         socket.inet_aton(HOST), socket.inet_aton(HOST)) + udp  # fmt: skip
        frame_bytes = b"\x00" * 12 + b"\x08\x00" + ip
        ts_us = n * 20000
        out += struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame_bytes), len(frame_bytes))
        out += frame_bytes
    path.write_bytes(bytes(out))
    return path


_SDP_DTMF = (
    "m=audio [media_port] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15"
)
_SDP_PLAIN = "m=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000"


def scenario(steps: list[tuple[str, object]], *, caller: str = "13912345678", rfc4733: bool = True,
             cancel_after_ringing: bool = False, hub_hangs_up: bool = False) -> str:  # fmt: skip
    """A sipp UAC scenario: INVITE (PCMU [+ telephone-event]), the steps, BYE — or a CANCEL while it rings, or
    (``hub_hangs_up``) waiting for the hub's BYE and answering it."""
    sdp = _SDP_DTMF if rfc4733 else _SDP_PLAIN
    invite = f"""
  <send retrans="500">
    <![CDATA[
INVITE sip:12319@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "citizen" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:12319@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=citizen 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
{sdp}
    ]]>
  </send>
  <recv response="100" optional="true"/>
"""
    if cancel_after_ringing:
        body = """
  <recv response="180"/>
  <send>
    <![CDATA[
CANCEL sip:12319@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: "citizen" <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:12319@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <send>
    <![CDATA[
ACK sip:12319@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-6]
From: "citizen" <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:12319@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
""".replace("CALLER", caller)
        return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="cancel">{invite}{body}</scenario>\n'
    media = []
    for kind, value in steps:
        if kind == "pause":
            media.append(f'  <pause milliseconds="{value}"/>')
        elif kind == "play":
            media.append(f'  <nop><action><exec play_pcap_audio="{value}"/></action></nop>')
        else:
            raise ValueError(kind)
    rest = f"""
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
ACK sip:12319@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "citizen" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:12319@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
{chr(10).join(media)}
{HUB_BYE if hub_hangs_up else CALLER_BYE.replace("CALLER", caller)}
"""
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="rexian">{invite}{rest}</scenario>\n'


HUB_BYE = """
  <recv request="BYE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
    ]]>
  </send>
"""

CALLER_BYE = """
  <send retrans="500">
    <![CDATA[
BYE sip:12319@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "citizen" <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:12319@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""


async def run_sipp(
    xml: str, sip_port: int, workdir: Path, *, calls: int = 1, rate: int = 1, timeout_s: float = 90.0
) -> tuple[int, str]:
    """Run sipp with the scenario against 127.0.0.1:``sip_port``; (exit code, output tail)."""
    assert SIPP is not None
    path = workdir / f"scenario-{free_udp_port()}.xml"
    path.write_text(xml, encoding="ascii")
    proc = await asyncio.create_subprocess_exec(
        SIPP, "-sf", str(path), f"{HOST}:{sip_port}",
        "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST, "-mp", str(free_udp_port()),
        "-m", str(calls), "-l", str(calls), "-r", str(rate), "-timeout", f"{int(timeout_s)}s", "-timeout_error",
        "-nostdin", "-trace_err", "-error_file", str(workdir / "sipp-errors.log"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=workdir,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    error_file = workdir / "sipp-errors.log"
    errors = error_file.read_text(errors="replace")[-3000:] if error_file.exists() else ""
    return proc.returncode or 0, (stdout[-1500:] + stderr[-1500:]).decode(errors="replace") + errors
