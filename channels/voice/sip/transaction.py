"""SIP transactions (RFC 3261 §17, with the INVITE "Accepted" state of RFC 6026), sans-IO.

A transaction never reads a clock or a socket: the caller passes ``now`` in, sends the :class:`Send` outputs, and
calls ``handle_timeout(now)`` at ``next_deadline()``. Timers are plain data (absolute deadlines in seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .headers import BRANCH_MAGIC_COOKIE, canonical_name
from .message import Headers, SipMessage, SipRequest, SipResponse

Address = tuple[str, int]
TransactionKey = tuple[str, str, str]


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer base values (seconds): T1 RTT estimate, T2 maximum retransmit interval, T4 network lifetime."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


DEFAULT_TIMERS = Timers()


class TxState(StrEnum):
    """Transaction states (RFC 3261 figures 7 and 8, RFC 6026 figure 5)."""

    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class Send:
    """Output: put ``message`` on the wire to ``address`` over ``transport`` (``"UDP"`` or ``"TCP"``)."""

    message: SipMessage
    address: Address
    transport: str = "UDP"


@dataclass(frozen=True)
class TransactionTimedOut:
    """Output: timer H (no ACK for a final response), L (no ACK for a 2xx) or F (client) fired."""

    key: TransactionKey


class TransactionStateError(RuntimeError):
    """The transaction user asked for something the state does not allow (a programming error)."""


Output = Send | TransactionTimedOut


def transaction_key(request: SipRequest) -> TransactionKey:
    """The matching key of RFC 3261 §17.2.3: branch, sent-by and method (ACK and CANCEL's INVITE map to INVITE).

    Branches without the RFC 3261 magic cookie fall back to Call-ID, CSeq number and From tag (RFC 2543 peers).
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    sent_by = f"{via.host}:{via.port or 5060}"
    branch = via.branch or ""
    if not branch.startswith(BRANCH_MAGIC_COOKIE):
        branch = f"2543|{request.call_id}|{request.cseq.number}|{request.from_.tag}|{branch}"
    return branch, sent_by, method


def response_address(request: SipRequest, source: Address) -> Address:
    """Where responses go over UDP (RFC 3261 §18.2.2, RFC 3581 rport): the source when rport was asked for."""
    via = request.top_via
    if via.wants_rport:
        return source
    return via.received or via.host.strip("[]"), via.port or 5060


class _Timed:
    #: Called with the transaction whenever one of its timers is set or cleared (the user agent keeps a heap of
    #: deadlines from it instead of scanning every transaction).
    on_change: Callable[[_Timed], None] | None = None

    def __init__(self, timers: Timers, transport: str) -> None:
        self.timers = timers
        self.transport = transport.upper()
        self.reliable = self.transport != "UDP"
        self.state = TxState.TRYING
        self._rt_at: float | None = None
        self._interval = timers.t1
        self._end: float | None = None

    @property
    def _retransmit_at(self) -> float | None:
        return self._rt_at

    @_retransmit_at.setter
    def _retransmit_at(self, value: float | None) -> None:
        self._rt_at = value
        if self.on_change is not None:
            self.on_change(self)

    @property
    def _end_at(self) -> float | None:
        return self._end

    @_end_at.setter
    def _end_at(self, value: float | None) -> None:
        self._end = value
        if self.on_change is not None:
            self.on_change(self)

    def next_deadline(self) -> float | None:
        """The earliest pending timer, or ``None``."""
        rt, end = self._rt_at, self._end
        if rt is None:
            return end
        return rt if end is None or rt < end else end

    @property
    def terminated(self) -> bool:
        """Whether the transaction is over (it can be forgotten)."""
        return self.state is TxState.TERMINATED

    def _start_retransmit(self, now: float) -> None:
        self._interval = self.timers.t1
        self._retransmit_at = None if self.reliable else now + self._interval

    def _backoff(self, now: float) -> None:
        self._interval = min(self._interval * 2, self.timers.t2)
        self._retransmit_at = now + self._interval

    def _terminate(self) -> None:
        self.state = TxState.TERMINATED
        self._rt_at = None
        self._end_at = None  # one notification: the user agent forgets the transaction


class InviteServerTransaction(_Timed):
    """INVITE server transaction; also retransmits the 2xx until the ACK (RFC 3261 §13.3.1.4) in "Accepted"."""

    def __init__(
        self, request: SipRequest, source: Address, timers: Timers = DEFAULT_TIMERS, transport: str = "UDP"
    ) -> None:
        super().__init__(timers, transport)
        self.request = request
        self.key = transaction_key(request)
        self.address = source if self.reliable else response_address(request, source)
        self.state = TxState.PROCEEDING
        self.last_response: SipResponse | None = None
        self.acked = False

    def send_response(self, response: SipResponse, now: float) -> list[Send]:
        """Send a response from the TU."""
        if self.state is TxState.ACCEPTED and response.status // 100 == 2:
            self.last_response = response
            return [Send(response, self.address, self.transport)]
        if self.state is not TxState.PROCEEDING:
            raise TransactionStateError(f"cannot send {response.status} in state {self.state}")
        self.last_response = response
        if response.status >= 300:
            self.state = TxState.COMPLETED
            self._start_retransmit(now)  # timer G
            self._end_at = now + 64 * self.timers.t1  # timer H
        elif response.status >= 200:
            self.state = TxState.ACCEPTED
            self._start_retransmit(now)  # 2xx retransmission, T1 doubling to T2
            self._end_at = now + 64 * self.timers.t1  # timer L
        return [Send(response, self.address, self.transport)]

    def receive_request(self, request: SipRequest, now: float) -> list[Send]:
        """A retransmitted INVITE or an ACK for a non-2xx final response."""
        if request.method == "ACK":
            if self.state is TxState.COMPLETED:
                self.state = TxState.CONFIRMED
                self._retransmit_at = None
                self._end_at = now + (0.0 if self.reliable else self.timers.t4)  # timer I
            return []
        if self.last_response is not None and self.state in (TxState.PROCEEDING, TxState.COMPLETED):
            return [Send(self.last_response, self.address, self.transport)]
        if self.last_response is not None and self.state is TxState.ACCEPTED and not self.acked:
            return [Send(self.last_response, self.address, self.transport)]
        return []

    def ack_2xx(self) -> bool:
        """The TU matched an ACK to our 2xx: stop retransmitting. Returns whether this was the first ACK."""
        first = self.state is TxState.ACCEPTED and not self.acked
        self.acked = True
        self._retransmit_at = None
        return first

    def handle_timeout(self, now: float) -> list[Output]:
        """Fire every timer due at ``now``."""
        out: list[Output] = []
        if self._end_at is not None and now >= self._end_at:
            timed_out = self.state is TxState.COMPLETED or (self.state is TxState.ACCEPTED and not self.acked)
            self._terminate()
            if timed_out:
                out.append(TransactionTimedOut(self.key))
            return out
        if self._retransmit_at is not None and now >= self._retransmit_at and self.last_response is not None:
            out.append(Send(self.last_response, self.address, self.transport))
            self._backoff(now)
        return out


class NonInviteServerTransaction(_Timed):
    """Non-INVITE server transaction (RFC 3261 §17.2.2)."""

    def __init__(
        self, request: SipRequest, source: Address, timers: Timers = DEFAULT_TIMERS, transport: str = "UDP"
    ) -> None:
        super().__init__(timers, transport)
        self.request = request
        self.key = transaction_key(request)
        self.address = source if self.reliable else response_address(request, source)
        self.last_response: SipResponse | None = None

    def send_response(self, response: SipResponse, now: float) -> list[Send]:
        """Send a response from the TU."""
        if self.state not in (TxState.TRYING, TxState.PROCEEDING):
            raise TransactionStateError(f"cannot send {response.status} in state {self.state}")
        self.last_response = response
        if response.status >= 200:
            self.state = TxState.COMPLETED
            self._end_at = now + (0.0 if self.reliable else 64 * self.timers.t1)  # timer J
        else:
            self.state = TxState.PROCEEDING
        return [Send(response, self.address, self.transport)]

    def receive_request(self, request: SipRequest, now: float) -> list[Send]:
        """A retransmission: answered with the last response, if any."""
        if self.last_response is not None and self.state is not TxState.TERMINATED:
            return [Send(self.last_response, self.address, self.transport)]
        return []

    def handle_timeout(self, now: float) -> list[Output]:
        """Timer J."""
        if self._end_at is not None and now >= self._end_at:
            self._terminate()
        return []


class NonInviteClientTransaction(_Timed):
    """Non-INVITE client transaction (RFC 3261 §17.1.2), e.g. the BYE we send to hang up."""

    def __init__(
        self, request: SipRequest, address: Address, now: float, timers: Timers = DEFAULT_TIMERS, transport: str = "UDP"
    ) -> None:
        super().__init__(timers, transport)
        self.request = request
        self.key = transaction_key(request)
        self.address = address
        self.response: SipResponse | None = None
        self._start_retransmit(now)  # timer E
        self._end_at = now + 64 * timers.t1  # timer F

    def start(self) -> list[Send]:
        """The first transmission."""
        return [Send(self.request, self.address, self.transport)]

    def receive_response(self, response: SipResponse, now: float) -> bool:
        """Process a response; returns whether it is new (not a retransmission) and final."""
        if self.state in (TxState.COMPLETED, TxState.TERMINATED):
            return False
        if response.status < 200:
            self.state = TxState.PROCEEDING
            return False
        self.state = TxState.COMPLETED
        self.response = response
        self._retransmit_at = None
        self._end_at = now + (0.0 if self.reliable else self.timers.t4)  # timer K
        return True

    def handle_timeout(self, now: float) -> list[Output]:
        """Timers E, F and K."""
        if self._end_at is not None and now >= self._end_at:
            timed_out = self.state in (TxState.TRYING, TxState.PROCEEDING)
            self._terminate()
            return [TransactionTimedOut(self.key)] if timed_out else []
        if self._retransmit_at is not None and now >= self._retransmit_at:
            if self.state is TxState.PROCEEDING:
                self._interval = self.timers.t2 / 2  # keeps retransmitting every T2
            self._backoff(now)
            return [Send(self.request, self.address, self.transport)]
        return []


class InviteClientTransaction(_Timed):
    """INVITE client transaction (RFC 3261 §17.1.1 with the "Accepted" state of RFC 6026).

    Timer A retransmits the INVITE (T1 doubling) until a response, timer B gives up after 64·T1. A 3xx-6xx final
    response is ACKed here (same branch, §17.1.1.3) and its retransmissions re-ACKed until timer D; a 2xx moves to
    "Accepted" for 64·T1 (timer M) so that its retransmissions still reach the TU, which ACKs them (§13.2.2.4).
    """

    def __init__(
        self, request: SipRequest, address: Address, now: float, timers: Timers = DEFAULT_TIMERS, transport: str = "UDP"
    ) -> None:
        super().__init__(timers, transport)
        self.request = request
        self.key = transaction_key(request)
        self.address = address
        self.state = TxState.TRYING  # "Calling"
        self.response: SipResponse | None = None
        self._ack: SipRequest | None = None
        self._start_retransmit(now)  # timer A
        self._end_at = now + 64 * timers.t1  # timer B

    def start(self) -> list[Send]:
        """The first transmission."""
        return [Send(self.request, self.address, self.transport)]

    def receive_response(self, response: SipResponse, now: float) -> tuple[bool, list[Send]]:
        """Process a response.

        Returns:
            Whether the TU must see it (every provisional, every 2xx including retransmissions, the first
            non-2xx final), and what to send (the ACK for a non-2xx final response or its retransmission).
        """
        if self.state is TxState.TERMINATED:
            return False, []
        if self.state is TxState.COMPLETED:
            if response.status >= 300 and self._ack is not None:
                return False, [Send(self._ack, self.address, self.transport)]
            return False, []
        if response.status < 200:
            if self.state is TxState.TRYING:
                self.state = TxState.PROCEEDING
                self._retransmit_at = self._end_at = None  # no timer in "Proceeding": the TU bounds the ringing
            return self.state is TxState.PROCEEDING, []
        if response.status < 300:
            first = self.state is not TxState.ACCEPTED
            if first:
                self.state = TxState.ACCEPTED
                self.response = response
                self._retransmit_at = None
                self._end_at = now + 64 * self.timers.t1  # timer M
            return True, []
        if self.state is TxState.ACCEPTED:
            return False, []
        self.state = TxState.COMPLETED
        self.response = response
        self._retransmit_at = None
        self._end_at = now + (0.0 if self.reliable else 32.0)  # timer D
        self._ack = self.ack_for(response)
        return True, [Send(self._ack, self.address, self.transport)]

    def ack_for(self, response: SipResponse) -> SipRequest:
        """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3)."""
        req = self.request
        headers: list[tuple[str, str]] = [("Via", str(req.top_via))]
        for name, value in req.headers.items:
            canon = canonical_name(name)
            if canon in ("From", "Call-ID", "Route", "Max-Forwards"):
                headers.append((name, value))
        headers.append(("To", response.headers.get("To") or ""))
        headers.append(("CSeq", f"{req.cseq.number} ACK"))
        headers.append(("Content-Length", "0"))
        return SipRequest("ACK", req.uri, Headers(tuple(headers)))

    def handle_timeout(self, now: float) -> list[Output]:
        """Timers A, B, D and M."""
        if self._end_at is not None and now >= self._end_at:
            timed_out = self.state in (TxState.TRYING, TxState.PROCEEDING)
            self._terminate()
            return [TransactionTimedOut(self.key)] if timed_out else []
        if self._retransmit_at is not None and now >= self._retransmit_at and self.state is TxState.TRYING:
            self._interval *= 2  # timer A doubles without the T2 cap
            self._retransmit_at = now + self._interval
            return [Send(self.request, self.address, self.transport)]
        return []
