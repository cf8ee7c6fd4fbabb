"""The outbound SIP trunk (``--sip-trunk``): where call-backs to citizens go, and how a number is dialled there."""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import dataclass

_TRUNK = re.compile(
    r"^(?:sips?:)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?(?P<params>(?:;[^;\s]+)*)$"
)
_NUMBER = re.compile(r"^\+?\d{3,20}$")


class TrunkError(ValueError):
    """The trunk setting cannot be used."""


@dataclass(frozen=True, slots=True)
class Trunk:
    """A SIP trunk reached over UDP at ``host:port``."""

    host: str
    port: int = 5060
    params: str = ""  # URI parameters kept as written (e.g. ``;user=phone``)

    def request_uri(self, number: str) -> str:
        """The Request-URI that dials ``number`` through the trunk."""
        if not _NUMBER.match(number):
            raise TrunkError(f"not a dialable number: {number!r}")
        return f"sip:{number}@{self.host}:{self.port}{self.params}"

    async def address(self) -> tuple[str, int]:
        """The trunk's IPv4 address and port (DNS resolved without blocking the loop)."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host.strip("[]"), self.port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        if not infos:
            raise TrunkError(f"cannot resolve {self.host}")
        host, port = infos[0][4][:2]
        return str(host), int(port)


def parse_trunk(value: str) -> Trunk:
    """``host``, ``host:port`` or ``sip:host:port[;params]`` → :class:`Trunk` (UDP only).

    Raises:
        TrunkError: not a host and port, or another transport than UDP.
    """
    match = _TRUNK.match(value.strip())
    if match is None:
        raise TrunkError(f"expected host:port or sip:host:port, not {value!r}")
    port = int(match.group("port") or 5060)
    if not 1 <= port <= 65535:
        raise TrunkError(f"port out of range: {port}")
    params = match.group("params") or ""
    transport = re.search(r";transport=([^;]+)", params, re.IGNORECASE)
    if transport is not None and transport.group(1).lower() != "udp":
        raise TrunkError("only UDP trunks are supported")
    return Trunk(match.group("host"), port, params)
