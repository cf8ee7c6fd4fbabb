"""The phone/address regexes (nlu/patterns.py) and their rendering into the Rasa training data."""

from __future__ import annotations

import re

import pytest

from nlu import patterns
from nlu.runtime import PROJECT_DIR


def test_entities_yaml_is_in_sync_with_patterns_module() -> None:
    rendered = (PROJECT_DIR / "data" / "nlu" / "entities.yml").read_text(encoding="utf-8")
    assert rendered == patterns.render_yaml(), "run: python -m nlu.patterns > nlu/rasa_project/data/nlu/entities.yml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", ["13812345678"]),
        ("我的手机138 1234 5678", ["13812345678"]),
        ("电话138-1234-5678。", ["13812345678"]),
        ("座机0571-88886666", ["057188886666"]),
        ("021 66778899", ["02166778899"]),
        ("(010)12345678", ["01012345678"]),
        ("工单号20240315001", []),
        ("12345678901", []),
        ("1381234567", []),
        ("电话0571 8899 7766", ["057188997766"]),
        ("+86 139 1234 5678", ["13912345678"]),
    ],
)
def test_phone_pattern_and_normalisation(text: str, expected: list[str]) -> None:
    found = [patterns.normalise("phone", m.group()) for m in re.finditer(patterns.PHONE, text)]
    assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幸福路12号3单元", ["幸福路12号3单元"]),
        ("我家在西湖区文三路90号", ["西湖区文三路90号"]),
        ("地址是阳光花园5栋2单元302室", ["阳光花园5栋2单元302室"]),
        ("住在锦绣苑3号楼1单元501", ["锦绣苑3号楼1单元501"]),
        ("位置在东城区和平里小区8栋", ["东城区和平里小区8栋"]),
        ("嗯那个我家就是光明小区十二栋三单元", ["光明小区十二栋三单元"]),
        ("我住在李家巷5号", ["李家巷5号"]),
        ("幸福路上的井盖没了", ["幸福路"]),
        ("滨江区江南大道1088号星光大厦2座1503室", ["滨江区江南大道1088号星光大厦2座1503室"]),
        ("我家幸福路12号13812345678", ["幸福路12号"]),
        ("我家楼下路灯坏了三天了", []),
        ("过马路的时候", []),
        ("28路公交车总是不按时到站", []),
        ("我们小区整栋楼都没水了", []),
        ("喂 嗯 我是 金桂苑 六栋 三单元的", ["金桂苑 六栋 三单元"]),
        ("地址锦绣家园12号楼", ["锦绣家园12号楼"]),
        ("本人系幸福里小区5幢2单元401室业主", ["幸福里小区5幢2单元401室"]),
        ("在青年路跟中山路口", ["青年路跟中山路口"]),
        ("就在光明大道与建设路交叉口东侧", ["光明大道与建设路交叉口"]),
        ("本人发现新华区长江路上的护栏倒了", ["新华区长江路"]),
        ("我们这边胜利路18号门口", ["胜利路18号"]),
        ("住在翠湖苑2期8栋", ["翠湖苑2期8栋"]),
        ("地址是玉泉路9号锦绣华庭3栋", ["玉泉路9号锦绣华庭3栋"]),
        ("小区在竹园5栋2单元101", ["竹园5栋2单元101"]),
        ("向阳街路灯不亮", ["向阳街"]),
        ("人民广场站没停", []),
        ("很多新小区都没有配套", []),
        ("路面坑坑洼洼，街景也差", []),
        ("坐几路公交能到", []),
        ("一下雨小区门口就积水", []),
        ("建议这个十字路口多装几盏路灯", []),
    ],
)
def test_address_pattern(text: str, expected: list[str]) -> None:
    assert [m.group() for m in re.finditer(patterns.ADDRESS, text)] == expected


@pytest.mark.parametrize(
    ("entity", "raw", "value"),
    [
        ("address", "，幸福路12号。", "幸福路12号"),
        ("address", "文化路 33号", "文化路33号"),
        ("phone", " 0571-8888 6666 ", "057188886666"),
        ("phone", "+86 138-1234-5678", "13812345678"),
    ],
)
def test_normalise(entity: str, raw: str, value: str) -> None:
    assert patterns.normalise(entity, raw) == value
