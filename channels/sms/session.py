"""The ESME side of one SMPP 3.4 transceiver session, over asyncio streams, with aiosmpplib's PDU codec.

:class:`SmppSession` binds as a transceiver, keeps the link alive with ``enquire_link``, reconnects with
exponential backoff, throttles ``submit_sm`` to a configured rate and awaits each ``submit_sm_resp`` (so the caller
learns the SMSC message id or the error). Every inbound ``deliver_sm`` is handed to a handler whose returned
status is the ``deliver_sm_resp`` status: the handler stores the message first, so the acknowledgement follows the
store (a failing store answers ``ESME_RX_T_APPN`` and the SMSC resends). A PDU that cannot be framed (absurd
length) resets the connection; an unknown command is answered ``generic_nack``; a body that does not parse is
answered with an error status — never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmpplib.protocol import (
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    Unbind,
    UnbindResp,
)
from aiosmpplib.state import PduHeader, PhoneNumber, SmppCommand, SmppCommandStatus

from channels.sms.config import SmsSettings
from channels.sms.segments import UCS2, Segment
from hub.background import wait_event

log = logging.getLogger(__name__)

HEADER = 16
MAX_PDU = 70_000  # 64 KiB message_payload plus the fixed fields; anything longer is a framing error
DeliverHandler = Callable[[DeliverSm], Awaitable[SmppCommandStatus]]

_RESPONSE_BIT = 0x80000000


class NotBound(ConnectionError):
    """The session is not bound to the SMSC (down, connecting or refused): try again later."""


class SubmitRejected(Exception):
    """The SMSC answered a submit_sm with an error status."""

    def __init__(self, status: int) -> None:
        self.status = status
        try:
            name = SmppCommandStatus(status).name
        except ValueError:
            name = f"0x{status:08x}"
        super().__init__(f"submit_sm rejected: {name}")

    @property
    def temporary(self) -> bool:
        """Throttling, a full queue or a system error: worth retrying."""
        return self.status in (0x08, 0x14, 0x58, 0x64, 0xFF)


class ProtocolError(Exception):
    """The byte stream from the SMSC cannot be framed into PDUs."""


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a child task and wait for it without swallowing the caller's own cancellation."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.debug("%s ended with %r", task.get_name(), task.exception())


class RateLimiter:
    """Spaces calls ``1/rate`` seconds apart (no burst beyond one)."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next call is allowed."""
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class SmppSession:
    """A reconnecting SMPP transceiver session to one SMSC."""

    def __init__(self, settings: SmsSettings, on_deliver: DeliverHandler) -> None:
        self.settings = settings
        self.on_deliver = on_deliver
        self.on_bound: list[Callable[[], None]] = []  # e.g. wake the outbox: queued messages can go now
        self.limiter = RateLimiter(settings.rate_per_s)
        self.state = "closed"  # closed | connecting | bound | stopped
        self.last_error: str | None = None
        self.binds = 0
        self.failures = 0  # consecutive failed connection attempts
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._bound = asyncio.Event()
        self._last_rx = 0.0
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (and reconnect for as long as the session runs)."""
        if self._task is None:
            self.state = "connecting"
            self._task = asyncio.create_task(self._run(), name="smpp-session")

    async def stop(self) -> None:
        """Unbind politely if bound, then close."""
        task, self._task = self._task, None
        self._stopping = True
        if self._writer is not None and self.state == "bound":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(Unbind()), timeout=1.0)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = "stopped"

    async def wait_bound(self, within_s: float) -> bool:
        """Wait up to ``within_s`` seconds for the bind; True if bound."""
        await wait_event(self._bound, within_s)
        return self._bound.is_set()

    def health(self) -> dict[str, Any]:
        """Connection facts for /healthz."""
        return {
            "smsc": f"{self.settings.host}:{self.settings.port}",
            "session": self.state,
            "binds": self.binds,
            "failed_attempts": self.failures,
            "session_error": self.last_error,
        }

    def backoff(self) -> float:
        """Seconds before the next connection attempt."""
        s = self.settings
        return min(s.reconnect_max_s, s.reconnect_min_s * 2 ** max(0, self.failures - 1))

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._connect_and_serve()
            except asyncio.CancelledError:
                log.debug("SMPP session task cancelled (stopping=%s)", self._stopping)
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning("SMPP session to %s:%s ended: %s", self.settings.host, self.settings.port, self.last_error)
            finally:
                self._drop()
            if self._stopping:
                return
            self.failures += 1
            self.state = "connecting"
            await asyncio.sleep(self.backoff())

    def _drop(self) -> None:
        self._bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotBound("connection to the SMSC lost"))
        self._pending.clear()
        if self.state != "stopped":
            self.state = "closed"

    async def _connect_and_serve(self) -> None:
        s = self.settings
        reader, writer = await asyncio.wait_for(asyncio.open_connection(s.host, s.port), s.response_timeout_s)
        self._writer = writer
        self._last_rx = time.monotonic()
        receiver = asyncio.create_task(self._receive(reader), name="smpp-receive")
        try:
            bind = BindTransceiver(system_id=s.system_id, password=s.password, system_type=s.system_type)
            status, _ = await asyncio.wait_for(self._request(bind), s.response_timeout_s)
            if status != 0:
                raise SubmitRejected(status) from None
            self.state = "bound"
            self.binds += 1
            self.failures = 0
            self.last_error = None
            self._bound.set()
            log.info("bound to SMSC %s:%s as %s", s.host, s.port, s.system_id)
            for callback in self.on_bound:
                callback()
            keeper = asyncio.create_task(self._keep_alive(), name="smpp-keepalive")
            try:
                done, _ = await asyncio.wait({receiver, keeper}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.cancelled():
                        raise ConnectionError(f"{task.get_name()} was cancelled")
                    task.result()  # raises what ended the session
                raise ConnectionError("SMSC closed the session")
            finally:
                await _cancel(keeper)
        finally:
            await _cancel(receiver)

    # -- sending --------------------------------------------------------------------------------

    def _write(self, pdu: bytes) -> None:
        if self._writer is None:
            raise NotBound("not connected to the SMSC")
        self._writer.write(pdu)

    async def _request(self, message: Any) -> tuple[int, bytes]:
        """Send a request PDU and await its response: ``(command_status, body)``."""
        seq = next(self._seq) & 0x7FFFFFFF or next(self._seq)
        message.sequence_num = seq
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        try:
            self._write(message.pdu())
            return await future
        finally:
            self._pending.pop(seq, None)

    async def submit(self, destination: str, segment: Segment, *, receipt: bool = True) -> str:
        """Submit one segment; returns the SMSC message id.

        Raises:
            NotBound: not bound (or the link broke before the response).
            SubmitRejected: the SMSC refused the segment.
            TimeoutError: no response within the configured timeout.
        """
        if not self._bound.is_set():
            raise NotBound("not bound to the SMSC")
        await self.limiter.wait()
        sm = SubmitSm(
            short_message=segment.text,
            source=PhoneNumber(self.settings.source_addr),
            destination=PhoneNumber(destination),
            esm_class=segment.esm_class,
            registered_delivery=1 if receipt else 0,
            encoding="ucs2" if segment.data_coding == UCS2 else None,
            auto_message_payload=False,
        )
        sm.set_encoded_message(segment.payload)
        status, body = await asyncio.wait_for(self._request(sm), self.settings.response_timeout_s)
        if status != 0:
            raise SubmitRejected(status)
        return body.split(b"\x00", 1)[0].decode("ascii", "replace")

    async def _keep_alive(self) -> None:
        interval = self.settings.enquire_link_s
        while True:
            idle = time.monotonic() - self._last_rx
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                await asyncio.wait_for(self._request(EnquireLink()), self.settings.response_timeout_s)
            except TimeoutError:
                raise ConnectionError("no enquire_link_resp from the SMSC") from None

    # -- receiving ------------------------------------------------------------------------------

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        while True:
            header = await reader.readexactly(HEADER)
            length, command, status, seq = struct.unpack("!IIII", header)
            if not HEADER <= length <= MAX_PDU:
                raise ProtocolError(f"unframeable PDU (command_length {length})")
            body = await reader.readexactly(length - HEADER)
            self._last_rx = time.monotonic()
            if command & _RESPONSE_BIT:
                future = self._pending.get(seq)
                if future is not None and not future.done():
                    future.set_result((status, body))
                continue
            await self._handle_request(command, seq, header + body, length)

    async def _handle_request(self, command: int, seq: int, pdu: bytes, length: int) -> None:
        if command == SmppCommand.ENQUIRE_LINK:
            self._write(EnquireLinkResp(sequence_num=seq).pdu())
        elif command == SmppCommand.UNBIND:
            self._write(UnbindResp(sequence_num=seq).pdu())
            raise ConnectionError("SMSC unbound")
        elif command == SmppCommand.DELIVER_SM:
            header = PduHeader(length, SmppCommand.DELIVER_SM, SmppCommandStatus.ESME_ROK, seq)
            try:
                deliver = DeliverSm.from_pdu(pdu, header, "gsm0338")
            except Exception as exc:  # whatever a malformed body provokes in the codec
                log.warning("rejected a malformed deliver_sm: %s", type(exc).__name__)
                self._write(DeliverSmResp(sequence_num=seq, command_status=SmppCommandStatus.ESME_RX_P_APPN).pdu())
                return
            assert isinstance(deliver, DeliverSm)
            try:
                answer = await self.on_deliver(deliver)
            except Exception:
                log.exception("storing a deliver_sm failed; the SMSC will resend it")
                answer = SmppCommandStatus.ESME_RX_T_APPN
            self._write(DeliverSmResp(sequence_num=seq, command_status=answer).pdu())
        else:
            log.warning("answering an unexpected SMPP command 0x%08x with generic_nack", command)
            self._write(GenericNack(sequence_num=seq, command_status=SmppCommandStatus.ESME_RINVCMDID).pdu())
