"""Sans-IO parsing of SMSC delivery receipts (``id:<id> sub:001 dlvrd:001 ... stat:DELIVRD err:000 text:...``).

The receipt format is the de-facto one of SMPP 3.4 appendix B; the ``receipted_message_id`` and
``message_state`` TLVs, when present, win over the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DELIVERED = "delivered"
FAILED = "failed"
PENDING = "pending"

_STATES = {  # stat: text and message_state TLV values (SMPP 3.4 5.3.2.35)
    "DELIVRD": DELIVERED,
    "ACCEPTD": PENDING,
    "ENROUTE": PENDING,
    "UNDELIV": FAILED,
    "REJECTD": FAILED,
    "EXPIRED": FAILED,
    "DELETED": FAILED,
    "UNKNOWN": FAILED,
}
_TLV_NAMES = ("ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD")
_TLV_STATES = dict(enumerate(_TLV_NAMES, 1))
_FIELD = re.compile(r"(?i)\b(id|stat|err):(\S*)")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A parsed delivery receipt."""

    message_id: str
    stat: str  # DELIVRD, UNDELIV, ...
    error: str

    @property
    def status(self) -> str:
        """``delivered``, ``failed`` or ``pending`` (an intermediate state)."""
        return _STATES.get(self.stat, FAILED)


def parse_receipt(text: str, receipted_id: str | None = None, message_state: int | None = None) -> Receipt | None:
    """The receipt in a deliver_sm; None when no message id can be found.

    Args:
        text: the deliver_sm's short message.
        receipted_id: the ``receipted_message_id`` TLV, if any.
        message_state: the ``message_state`` TLV, if any.
    """
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        fields.setdefault(match.group(1).lower(), match.group(2))
    message_id = (receipted_id or fields.get("id") or "").strip()
    if not message_id:
        return None
    stat = _TLV_STATES.get(message_state or 0) or fields.get("stat", "UNKNOWN").upper()
    return Receipt(message_id=message_id, stat=stat, error=fields.get("err", ""))
