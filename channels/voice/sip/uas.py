"""The user-agent core (RFC 3261 §8.2, §10.3, §12-15), sans-IO.

Feed datagrams with :meth:`UserAgent.receive_datagram`, act on the returned events (``Send`` goes to the socket,
the rest to the call logic), and drive timers with ``next_deadline()``/``handle_timeout(now)``. The call logic
answers incoming calls with :meth:`ringing`, :meth:`answer`, :meth:`reject`, :meth:`respond_reinvite` and
:meth:`hangup`; it places outgoing calls with :meth:`invite` / :meth:`cancel` (see :mod:`.uac`). With a
:class:`~.registrar.Registrar`, REGISTER is served and agents' bindings are reported as events.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable

from .errors import ParseErrorReason, SipParseError
from .events import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    MessageDropped,
    OutgoingAnswered,
    OutgoingFailed,
    OutgoingRinging,
    ReferReceived,
    ReinviteReceived,
)
from .headers import canonical_name, split_outside_quotes
from .incoming import IncomingCalls
from .message import Headers, SipRequest, SipResponse, parse_message
from .registrar import AgentRegistered, AgentUnregistered, Registrar
from .robust import EndpointStats, RateLimiter, salvage
from .transaction import (
    DEFAULT_TIMERS,
    Address,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteServerTransaction,
    Output,
    Send,
    Timers,
    TransactionTimedOut,
    TxState,
    response_address,
    transaction_key,
)
from .uac import OutgoingCalls, Target

__all__ = [
    "ALLOWED",
    "AgentRegistered",
    "AgentUnregistered",
    "CallCancelled",
    "CallConfirmed",
    "CallEnded",
    "Event",
    "IncomingCall",
    "MessageDropped",
    "OutgoingAnswered",
    "OutgoingFailed",
    "OutgoingRinging",
    "ReferReceived",
    "ReinviteReceived",
    "Send",
    "UserAgent",
]

log = logging.getLogger(__name__)

ALLOWED = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
#: Methods defined by RFC 3261 and its common extensions: known, so 405; anything else is 501.
KNOWN_METHODS = frozenset(
    {*ALLOWED, "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}
)


class UserAgent(IncomingCalls):
    """SIP user agent (UAS for incoming calls, UAC for outgoing ones, optional registrar) on one address.

    One instance may serve UDP and TCP on the same port: every input says which transport it came on and every
    ``Send`` says which transport to use (``"UDP"``/``"TCP"``).

    Args:
        host: the address to put in Via/Contact.
        port: the port to put in Via/Contact.
        timers: T1/T2/T4.
        token: random token source (tags, branches, Call-IDs), injectable for tests.
        user_agent: the Server/User-Agent header value.
        registrar: serve REGISTER with this registrar (otherwise REGISTER gets 405).
        rate_limit: ``(messages per second, burst)`` allowed per source host; ``None`` disables the limit.
        ring_timeout: seconds an outgoing call may ring before we CANCEL it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timers: Timers = DEFAULT_TIMERS,
        token: Callable[[], str] = lambda: secrets.token_hex(8),
        user_agent: str = "Rexian",
        registrar: Registrar | None = None,
        rate_limit: tuple[float, float] | None = None,
        ring_timeout: float = 120.0,
    ) -> None:
        allowed = (*ALLOWED, "REGISTER") if registrar is not None else ALLOWED
        super().__init__(host, port, timers, token, user_agent, allowed)
        self.registrar = registrar
        self.stats = EndpointStats()
        self._limiter = RateLimiter(*rate_limit) if rate_limit is not None else None
        self.outgoing = OutgoingCalls(self, ring_timeout)

    # -- input -----------------------------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, now: float, *, transport: str = "UDP") -> list[Event]:
        """Process one datagram (or one framed TCP message) from ``source``."""
        self.stats.received += 1
        if self._limiter is not None and not self._limiter.allow(source[0], now):
            self.stats.dropped += 1
            self.stats.rate_limited += 1
            return [MessageDropped("rate_limited", source)]
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            return self._on_parse_error(data, exc, source, transport)
        if isinstance(msg, SipResponse):
            return self._on_response(msg, source, now)
        return self._on_request(_stamp_via(msg, source), source, now, transport.upper())

    def _on_parse_error(self, data: bytes, exc: SipParseError, source: Address, transport: str) -> list[Event]:
        response = salvage(data, exc)
        if response is None:
            self.stats.dropped += 1
            if exc.reason is ParseErrorReason.TOO_LARGE:
                self.stats.too_large += 1
            return [MessageDropped(exc.reason.value, source)]
        self.stats.bad_requests += 1
        request = SipRequest("OPTIONS", "sip:invalid", response.headers)  # only Via matters for the address
        address = source if transport.upper() != "UDP" else response_address(request, source)
        return [Send(response, address, transport.upper())]

    def _on_response(self, response: SipResponse, source: Address, now: float) -> list[Event]:
        via = response.top_via
        key = (via.branch or "", f"{via.host}:{via.port or 5060}", response.cseq.method)
        tx = self._client.get(key)
        if tx is None:
            self.stats.dropped += 1
            return [MessageDropped("no matching client transaction", source)]
        if isinstance(tx, InviteClientTransaction):
            return self.outgoing.on_response(tx, response, now)
        tx.receive_response(response, now)
        return []

    def _on_request(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        if req.method == "ACK":
            return self._on_ack(req, now)
        existing = self._server.get(transaction_key(req))
        if existing is not None:
            return list(existing.receive_request(req, now))
        if req.headers.get("Max-Forwards") == "0" and req.method != "OPTIONS":
            return self.reply(req, source, now, 483, transport=transport)
        if req.method == "CANCEL":
            return self._on_cancel(req, source, now, transport)
        if req.uri.split(":", 1)[0].lower() not in ("sip", "sips", "tel"):
            return self.reply(req, source, now, 416, transport=transport)
        if req.headers.get_all("Require") and req.method != "REGISTER":
            unsupported = ", ".join(req.headers.get_all("Require"))
            return self.reply(req, source, now, 420, extra=[("Unsupported", unsupported)], transport=transport)
        if req.method == "REFER" and req.to.tag is not None:  # an agent's softphone transfers its call (refer.py)
            handled = self.outgoing.in_dialog(req, source, now, transport)
            if handled is not None:
                return handled
        if req.method not in self.allowed:
            status = 405 if req.method in KNOWN_METHODS else 501
            return self.reply(req, source, now, status, extra=[("Allow", ", ".join(self.allowed))], transport=transport)
        if req.method == "REGISTER":
            return self._on_register(req, source, now, transport)
        if req.to.tag is not None:
            handled = self.outgoing.in_dialog(req, source, now, transport)
            return handled if handled is not None else self._in_dialog(req, source, now, transport)
        if req.method == "INVITE":
            if req.call_id in self.outgoing:
                return self.reply(req, source, now, 482, transport=transport)  # merged request (§8.2.2.2)
            return self._new_call(req, source, now, transport)
        if req.method == "OPTIONS":
            extra = [
                ("Allow", ", ".join(self.allowed)),
                ("Accept", "application/sdp"),
                ("Contact", self.contact_for(transport)),
            ]
            return self.reply(req, source, now, 200, extra=extra, transport=transport)
        return self.reply(req, source, now, 481, transport=transport)  # BYE outside a dialog

    def _on_register(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        assert self.registrar is not None
        if req.headers.get_all("Require"):
            unsupported = ", ".join(req.headers.get_all("Require"))
            return self.reply(req, source, now, 420, extra=[("Unsupported", unsupported)], transport=transport)
        response, change = self.registrar.handle(req, source, now, transport=transport)
        tx = NonInviteServerTransaction(req, source, self.timers, transport)
        self._track(self._server, tx)
        headers = response.headers.remove("Content-Length").add("Server", self.user_agent).add("Content-Length", "0")
        out: list[Event] = list(tx.send_response(response.with_headers(headers), now))
        if change is not None:
            out.append(change)
        return out

    def _on_ack(self, req: SipRequest, now: float) -> list[Event]:
        tx = self._server.get(transaction_key(req))
        if isinstance(tx, InviteServerTransaction) and tx.state is TxState.COMPLETED:
            tx.receive_request(req, now)
            return []
        if req.call_id in self.outgoing:
            return self.outgoing.in_dialog(req, ("", 0), now, "UDP") or []
        call = self._calls.get(req.call_id)
        if call is None or req.to.tag != call.local_tag:
            return []
        target = call.tx
        if call.reinvite is not None and call.reinvite.request.cseq.number == req.cseq.number:
            target = call.reinvite
        if target.ack_2xx() and target is call.tx:
            call.confirmed = True
            out: list[Event] = [CallConfirmed(req.call_id)]
            if call.hangup_pending:
                out += self.hangup(req.call_id, now)
            return out
        return []

    # -- commands from the call logic ------------------------------------------------------------------------

    def invite(
        self,
        target: Target,
        sdp: bytes,
        now: float,
        *,
        from_display: str | None = None,
        caller_id: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        ring_timeout: float | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> tuple[str, list[Event]]:
        """Place an outgoing call.

        Args:
            target: a registrar :class:`~.registrar.Binding` (Request-URI = its Contact, sent to the REGISTER's
                source over its transport) or ``(request_uri, address)`` (transport from ``;transport=`` in the URI).
            sdp: our SDP offer.
            now: the current time.
            from_display: display name in From (e.g. the citizen's masked number for the agent's screen).
            caller_id: user part of the From URI (default ``rexian``).
            headers: extra header fields (e.g. ``X-Rexian-Conversation``).
            ring_timeout: seconds it may ring before we CANCEL (default: the UA's ``ring_timeout``).
            credentials: Digest user and password, to answer one 401/407 challenge (a carrier trunk).

        Returns:
            The new Call-ID and the events (the INVITE to send). Then expect ``OutgoingRinging``,
            ``OutgoingAnswered`` (ACK already sent) or ``OutgoingFailed(status)`` (408 on timeout), and later
            ``CallEnded(call_id, "bye")`` when the callee hangs up.
        """
        return self.outgoing.invite(
            target, sdp, now, from_display=from_display, caller_id=caller_id, headers=headers,
            ring_timeout=ring_timeout, credentials=credentials,
        )  # fmt: skip

    def cancel(self, call_id: str, now: float) -> list[Event]:
        """Cancel an unanswered outgoing call (``OutgoingFailed(call_id, 487)`` follows); answered ones get BYE."""
        return self.outgoing.cancel(call_id, now)

    def notify_refer(self, call_id: str, status: int, now: float, *, final: bool = True) -> list[Event]:
        """Tell the softphone that sent a REFER on our outgoing call how the transfer went (a NOTIFY, RFC 3515)."""
        return self.outgoing.notify_refer(call_id, status, now, final=final)

    def respond_reinvite(self, call_id: str, status: int, now: float, sdp: bytes = b"") -> list[Event]:
        """Answer the pending re-INVITE (200 with SDP, or 488 to keep the old session), incoming or outgoing call."""
        handled = self.outgoing.respond_reinvite(call_id, status, now, sdp)
        if handled is not None:
            return handled
        call = self._calls[call_id]
        if call.reinvite is None:
            raise KeyError(f"no re-INVITE pending on {call_id}")
        return list(call.reinvite.send_response(self._response(call, call.reinvite.request, status, sdp), now))

    def hangup(self, call_id: str, now: float) -> list[Event]:
        """End a call, incoming or outgoing.

        Incoming: reject it if unanswered (480), else BYE (after the ACK, §15). Outgoing: CANCEL if unanswered
        (``OutgoingFailed(487)`` follows), else BYE. Answered calls report ``CallEnded(call_id, "hangup")``.
        """
        if call_id in self.outgoing:
            return self.outgoing.hangup(call_id, now)
        call = self._calls.get(call_id)
        if call is None:
            return []
        if not call.answered:
            return [*self.reject(call_id, 480, now), CallEnded(call_id, "hangup")]
        if not call.confirmed:
            call.hangup_pending = True
            return []
        return [*self._send_bye(call, now), CallEnded(call_id, "hangup")]

    # -- timers ----------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest timer of any transaction, ring timeout or registration expiry."""
        times = [self._earliest_transaction_deadline(), self.outgoing.next_deadline()]
        if self.registrar is not None:
            times.append(self.registrar.next_expiry())
        return min((t for t in times if t is not None), default=None)

    def handle_timeout(self, now: float) -> list[Event]:
        """Fire due timers; forget terminated transactions; expire registrations."""
        out: list[Event] = []
        for tx in self._due_transactions(now):
            out += self._after_timer(tx.handle_timeout(now), tx, now)
        self._forget_finished()
        out += self.outgoing.handle_timeout(now)
        if self.registrar is not None:
            out += self.registrar.expire(now)
        return out

    def _after_timer(self, outputs: list[Output], tx: object, now: float) -> list[Event]:
        out: list[Event] = []
        for item in outputs:
            if isinstance(item, TransactionTimedOut):
                if isinstance(tx, InviteClientTransaction):
                    out += self.outgoing.on_timeout(tx)
                elif isinstance(tx, InviteServerTransaction):
                    call = self._calls.get(tx.request.call_id)
                    if call is not None and call.tx is tx and call.answered:
                        out += [*self._send_bye(call, now), CallEnded(tx.request.call_id, "ack_timeout")]
                continue
            out.append(item)
        return out

    @property
    def active_calls(self) -> int:
        """Calls (incoming and outgoing) not yet ended."""
        return len(self._calls) + len(self.outgoing)


def _stamp_via(req: SipRequest, source: Address) -> SipRequest:
    """Add ``received`` and fill ``rport`` on the top Via (RFC 3261 §18.2.1, RFC 3581 §4)."""
    via = req.top_via
    stamped = via
    if via.host.strip("[]") != source[0] or via.wants_rport:
        stamped = stamped.with_param("received", source[0])
    if via.wants_rport:
        stamped = stamped.with_param("rport", str(source[1]))
    if stamped == via:
        return req
    items = list(req.headers.items)
    for i, (name, value) in enumerate(items):
        if canonical_name(name) == "Via":
            in_field = len([p for p in split_outside_quotes(value, ",") if p.strip()])
            items[i] = (name, ", ".join([str(stamped), *(str(v) for v in req.vias[1:in_field])]))
            break
    return req.with_headers(Headers(tuple(items)))
