"""Events the user-agent core returns to the call logic (``Send`` goes to the transport, the rest to the app)."""

from __future__ import annotations

from dataclasses import dataclass

from .message import SipRequest
from .registrar import AgentRegistered, AgentUnregistered
from .transaction import Address, Send


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
    """A re-INVITE (e.g. hold) in a confirmed call; answer with ``UserAgent.respond_reinvite``."""

    call_id: str
    request: SipRequest


@dataclass(frozen=True)
class CallEnded:
    """The call is over: ``cause`` is ``"bye"`` (the peer hung up), ``"hangup"`` (we did) or ``"ack_timeout"``."""

    call_id: str
    cause: str


@dataclass(frozen=True)
class MessageDropped:
    """A datagram was ignored (malformed, over a limit, rate-limited, or a stray response/ACK)."""

    reason: str
    source: Address


@dataclass(frozen=True)
class OutgoingRinging:
    """Our outgoing INVITE got 180 Ringing or 183 Session Progress (reported once)."""

    call_id: str


@dataclass(frozen=True)
class OutgoingAnswered:
    """The callee answered (we sent the ACK); ``sdp`` is its answer to our offer."""

    call_id: str
    sdp: bytes


@dataclass(frozen=True)
class OutgoingFailed:
    """The outgoing call did not connect: the final status (408 on timeout, 487 after our CANCEL)."""

    call_id: str
    status: int


@dataclass(frozen=True)
class ReferReceived:
    """An agent's softphone asked to transfer our outgoing call by REFER (202 and the first NOTIFY already sent).

    ``uri`` (its ``user`` part: an agent, a queue or digits) is where to (see :mod:`.refer`); report the outcome with
    ``UserAgent.notify_refer``.
    """

    call_id: str
    uri: str
    user: str | None


Event = (
    Send
    | IncomingCall
    | CallCancelled
    | CallConfirmed
    | ReinviteReceived
    | CallEnded
    | MessageDropped
    | OutgoingRinging
    | OutgoingAnswered
    | OutgoingFailed
    | AgentRegistered
    | AgentUnregistered
    | ReferReceived
)
