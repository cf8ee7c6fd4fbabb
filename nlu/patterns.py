"""Regular expressions for the ``phone``, ``address`` and ``time`` entities.

They are readable here and rendered into ``rasa_project/data/nlu/entities.yml`` (Rasa's
RegexEntityExtractor reads them from the training data). Regenerate after editing::

    python -m nlu.patterns > nlu/rasa_project/data/nlu/entities.yml

``tests/nlu/test_patterns.py`` checks that the YAML file is in sync with this module.
"""

from __future__ import annotations

import re

# Characters and words that never start or continue a place name (pronouns, particles, fillers,
# "downstairs", "near", reporting verbs ...): they keep "我家楼下路灯" from being read as a road called "我家楼下"
# and "本人发现新城区" from being read as a district called "人发现新城".
_STOP_CHARS = "我你他她它们的了在住是到于从往与及那这个就说请帮条过有没还也把被给让啊吧呢吗嗯喂址跟系但各并坐几"
_STOP_WORDS = (
    "楼下|门口|附近|旁边|对面|地址|位置|电话|号码|小区|路口|路灯|马路|本人|一半|十字|一下|下雨"
    "|这边|那边|东边|西边|南边|北边|左边|右边|里边|外边|向[东西南北前后左右]"
    "|都[是没不在要有被很]|沿街|步行|老旧|特色|影响|造成|游览|打造|结合|部分|几路|发现|位于|地处|路过|经过|靠近|清理|反映|举报|投诉|表扬|感谢|建议|目前|很多|新建|整栋|所有|每个|一些"
)
_NAME = rf"(?:(?![{_STOP_CHARS}]|{_STOP_WORDS})[\u4e00-\u9fa5])"
_NUM = r"(?:[0-9]{1,5}(?![0-9])|[一二三四五六七八九十百零两]{1,4})"
_DIGITS = r"(?:[0-9]{1,5}(?![0-9]))"

_DISTRICT = rf"{_NAME}{{1,4}}(?:区|县)"
# A road name never ends in a common noun or verb + 路 (公交线路, 主要道路, 看不清路, 修路 ...).
_ROAD_SUFFIX = r"(?:大道|大街|路|街|巷|胡同)"
_NOT_ROAD = r"(?<!线路)(?<!道路)(?<!迷路)(?<!修路)(?<!走路)(?<!过路)(?<!清路)(?<!出路)(?<!让路)(?<!上路)"
_ROAD = rf"{_NAME}{{2,8}}{_ROAD_SUFFIX}{_NOT_ROAD}(?:[东西南北中]段)?"
_COMPOUND = (
    rf"{_NAME}{{2,6}}(?:小区|花园|家园|新村|公寓|大厦|苑|华庭|公馆|山庄|广场|名都|雅居|庭院)(?![站舞])"
    rf"(?:[ \t]?(?:{_NUM}|[A-Za-z])期)?"
)
_BUILDING = rf"{_NUM}(?:栋|幢|号楼|座)"
_UNIT = rf"{_NUM}单元"
_ROOM = rf"{_NUM}(?:室|号房)?"
_HOUSE_NO = rf"{_NUM}号(?!楼)"
_SP = r"[ \t]?"  # speech-recognition output puts spaces between the parts: 金桂苑 六栋 三单元
# A bare road (no number) must end the word: not 路面/路灯/路线/街区/街道/街景 ..., and a number after it belongs to the
# road + number form.
_ROAD_END = r"(?![面灯线况区道景头段坊0-9一二三四五六七八九十百零两])"
# Two roads meeting: 人民路与中山路交叉口, 光华路和新民街路口, 和平大道跟五一路路口.
_JUNCTION = rf"{_ROAD}(?:与|和|跟|及|、){_ROAD}?(?:交叉口|十字路口|路口|交汇处|口)"
# A compound named without a suffix still counts when a building number follows: 和园7栋.
_NAMED_BUILDING = rf"{_NAME}{{2,4}}(?={_DIGITS}(?:栋|幢|号楼|座))"

_TWO_CHAR_STOPS = sorted({w for w in _STOP_WORDS.split("|") if len(w) == 2 and "[" not in w})
_START = "".join(rf"(?!(?<={w[0]}){w[1]})" for w in _TWO_CHAR_STOPS)

ADDRESS = (
    rf"(?<![我你他她咱]){_START}(?:"
    rf"(?:{_DISTRICT})?{_JUNCTION}"
    rf"|(?:{_DISTRICT})?(?:{_ROAD}{_SP}{_HOUSE_NO}(?:{_SP}{_COMPOUND})?|{_ROAD}{_ROAD_END}|{_COMPOUND}|{_NAMED_BUILDING})"
    rf"(?:{_SP}{_HOUSE_NO})?(?:{_SP}{_BUILDING})?(?:{_SP}{_UNIT})?(?:{_SP}{_ROOM})?"
    rf"|{_DISTRICT}{_ROAD}"
    rf"|{_DIGITS}(?:栋|幢|号楼|座){_UNIT}(?:{_ROOM})?"
    rf"|{_DIGITS}(?:栋|幢|号楼|座)|{_UNIT}{_ROOM})"
)
"""Chinese address forms: district, road + number, compound, building, unit, room."""

