"""Machine-readable form of a ``time`` entity (the text matched by :data:`nlu.patterns.TIME`).

The entity's ``value`` stays the normalised surface form (``昨天晚上``, ``三天了``, ``上周五``): agents read it
and work orders quote it. :func:`resolve` turns it into a small dict that code can use without knowing "now";
``nlu.client`` stores it as ``"time"`` next to the entity in ``NluResult.raw["entities"]``.

Shapes::

    {"kind": "duration", "iso": "P3D", "approx": False}            三天了, 两个星期 (P2W), 半个月 (P0.5M)
    {"kind": "day", "day_offset": -1, "part": "evening", "hour": None, "minute": None}   昨天晚上
    {"kind": "weekday", "week_offset": -1, "weekday": 5, ...}    上周五 (ISO weekday 1..7)
    {"kind": "date", "year": None, "month": 11, "day": 20, ...}  11月20号
    {"kind": "clock", "part": "morning", "hour": 8, "minute": 0}  早上8点
    {"kind": "part_of_day", "part": "evening"}                   晚上, 半夜 (alone)
    {"kind": "relative", "text": "最近"}                          最近, 前几天, 上个月, 大年三十, 今年冬天, 第二天
"""

from __future__ import annotations

import re
from typing import Any

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PARTS = {
    "凌晨": "night",
    "半夜": "night",
    "夜里": "night",
    "夜间": "night",
    "早上": "morning",
    "早晨": "morning",
    "上午": "morning",
    "中午": "noon",
    "下午": "afternoon",
    "傍晚": "evening",
    "晚上": "evening",
    "晚间": "evening",
    "白天": "day",
}
_DAYS = {
    "大前天": (-3, None),
    "前天": (-2, None),
    "昨天": (-1, None),
    "今天": (0, None),
    "明天": (1, None),
    "后天": (2, None),
    "昨晚": (-1, "evening"),
    "昨夜": (-1, "night"),
    "前晚": (-2, "evening"),
    "今晚": (0, "evening"),
    "今早": (0, "morning"),
    "当天": (0, None),
    "每天": (None, None),
}
_UNITS = {"分钟": "TM", "小时": "TH", "钟头": "TH", "天": "D", "日": "D", "周": "W", "星期": "W", "礼拜": "W"}
_UNITS |= {"月": "M", "年": "Y"}
_CLOCK_RE = r"([0-9]{1,2}|[一二三四五六七八九十两]{1,3})(?:点|时)(半|一刻|[0-9]{1,2}|[一二三四五六七八九十]{1,3})?"
_DATE_RE = r"(?:([0-9]{4})年)?([0-9]{1,2}|[一二三四五六七八九十]{1,3})月([0-9]{1,2}|[一二三四五六七八九十]{1,3})"
_WEEKDAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}


def cn_number(text: str) -> float | None:
    """Parse a small Chinese or Arabic number (``三`` 3, ``十二`` 12, ``二十`` 20, ``半`` 0.5, ``12`` 12).

    Returns:
        The number, or None for vague quantities (几, 好几, 十几) and anything unparsable.
    """
    if text.isdigit():
        return float(text)
    if text == "半":
        return 0.5
    if "几" in text or not text:
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _DIGITS.get(tens, 1) if tens else 1
        o = _DIGITS.get(ones, 0) if ones else 0
        if (tens and tens not in _DIGITS) or (ones and ones not in _DIGITS):
            return None
        return float(t * 10 + o)
    if len(text) == 1 and text in _DIGITS:
        return float(_DIGITS[text])
    if len(text) == 2 and all(c in _DIGITS for c in text):  # 两三 -> the upper bound, approximate
        return float(_DIGITS[text[1]])
    return None


def _clock(text: str) -> tuple[int | None, int | None]:
    if m := re.search(r"([0-2]?[0-9])[:：]([0-5][0-9])", text):
        return int(m.group(1)), int(m.group(2))
    m = re.search(_CLOCK_RE, text)
    if not m:
        return None, None
    hour = cn_number(m.group(1))
    minute_text = m.group(2)
    minute: float | None = 0.0
    if minute_text == "半":
        minute = 30.0
    elif minute_text == "一刻":
        minute = 15.0
    elif minute_text:
        minute = cn_number(minute_text)
    return (None if hour is None else int(hour)), (None if minute is None else int(minute))


def _adjust_hour(hour: int | None, part: str | None) -> int | None:
    if hour is not None and hour < 12 and part in {"afternoon", "evening"}:
        return hour + 12
    if hour is not None and hour < 12 and part == "night" and hour >= 6:
        return hour + 12
    return hour


def _part(text: str) -> str | None:
    return next((name for word, name in _PARTS.items() if word in text), None)


def resolve(value: str) -> dict[str, Any]:
    """The machine-readable form of a time expression (see the module docstring).

    Args:
        value: A normalised ``time`` entity value.

    Returns:
        A dict with at least ``kind``.
    """
    duration = re.fullmatch(
        r"(?P<qty>[0-9]{1,3}|[一二三四五六七八九十两几半]{1,3}|好几|十几|二十几)?(?:个多|个半|个)?(?P<more>多)?"
        r"(?P<unit>分钟|小时|钟头|天|日|周|星期|礼拜|月|年)(?:多)?(?:了|以来|之久)?",
        value,
    )
    if duration is None and (m := re.fullmatch(r"半(?:个)?(月|年|天|小时)(?:了|多了)?", value)):
        designator = _UNITS[m.group(1)]
        return {"kind": "duration", "iso": _iso(0.5, designator), "approx": False}
    if duration and duration.group("qty"):
        qty = cn_number(duration.group("qty"))
        approx = qty is None or "多" in value or bool(re.fullmatch(r"[一二两三四五六七八九]{2}", duration.group("qty")))
        if "个半" in value and qty is not None:
            qty += 0.5
        designator = _UNITS[duration.group("unit")]
        return {"kind": "duration", "iso": None if qty is None else _iso(qty, designator), "approx": approx}
    part = _part(value)
    hour, minute = _clock(value)
    hour = _adjust_hour(hour, part)
    for word, (offset, implied) in _DAYS.items():
        if value.startswith(word):
            part = part or implied
            hour = _adjust_hour(hour, part)
            return {"kind": "day", "day_offset": offset, "part": part, "hour": hour, "minute": minute}
    if m := re.match(r"(上|这|本|下)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天1-7])", value):
        offset = {"上": -1, "下": 1}.get(m.group(1) or "", 0)
        day = int(m.group(2)) if m.group(2).isdigit() else _WEEKDAYS[m.group(2)]
        return {"kind": "weekday", "week_offset": offset, "weekday": day, "part": part, "hour": hour, "minute": minute}
    if m := re.match(_DATE_RE, value):
        month, day_of_month = cn_number(m.group(2)), cn_number(m.group(3))
        return {
            "kind": "date",
            "year": int(m.group(1)) if m.group(1) else None,
            "month": None if month is None else int(month),
            "day": None if day_of_month is None else int(day_of_month),
            "part": part,
            "hour": hour,
            "minute": minute,
        }
    if hour is not None:
        return {"kind": "clock", "part": part, "hour": hour, "minute": minute}
    if part is not None and value in _PARTS:  # 晚上 alone
        return {"kind": "part_of_day", "part": part}
    return {"kind": "relative", "text": value}


def _iso(qty: float, designator: str) -> str:
    number = str(int(qty)) if qty == int(qty) else str(qty)
    if designator.startswith("T"):
        return f"PT{number}{designator[1]}"
    return f"P{number}{designator}"
