"""The user-agent core for incoming calls (RFC 3261 §8.2, §12-15), sans-IO.

Feed datagrams with :meth:`UserAgent.receive_datagram`, act on the returned events (``Send`` goes to the socket,
the rest to the call logic), and drive timers with ``next_deadline()``/``handle_timeout(now)``. The call logic
answers with :meth:`ringing`, :meth:`answer`, :meth:`reject`, :meth:`respond_reinvite` and :meth:`hangup`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import SipParseError
from .headers import BRANCH_MAGIC_COOKIE, Via, canonical_name, split_outside_quotes
from .message import Headers, SipRequest, SipResponse, make_response, parse_message
from .transaction import (
    DEFAULT_TIMERS,
    Address,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    Output,
    Send,
    Timers,
    TransactionKey,
    TransactionTimedOut,
    TxState,
    transaction_key,
)

ALLOWED = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
#: Methods defined by RFC 3261 and its common extensions: known, so 405; anything else is 501.
KNOWN_METHODS = frozenset(
    {*ALLOWED, "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}
)


@dataclass(frozen=True)
class IncomingCall:
    """A new INVITE (100 Trying already sent). Answer with ringing/answer/reject."""

    call_id: str
    request: SipRequest
    source: Address


@dataclass(frozen=True)
class CallCancelled:
    """The caller cancelled before we answered (487 sent)."""

    call_id: str


@dataclass(frozen=True)
class CallConfirmed:
    """The ACK for our 2xx arrived: media may flow both ways."""

    call_id: str


@dataclass(frozen=True)
class ReinviteReceived:
    """A re-INVITE (e.g. hold) in a confirmed call; answer with :meth:`UserAgent.respond_reinvite`."""

    call_id: str
    request: SipRequest


@dataclass(frozen=True)
class CallEnded:
    """The call is over: ``cause`` is ``"bye"`` (caller hung up), ``"hangup"`` (we did) or ``"ack_timeout"``."""

    call_id: str
    cause: str


@dataclass(frozen=True)
class MessageDropped:
    """A datagram was ignored (malformed, or a stray response/ACK)."""

    reason: str
    source: Address


Event = Send | IncomingCall | CallCancelled | CallConfirmed | ReinviteReceived | CallEnded | MessageDropped


@dataclass
class _Call:
    invite: SipRequest
    source: Address
    local_tag: str
    tx: InviteServerTransaction
    remote_seq: int
    local_seq: int = 1
    answered: bool = False
    confirmed: bool = False
    ended: bool = False
    hangup_pending: bool = False
    reinvite: InviteServerTransaction | None = None
    extra: dict[str, str] = field(default_factory=dict)


class UserAgent:
    """Server-side SIP UA over one (UDP) transport address.

    Args:
        host: the address to put in Via/Contact.
        port: the port to put in Via/Contact.
        timers: T1/T2/T4.
        token: random token source (tags, branches), injectable for tests.
        user_agent: the Server/User-Agent header value.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timers: Timers = DEFAULT_TIMERS,
        token: Callable[[], str] = lambda: secrets.token_hex(8),
        user_agent: str = "Rexian",
    ) -> None:
        self.host, self.port, self.timers, self._token, self.user_agent = host, port, timers, token, user_agent
        self.contact = f"<sip:rexian@{host}:{port}>"
        self._server: dict[TransactionKey, InviteServerTransaction | NonInviteServerTransaction] = {}
        self._client: dict[TransactionKey, NonInviteClientTransaction] = {}
        self._calls: dict[str, _Call] = {}

    # -- input -----------------------------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, now: float) -> list[Event]:
        """Process one datagram from ``source``."""
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            return [MessageDropped(exc.reason.value, source)]
        if isinstance(msg, SipResponse):
            return self._on_response(msg, source, now)
        return self._on_request(_stamp_via(msg, source), source, now)

    def _on_response(self, response: SipResponse, source: Address, now: float) -> list[Event]:
        via = response.top_via
        key = (via.branch or "", f"{via.host}:{via.port or 5060}", response.cseq.method)
        tx = self._client.get(key)
        if tx is None:
            return [MessageDropped("no matching client transaction", source)]
        tx.receive_response(response, now)
        return []

    def _on_request(self, req: SipRequest, source: Address, now: float) -> list[Event]:
        if req.method == "ACK":
            return self._on_ack(req, now)
        existing = self._server.get(transaction_key(req))
        if existing is not None:
            return list(existing.receive_request(req, now))
        if req.method == "CANCEL":
            return self._on_cancel(req, source, now)
        if req.uri.split(":", 1)[0].lower() not in ("sip", "sips", "tel"):
            return self._reply(req, source, now, 416)
        if req.headers.get_all("Require"):
            unsupported = ", ".join(req.headers.get_all("Require"))
            return self._reply(req, source, now, 420, extra=[("Unsupported", unsupported)])
        if req.method not in ALLOWED:
            status = 405 if req.method in KNOWN_METHODS else 501
            return self._reply(req, source, now, status, extra=[("Allow", ", ".join(ALLOWED))])
        if req.to.tag is not None:
            return self._in_dialog(req, source, now)
        if req.method == "INVITE":
            return self._new_call(req, source, now)
        if req.method == "OPTIONS":
            extra = [("Allow", ", ".join(ALLOWED)), ("Accept", "application/sdp"), ("Contact", self.contact)]
            return self._reply(req, source, now, 200, extra=extra)
        return self._reply(req, source, now, 481)  # BYE outside a dialog

    def _new_call(self, req: SipRequest, source: Address, now: float) -> list[Event]:
        if req.call_id in self._calls:
            return self._reply(req, source, now, 482)  # merged request (§8.2.2.2)
        if req.body and req.content_type != "application/sdp":
            return self._reply(req, source, now, 415, extra=[("Accept", "application/sdp")])
        tx = InviteServerTransaction(req, source, self.timers)
        self._server[tx.key] = tx
        self._calls[req.call_id] = _Call(req, source, self._token(), tx, req.cseq.number)
        out: list[Event] = list(tx.send_response(make_response(req, 100), now))
        out.append(IncomingCall(req.call_id, req, source))
        return out

    def _on_ack(self, req: SipRequest, now: float) -> list[Event]:
        tx = self._server.get(transaction_key(req))
        if isinstance(tx, InviteServerTransaction) and tx.state is TxState.COMPLETED:
            tx.receive_request(req, now)
            return []
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

    def _on_cancel(self, req: SipRequest, source: Address, now: float) -> list[Event]:
        tx = self._server.get((*transaction_key(req)[:2], "INVITE"))
        if not isinstance(tx, InviteServerTransaction):
            return self._reply(req, source, now, 481)
        out: list[Event] = list(self._reply(req, source, now, 200))
        call = self._calls.get(tx.request.call_id)
        if tx.state is TxState.PROCEEDING and call is not None:
            out += tx.send_response(self._response(call, tx.request, 487), now)
            call.ended = True
            del self._calls[tx.request.call_id]
            out.append(CallCancelled(tx.request.call_id))
        return out

    def _in_dialog(self, req: SipRequest, source: Address, now: float) -> list[Event]:
        call = self._calls.get(req.call_id)
        if call is None or call.ended or req.to.tag != call.local_tag or req.from_.tag != call.invite.from_.tag:
            return self._reply(req, source, now, 481)
        if req.cseq.number <= call.remote_seq:
            return self._reply(req, source, now, 500)  # §12.2.2: out of order
        call.remote_seq = req.cseq.number
        if req.method == "BYE":
            out = self._reply(req, source, now, 200)
            call.ended = True
            del self._calls[req.call_id]
            return [*out, CallEnded(req.call_id, "bye")]
        if req.method == "OPTIONS":
            return self._reply(req, source, now, 200, extra=[("Allow", ", ".join(ALLOWED))])
        # re-INVITE
        pending = call.reinvite is not None and call.reinvite.state is TxState.PROCEEDING
        if pending or not call.confirmed:
            return self._reply(req, source, now, 500, extra=[("Retry-After", "1")])  # §14.2
        tx = InviteServerTransaction(req, source, self.timers)
        self._server[tx.key] = tx
        call.reinvite = tx
        return [*tx.send_response(make_response(req, 100), now), ReinviteReceived(req.call_id, req)]

    # -- commands from the call logic ------------------------------------------------------------------------

    def ringing(self, call_id: str, now: float) -> list[Event]:
        """Send 180 Ringing."""
        call = self._calls[call_id]
        return list(call.tx.send_response(self._response(call, call.invite, 180), now))

    def answer(self, call_id: str, sdp: bytes, now: float) -> list[Event]:
        """Send 200 OK with our SDP answer; it is retransmitted until the ACK."""
        call = self._calls[call_id]
        call.answered = True
        return list(call.tx.send_response(self._response(call, call.invite, 200, sdp), now))

    def reject(self, call_id: str, status: int, now: float) -> list[Event]:
        """Refuse the call with a final status (486, 488, 603 ...)."""
        call = self._calls.pop(call_id)
        call.ended = True
        extra = [("Accept", "application/sdp")] if status == 488 else []
        return list(call.tx.send_response(self._response(call, call.invite, status, extra=extra), now))

    def respond_reinvite(self, call_id: str, status: int, now: float, sdp: bytes = b"") -> list[Event]:
        """Answer the pending re-INVITE (200 with SDP, or 488 to keep the old session)."""
        call = self._calls[call_id]
        if call.reinvite is None:
            raise KeyError(f"no re-INVITE pending on {call_id}")
        return list(call.reinvite.send_response(self._response(call, call.reinvite.request, status, sdp), now))

    def hangup(self, call_id: str, now: float) -> list[Event]:
        """End the call: reject it if unanswered, else send BYE (after the ACK, §15)."""
        call = self._calls.get(call_id)
        if call is None:
            return []
        if not call.answered:
            return [*self.reject(call_id, 480, now), CallEnded(call_id, "hangup")]
        if not call.confirmed:
            call.hangup_pending = True
            return []
        return [*self._send_bye(call, now), CallEnded(call_id, "hangup")]

    def _send_bye(self, call: _Call, now: float) -> list[Event]:
        call.ended = True
        self._calls.pop(call.invite.call_id, None)
        call.local_seq += 1
        inv = call.invite
        remote_target = inv.contacts[0].uri if inv.contacts else inv.from_.uri
        headers = [
            (
                "Via",
                str(
                    Via("UDP", self.host, self.port, (("branch", BRANCH_MAGIC_COOKIE + self._token()), ("rport", None)))
                ),
            ),
            ("Max-Forwards", "70"),
            ("From", str(inv.to.with_tag(call.local_tag))),
            ("To", str(inv.from_)),
            ("Call-ID", inv.call_id),
            ("CSeq", f"{call.local_seq} BYE"),
        ]
        headers += [("Route", v) for v in inv.headers.get_all("Record-Route")]
        headers += [("User-Agent", self.user_agent), ("Content-Length", "0")]
        bye = SipRequest("BYE", remote_target, Headers(tuple(headers)))
        tx = NonInviteClientTransaction(bye, call.source, now, self.timers)
        self._client[tx.key] = tx
        return list(tx.start())

    # -- timers ----------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest timer of any transaction."""
        times = [t for tx in (*self._server.values(), *self._client.values()) if (t := tx.next_deadline()) is not None]
        return min(times) if times else None

    def handle_timeout(self, now: float) -> list[Event]:
        """Fire due timers; forget terminated transactions."""
        out: list[Event] = []
        for table in (self._server, self._client):
            for key, tx in list(table.items()):
                deadline = tx.next_deadline()
                if deadline is not None and now >= deadline:
                    out += self._after_timer(tx.handle_timeout(now), tx, now)
                if tx.terminated:
                    del table[key]
        return out

    def _after_timer(self, outputs: list[Output], tx: object, now: float) -> list[Event]:
        out: list[Event] = []
        for item in outputs:
            if isinstance(item, TransactionTimedOut):
                if isinstance(tx, InviteServerTransaction):
                    call = self._calls.get(tx.request.call_id)
                    if call is not None and call.tx is tx and call.answered:
                        out += [*self._send_bye(call, now), CallEnded(tx.request.call_id, "ack_timeout")]
                continue
            out.append(item)
        return out

    @property
    def active_calls(self) -> int:
        """Calls not yet ended."""
        return len(self._calls)

    def _response(
        self,
        call: _Call,
        request: SipRequest,
        status: int,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
    ) -> SipResponse:
        headers = list(extra or [])
        if 100 < status < 300:
            headers.append(("Contact", self.contact))
        if status == 200:
            headers.append(("Allow", ", ".join(ALLOWED)))
        headers.append(("Server", self.user_agent))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return make_response(request, status, to_tag=call.local_tag, extra=headers, body=body)

    def _reply(
        self, req: SipRequest, source: Address, now: float, status: int, extra: list[tuple[str, str]] | None = None
    ) -> list[Event]:
        tx = NonInviteServerTransaction(req, source, self.timers)
        self._server[tx.key] = tx
        headers = [*(extra or []), ("Server", self.user_agent)]
        return list(tx.send_response(make_response(req, status, to_tag=self._token(), extra=headers), now))


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
