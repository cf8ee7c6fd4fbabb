"""Sans-IO SMS text handling: encoding choice, 67/153-character parts with UDH, reassembly, receipts."""

from __future__ import annotations

import pytest

from channels.sms.receipts import DELIVERED, FAILED, PENDING, parse_receipt
from channels.sms.segments import GSM7, UCS2, UDHI, Part, assemble, gsm_encode, split


@pytest.mark.parametrize(
    ("text", "coding", "parts"),
    [
        ("A" * 160, GSM7, 1),
        ("A" * 161, GSM7, 2),
        ("A" * 306, GSM7, 2),
        ("A" * 307, GSM7, 3),
        ("停" * 70, UCS2, 1),
        ("停" * 71, UCS2, 2),
        ("停" * 134, UCS2, 2),
        ("停" * 135, UCS2, 3),
        ("Hello 你好", UCS2, 1),
    ],
)
def test_split_chooses_encoding_and_part_count(text: str, coding: int, parts: int) -> None:
    segments = split(text, ref=7)
    assert len(segments) == parts
    assert {s.data_coding for s in segments} == {coding}
    assert "".join(s.text for s in segments) == text


def test_long_ucs2_parts_carry_67_characters_and_an_8bit_ref_udh() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(150))
    segments = split(text, ref=300)  # ref is taken modulo 256
    assert [len(s.text) for s in segments] == [67, 67, 16]
    for seq, s in enumerate(segments, start=1):
        assert s.esm_class == UDHI
        assert s.payload[:6] == bytes([0x05, 0x00, 0x03, 300 & 0xFF, 3, seq])
        assert s.payload[6:].decode("utf-16-be") == s.text
        assert len(s.payload) <= 140


def test_gsm_escape_pairs_count_twice_and_are_not_cut() -> None:
    text = "€" * 80  # 160 septets: fits one SMS exactly
    assert len(split(text, 1)) == 1
    segments = split("€" * 81, 1)
    assert [len(s.text) for s in segments] == [76, 5]  # 152 octets, never half an escape pair
    assert all(len(s.payload) - 6 <= 153 for s in segments)


def test_surrogate_pairs_are_not_cut() -> None:
    text = "好" * 66 + "😀" + "好" * 10
    segments = split(text, 1)
    assert segments[0].text == "好" * 66  # the emoji (2 UTF-16 units) does not fit in unit 67
    assert "".join(s.text for s in segments) == text


def test_gsm_encode_detects_the_alphabet() -> None:
    assert gsm_encode("Hello @£$") is not None
    assert gsm_encode("你好") is None


def test_split_rejects_empty_text() -> None:
    with pytest.raises(ValueError, match="empty"):
        split("", 1)


def test_assemble_orders_parts_and_marks_missing_ones() -> None:
    parts = [Part("138", "c", 1, 3, 3), Part("138", "a", 1, 3, 1)]
    assert assemble(parts) == "a…c"


@pytest.mark.parametrize(
    ("text", "tlv_id", "state", "expected"),
    [
        (
            "id:42 sub:001 dlvrd:001 submit date:2611260000 done date:2611260001 stat:DELIVRD err:000 text:",
            None,
            None,
            ("42", "DELIVRD", DELIVERED),
        ),
        (
            "id:42 sub:001 dlvrd:000 submit date:2611260000 done date:2611260001 stat:UNDELIV err:001 text:",
            None,
            None,
            ("42", "UNDELIV", FAILED),
        ),
        ("id:7 stat:ENROUTE", None, None, ("7", "ENROUTE", PENDING)),
        ("stat:DELIVRD", "abc", 2, ("abc", "DELIVRD", DELIVERED)),
        ("id:1 stat:DELIVRD", "9", 5, ("9", "UNDELIV", FAILED)),
    ],
)
def test_parse_receipt(text: str, tlv_id: str | None, state: int | None, expected: tuple[str, str, str]) -> None:
    receipt = parse_receipt(text, tlv_id, state)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.status) == expected


def test_parse_receipt_without_an_id_is_none() -> None:
    assert parse_receipt("hello there") is None
