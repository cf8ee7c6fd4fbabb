"""Prompt and answer text as a Mandarin TTS should read it on a Chinese hotline.

:func:`speakable` rewrites every number of a text (ASCII or full-width digits) into Chinese words, the way 12319 /
12345 hotline announcers read them, and leaves everything else byte-identical. The reading of a number depends on
its shape and on the characters around it (regular expressions over the text, no NLP), tried in this order:

* shapes: mobile numbers (``13800138000``, ``138-0013-8000``, ``+86 …``) in 3-4-4 groups 幺三八，零零幺三，八零零零;
  landlines (``0571-88886666``, ``(010)12345678转8001``): area code, then the local number in 4-4 (7 digits: 3-4);
  400/800 numbers 3-3-4; work-order numbers (``YYYYMMDD`` + 4-digit sequence, see
  ``hub/storage/work_orders.py``; also ``2026-1207-0012``, ``2026 1207 0012``, ``20261207-0012``) in groups of 4
  二零二六，幺二零七，零零幺二; dates ``2026-12-07``/``2026/12/7`` 二零二六年十二月七日; times ``8:30-12:00``
  八点三十分至十二点, ``17:05`` 十七点零五分; ``按#``/``按*``/``#号键``/``以#结束`` 按井号键/按星号键/井号键;
* the characters right after it: ``85%`` 百分之八十五, ``-5℃`` 零下五摄氏度, ``¥1,234.50``/``1234.5元``
  一千二百三十四元五角, ``0.5元/吨`` 五角每吨, ``2026年`` 二零二六年, ``12月7日`` 十二月七日, ``502室`` 五零二室,
  measure words and units ``120平方米``/``2小时``/``12000户`` 一百二十平方米/两小时/一万两千户, ranges ``3-5个工作日``
  三至五个工作日;
* the characters right before it: ``第3`` 第三, ``请按1``/``按0`` 按一/按零 (一, not 幺: menus say 请按一),
  ``共12000`` 共一万两千, Latin letters ``A12``/``浙A12345`` A幺二 (a code);
* for 3+ digits, the last of these words in the 10 characters before it (within the sentence): 工单/编号/单号…
  → order groups; 电话/热线/拨打/号码/致电/转… → phone groups; 验证码/密码/栋/单元/房号… → digit by digit;
* otherwise: :data:`SERVICE_CODES` (110, 12319, …) and any 5+ digits digit by digit with 幺 (grouped when the
  shape is a phone or 9+ digits), a leading zero digit by digit (``05`` 零五), 1-4 digits as a quantity
  (``1200`` 一千二百), decimals with 点 (三点五), a minus sign as 负.

Choices where hotlines differ:

* groups of a phone or order number are separated by the Chinese comma "，" (:data:`PAUSE`): espeak-ng's Mandarin
  voice makes it a short clause pause, while a space between digits is not spoken at all;
* zero is always 零 (never 〇), also in years: 二零二六年;
* 两 for a bare 2 before a measure word (两小时, 两天, 两个, 两元, 两点 as a clock time) and for a leading 2 before
  千/万/亿 in counts and amounts (两千, 一万两千, 两万两千); 二 everywhere else (十二, 二十, 二百, 第二, 二月, 二号,
  key 2, 二角, decimals 二点五);
* a clock time reads minutes as 分 (八点三十分, not 八点半), ``:00`` as the bare hour (十二点), a range as 至;
* amounts keep the 元/角/分 units (一元零五分), a "/unit" after an amount or measure becomes 每unit;
* bare 1–4 digit numbers are quantities (一千二百) unless they are a known service code; numbers with a leading
  zero are read digit by digit (零五), except minutes and seconds (零五分).

Known limits: a hyphen between two numbers without a unit (``3-5``, ``12-07``) reads as a code (三，五), ``1/3``
is left as 一/三, a bare ``2026`` without 年 is a quantity (两千零二十六).

The function never raises (a reading that fails falls back to digit by digit), is idempotent (its output contains no
digits, and the key-symbol rewrites do not apply to their own output) and is meant for Chinese text: digits inside
English sentences are spoken in Chinese too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import cn2an

__all__ = [
    "PAUSE",
    "SERVICE_CODES",
    "digits",
    "money",
    "number",
    "order_number",
    "phone_number",
    "quantity",
    "speakable",
    "spoken_date",
    "spoken_time",
]

log = logging.getLogger(__name__)

PAUSE = "，"  # between groups of a phone or order number: a short pause in espeak-ng and Kokoro

# Short service numbers read digit by digit even without 拨打/热线 before them (3-4 digit numbers are quantities
# otherwise; 5+ digit numbers are read digit by digit anyway, the 5-digit ones are listed for completeness).
SERVICE_CODES = frozenset(
    {
        "110",
        "112",
        "114",
        "119",
        "120",
        "122",
        "12110",
        "12315",
        "12319",
        "12320",
        "12328",
        "12333",
        "12345",
        "12348",
        "12358",
        "12365",
        "12366",
        "12369",
        "12388",
        "95598",
        "96777",
    }
)

_CODE_DIGITS = "零幺二三四五六七八九"  # phone numbers, codes, order numbers
_PLAIN_DIGITS = "零一二三四五六七八九"  # key presses, years, decimals, 角/分
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_MAX_WORD_DIGITS = 16  # cn2an's limit; longer integers are read digit by digit

# --------------------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------------------


def digits(text: str, *, one: str = "幺") -> str:
    """Digit by digit: ``digits("12319") == "幺二三幺九"``; ``one="一"`` for key presses and years."""
    words = [_CODE_DIGITS[0], one, *_CODE_DIGITS[2:]]
    return "".join(words[ord(ch) - 48] if "0" <= ch <= "9" else ch for ch in text)


def _groups(text: str, sizes: list[int]) -> str:
    parts, at = [], 0
    for size in sizes:
        if at >= len(text):
            break
        parts.append(digits(text[at : at + size]))
        at += size
    if at < len(text):
        parts.append(digits(text[at:]))
    return PAUSE.join(parts)


def _fours(text: str) -> str:
    return _groups(text, [4] * (len(text) // 4 + 1))


def phone_number(text: str) -> str:
    """A phone number (digits only) digit by digit, grouped by its shape with :data:`PAUSE`.

    Mobile (11 digits from 1): 3-4-4; landline with area code (10-12 digits from 0): area code (3 digits for 010 and
    02x, else 4) then the local number in 4-4 (8 digits) or 3-4 (7); 400/800 numbers: 3-3-4; other numbers of 9+
    digits in groups of 4; shorter ones (12319) in one go.
    """
    n = len(text)
    if n == 0:
        return ""
    if n == 11 and text[0] == "1":
        return _groups(text, [3, 4, 4])
    if text[0] == "0" and 10 <= n <= 12:
        area = 3 if text[1] in "12" else 4
        local = text[area:]
        local_sizes = [4, 4] if len(local) == 8 else [3, 4] if len(local) == 7 else [len(local)]
        return _groups(text, [area, *local_sizes])
    if n == 10 and text[:3] in ("400", "800"):
        return _groups(text, [3, 3, 4])
    if n >= 9:
        return _fours(text)
    return digits(text)


def order_number(text: str) -> str:
    """A work-order number (digits only) in groups of 4: 二零二六，幺二零七，零零幺二; up to 7 digits in one go."""
    return _fours(text) if len(text) >= 8 else digits(text)


def _words(value: str) -> str:
    """cn2an's reading of a non-negative integer or decimal string (digit by digit if cn2an cannot)."""
    integer, dot, fraction = value.partition(".")
    integer = integer.lstrip("0") or "0"
    if len(integer) > _MAX_WORD_DIGITS:
        return digits(value.replace(".", "点"), one="一")
    try:
        return str(cn2an.an2cn(integer + dot + fraction))
    except Exception:  # cn2an rejects what it does not parse; never let a prompt fail over a number
        return digits(value.replace(".", "点"), one="一")


