"""Read UDP payloads from the classic libpcap files shipped by sip-tester (Ethernet / IPv4 / UDP)."""

from __future__ import annotations

import struct
from pathlib import Path

SIPP_PCAPS = Path("/usr/share/sip-tester")


def udp_payloads(path: Path) -> list[bytes]:
    data = path.read_bytes()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and link == 1, "little-endian Ethernet pcap expected"
    out: list[bytes] = []
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<IIII", data, pos)[2]
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        out.append(frame[14 + ihl + 8 :])
    return out
