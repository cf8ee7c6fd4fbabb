"""Extraction and validation of the slots a work order needs (phone, address)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")
_ADDRESS_MARKERS = re.compile(
    r"(区|县|镇|乡|村|(?<!马)路(?![灯面况线费过人上])|街(?!道办)|大道|巷|弄|胡同|号|小区|花园|苑|庭|府|公寓|大厦|广场|公园|"
    r"楼|栋|幢|单元|室|门口|附近|对面|旁边|交叉口|路口|十字|交口|车站|地铁站|公交站|菜市场|超市|医院|学校|商场)"
)
# Not an address even with a marker: not knowing, refusing, vague pointers, questions (see reply_kinds).
_NOT_ADDRESS = re.compile(
    r"不知道|不清楚|忘了|忘记|说不清|不确定|不记得|记不清|不晓得|随便|不好说|不想|不方便|不告诉|"
    r"^(就|就是)?(在)?(那|这)(儿|里|边)(吧|啊)?[。.!！]*$|[？?]|吗|呢|怎么|什么|多少|哪|几[个点号时]|为什么"
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
    """A reply that plausibly names a place (used when the bot has just asked for the address).

    It names a place marker (road, number, compound, building, landmark) and is not a question, a refusal or
    not knowing ("不知道", "那边", "在哪呢"): those are understood as what they are (hub.dialogue.reply_kinds).
    """
    stripped = text.strip()
    if not 3 <= len(stripped) <= 200 or _NOT_ADDRESS.search(stripped):
        return False
    return bool(_ADDRESS_MARKERS.search(stripped))


# A shared location, as the web chat ("位置：纬度30.27460, 经度120.15510") and Telegram ("位置：30.2746,120.1551")
# store it: the coordinates are the place when the citizen cannot name one.
_LOCATION = re.compile(
    r"^\s*位置[：:]\s*(?:纬度\s*)?(-?\d{1,2}(?:\.\d+)?)\s*[,，]\s*(?:经度\s*)?(-?\d{1,3}(?:\.\d+)?)\s*$"
)


def location_from(text: str) -> str | None:
    """The place of a shared location message as "位置：纬度…，经度…", else None."""
    if (m := _LOCATION.match(text)) is None:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"位置：纬度{m.group(1)}，经度{m.group(2)}"


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