_LIANG_BEFORE_MAGNITUDE = re.compile(r"(?<!十)二(?=[千万亿])")


def quantity(value: str | int, *, liang: bool = False) -> str:
    """A count or measure: 两 for a leading 2 before 千/万/亿 (一万两千, 两千), and for a bare 2 when ``liang``
    (the number stands before a measure word: 两小时); decimals read with 点 (二点五)."""
    text = str(value)
    if "." in text:
        return _words(text)
    if liang and text.lstrip("0") == "2":
        return "两"
    return _LIANG_BEFORE_MAGNITUDE.sub("两", _words(text))


def number(value: str | int) -> str:
    """An ordinal or a plain number with cn2an's words and no 两: 十二, 二十, 二千 (第二千名); decimals with 点."""
    return _words(str(value))


def money(amount: str) -> str:
    """An amount of yuan (``"1234.50"``, no separators) in 元/角/分: 一千二百三十四元五角, 五角, 一元零五分, 两元.

    More than two decimals are read as a decimal number of 元 (三点四五六元).
    """
    integer, _, fraction = amount.partition(".")
    if len(fraction) > 2:
        return _words(amount) + "元"
    yuan = integer.lstrip("0")
    jiao = int(fraction[0]) if fraction else 0
    fen = int(fraction[1]) if len(fraction) > 1 else 0
    spoken = ""
    if yuan or not (jiao or fen):
        spoken = quantity(yuan or "0", liang=True) + "元"
    if jiao:
        spoken += _PLAIN_DIGITS[jiao] + "角"
    elif fen and yuan:
        spoken += "零"
    if fen:
        spoken += _PLAIN_DIGITS[fen] + "分"
    return spoken


