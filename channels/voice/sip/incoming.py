"""Shared state of the user agent and its incoming-call (UAS) half, sans-IO (RFC 3261 §8.2, §12-15).

:class:`IncomingCalls` is the base of :class:`~.uas.UserAgent`: it owns the transaction tables, the helpers both
halves use (tokens, Via, Contact, stateful replies) and the incoming INVITE dialogs (100/180/200, CANCEL→487,
in-dialog BYE/OPTIONS/re-INVITE, our BYE). The dispatcher, registrar, outgoing calls and timers live in ``uas.py``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .events import CallCancelled, CallEnded, Event, IncomingCall, ReinviteReceived
from .headers import BRANCH_MAGIC_COOKIE, Via
from .message import Headers, SipRequest, SipResponse, make_response
from .transaction import (
    Address,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    Timers,
    TransactionKey,
    TxState,
    transaction_key,
)


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
    transport: str = "UDP"
    extra: dict[str, str] = field(default_factory=dict)


class IncomingCalls:
    """Transaction tables, shared helpers and incoming dialogs (see :class:`~.uas.UserAgent` for the arguments)."""

    def __init__(
        self, host: str, port: int, timers: Timers, token: Callable[[], str], user_agent: str, allowed: tuple[str, ...]
    ) -> None:
        self.host, self.port, self.timers, self._token, self.user_agent = host, port, timers, token, user_agent
        self.allowed = allowed
        self.contact = self.contact_for("UDP")
        self._server: dict[TransactionKey, InviteServerTransaction | NonInviteServerTransaction] = {}
        self._client: dict[TransactionKey, NonInviteClientTransaction | InviteClientTransaction] = {}
        self._calls: dict[str, _Call] = {}
        # Timers of every tracked transaction: (deadline, sequence, its table, transaction), possibly stale (a
        # transaction re-armed or forgotten since); valid when the transaction is still in that table and its
        # next_deadline() is that deadline. Terminated ones wait in _finished until the next handle_timeout.
        self._deadlines: list[tuple[float, int, dict[TransactionKey, Any], Any]] = []
        self._sequence = itertools.count()
        self._finished: list[tuple[dict[TransactionKey, Any], Any]] = []

    # -- shared helpers (also used by the UAC half) ------------------------------------------------------------

    def token(self) -> str:
        """A fresh random token (tags, branches)."""
        return self._token()

    def contact_for(self, transport: str) -> str:
        """Our Contact for requests/responses over ``transport`` (``;transport=tcp`` for TCP, RFC 3261 §18)."""
        suffix = "" if transport.upper() == "UDP" else f";transport={transport.lower()}"
        return f"<sip:rexian@{self.host}:{self.port}{suffix}>"

    def via(self, transport: str) -> str:
        """A new top Via for a request we send."""
        params = (("branch", BRANCH_MAGIC_COOKIE + self._token()), ("rport", None))
        return str(Via(transport.upper(), self.host, self.port, params))

    def _track(self, table: dict[TransactionKey, Any], tx: Any) -> None:
        """Put ``tx`` in ``table`` and follow its timers."""
        table[tx.key] = tx
        tx.on_change = lambda changed: self._schedule(table, changed)
        self._schedule(table, tx)

    def _schedule(self, table: dict[TransactionKey, Any], tx: Any) -> None:
        if tx.terminated:
            self._finished.append((table, tx))
            return
        deadline = tx.next_deadline()
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._sequence), table, tx))

    def _earliest_transaction_deadline(self) -> float | None:
        """The earliest valid transaction timer (stale heap entries are dropped on the way)."""
        heap = self._deadlines
        while heap:
            deadline, _, table, tx = heap[0]
            if not tx.terminated and tx.next_deadline() == deadline and table.get(tx.key) is tx:
                return deadline
            heapq.heappop(heap)
        return None

    def _due_transactions(self, now: float) -> Iterator[Any]:
        """Pop and yield each transaction whose timer is due at ``now`` (new timers may be pushed meanwhile)."""
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, table, tx = heapq.heappop(heap)
            if not tx.terminated and tx.next_deadline() == deadline and table.get(tx.key) is tx:
                yield tx

    def _forget_finished(self) -> None:
        """Drop terminated transactions from their tables."""
        for table, tx in self._finished:
            key = tx.key
            if table.get(key) is tx:
                del table[key]
        self._finished.clear()

    def add_client(self, tx: NonInviteClientTransaction | InviteClientTransaction) -> None:
        """Track a client transaction so responses and timers reach it."""
        self._track(self._client, tx)

    def add_server(self, tx: InviteServerTransaction | NonInviteServerTransaction) -> None:
        """Track a server transaction so retransmissions and timers reach it."""
        self._track(self._server, tx)

    # -- incoming dialogs ------------------------------------------------------------------------------------------

    def _new_call(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        if req.call_id in self._calls:
            return self.reply(req, source, now, 482, transport=transport)  # merged request (§8.2.2.2)
        if req.body and req.content_type != "application/sdp":
            return self.reply(req, source, now, 415, extra=[("Accept", "application/sdp")], transport=transport)
        tx = InviteServerTransaction(req, source, self.timers, transport)
        self._track(self._server, tx)
        self._calls[req.call_id] = _Call(req, source, self._token(), tx, req.cseq.number, transport=transport)
        out: list[Event] = list(tx.send_response(make_response(req, 100), now))
        out.append(IncomingCall(req.call_id, req, source))
        return out

    def _on_cancel(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        tx = self._server.get((*transaction_key(req)[:2], "INVITE"))
        if not isinstance(tx, InviteServerTransaction):
            return self.reply(req, source, now, 481, transport=transport)
        out: list[Event] = list(self.reply(req, source, now, 200, transport=transport))
        call = self._calls.get(tx.request.call_id)
        if tx.state is TxState.PROCEEDING and call is not None:
            out += tx.send_response(self._response(call, tx.request, 487), now)
            call.ended = True
            del self._calls[tx.request.call_id]
            out.append(CallCancelled(tx.request.call_id))
        return out

    def _in_dialog(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        call = self._calls.get(req.call_id)
        if call is None or call.ended or req.to.tag != call.local_tag or req.from_.tag != call.invite.from_.tag:
            return self.reply(req, source, now, 481, transport=transport)
        if req.cseq.number <= call.remote_seq:
            return self.reply(req, source, now, 500, transport=transport)  # §12.2.2: out of order
        call.remote_seq = req.cseq.number
        if req.method == "BYE":
            out = self.reply(req, source, now, 200, transport=transport)
            call.ended = True
            del self._calls[req.call_id]
            return [*out, CallEnded(req.call_id, "bye")]
        if req.method == "OPTIONS":
            return self.reply(req, source, now, 200, extra=[("Allow", ", ".join(self.allowed))], transport=transport)
        # re-INVITE
        pending = call.reinvite is not None and call.reinvite.state is TxState.PROCEEDING
        if pending or not call.confirmed:
            return self.reply(req, source, now, 500, extra=[("Retry-After", "1")], transport=transport)  # §14.2
        tx = InviteServerTransaction(req, source, self.timers, transport)
        self._track(self._server, tx)
        call.reinvite = tx
        return [*tx.send_response(make_response(req, 100), now), ReinviteReceived(req.call_id, req)]

    # -- commands for incoming calls -----------------------------------------------------------------------------

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

    def _send_bye(self, call: _Call, now: float) -> list[Event]:
        call.ended = True
        self._calls.pop(call.invite.call_id, None)
        call.local_seq += 1
        inv = call.invite
        remote_target = inv.contacts[0].uri if inv.contacts else inv.from_.uri
        headers = [
            ("Via", self.via(call.transport)),
            ("Max-Forwards", "70"),
            ("From", str(inv.to.with_tag(call.local_tag))),
            ("To", str(inv.from_)),
            ("Call-ID", inv.call_id),
            ("CSeq", f"{call.local_seq} BYE"),
        ]
        headers += [("Route", v) for v in inv.headers.get_all("Record-Route")]
        headers += [("User-Agent", self.user_agent), ("Content-Length", "0")]
        bye = SipRequest("BYE", remote_target, Headers(tuple(headers)))
        tx = NonInviteClientTransaction(bye, call.source, now, self.timers, call.transport)
        self._track(self._client, tx)
        return list(tx.start())

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
            headers.append(("Contact", self.contact_for(call.transport)))
        if status == 200:
            headers.append(("Allow", ", ".join(self.allowed)))
        headers.append(("Server", self.user_agent))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return make_response(request, status, to_tag=call.local_tag, extra=headers, body=body)

    def reply(
        self,
        req: SipRequest,
        source: Address,
        now: float,
        status: int,
        extra: list[tuple[str, str]] | None = None,
        *,
        transport: str = "UDP",
    ) -> list[Event]:
        """Answer ``req`` with a final response through a new non-INVITE server transaction."""
        tx = NonInviteServerTransaction(req, source, self.timers, transport)
        self._track(self._server, tx)
        headers = [*(extra or []), ("Server", self.user_agent)]
        return list(tx.send_response(make_response(req, status, to_tag=self._token(), extra=headers), now))