PHONE = (
    r"(?<!\d)(?:(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"
    r"|0\d{2,3}[- ]?(?:\d{7,8}|\d{3,4}[- ]\d{4})"
    r"|\(0\d{2,3}\)\s?(?:\d{7,8}|\d{3,4}[- ]\d{4}))(?!\d)"
)
"""Mainland mobile numbers (spaces/dashes, optional +86) and landlines with an area code (0571 8899 7766)."""

_CN_NUM = "一二三四五六七八九十两几半"
_QTY = rf"(?:[0-9]{{1,3}}|[{_CN_NUM}]{{1,3}}|好几|十几|二十几)"
_PART = r"(?:早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|凌晨|白天|晚间)"
_DAY = r"(?:大前天|前天|昨天|今天|明天|后天|昨晚|今晚|今早|昨夜|前晚|当天|每天)"
_CN_HOUR = "[一二三四五六七八九十两]{1,3}"
_CLOCK = (
    r"(?:[0-2]?[0-9][:：][0-5][0-9]"
    rf"|(?:[0-9]{{1,2}}|{_CN_HOUR})(?:点|时)(?:半|一刻|[0-9]{{1,2}}分?|[{_CN_NUM}]{{1,3}}分)?(?:多|左右)?)"
)
_WEEKDAY = r"(?:上|这|本|下)?(?:个)?(?:周|星期|礼拜)[一二三四五六日天1-7]"
_CN_DAY = "[一二三四五六七八九十]{1,3}"
_DATE = rf"(?:[0-9]{{4}}年)?(?:[0-9]{{1,2}}|{_CN_DAY})月(?:[0-9]{{1,2}}|{_CN_DAY})(?:日|号)"
_DURATION = (
    rf"{_QTY}(?:个多|个半|个)?多?(?:天|日|周|星期|礼拜|月|年|小时|钟头|分钟)(?:多)?(?:了|以来|之久)?"
    r"|半(?:个)?(?:月|年|天|小时)(?:了|多了)?"
)
_RELATIVE = r"(?:上个?月|这个月|本月|上周|这周|本周|去年|今年|前几天|前两天|这几天|这两天|最近|刚才|刚刚)"

TIME = (
    rf"(?:{_DATE}|{_WEEKDAY}|{_DAY})(?:{_PART})?(?:{_CLOCK})?"
    rf"|{_PART}(?:{_CLOCK})"
    rf"|(?<![0-9{_CN_NUM}])(?:{_DURATION})"
    rf"|{_RELATIVE}"
    r"|(?<![0-9])[0-2]?[0-9][:：][0-5][0-9](?![0-9])"
)
"""Time expressions: days (昨天晚上), weekdays (上周五), dates, clock times (早上8点), durations (三天了)."""

PATTERNS: dict[str, str] = {"phone": PHONE, "address": ADDRESS, "time": TIME}

for _pattern in PATTERNS.values():
    re.compile(_pattern)


def normalise(entity: str, value: str) -> str:
    """Normalise an extracted entity value.

    Phones keep digits only (``0571-88886666`` -> ``057188886666``); other values lose surrounding
    whitespace and punctuation.

    Args:
        entity: The entity name.
        value: The raw matched text.

    Returns:
        The normalised value.
    """
    if entity == "phone":
        digits = re.sub(r"\D", "", value)
        return digits[2:] if len(digits) == 13 and digits.startswith("861") else digits
    if entity == "time":  # surface form without spaces, punctuation and the aspect particle: 三天了 -> 三天
        return re.sub(r"(?:了|以来|之久)$", "", re.sub(r"\s+", "", value).strip(",.;!?，。；！？、()（）\"'“”‘’"))
    if entity == "address":  # spaces between the parts (ASR, SMS) are dropped: 文化路 33号 -> 文化路33号
        value = re.sub(r"\s+", "", value)
    return value.strip(" \t\r\n,.;:!?，。；：！？、()（）\"'“”‘’")


def render_yaml() -> str:
    """Render the Rasa training-data file holding the entity regexes."""
    lines = [
        'version: "3.1"',
        "",
        "# GENERATED by `python -m nlu.patterns` from nlu/patterns.py; do not edit by hand.",
        "nlu:",
    ]
    for name, pattern in PATTERNS.items():
        lines += [f"- regex: {name}", "  examples: |", f"    - {pattern}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_yaml(), end="")