def spoken_date(year: str | None, month: str | None, day: str | None) -> str:
    """二零二六年十二月七日 (year digit by digit with 一 and 零; month and day as numbers); parts may be None."""
    spoken = ""
    if year is not None:
        spoken += digits(year, one="一") + "年"
    if month is not None:
        spoken += number(month) + "月"
    if day is not None:
        spoken += number(day) + "日"
    return spoken


def spoken_time(hour: str, minute: str, second: str | None = None) -> str:
    """八点三十分, 十七点零五分, 十二点 (``:00``), 两点 (2 o'clock); seconds when given and not ``00``."""
    spoken = quantity(hour, liang=True) + "点"
    if minute != "00" or (second not in (None, "00")):
        spoken += ("零" if minute[0] == "0" and minute != "00" else "") + number(minute) + "分"
    if second is not None and second != "00":
        spoken += ("零" if second[0] == "0" else "") + number(second) + "秒"
    return spoken


# --------------------------------------------------------------------------------------------------------------
# Context
# --------------------------------------------------------------------------------------------------------------

# 两 reads naturally for a bare 2 before these (两个, 两小时, 两元); they also mark a number as a quantity.
# (Space-separated strings: a list literal of ~90 one-character words would take a line each.)
_LIANG_UNITS = (  # noqa: SIM905
    "个 位 名 人 人次 户 户次 次 遍 天 周 星期 小时 钟头 分钟 秒钟 秒 年 岁 件 条 张 份 项 台 辆 家 所 处 间 套 "
    "块 毛 角 吨 米 公里 千米 厘米 毫米 公斤 千克 克 斤 升 毫升 立方米 立方 方 平方米 平米 平方公里 亩 倍 种 类 "
    "批 起 笔 通 只 本 座 根 棵 部 步 段 节 句 组 万 亿 千 百 点钟 点 室 厅 卫 成 回 趟 封 单 工作日 千瓦时 页 字 元"
).split()
# Ordinal-like units: the number is read with 二 (二月, 二号, 二楼); only for 1-4 digit numbers.
_ORDINAL_UNITS = "月 日 号 号楼 号线 楼 栋 幢 单元 层 期 路 区 级 年级 届 排 时 分 度".split()  # noqa: SIM905
# Words after a number that make it a count without being a measure word (一百多人, 六十以上).
_COUNT_MARKERS = ["多", "余", "来", "左右", "以上", "以下", "以内"]
_SYMBOL_UNITS = {
    "㎡": "平方米",
    "m²": "平方米",
    "m2": "平方米",
    "㎥": "立方米",
    "m³": "立方米",
    "m3": "立方米",
    "km": "公里",
    "kg": "公斤",
    "kWh": "千瓦时",
    "kwh": "千瓦时",
    "m": "米",
    "h": "小时",
}
_PER_UNITS = (  # noqa: SIM905
    "吨 立方米 立方 方 度 千瓦时 月 年 天 日 次 人 户 平方米 平米 小时 公里 千米 件 个 辆 台 张 公斤 千克 斤 升 份 "
    "页 周"
).split()


