"""SIP over TCP (RFC 3261 §18): a thin asyncio adapter around :class:`~.sip.framing.StreamFramer` and the UA core.

Each framed message goes to ``UserAgent.receive_datagram(..., transport="TCP")``; ``Send`` events with
``transport == "TCP"`` are written to the connection of their address (responses go back on the connection the
request came in on; requests to a registered agent use its REGISTER connection, or a new one). Limits: message
size (framer), idle timeout, maximum concurrent connections. Attach to a UDP :class:`~.transport.SipEndpoint`
(``udp=``) to run one UA on both transports with the same port number: that endpoint then owns timers and events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from .sip.framing import FramingError, StreamFramer
from .sip.message import Limits
from .sip.transaction import Address, Send
from .sip.uas import Event, MessageDropped, UserAgent
from .transport import SipEndpoint

log = logging.getLogger(__name__)


class SipTcpServer:
    """Serves a :class:`UserAgent` on a TCP listener.

    Args:
        ua: the core (shared with the UDP endpoint when ``udp`` is given).
        on_event: receives non-``Send`` events (only used without ``udp``).
        udp: a UDP endpoint for the same UA; it then dispatches every event.
        limits: parser/framer limits (``max_message``).
        idle_timeout: close connections silent for this many seconds.
        max_connections: refuse (close) connections beyond this many.
    """

    def __init__(
        self,
        ua: UserAgent,
        on_event: Callable[[Any, Event], None],
        *,
        udp: SipEndpoint | None = None,
        limits: Limits | None = None,
        idle_timeout: float = 300.0,
        max_connections: int = 512,
    ) -> None:
        self.ua, self.on_event, self.udp = ua, on_event, udp
        self.limits = limits or Limits()
        self.idle_timeout, self.max_connections = idle_timeout, max_connections
        self.server: asyncio.Server | None = None
        self.refused = 0
        self.framing_errors = 0
        self._conns: dict[Address, asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        if udp is not None:
            udp.tcp = self

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._conns)

    def now(self) -> float:
        """The core's clock."""
        return self._loop.time()

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read framed messages from one connection until EOF, idle timeout or a framing error."""
        peer = writer.get_extra_info("peername")
        address: Address = (str(peer[0]), int(peer[1]))
        if len(self._conns) >= self.max_connections:
            self.refused += 1
            log.info("SIP/TCP connection refused (limit %d)", self.max_connections)
            writer.close()
            return
        self._conns[address] = writer
        await self._serve(reader, writer, address)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: Address) -> None:
        framer = StreamFramer(self.limits)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.idle_timeout)
                except TimeoutError:
                    log.debug("SIP/TCP idle timeout")
                    break
                if not data:
                    break
                try:
                    messages = framer.feed(data)
                except FramingError as exc:
                    self.framing_errors += 1
                    log.info("SIP/TCP framing error: %s; closing", exc.reason)
                    if exc.head:  # a best-effort 400 when the header section is answerable
                        self.execute(self.ua.receive_datagram(exc.head, address, self.now(), transport="TCP"))
                    break
                for message in messages:
                    self.execute(self.ua.receive_datagram(message, address, self.now(), transport="TCP"))
        except (ConnectionError, OSError) as exc:
            log.debug("SIP/TCP connection error: %s", exc)
        finally:
            if self._conns.get(address) is writer:
                del self._conns[address]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def send(self, event: Send) -> None:
        """Write one message to its connection, opening one when none exists."""
        writer = self._conns.get(event.address)
        if writer is not None and not writer.is_closing():
            writer.write(bytes(event.message))
            return
        task = self._loop.create_task(self._connect_and_send(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_and_send(self, event: Send) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*event.address), 10)
        except (OSError, TimeoutError) as exc:
            log.info("SIP/TCP connect failed: %s", exc)  # the client transaction's timer reports the failure
            return
        self._conns[event.address] = writer
        writer.write(bytes(event.message))
        await self._serve(reader, writer, event.address)

    def execute(self, events: Iterable[Event]) -> None:
        """Route events: via the UDP endpoint when attached, else send TCP and hand the rest to ``on_event``."""
        if self.udp is not None:
            self.udp.execute(events)
            return
        for event in events:
            if isinstance(event, Send):
                if event.transport == "TCP":
                    self.send(event)
                else:
                    log.info("no UDP endpoint for a %s message; dropped", event.transport)
            elif isinstance(event, MessageDropped):
                log.info("dropped SIP/TCP message: %s", event.reason)
            else:
                self.on_event(self, event)
        self._rearm()

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

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._timer is not None:
            self._timer.cancel()
        if self.server is not None:
            self.server.close()
        for writer in list(self._conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            await self.server.wait_closed()


async def start_sip_tcp_server(
    ua: UserAgent,
    on_event: Callable[[Any, Event], None],
    host: str,
    port: int,
    *,
    udp: SipEndpoint | None = None,
    idle_timeout: float = 300.0,
    max_connections: int = 512,
    limits: Limits | None = None,
) -> SipTcpServer:
    """Listen for SIP over TCP on ``host:port`` (may equal the UDP port) and run ``ua`` on it."""
    server = SipTcpServer(
        ua, on_event, udp=udp, limits=limits, idle_timeout=idle_timeout, max_connections=max_connections
    )
    server.server = await asyncio.start_server(server.handle_connection, host, port)
    return server
