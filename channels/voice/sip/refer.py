"""Call transfer by REFER (RFC 3515, RFC 3420 ``message/sipfrag``), sans-IO: checking a REFER, the NOTIFYs.

An agent's softphone transfers its call by an in-dialog REFER whose ``Refer-To`` names the target (``sip:agent2@…``,
``sip:general@…``, ``sip:13912345678@…``). The user agent answers 202 Accepted at once when the REFER is well formed,
sends the implicit subscription's first NOTIFY (``SIP/2.0 100 Trying``) and reports
:class:`~.events.ReferReceived`; the call logic carries the transfer out and reports how it went with
``UserAgent.notify_refer`` (a final NOTIFY with the outcome's status line, ``Subscription-State: terminated``).

Attended transfer (``Refer-To`` with an embedded ``Replaces``, RFC 3891) is not supported: 501 Not Implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import SipParseError
from .headers import NameAddr, SipUri
from .message import REASON_PHRASES, Headers, SipRequest

SIPFRAG = "message/sipfrag;version=2.0"
NOTIFY_EXPIRES_S = 60  # how long the implicit subscription lasts at most (we end it with the final NOTIFY)


@dataclass(frozen=True, slots=True)
class ReferTarget:
    """Where a REFER asks the call to go: the ``Refer-To`` URI and its user part (an agent, a queue or digits)."""

    uri: str
    user: str | None
    host: str


def check_refer(request: SipRequest) -> tuple[int, ReferTarget | None]:
    """The status to answer a REFER with, and its target when that status is 202.

    400 without exactly one ``Refer-To`` or with one that does not parse, 416 for a URI scheme other than sip/sips,
    501 for a ``Replaces`` (attended transfer).
    """
    values = request.headers.get_all("Refer-To")
    if len(values) != 1:
        return 400, None
    try:
        name_addr = NameAddr.parse(values[0])
    except SipParseError:
        return 400, None
    uri = name_addr.uri
    _, _, embedded = uri.partition("?")
    if any(h.split("=", 1)[0].strip().lower() == "replaces" for h in unquote(embedded).split("&") if h):
        return 501, None
    if uri.split(":", 1)[0].lower() not in ("sip", "sips"):
        return 416, None
    try:
        parsed = SipUri.parse(uri)
    except SipParseError:
        return 400, None
    user = unquote(parsed.user).split(";", 1)[0] if parsed.user else None
    return 202, ReferTarget(uri.split("?", 1)[0], user or None, parsed.host)


def sipfrag(status: int) -> bytes:
    """The ``message/sipfrag`` body of a NOTIFY: the status line of the transfer's outcome (RFC 3515 §2.4.5)."""
    return f"SIP/2.0 {status} {REASON_PHRASES.get(status, 'Unknown')}\r\n".encode()


def notify_request(base: SipRequest, refer_seq: int, status: int, *, final: bool, contact: str) -> SipRequest:
    """A NOTIFY of the REFER's implicit subscription, built on an in-dialog request ``base`` (method NOTIFY).

    Args:
        base: the dialog's NOTIFY without a body (Via, From, To, Call-ID, CSeq, Route).
        refer_seq: the CSeq number of the REFER (the ``id`` of ``Event: refer``).
        status: the transfer's status so far (100 Trying) or its outcome (200, 404, 486, 503 ...).
        final: the last NOTIFY (``Subscription-State: terminated``).
        contact: our Contact (a NOTIFY carries one, RFC 6665 §4.1.2.2).
    """
    body = sipfrag(status)
    state = "terminated;reason=noresource" if final else f"active;expires={NOTIFY_EXPIRES_S}"
    kept = [(n, v) for n, v in base.headers.items if n.lower() != "content-length"]
    fields = [
        *kept,
        ("Event", f"refer;id={refer_seq}"),
        ("Subscription-State", state),
        ("Contact", contact),
        ("Content-Type", SIPFRAG),
        ("Content-Length", str(len(body))),
    ]
    return SipRequest("NOTIFY", base.uri, Headers(tuple(fields)), body)