def _alternation(words: list[str]) -> str:
    def one(word: str) -> str:
        return re.escape(word) + ("(?![A-Za-z0-9²³])" if word.isascii() else "")

    return "|".join(one(word) for word in sorted(set(words), key=len, reverse=True))


_UNIT = re.compile(
    rf"(?: ?(?P<unit>{_alternation(_LIANG_UNITS + _ORDINAL_UNITS + _COUNT_MARKERS)})"
    rf"|(?P<symbol>{_alternation(list(_SYMBOL_UNITS))}))"
)
_PER = re.compile(rf"[/／](?P<unit>{_alternation(_PER_UNITS + list(_SYMBOL_UNITS))})")
_TEMPERATURE = re.compile(r"℃|°C|°|度")
_PERCENT = re.compile(r"[%％‰]")

_ORDER_WORDS = "工单|单号|编号|受理号|流水号|订单|回执号|案件号|业务号"
_PHONE_WORDS = "电话|热线|拨打|拨|致电|号码|手机|来电|座机|传真|专线|呼叫|分机|转|短信|客服|联系方式"
_CODE_WORDS = "验证码|校验码|密码|动态码|取件码|提取码|识别码|房号|房间|门牌|单元|号楼|栋|幢|车牌"
_CONTEXT = re.compile(rf"(?P<order>{_ORDER_WORDS})|(?P<phone>{_PHONE_WORDS})|(?P<code>{_CODE_WORDS})")
_CLAUSE_END = re.compile(r"[。；;！!？?\n]")
_KEY_BEFORE = re.compile(r"按键?\s*$")
_COUNT_BEFORE = re.compile(r"(?:共计?|约|大约|合计|总计|累计|超过|不超过|不少于|达|高达|多达|近|将近|逾)\s*$")
_WINDOW = 10  # characters before a number searched for 电话/工单/按 and the like


def _clause_before(text: str, start: int) -> str:
    window = text[max(0, start - _WINDOW) : start]
    ends = [m.end() for m in _CLAUSE_END.finditer(window)]
    return window[ends[-1] :] if ends else window


# --------------------------------------------------------------------------------------------------------------
# Readings
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    text: str
    end: int
    kind: str  # money, percent, temp, liang, measure, ordinal, year, date, time, phone, order, code, key, plain


_NUMBER = re.compile(
    r"(?P<sign>[-−])?(?P<cur>[¥￥] ?)?(?P<int>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?P<frac>(?:\.[0-9]+)*)"
)
_ROOM = re.compile(r" ?[室房]")
_RANGE = re.compile(r"\s*(?P<sep>[-－~～—–]|至|到)\s*")
_HYPHEN_CHAIN = re.compile(r"(?:[-－][0-9]+)+(?![0-9.])")
_TWO_HYPHENS = re.compile(r"[-－][0-9]+[-－][0-9]")
_RANGE_KINDS = {"money", "percent", "temp", "liang", "measure", "ordinal", "year", "date", "time"}


