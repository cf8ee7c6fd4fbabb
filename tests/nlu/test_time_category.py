"""The ``time`` entity (regex + resolver) and the category matcher, without Rasa."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.nlu import Label
from nlu import patterns
from nlu.category import CategoryMatcher, default_matcher
from nlu.client import to_result
from nlu.timex import cn_number, resolve


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昨天晚上开始就没水了", ["昨天晚上"]),
        ("我家楼下路灯坏了三天了", ["三天"]),
        ("上周五报的修到现在没人来", ["上周五"]),
        ("今天早上8点停的气", ["今天早上8点"]),
        ("已经两个星期了", ["两个星期"]),
        ("工地每天晚上十点以后还在施工", ["每天晚上十点"]),
        ("11月20号交的钱", ["11月20号"]),
        ("晚上10:30还在打桩", ["晚上10:30"]),
        ("一个多月了", ["一个多月"]),
        ("大年三十还来给我们修管子", ["大年三十"]),
        ("国庆期间停了两次水", ["国庆期间"]),
        ("今年冬天能不能早点供暖", ["今年冬天"]),
        ("路灯晚上都不亮", ["晚上"]),
        ("报修以后第二天就修好了", ["第二天"]),
        ("第三天还是没人来", ["第三天"]),
        ("次日上午就来了", ["次日上午"]),
        ("五一路12号的井盖丢了", []),
        ("国庆路小区停水", []),
        ("28路公交车总是不按时到站", []),
        ("幸福路12号3单元", []),
        ("三号楼一楼漏水", []),
    ],
)
def test_time_pattern(text: str, expected: list[str]) -> None:
    assert [patterns.normalise("time", m.group()) for m in re.finditer(patterns.TIME, text)] == expected


@pytest.mark.parametrize(
    ("value", "resolved"),
    [
        ("三天了", {"kind": "duration", "iso": "P3D", "approx": False}),
        ("两个星期", {"kind": "duration", "iso": "P2W", "approx": False}),
        ("一个多月了", {"kind": "duration", "iso": "P1M", "approx": True}),
        ("半个月了", {"kind": "duration", "iso": "P0.5M", "approx": False}),
        ("20分钟", {"kind": "duration", "iso": "PT20M", "approx": False}),
        ("好几天了", {"kind": "duration", "iso": None, "approx": True}),
        ("昨天晚上", {"kind": "day", "day_offset": -1, "part": "evening", "hour": None, "minute": None}),
        ("今天早上8点", {"kind": "day", "day_offset": 0, "part": "morning", "hour": 8, "minute": 0}),
        ("昨晚11点多", {"kind": "day", "day_offset": -1, "part": "evening", "hour": 23, "minute": 0}),
        ("上周五", {"kind": "weekday", "week_offset": -1, "weekday": 5, "part": None, "hour": None, "minute": None}),
        ("下午三点半", {"kind": "clock", "part": "afternoon", "hour": 15, "minute": 30}),
        (
            "2024年3月15日",
            {"kind": "date", "year": 2024, "month": 3, "day": 15, "part": None, "hour": None, "minute": None},
        ),
        ("最近", {"kind": "relative", "text": "最近"}),
        ("晚上", {"kind": "part_of_day", "part": "evening"}),
        ("大年三十", {"kind": "relative", "text": "大年三十"}),
    ],
)
def test_resolve_time(value: str, resolved: dict[str, Any]) -> None:
    assert resolve(value) == resolved


@pytest.mark.parametrize(("text", "number"), [("三", 3), ("十二", 12), ("二十", 20), ("二十五", 25), ("半", 0.5)])
def test_cn_number(text: str, number: float) -> None:
    assert cn_number(text) == number


@pytest.mark.parametrize("text", ["几", "好几", "十几", "", "abc"])
def test_cn_number_vague(text: str) -> None:
    assert cn_number(text) is None


MATCHER = CategoryMatcher.from_taxonomy(
    {
        "industries": [
            {
                "code": "gas",
                "categories": [
                    {"code": "gas.leak", "name_zh": "燃气泄漏", "keywords": ["漏气", "煤气味"]},
                    {"code": "gas.meter", "name_zh": "燃气表故障", "keywords": ["燃气表", "气表"]},
                ],
            }
        ]
    }
)


def test_category_within_industry_weighted_by_evidence() -> None:
    label = MATCHER.match("燃气表旁边漏气了 有煤气味", Label("gas", 0.8))
    # gas.leak: 漏气(2) + 煤气味(3) = 5; gas.meter: 燃气表(3) + 气表(2) = 5 -> tie broken by code
    assert label == Label("gas.leak", 0.4)
    assert MATCHER.match("家里有煤气味", Label("gas", 0.9)) == Label("gas.leak", 0.9)


def test_category_needs_industry_and_evidence() -> None:
    assert MATCHER.match("家里有煤气味", None) is None
    assert MATCHER.match("家里有煤气味", Label("water", 0.9)) is None
    assert MATCHER.match("燃气开户", Label("gas", 0.9)) is None


@pytest.mark.parametrize(
    ("text", "industry", "category"),
    [
        ("我家楼下路灯坏了三天了", "municipal", "municipal.streetlight"),
        ("燃气开户需要带什么材料", "gas", "gas.account"),
        ("小区停水了 水龙头不出水", "water", "water.outage"),
    ],
)
def test_default_taxonomy_categories(text: str, industry: str, category: str) -> None:
    label = default_matcher().match(text, Label(industry, 1.0))
    assert label is not None and label.name == category


def test_client_adds_category_and_machine_readable_time() -> None:
    data = {
        "intent": {"name": "complaint", "confidence": 0.9},
        "industry": {"name": "municipal", "confidence": 0.8},
        "entities": [{"entity": "time", "value": "三天了", "start": 8, "end": 11}],
    }
    result = to_result("我家楼下路灯坏了三天了", data)
    assert result.category is not None and result.category.name == "municipal.streetlight"
    assert result.entity("time") == "三天"
    assert result.raw["entities"][0]["time"] == {"kind": "duration", "iso": "P3D", "approx": False}
