"""Loop safety: bounces and automatic replies are stored for agents but never answered.

A bot that answers an out-of-office reply, which answers again, is a mail loop; a bot that answers a bounce
writes to MAILER-DAEMON. RFC 3834 (Auto-Submitted), RFC 3464 (delivery reports) and the de-facto headers of
common mail servers decide; subjects are the last resort for servers that set none of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

NORMAL = "normal"
BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"

_DAEMONS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTO_SUBJECT = re.compile(
    r"^\s*(自动回复|自动答复|自动应答|auto(matic)?[ -]?(reply|response)|autoreply|out of (the )?office|"
    r"不在办公室|休假)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(able|ed)|delivery status notification|mail delivery failed|returned mail|退信|系统退信)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Classification:
    """What kind of mail this is and why (``reason`` names the header or rule that decided)."""

    kind: str  # normal | bounce | auto_reply
    reason: str | None = None

    @property
    def answerable(self) -> bool:
        """Whether the bot may run and a reply may be sent."""
        return self.kind == NORMAL


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return "" if value is None else " ".join(str(value).split()).lower()


def classify(msg: Message, sender: str, subject: str, own_address: str = "") -> Classification:
    """Decide whether ``msg`` is a bounce, an automatic reply, or a mail a person wrote."""
    ctype = msg.get_content_type()
    if ctype == "multipart/report" and msg.get_param("report-type", "").lower() == "delivery-status":  # type: ignore[union-attr]
        return Classification(BOUNCE, "multipart/report delivery-status")
    local = sender.split("@", 1)[0]
    if local in _DAEMONS:
        return Classification(BOUNCE, f"sender {local}")
    return_path = _header(msg, "Return-Path")
    if msg.get("Return-Path") is not None and return_path in ("<>", ""):
        return Classification(BOUNCE, "empty Return-Path")
    if _BOUNCE_SUBJECT.match(subject):
        return Classification(BOUNCE, "bounce subject")
    if own_address and sender == own_address.lower():
        return Classification(AUTO_REPLY, "sent from our own address")
    auto = _header(msg, "Auto-Submitted")
    if auto and auto != "no":
        return Classification(AUTO_REPLY, f"Auto-Submitted: {auto}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Response"):
        if msg.get(name) is not None:
            return Classification(AUTO_REPLY, name)
    precedence = _header(msg, "Precedence")
    if precedence in _PRECEDENCE:
        return Classification(AUTO_REPLY, f"Precedence: {precedence}")
    for name in ("List-Id", "List-Unsubscribe"):
        if msg.get(name) is not None:
            return Classification(AUTO_REPLY, f"{name} (mailing list)")
    if _AUTO_SUBJECT.match(subject):
        return Classification(AUTO_REPLY, "auto-reply subject")
    return Classification(NORMAL)