def _signed(sign: bool, spoken: str) -> str:
    return "负" + spoken if sign else spoken


def _per(text: str, end: int) -> tuple[str, int]:
    """``/吨`` (``/平方米/月``) after an amount or measure → 每吨 (每平方米每月)."""
    spoken = ""
    while (m := _PER.match(text, end)) is not None:
        unit = m.group("unit")
        spoken, end = spoken + "每" + _SYMBOL_UNITS.get(unit, unit), m.end()
    return spoken, end


def _unit_reading(text: str, m: re.Match[str], integer: str, fraction: str, sign: bool) -> _Reading | None:
    """A number before a measure word, ordinal unit, count marker or unit symbol."""
    unit_match = _UNIT.match(text, m.end())
    if unit_match is None:
        return None
    unit = unit_match.group("unit") or unit_match.group("symbol")
    spoken_unit = unit_match.group(0).replace(unit, _SYMBOL_UNITS.get(unit, unit))
    value = integer + ("." + fraction if fraction else "")
    if unit == "年" and len(integer) == 4 and not fraction and not sign:
        return _Reading(digits(integer, one="一") + spoken_unit, unit_match.end(), "year")
    if unit in _ORDINAL_UNITS:
        if len(integer) > 4:
            return None
        if unit in ("分", "时") and len(integer) == 2 and integer[0] == "0" and not fraction:
            spoken = "零" + number(integer[1])
        else:
            spoken = number(value)
        kind = "ordinal"
    else:
        if len(integer) > _MAX_WORD_DIGITS:
            return None
        spoken = quantity(value, liang=unit in _LIANG_UNITS or unit in _SYMBOL_UNITS)
        kind = "liang" if unit in _LIANG_UNITS else "measure"
    per, end = _per(text, unit_match.end())
    return _Reading(_signed(sign, spoken) + spoken_unit + per, end, kind)


def _left_of_range(integer: str, fraction: str, sign: bool, kind: str) -> str:
    value = integer + ("." + fraction if fraction else "")
    if len(integer) > _MAX_WORD_DIGITS:
        return digits(value.replace(".", "点"))
    if kind == "money":
        return _signed(sign, money(value) if fraction else quantity(value, liang=True))
    if kind == "percent":
        return _signed(sign, "百分之" + number(value))
    if kind == "year" and len(integer) == 4 and not fraction and not sign:
        return digits(integer, one="一")
    if kind == "temp":
        return ("零下" if sign else "") + number(value)
    if kind == "liang":
        return _signed(sign, quantity(value, liang=True))
    if kind == "measure":
        return _signed(sign, quantity(value))
    return _signed(sign, number(value))


