"""Outgoing calls (the UAC half of :class:`~channels.voice.sip.uas.UserAgent`), sans-IO.

RFC 3261 §13.2 (INVITE, ACK for 2xx), §9.1 (CANCEL only after a provisional response), §12.1.2 (dialog state from
the 2xx: remote tag, remote target, reversed Record-Route), §15 (BYE). Requests go to the address we were given —
for a registered agent, the source address of its REGISTER, since softphones behind NAT (and baresip, which
advertises its eth0 address) must be reached there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .digest import DigestError, authorization
from .events import (
    CallEnded,
    Event,
    OutgoingAnswered,
    OutgoingFailed,
    OutgoingRinging,
    ReferReceived,
    ReinviteReceived,
)
from .headers import NameAddr, SipUri
from .message import Headers, SipRequest, SipResponse, make_response
from .refer import check_refer, notify_request
from .registrar import Binding
from .transaction import (
    Address,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    Send,
    TxState,
)

if TYPE_CHECKING:
    from .uas import UserAgent

Target = Binding | tuple[str, Address]


@dataclass
class _OutCall:
    call_id: str
    invite: SipRequest
    tx: InviteClientTransaction
    address: Address
    transport: str
    local_tag: str
    ring_deadline: float | None
    remote_tag: str | None = None
    remote_target: str = ""
    route: list[str] = field(default_factory=list)
    ack: SipRequest | None = None
    answered: bool = False
    ringing_reported: bool = False
    cancel_wanted: bool = False
    cancel_sent: bool = False
    local_seq: int = 1
    remote_seq: int = -1
    reinvite: InviteServerTransaction | None = None
    credentials: tuple[str, str] | None = None  # Digest user and password for a challenging trunk
    auth_tried: bool = False
    refer_seq: int | None = None  # the CSeq of a REFER whose outcome is still to be NOTIFYed


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ") + '"'


class OutgoingCalls:
    """Outgoing INVITE dialogs of one :class:`UserAgent` (it owns the transaction tables and the clock)."""

    def __init__(self, ua: UserAgent, ring_timeout: float = 120.0) -> None:
        self.ua = ua
        self.ring_timeout = ring_timeout
        self._calls: dict[str, _OutCall] = {}
        self._acks: OrderedDict[tuple[str, str | None], Send] = OrderedDict()  # ACKs re-sent on 2xx retransmission

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    # -- commands ------------------------------------------------------------------------------------------------

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
        """Start an outgoing call; see :meth:`UserAgent.invite`."""
        ua = self.ua
        if isinstance(target, Binding):
            uri, address, transport, to_uri = target.contact, target.source, target.transport, target.aor
        else:
            uri, address = target
            transport, to_uri = _uri_transport(uri), uri
        call_id = f"{ua.token()}{ua.token()}@{ua.host}"
        local_tag = ua.token()
        user = caller_id or "rexian"
        from_ = NameAddr(f"sip:{user}@{ua.host}", _quote(from_display) if from_display else None, (("tag", local_tag),))
        fields: list[tuple[str, str]] = [
            ("Via", ua.via(transport)),
            ("Max-Forwards", "70"),
            ("From", str(from_)),
            ("To", str(NameAddr(to_uri))),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", ua.contact_for(transport)),
            ("Allow", ", ".join((*ua.allowed, "REFER"))),  # a softphone may transfer our call (refer.py)
            ("User-Agent", ua.user_agent),
            *headers,
            ("Content-Type", "application/sdp"),
            ("Content-Length", str(len(sdp))),
        ]
        request = SipRequest("INVITE", uri, Headers(tuple(fields)), sdp)
        tx = InviteClientTransaction(request, address, now, ua.timers, transport)
        ua.add_client(tx)
        timeout = self.ring_timeout if ring_timeout is None else ring_timeout
        call = _OutCall(call_id, request, tx, address, transport, local_tag, now + timeout)
        call.credentials = credentials
        self._calls[call_id] = call
        return call_id, list(tx.start())

    def cancel(self, call_id: str, now: float) -> list[Event]:
        """CANCEL an unanswered call (deferred until a provisional response, §9.1); an answered one is hung up."""
        call = self._calls.get(call_id)
        if call is None:
            return []
        if call.answered:
            return self.hangup(call_id, now)
        call.cancel_wanted = True
        if call.tx.state is TxState.PROCEEDING and not call.cancel_sent:
            return self._send_cancel(call, now)
        return []

    def hangup(self, call_id: str, now: float) -> list[Event]:
        """BYE an answered call; CANCEL an unanswered one (``OutgoingFailed(487)`` follows)."""
        call = self._calls.get(call_id)
        if call is None:
            return []
        if not call.answered:
            return self.cancel(call_id, now)
        del self._calls[call_id]
        return [*self._send_bye(call, now), CallEnded(call_id, "hangup")]

    def respond_reinvite(self, call_id: str, status: int, now: float, sdp: bytes) -> list[Event] | None:
        """Answer a pending re-INVITE on an outgoing dialog; ``None`` when ``call_id`` is not ours."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        if call.reinvite is None:
            raise KeyError(f"no re-INVITE pending on {call_id}")
        extra = [("Contact", self.ua.contact_for(call.transport)), ("Content-Type", "application/sdp")] if sdp else []
        response = make_response(
            call.reinvite.request, status, extra=[*extra, ("Server", self.ua.user_agent)], body=sdp
        )
        return list(call.reinvite.send_response(response, now))

    # -- input ---------------------------------------------------------------------------------------------------

    def on_response(self, tx: InviteClientTransaction, response: SipResponse, now: float) -> list[Event]:
        """A response to one of our INVITEs."""
        deliver, sends = tx.receive_response(response, now)
        out: list[Event] = list(sends)
        call = self._calls.get(tx.request.call_id)
        if deliver and response.status // 100 == 2:
            sent_ack = self._acks.get((tx.request.call_id, response.to.tag))
            if sent_ack is not None:
                return [*out, sent_ack]  # a 2xx retransmission: our ACK was lost
            if call is None or call.tx is not tx or call.answered:
                return [*out, *self._ack_stray_2xx(tx, response, now)]
        if not deliver or call is None or call.tx is not tx:
            return out
        if response.status < 200:
            if call.cancel_wanted and not call.cancel_sent:
                out += self._send_cancel(call, now)
            if response.status in (180, 183) and not call.ringing_reported:
                call.ringing_reported = True
                out.append(OutgoingRinging(call.call_id))
            return out
        if response.status in (401, 407) and call.credentials is not None and not call.auth_tried:
            retry = self._authenticate(call, response, now)
            if retry is not None:
                return [*out, *retry]
        if response.status >= 300:
            del self._calls[call.call_id]
            return [*out, OutgoingFailed(call.call_id, response.status)]
        call.answered = True
        call.ring_deadline = None
        call.remote_tag = response.to.tag
        call.remote_target = response.contacts[0].uri if response.contacts else call.invite.uri
        call.route = list(reversed(response.headers.get_all("Record-Route")))
        call.ack = self._in_dialog_request(call, "ACK", call.invite.cseq.number)
        out.append(self._remember_ack(call.call_id, call.remote_tag, Send(call.ack, call.address, call.transport)))
        if call.cancel_wanted:  # the 2xx crossed our CANCEL: ACK it, then BYE (§9.1)
            del self._calls[call.call_id]
            return [*out, *self._send_bye(call, now), OutgoingFailed(call.call_id, 487)]
        return [*out, OutgoingAnswered(call.call_id, response.body)]

    def on_timeout(self, tx: InviteClientTransaction) -> list[Event]:
        """Timer B fired: no response at all."""
        call = self._calls.get(tx.request.call_id)
        if call is None or call.tx is not tx or call.answered:
            return []
        del self._calls[call.call_id]
        return [OutgoingFailed(call.call_id, 408)]

    def in_dialog(self, req: SipRequest, source: Address, now: float, transport: str) -> list[Event] | None:
        """A request inside one of our outgoing dialogs; ``None`` when it is not ours."""
        call = self._calls.get(req.call_id)
        if call is None or not call.answered:
            return None
        if req.to.tag != call.local_tag or req.from_.tag != call.remote_tag:
            return None
        if req.method == "ACK":
            if call.reinvite is not None and call.reinvite.request.cseq.number == req.cseq.number:
                call.reinvite.ack_2xx()
            return []
        if req.cseq.number <= call.remote_seq:
            return self.ua.reply(req, source, now, 500, transport=transport)
        call.remote_seq = req.cseq.number
        if req.method == "BYE":
            del self._calls[call.call_id]
            return [*self.ua.reply(req, source, now, 200, transport=transport), CallEnded(call.call_id, "bye")]
        if req.method == "INVITE":
            if call.reinvite is not None and call.reinvite.state is TxState.PROCEEDING:
                return self.ua.reply(req, source, now, 500, extra=[("Retry-After", "1")], transport=transport)
            tx = InviteServerTransaction(req, source, self.ua.timers, transport)
            self.ua.add_server(tx)
            call.reinvite = tx
            return [*tx.send_response(make_response(req, 100), now), ReinviteReceived(call.call_id, req)]
        if req.method == "OPTIONS":
            return self.ua.reply(
                req, source, now, 200, extra=[("Allow", ", ".join(self.ua.allowed))], transport=transport
            )
        if req.method == "REFER":
            return self._on_refer(call, req, source, now, transport)
        return self.ua.reply(req, source, now, 405, extra=[("Allow", ", ".join(self.ua.allowed))], transport=transport)

    def _on_refer(self, call: _OutCall, req: SipRequest, source: Address, now: float, transport: str) -> list[Event]:
        """A transfer asked by the callee (RFC 3515): 202 and the first NOTIFY, or the refusal (see refer.py)."""
        status, target = check_refer(req)
        if target is not None and call.refer_seq is not None:
            status, target = 491, None  # one transfer at a time (Request Pending)
        out = self.ua.reply(req, source, now, status, transport=transport)
        if target is None:
            return out
        call.refer_seq = req.cseq.number
        trying = self.notify_refer(call.call_id, 100, now, final=False)
        return [*out, *trying, ReferReceived(call.call_id, target.uri, target.user)]

    def notify_refer(self, call_id: str, status: int, now: float, *, final: bool = True) -> list[Event]:
        """NOTIFY the transferring softphone how its REFER is going (``status``: 100, then the outcome, ``final``)."""
        call = self._calls.get(call_id)
        if call is None or call.refer_seq is None:
            return []
        call.local_seq += 1
        base = self._in_dialog_request(call, "NOTIFY", call.local_seq)
        notify = notify_request(base, call.refer_seq, status, final=final, contact=self.ua.contact_for(call.transport))
        if final:
            call.refer_seq = None
        tx = NonInviteClientTransaction(notify, call.address, now, self.ua.timers, call.transport)
        self.ua.add_client(tx)
        return list(tx.start())

    # -- timers --------------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest ring timeout."""
        times = [c.ring_deadline for c in self._calls.values() if c.ring_deadline is not None]
        return min(times) if times else None

    def handle_timeout(self, now: float) -> list[Event]:
        """Cancel calls that rang too long."""
        out: list[Event] = []
        for call in list(self._calls.values()):
            if call.ring_deadline is not None and now >= call.ring_deadline:
                call.ring_deadline = None
                out += self.cancel(call.call_id, now)
        return out

    # -- helpers -------------------------------------------------------------------------------------------------

    def _authenticate(self, call: _OutCall, response: SipResponse, now: float) -> list[Event] | None:
        """Answer a 401/407 once: the INVITE again with CSeq + 1, a new branch and the Digest credentials (§22.2).

        None when the challenge cannot be answered (the failure is then reported as it is).
        """
        assert call.credentials is not None
        call.auth_tried = True
        proxy = response.status == 407
        challenge = response.headers.get("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        if not challenge or call.cancel_wanted:
            return None
        user, password = call.credentials
        try:
            answer = authorization(challenge, "INVITE", call.invite.uri, user, password)
        except DigestError:
            return None
        inv = call.invite
        seq = inv.cseq.number + 1
        fields: list[tuple[str, str]] = []
        for name, value in inv.headers.items:
            lowered = name.lower()
            if lowered in ("authorization", "proxy-authorization"):
                continue
            if lowered in ("via", "v"):
                value = self.ua.via(call.transport)
            fields.append((name, f"{seq} INVITE" if lowered == "cseq" else value))
            if lowered == "cseq":
                fields.append(("Proxy-Authorization" if proxy else "Authorization", answer))
        request = SipRequest("INVITE", inv.uri, Headers(tuple(fields)), inv.body)
        tx = InviteClientTransaction(request, call.address, now, self.ua.timers, call.transport)
        self.ua.add_client(tx)
        call.invite, call.tx, call.local_seq = request, tx, seq
        return list(tx.start())

    def _send_cancel(self, call: _OutCall, now: float) -> list[Event]:
        call.cancel_sent = True
        inv = call.invite
        keep = ("Via", "From", "To", "Call-ID", "Route", "Max-Forwards")
        fields = [(n, v) for n, v in inv.headers.items if n in keep]
        fields += [("CSeq", f"{inv.cseq.number} CANCEL"), ("Content-Length", "0")]
        cancel = SipRequest("CANCEL", inv.uri, Headers(tuple(fields)))
        tx = NonInviteClientTransaction(cancel, call.address, now, self.ua.timers, call.transport)
        self.ua.add_client(tx)
        return list(tx.start())

    def _send_bye(self, call: _OutCall, now: float) -> list[Event]:
        call.local_seq += 1
        bye = self._in_dialog_request(call, "BYE", call.local_seq)
        tx = NonInviteClientTransaction(bye, call.address, now, self.ua.timers, call.transport)
        self.ua.add_client(tx)
        return list(tx.start())

    def _in_dialog_request(self, call: _OutCall, method: str, seq: int) -> SipRequest:
        inv = call.invite
        to = inv.to.with_tag(call.remote_tag) if call.remote_tag else inv.to
        fields = [
            ("Via", self.ua.via(call.transport)),
            ("Max-Forwards", "70"),
            ("From", inv.headers.get("From") or ""),
            ("To", str(to)),
            ("Call-ID", call.call_id),
            ("CSeq", f"{seq} {method}"),
            *(("Route", r) for r in call.route),
            ("User-Agent", self.ua.user_agent),
            ("Content-Length", "0"),
        ]
        return SipRequest(method, call.remote_target or inv.uri, Headers(tuple(fields)))

    def _remember_ack(self, call_id: str, tag: str | None, ack: Send) -> Send:
        self._acks[(call_id, tag)] = ack
        while len(self._acks) > 1024:
            self._acks.popitem(last=False)
        return ack

    def _ack_stray_2xx(self, tx: InviteClientTransaction, response: SipResponse, now: float) -> list[Event]:
        """A 2xx from a second fork of an answered call: ACK and BYE it (§13.2.2.4)."""
        inv = tx.request
        ghost = _OutCall(inv.call_id, inv, tx, tx.address, tx.transport, inv.from_.tag or "", None)
        ghost.remote_tag = response.to.tag
        ghost.remote_target = response.contacts[0].uri if response.contacts else inv.uri
        ghost.route = list(reversed(response.headers.get_all("Record-Route")))
        ack = self._in_dialog_request(ghost, "ACK", inv.cseq.number)
        return [
            self._remember_ack(inv.call_id, ghost.remote_tag, Send(ack, tx.address, tx.transport)),
            *self._send_bye(ghost, now),
        ]


def _uri_transport(uri: str) -> str:
    try:
        parsed = SipUri.parse(uri)
    except ValueError:
        return "UDP"
    for name, value in parsed.params:
        if name.lower() == "transport" and value:
            return value.upper()
    return "UDP"
