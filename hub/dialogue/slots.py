"""Extraction and validation of the slots a work order needs (phone, address)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")
_ADDRESS_MARKERS = re.compile(
    r"(区|县|镇|乡|村|路|街|道|巷|弄|胡同|号|小区|花园|苑|庭|府|公寓|大厦|广场|公园|楼|栋|幢|单元|室|门口|附近|对面|交叉口|站)"
)
_CANCEL = re.compile(r"^(算了|取消|不用了|不需要了|不办了)[。！!.]*$")
_HANDOFF = re.compile(r"(转人工|人工服务|人工客服|真人|找客服|接人工|转接人工|agent|human)", re.IGNORECASE)
WORK_ORDER_NUMBER = re.compile(r"(?<!\d)(\d{12})(?!\d)")


def normalise_phone(text: str) -> str | None:
    """The first mobile or landline number in ``text`` as digits only, else None."""
    compact = text.replace("（", "(").replace("）", ")")
    if m := _MOBILE.search(compact):
        return "".join(m.groups())
    if m := _LANDLINE.search(compact):
        return "".join(m.groups())
    return None


def is_valid_phone(value: str) -> bool:
    """An 11-digit mobile (1[3-9]...) or a landline with area code (10-12 digits starting with 0)."""
    return bool(re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", value))


def looks_like_address(text: str) -> bool:
    """A reply that plausibly names a place (used when the bot has just asked for the address)."""
    stripped = text.strip()
    return 3 <= len(stripped) <= 200 and bool(_ADDRESS_MARKERS.search(stripped))


def clean_address(text: str) -> str:
    """Strip polite fillers and punctuation around an address reply."""
    value = text.strip().strip("。，,.!！ ")
    for prefix in ("地址是", "地址在", "我家在", "我住在", "在"):
        if value.startswith(prefix) and len(value) > len(prefix) + 1:
            value = value[len(prefix) :]
            break
    return value


def wants_cancel(text: str) -> bool:
    """The citizen withdraws the request being registered."""
    return bool(_CANCEL.match(text.strip()))


def wants_human(text: str) -> bool:
    """Explicit request for a human agent (checked before NLU so it works even when NLU is down)."""
    return bool(_HANDOFF.search(text))


def has_digits(text: str) -> bool:
    """Whether the text contains any digit."""
    return bool(_DIGITS.search(text))


_UNHELPFUL = re.compile(
    r"^(没有|没|不是|不对|没用|没解决|没有解决|不行|不能|否|no)[。！!，,.]*|没有解决|不是我要问的|答非所问"
)


def says_unhelpful(text: str) -> bool:
    """The citizen says the answer just given did not help."""
    return bool(_UNHELPFUL.search(text.strip()))