def _generic(text: str, pos: int, *, allow_range: bool = True) -> _Reading:
    """Any number that none of the shape patterns took: its reading by the characters around it."""
    m = _NUMBER.match(text, pos)
    if m is None:  # cannot happen: callers only come here at a digit, a sign or a currency sign before digits
        return _Reading(text[pos], pos + 1, "plain")
    sign, cur = bool(m.group("sign")), bool(m.group("cur"))
    integer = m.group("int").replace(",", "")
    fractions = m.group("frac")[1:].split(".") if m.group("frac") else []
    fraction = fractions[0] if len(fractions) == 1 else ""
    value = integer + ("." + fraction if fraction else "")
    before = _clause_before(text, pos)
    end = m.end()

    if len(fractions) > 1:  # 1.2.3: a version or a list of numbers
        dotted = "点".join([number(integer), *(digits(f, one="一") for f in fractions)])
        return _Reading(_signed(sign, dotted), end, "plain")
    if not sign and not cur and pos > 0 and text[pos - 1].isascii() and text[pos - 1].isalpha():
        spoken = digits(integer) if len(integer) > 1 else digits(integer, one="一")
        return _Reading(spoken + ("点" + digits(fraction, one="一") if fraction else ""), end, "code")

    if len(integer) <= _MAX_WORD_DIGITS:
        percent = _PERCENT.match(text, end)
        if percent is not None and not cur:
            prefix = "千分之" if percent.group(0) == "‰" else "百分之"
            return _Reading(_signed(sign, prefix + number(value)), percent.end(), "percent")
        temperature = _TEMPERATURE.match(text, end)
        if temperature is not None and not cur and (sign or temperature.group(0) != "度"):
            degrees = {"℃": "摄氏度", "°C": "摄氏度"}.get(temperature.group(0), "度")
            return _Reading(("零下" if sign else "") + number(value) + degrees, temperature.end(), "temp")
        if cur or text.startswith("元", end):
            after = end + 1 if text.startswith("元", end) else end
            if cur and text.startswith(("万元", "亿元"), end):
                spoken, after = quantity(value, liang=True) + text[end : end + 2], end + 2
            elif cur and text.startswith(("万", "亿"), end):
                spoken, after = quantity(value, liang=True) + text[end] + "元", end + 1
            else:
                spoken = money(value)
            per, after = _per(text, after)
            return _Reading(_signed(sign, spoken) + per, after, "money")

    if allow_range and not cur:
        joined = _range(text, m, integer, fraction, sign, before)
        if joined is not None:
            return joined
        chain = _HYPHEN_CHAIN.match(text, end)
        if chain is not None and not sign and not fraction:
            parts = [integer, *re.split(r"[-－]", chain.group(0))[1:]]
            return _Reading(PAUSE.join(digits(p) for p in parts), chain.end(), "code")

    if fraction or sign:
        unit = _unit_reading(text, m, integer, fraction, sign) if not cur else None
        if unit is not None:
            return unit
        return _Reading(_signed(sign, number(value)), end, "plain")

    if len(integer) >= 3 and _ROOM.match(text, end):
        return _Reading(digits(integer), end, "code")
    if before.endswith("第") and len(integer) <= _MAX_WORD_DIGITS:
        return _Reading(number(integer), end, "ordinal")
    unit = _unit_reading(text, m, integer, fraction, sign)
    if unit is not None:
        return unit
    if _KEY_BEFORE.search(before):
        return _Reading(digits(integer, one="一"), end, "key")
    if _COUNT_BEFORE.search(before) and len(integer) <= _MAX_WORD_DIGITS and integer[0] != "0":
        return _Reading(quantity(integer), end, "liang")
    if len(integer) >= 3:
        context = None
        for found in _CONTEXT.finditer(before):
            context = found.lastgroup
        if context == "order":
            return _Reading(order_number(integer), end, "order")
        if context == "phone":
            return _Reading(phone_number(integer), end, "phone")
        if context == "code":
            return _Reading(digits(integer), end, "code")
    if integer in SERVICE_CODES or len(integer) >= 5:
        return _Reading(phone_number(integer), end, "phone")
    if integer[0] == "0" and len(integer) > 1:
        return _Reading(digits(integer), end, "code")
    return _Reading(quantity(integer), end, "plain")


def _range(text: str, m: re.Match[str], integer: str, fraction: str, sign: bool, before: str) -> _Reading | None:
    """``3-5个工作日``, ``2~3天``, ``第1-3条``, ``-5~3℃``: the left number is read in the right one's unit."""
    sep = _RANGE.match(text, m.end())
    if sep is None:
        return None
    right_at = sep.end()
    hyphen = sep.group("sep") in "-－"
    right_number = _NUMBER.match(text, right_at)
    if right_number is None or (hyphen and right_number.group("sign")):
        return None
    if hyphen and _TWO_HYPHENS.match(text, m.end()):
        return None  # 1-2-3: a code
    right = _generic(text, right_at, allow_range=False)
    if right.kind not in _RANGE_KINDS | {"plain"}:
        return None  # 3至12319: not a range
    if hyphen and right.kind == "plain" and not before.endswith("第"):
        return None  # 12-07: a code
    word = sep.group("sep") if sep.group("sep") in ("至", "到") else "至"
    return _Reading(_left_of_range(integer, fraction, sign, right.kind) + word + right.text, right.end, right.kind)


