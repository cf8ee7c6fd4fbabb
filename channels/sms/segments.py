"""Sans-IO SMS text handling: GSM 03.38 or UCS-2, splitting with a concatenation UDH, reassembly of parts.

Outbound: :func:`split` turns a text into :class:`Segment` payloads. A text the GSM 7-bit default alphabet can
carry goes as data_coding 0 (one octet per septet as SMPP carries it): 160 septets alone, 153 per part; anything
else as UCS-2 (data_coding 8): 70 UTF-16 units alone, 67 per part. Parts carry the 6-octet UDH
``05 00 03 <ref> <total> <seq>`` (8-bit reference) and ``esm_class`` UDHI; an escape pair or a surrogate pair is
never cut in half.

Inbound: :class:`Part` is what one deliver_sm carries; :func:`assemble` joins the parts of one message.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from aiosmpplib.codec import find_codec_info

GSM7 = 0x00  # data_coding: SMSC default alphabet (GSM 03.38)
UCS2 = 0x08
UDHI = 0x40  # esm_class bit: short_message starts with a user data header

_GSM_SINGLE, _GSM_PARTS = 160, 153
_UCS2_SINGLE, _UCS2_PARTS = 140, 134  # octets: 70 and 67 UTF-16 units
_gsm = find_codec_info("gsm0338")


@dataclass(frozen=True, slots=True)
class Segment:
    """One submit_sm worth of text: the encoded ``payload`` (UDH included when concatenated)."""

    data_coding: int
    esm_class: int
    payload: bytes
    text: str
    seq: int
    total: int


@dataclass(frozen=True, slots=True)
class Part:
    """One inbound deliver_sm: the text and, for a part of a long message, its UDH reference."""

    source: str
    text: str
    ref: int = 0
    total: int = 1
    seq: int = 1

    @property
    def concatenated(self) -> bool:
        """True for a part of a long message."""
        return self.total > 1


def gsm_encode(text: str) -> bytes | None:
    """``text`` in the GSM 7-bit default alphabet (one octet per septet), or None if it cannot be."""
    try:
        return bytes(_gsm.encode(text, "strict")[0])
    except (UnicodeEncodeError, ValueError):
        return None


def _units(text: str) -> tuple[int, list[bytes], list[str]]:
    """Encoded indivisible units (a character, an escape pair, a surrogate pair) and their characters."""
    chars = list(text)
    encoded = [gsm_encode(c) for c in chars]
    if all(e is not None for e in encoded):
        return GSM7, [e for e in encoded if e is not None], chars
    return UCS2, [codecs.encode(c, "utf-16-be") for c in chars], chars


def split(text: str, ref: int) -> list[Segment]:
    """``text`` as submit_sm payloads; ``ref`` (0-255) is the concatenation reference of a long message.

    Raises:
        ValueError: empty text or more than 255 parts.
    """
    if not text:
        raise ValueError("empty SMS text")
    coding, units, chars = _units(text)
    single, per_part = (_GSM_SINGLE, _GSM_PARTS) if coding == GSM7 else (_UCS2_SINGLE, _UCS2_PARTS)
    if sum(len(u) for u in units) <= single:
        return [Segment(coding, 0, b"".join(units), text, 1, 1)]
    chunks: list[tuple[bytes, str]] = []
    current, current_text = b"", ""
    for unit, char in zip(units, chars, strict=True):
        if len(current) + len(unit) > per_part:
            chunks.append((current, current_text))
            current, current_text = b"", ""
        current += unit
        current_text += char
    chunks.append((current, current_text))
    total = len(chunks)
    if total > 255:
        raise ValueError(f"SMS text needs {total} parts (at most 255)")
    ref &= 0xFF
    return [
        Segment(coding, UDHI, bytes([0x05, 0x00, 0x03, ref, total, seq]) + payload, part_text, seq, total)
        for seq, (payload, part_text) in enumerate(chunks, start=1)
    ]


def assemble(parts: list[Part]) -> str:
    """The text of one long message from its parts (missing parts shown as ``…``)."""
    if not parts:
        raise ValueError("no parts")
    total = max(p.total for p in parts)
    by_seq = {p.seq: p.text for p in parts}
    return "".join(by_seq.get(seq, "…") for seq in range(1, total + 1))
