"""The referral directory (hub.dialogue.jurisdiction): loading, validation, the decision, the referral text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.dialogue.jurisdiction import DEFAULT_PATH, Directory, DirectoryError
from hub.dialogue.ports import Referral, Referrals
from hub.nlu import Label, NluResult
from rexian.cli import _referral_directory, build_parser

TOPICS = {"government", "labour", "health", "power", "market", "police", "traffic", "environment", "telecom", "fire"}
NUMBERS = {
    "government": "12345",
    "labour": "12333",
    "health": "12320",
    "power": "95598",
    "market": "12315",
    "police": "110",
    "traffic": "122",
    "environment": "12369",
    "telecom": "12300",
    "fire": "119",
}


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load()


def _nlu(text: str, scope: tuple[str, float] | None, topic: str | None = None, intent: str = "complaint") -> NluResult:
    return NluResult(
        text=text,
        intent=Label(intent, 0.9),
        scope=Label(*scope) if scope else None,
        topic=Label(topic, 0.8) if topic else None,
    )


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "referrals.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _minimal() -> dict[str, Any]:
    return {
        "topics": {
            "power": {
                "number": "96598",
                "name": {"zh-CN": "某市供电热线", "en": "the city's power hotline"},
                "handles": {"zh-CN": "停电和电费", "en": "outages and bills"},
                "keywords": ["停电"],
            }
        }
    }


# -- loading and validation -------------------------------------------------------------------------------------


def test_packaged_directory_has_every_topic_with_its_number(directory: Directory) -> None:
    referrals: Referrals = directory  # implements the port (checked by mypy)
    assert referrals.refer("你好", None, "zh-CN") is None
    assert set(directory.topics) == TOPICS
    assert {key: topic.number for key, topic in directory.topics.items()} == NUMBERS
    assert directory.fallback == "government"
    for topic in directory.topics.values():
        assert topic.name["zh-CN"] and topic.name["en"] and topic.handles["zh-CN"] and topic.handles["en"]
        assert topic.keywords
    assert directory.topics["police"].urgent and directory.topics["fire"].urgent
    assert not directory.topics["power"].urgent


def test_a_city_file_replaces_the_packaged_one(tmp_path: Path) -> None:
    city = Directory.load(_write(tmp_path, _minimal()))
    assert set(city.topics) == {"power"}
    assert city.fallback is None
    referral = city.refer("我家停电了", None, "zh-CN")
    assert referral is not None and referral.topic == "power"
    assert "96598" in referral.text and "某市供电热线" in referral.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(hotlines={}), "unknown keys: hotlines"),
        (lambda d: d["topics"]["power"].update(phone="95598"), "topics.power: unknown keys: phone"),
        (lambda d: d["topics"]["power"].pop("number"), "topics.power: 'number' is missing"),
        (lambda d: d["topics"]["power"].update(number=95598), "topics.power.number must be a phone number"),
        (lambda d: d["topics"]["power"].update(number="call us"), "topics.power.number must be a phone number"),
        (lambda d: d["topics"]["power"].pop("handles"), "topics.power: 'handles' is missing"),
        (lambda d: d["topics"]["power"].update(name={"en": "power"}), "topics.power.name: the zh-CN text is missing"),
        (lambda d: d["topics"]["power"].update(name={"zh-CN": "供电", "fr": "x"}), "unknown locales: fr"),
        (lambda d: d["topics"]["power"].update(keywords="停电"), "topics.power.keywords must be a list"),
        (lambda d: d["topics"]["power"].update(urgent="yes"), "topics.power.urgent must be true or false"),
        (lambda d: d["topics"].update({"Power": d["topics"]["power"]}), "topics.Power: a topic key is lower-case"),
        (lambda d: d.update(threshold=0.3), "threshold must be between 0.5 and 1"),
        (lambda d: d.update(in_guard="high"), "in_guard must be a number"),
        (lambda d: d.update(version=2), "unsupported version 2"),
        (lambda d: d.update(topics={}), "'topics' must be a non-empty mapping"),
        (
            lambda d: d["topics"].update(
                a={**d["topics"]["power"], "fallback": True}, b={**d["topics"]["power"], "fallback": True}
            ),
            "more than one fallback topic: a, b",
        ),
    ],
)
def test_invalid_files_are_refused_with_a_clear_error(tmp_path: Path, change: Any, message: str) -> None:
    data = _minimal()
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(DirectoryError, match=message.replace("(", r"\(")) as info:
        Directory.load(path)
    assert str(path) in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot read"):
        Directory.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(DirectoryError, match="not valid YAML"):
        Directory.load(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match="expected a mapping"):
        Directory.load(bad)


def test_rexian_serve_option_validates_the_file(tmp_path: Path) -> None:
    good = _write(tmp_path, _minimal())
    args = build_parser().parse_args(["serve", "--referral-directory", str(good)])
    assert _referral_directory(args.referral_directory) == good
    assert _referral_directory(None) is None
    data = _minimal()
    data["topics"]["power"].pop("number")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"--referral-directory: .*bad.yaml: topics.power: 'number' is missing"):
        _referral_directory(bad)


# -- the decision -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("我家停电了 冰箱都化了", "power"),
        ("这个月电费怎么这么多", "power"),
        ("公司拖欠工资 还不交社保", "labour"),
        ("医院挂号太难了", "health"),
        ("对面楼着火了", "fire"),
        ("我被人诈骗了两万", "police"),
        ("路口出了车祸", "traffic"),
        ("宽带一直连不上", "telecom"),
        ("化工厂偷排废水", "environment"),
        ("超市卖假货", "market"),
        ("孩子入学要什么材料", "government"),
    ],
)
def test_keyword_rules_alone_when_the_nlu_is_down(directory: Directory, text: str, topic: str) -> None:
    referral = directory.refer(text, None, "zh-CN")
    assert referral is not None and referral.topic == topic
    assert NUMBERS[topic] in referral.text


@pytest.mark.parametrize(
    "text",
    ["路灯不亮了 晚上黑漆漆的", "小区停电了 电梯也停了", "工地拖欠农民工工资", "燃气费怎么交", "我家水管爆了", "你好"],
)
def test_our_matters_are_not_referred_by_keywords(directory: Directory, text: str) -> None:
    assert directory.refer(text, None, "zh-CN") is None


def test_a_confident_out_of_scope_nlu_refers_to_its_topic(directory: Directory) -> None:
    text = "老板三个月没发工资"
    referral = directory.refer(text, _nlu(text, ("out", 0.9), "labour"), "zh-CN")
    assert referral is not None and referral.topic == "labour" and "12333" in referral.text


def test_a_keyword_rule_is_more_specific_than_the_nlu_topic(directory: Directory) -> None:
    text = "电费单和电表读数对不上"
    assert directory.decide(text, Label("out", 0.8), Label("market", 0.6)) == "power"


def test_an_out_of_scope_message_without_a_known_topic_goes_to_the_fallback(directory: Directory) -> None:
    assert directory.decide("说不清是什么事", Label("out", 0.8), None) == "government"
    assert directory.decide("说不清是什么事", Label("out", 0.8), Label("weather", 0.9)) == "government"


def test_a_confident_in_scope_nlu_wins_over_keywords(directory: Directory) -> None:
    text = "家里停电了 是不是变压器坏了"  # keywords 停电/变压器, but the NLU is sure it is ours
    assert directory.decide(text, Label("in", 0.9), None) is None
    assert directory.decide(text, Label("in", 0.6), None) == "power"  # unsure: the keyword rule decides


def test_below_the_threshold_only_keywords_refer(directory: Directory) -> None:
    assert directory.decide("这事找谁", Label("out", 0.45), Label("labour", 0.9)) is None
    assert directory.decide("这事找谁", Label("in", 0.55), Label("labour", 0.9)) is None


def test_naming_one_of_our_matters_needs_a_surer_nlu(directory: Directory) -> None:
    text = "燃气费在网上怎么交"
    assert directory.decide(text, Label("out", 0.7), Label("power", 0.9)) is None
    assert directory.decide(text, Label("out", 0.95), Label("power", 0.9)) == "power"


@pytest.mark.parametrize("intent", ["greet", "affirm", "deny", "inform", "human_handoff", "status_query", "thank"])
def test_dialogue_acts_are_never_referred(directory: Directory, intent: str) -> None:
    text = "喂 有人在吗 我家停电了"
    assert directory.refer(text, _nlu(text, ("out", 0.99), "power", intent), "zh-CN") is None
    assert directory.refer(text, _nlu(text, ("out", 0.99), "power", "repair"), "zh-CN") is not None


# -- the referral text --------------------------------------------------------------------------------------------


def test_referral_text_in_both_languages(directory: Directory) -> None:
    text = "社保断缴了怎么办"
    nlu = _nlu(text, ("out", 0.9), "labour", "consult")
    zh = directory.refer(text, nlu, "zh-CN")
    en = directory.refer(text, nlu, "en")
    assert zh == Referral("labour", zh.text if zh else "")
    assert zh is not None and en is not None
    assert "12333" in zh.text and "人力资源和社会保障" in zh.text and "社会保险" in zh.text and "转人工" in zh.text
    assert "12333" in en.text and "social security hotline" in en.text and "unpaid wages" in en.text
    assert "12319" in zh.text and "12319" in en.text


def test_urgent_topics_say_to_call_at_once(directory: Directory) -> None:
    zh = directory.refer("楼下着火了", None, "zh-CN")
    en = directory.refer("楼下着火了", None, "en")
    assert zh is not None and zh.text.startswith("如情况紧急，请立即拨打119")
    assert en is not None and en.text.startswith("If this is an emergency, call 119 now")


def test_an_entry_without_english_falls_back_to_chinese(tmp_path: Path) -> None:
    data = _minimal()
    data["topics"]["power"]["name"] = "某市供电热线"
    data["topics"]["power"]["handles"] = {"zh-CN": "停电和电费"}
    referral = Directory.load(_write(tmp_path, data)).refer("又停电了", None, "en")
    assert referral is not None and "某市供电热线 (phone 96598)" in referral.text and "停电和电费" in referral.text


def test_default_path_is_packaged() -> None:
    assert DEFAULT_PATH.name == "referrals.yaml" and DEFAULT_PATH.exists()