# Shapes, tried in this order at every position where a number (or a key symbol) starts.
_KEY_SYMBOL = re.compile(r"(?P<press>按键?\s*)?(?P<sym>[*#＊＃])(?P<tail>\s*号?\s*键|\s*号|(?=\s*(?:结束|确认)))?")
_MOBILE = re.compile(
    r"(?<![0-9])(?:(?P<cc>\+86)[-－ ]?)?(?P<a>1[3-9][0-9])(?P<s>[-－ ]?)(?P<b>[0-9]{4})(?P=s)(?P<c>[0-9]{4})(?![0-9])"
)
_HOTLINE = re.compile(r"(?<![0-9])(?P<a>[48]00)(?P<s>[-－ ]?)(?P<b>[0-9]{3})(?P=s)(?P<c>[0-9]{4})(?![0-9])")
_LANDLINE = re.compile(
    r"[(（]?(?P<area>0(?:[12][0-9]|[3-9][0-9]{2}))(?:[)）][-－ ]?|[-－ ])"
    r"(?P<local>[0-9]{7,8}|[0-9]{3,4}[-－ ][0-9]{4})(?![0-9])"
    r"(?:(?:[-－]|转)(?P<ext>[0-9]{1,5})(?![0-9]))?"
)
_ORDER = re.compile(
    r"(?<![0-9])(?:(?P<a>[0-9]{4})(?P<s>[-－ ]?)(?P<b>[0-9]{4})(?P=s)(?P<c>[0-9]{4})"
    r"|(?P<d>[0-9]{8})[-－ ](?P<e>[0-9]{4}))(?![0-9])"
)
_DATE = re.compile(r"(?<![0-9])(?P<y>[12][0-9]{3})(?P<s>[-/.／－])(?P<m>[0-9]{1,2})(?P=s)(?P<d>[0-9]{1,2})(?!\.?[0-9])")
_TIME = re.compile(r"(?<![0-9])(?P<h>[01]?[0-9]|2[0-4])[:：](?P<m>[0-5][0-9])(?:[:：](?P<s>[0-5][0-9]))?(?![0-9])")


def _key_symbol(text: str, m: re.Match[str]) -> _Reading | None:
    press, tail = m.group("press"), m.group("tail")
    if press is None and tail is None:
        return None
    name = "星号" if m.group("sym") in "*＊" else "井号"
    key = "" if press is None and tail is not None and tail.strip() == "号" else "键"
    return _Reading((press.rstrip() if press else "") + name + key, m.end(), "key")


def _mobile(text: str, m: re.Match[str]) -> _Reading | None:
    spoken = PAUSE.join(digits(m.group(g)) for g in "abc")
    if m.group("cc"):
        spoken = "加八六" + PAUSE + spoken
    return _Reading(spoken, m.end(), "phone")


def _hotline(text: str, m: re.Match[str]) -> _Reading | None:
    return _Reading(PAUSE.join(digits(m.group(g)) for g in "abc"), m.end(), "phone")


def _landline(text: str, m: re.Match[str]) -> _Reading | None:
    local = re.sub(r"[-－ ]", "", m.group("local"))
    spoken = digits(m.group("area")) + PAUSE + _groups(local, [4, 4] if len(local) == 8 else [3, 4])
    if m.group("ext"):
        spoken += PAUSE + "转" + digits(m.group("ext"))
    return _Reading(spoken, m.end(), "phone")


def _order(text: str, m: re.Match[str]) -> _Reading | None:
    if m.group("a") is not None and not m.group("s"):
        whole = m.group("a") + m.group("b") + m.group("c")
        year, month, day = int(whole[:4]), int(whole[4:6]), int(whole[6:8])
        if not (2000 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31):
            return None  # not one of ours: read by context like any other long number
    else:
        whole = "".join(m.group(g) or "" for g in "abcde")
    return _Reading(order_number(whole), m.end(), "order")


