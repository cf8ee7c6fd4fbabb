"""sipp as the carrier trunk of call-backs: UAS scenarios that answer (after a Digest challenge) or refuse the hub's
outbound INVITE, and run them as a subprocess whose exit code says whether every step happened."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from tests.channels.voice.sipp_calls import HOST, SIPP, free_udp_port

TRUNK_USER = "rexian-trunk"
TRUNK_PASSWORD = "trunk-s3cret"

_CHALLENGE = """
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="trunk.test", nonce="[pid]n[call_number]", algorithm=MD5
Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <ereg regexp="^INVITE sip:{number}@" search_in="msg" check_it="true" assign_to="dialled"/>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="authorised"/>
  <recv request="NEVER" timeout="100"/>
  <label id="authorised"/>
"""

_ANSWER = """
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{number}@[local_ip]:[local_port]>
Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{number}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=trunk 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK" rtd="true" crlf="true"/>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
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

_REFUSE = """
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="500"/>
  <send>
    <![CDATA[
SIP/2.0 {status} {reason}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
"""


def answering_trunk(number: str, pcap: Path, *, ring_ms: int = 1000, challenge: bool = True) -> str:
    """The trunk challenges the INVITE (Digest, checked), rings, answers, plays ``pcap`` and waits for the BYE."""
    head = (
        _CHALLENGE.format(number=number, user=TRUNK_USER, password=TRUNK_PASSWORD)
        if challenge
        else ('\n  <recv request="INVITE" crlf="true"/>\n')
    )
    body = _ANSWER.format(number=number, pcap=pcap, ring_ms=ring_ms)
    if challenge:
        body += '\n  <Reference variables="dialled"/>\n'
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="trunk">{head}{body}</scenario>\n'


def refusing_trunk(status: int = 486, reason: str = "Busy Here") -> str:
    """The trunk rings, then refuses with ``status``."""
    body = _REFUSE.format(status=status, reason=reason)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="busy">{body}</scenario>\n'


@dataclass
class SippTrunk:
    """A running sipp UAS."""

    proc: asyncio.subprocess.Process
    port: int
    workdir: Path

    @property
    def address(self) -> str:
        """The trunk setting that reaches it."""
        return f"{HOST}:{self.port}"

    async def result(self, timeout: float = 60.0) -> tuple[int, str]:
        """Wait for sipp to end: (exit code, output tail)."""
        stdout, stderr = await asyncio.wait_for(self.proc.communicate(), timeout)
        errors = self.workdir / "trunk-errors.log"
        tail = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
        return self.proc.returncode or 0, (stdout[-1500:] + stderr[-1500:]).decode(errors="replace") + tail

    async def stop(self) -> None:
        """Kill it if it still runs."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def start_trunk(xml: str, workdir: Path, *, timeout_s: int = 60) -> SippTrunk:
    """Start sipp with the UAS scenario ``xml`` on a free port of 127.0.0.1 (one call, then it exits)."""
    assert SIPP is not None
    port = free_udp_port()
    path = workdir / f"trunk-{port}.xml"
    path.write_text(xml, encoding="ascii")
    proc = await asyncio.create_subprocess_exec(
        SIPP, "-sf", str(path), "-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(free_udp_port()),
        "-m", "1", "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin",
        "-trace_err", "-error_file", str(workdir / "trunk-errors.log"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=workdir,
    )  # fmt: skip
    await asyncio.sleep(0.3)  # let sipp bind (INVITE retransmissions would cover a miss)
    return SippTrunk(proc, port, workdir)
