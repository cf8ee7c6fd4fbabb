"""Thin asyncio adapters over the sans-IO cores: a UDP SIP endpoint and a UDP RTP socket.

All protocol decisions live in :class:`~channels.voice.sip.uas.UserAgent`; this module only moves datagrams and
arms one loop timer at the core's ``next_deadline()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

from .rtp import RtpPacket, RtpParseError, RtpSender
from .sip.transaction import Address, Send
from .sip.uas import Event, MessageDropped, UserAgent

if TYPE_CHECKING:
    from .transport_tcp import SipTcpServer

log = logging.getLogger(__name__)


class SipEndpoint(asyncio.DatagramProtocol):
    """Runs a :class:`UserAgent` on a UDP socket; non-``Send`` events go to ``on_event``."""

    def __init__(self, ua: UserAgent, on_event: Callable[[SipEndpoint, Event], None]) -> None:
        self.ua = ua
        self.on_event = on_event
        self.transport: asyncio.DatagramTransport | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self.tcp: SipTcpServer | None = None  # set by start_sip_tcp_server(udp=...) for TCP on the same UA

    def now(self) -> float:
        """The clock the core runs on (the loop's monotonic time)."""
        return self._loop.time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        source = (str(addr[0]), int(str(addr[1])))
        self.execute(self.ua.receive_datagram(data, source, self.now()))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP socket error: %s", exc)

    def execute(self, events: Iterable[Event]) -> None:
        """Send what must be sent, hand the rest to ``on_event``, re-arm the timer."""
        for event in events:
            if isinstance(event, Send):
                if event.transport != "UDP":
                    if self.tcp is not None:
                        self.tcp.send(event)
                    else:
                        log.info("no %s listener; message dropped", event.transport)
                elif self.transport is not None:
                    self.transport.sendto(bytes(event.message), event.address)
            elif isinstance(event, MessageDropped):
                log.info("dropped SIP datagram (%s); %d dropped so far", event.reason, self.ua.stats.dropped)
            else:
                self.on_event(self, event)
        self._rearm()

    def stats(self) -> dict[str, int]:
        """Counters for /healthz: the core's (``received``, ``dropped``, ``bad_requests`` ...) plus TCP's."""
        out = self.ua.stats.as_dict()
        if self.tcp is not None:
            out.update(tcp_connections=self.tcp.connections, tcp_refused=self.tcp.refused)
            out.update(tcp_framing_errors=self.tcp.framing_errors)
        return out

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.ua.next_deadline()
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.execute(self.ua.handle_timeout(self.now()))

    def close(self) -> None:
        """Stop timers and close the socket."""
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.transport.close()


async def start_sip_endpoint(
    ua: UserAgent, on_event: Callable[[SipEndpoint, Event], None], host: str, port: int
) -> SipEndpoint:
    """Bind a UDP socket on ``host:port`` (0 = any free port) and run ``ua`` on it."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: SipEndpoint(ua, on_event), local_addr=(host, port))
    return protocol


class RtpSocket(asyncio.DatagramProtocol):
    """A UDP socket for one call's RTP: parsed packets go to ``on_packet`` (malformed ones are counted)."""

    def __init__(self, on_packet: Callable[[RtpPacket, Address], None] | None = None) -> None:
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.malformed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self.malformed += 1
            return
        self.received += 1
        if self.on_packet is not None:
            self.on_packet(packet, (str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)

    @property
    def port(self) -> int:
        """The bound local port."""
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, packet: RtpPacket, address: Address) -> None:
        """Send one packet."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(bytes(packet), address)

    async def play(self, sender: RtpSender, frames: Iterable[bytes], address: Address) -> int:
        """Send ``frames`` (one payload per ptime) paced by ``sender``'s schedule; returns packets sent."""
        loop = asyncio.get_running_loop()
        count = 0
        for frame in frames:
            delay = sender.next_deadline() - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.transport is None or self.transport.is_closing():
                break
            self.send(sender.packetize(frame), address)
            count += 1
        return count

    def close(self) -> None:
        """Close the socket."""
        if self.transport is not None:
            self.transport.close()


async def open_rtp_socket(
    host: str, on_packet: Callable[[RtpPacket, Address], None] | None = None, port: int = 0
) -> RtpSocket:
    """Bind an RTP socket (port 0 = any free port)."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: RtpSocket(on_packet), local_addr=(host, port))
    return protocol