def _date(text: str, m: re.Match[str]) -> _Reading | None:
    if not (1 <= int(m.group("m")) <= 12 and 1 <= int(m.group("d")) <= 31):
        return None
    end = m.end() + 1 if text.startswith(("日", "号"), m.end()) else m.end()
    return _Reading(spoken_date(m.group("y"), m.group("m"), m.group("d")), end, "date")


def _time(text: str, m: re.Match[str]) -> _Reading | None:
    return _Reading(spoken_time(m.group("h"), m.group("m"), m.group("s")), m.end(), "time")


_SHAPES: list[tuple[re.Pattern[str], Callable[[str, re.Match[str]], _Reading | None]]] = [
    (_KEY_SYMBOL, _key_symbol),
    (_MOBILE, _mobile),
    (_HOTLINE, _hotline),
    (_LANDLINE, _landline),
    (_ORDER, _order),
    (_DATE, _date),
    (_TIME, _time),
]

_START = re.compile(
    r"[0-9]|(?<![0-9A-Za-z])[-−](?=[0-9])|[¥￥](?= ?[0-9])|\+(?=86)|[(（](?=0[0-9]{2,3}[)）])"
    r"|按键?\s*[*#＊＃]|[*#＊＃]\s*[号键]|[*#＊＃](?=\s*(?:结束|确认))"
)


def _token(text: str, pos: int) -> _Reading | None:
    for pattern, read in _SHAPES:
        m = pattern.match(text, pos)
        if m is not None:
            reading = read(text, m)
            if reading is not None:
                return reading
    if _NUMBER.match(text, pos):
        return _generic(text, pos)
    return None


def _continued(text: str, reading: _Reading) -> _Reading:
    """``8:30-12:00``, ``10%-20%``, ``3天-5天``: a second reading of the same kind after a range sign → 至."""
    if reading.kind not in _RANGE_KINDS:
        return reading
    sep = _RANGE.match(text, reading.end)
    if sep is None or sep.end() >= len(text):
        return reading
    if sep.group("sep") in "-－" and text[sep.end()] in "-−":
        return reading
    right = _token(text, sep.end()) if _START.match(text, sep.end()) else None
    if right is None or right.kind != reading.kind:
        return reading
    word = sep.group("sep") if sep.group("sep") in ("至", "到") else "至"
    return _Reading(reading.text + word + right.text, right.end, reading.kind)


_DIGIT_RUN = re.compile(r"[-−¥￥+(（]?[0-9]*")


def _fallback(text: str, pos: int) -> _Reading:
    """Digit by digit over the digit run at ``pos`` (only if a reading failed, which it should not)."""
    m = _DIGIT_RUN.match(text, pos)
    end = max(m.end() if m else pos, pos + 1)
    return _Reading(digits(text[pos:end]), end, "code")


def speakable(text: str) -> str:
    """``text`` with every number rewritten as a Chinese hotline reads it aloud (see the module documentation).

    >>> speakable("您好，这里是12319城建服务热线。")
    '您好，这里是幺二三幺九城建服务热线。'
    >>> speakable("政策咨询请按1；人工服务请按0。")
    '政策咨询请按一；人工服务请按零。'
    """
    text = text.translate(_FULLWIDTH)
    out: list[str] = []
    pos = 0
    while (start := _START.search(text, pos)) is not None:
        at = start.start()
        out.append(text[pos:at])
        try:
            reading = _token(text, at)
            if reading is not None:
                reading = _continued(text, reading)
        except Exception:  # a bug in a reading must not silence a prompt
            log.exception("could not read the number at %d of %r", at, text[:200])
            reading = _fallback(text, at)
        if reading is None or reading.end <= at:
            out.append(text[at])
            pos = at + 1
        else:
            out.append(reading.text)
            pos = reading.end
    out.append(text[pos:])
    return "".join(out)
