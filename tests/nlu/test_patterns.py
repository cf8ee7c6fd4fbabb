"""The phone regex (nlu/patterns.py), entity normalisation and the rendering into the Rasa training data.

Addresses are found by the grammar of nlu/rasa_project/components/address.py: tests/nlu/test_address.py.
"""

from __future__ import annotations

import re

import pytest

from nlu import patterns
from nlu.runtime import PROJECT_DIR


def test_entities_yaml_is_in_sync_with_patterns_module() -> None:
    rendered = (PROJECT_DIR / "data" / "nlu" / "entities.yml").read_text(encoding="utf-8")
    assert rendered == patterns.render_yaml(), "run: python -m nlu.patterns > nlu/rasa_project/data/nlu/entities.yml"
    # phone and time only: addresses come from AddressExtractor, placed before the classifiers in config.yml
    assert [line for line in rendered.splitlines() if line.startswith("- regex:")] == [
        "- regex: phone",
        "- regex: time",
    ]
    pipeline = [
        line.split("name:", 1)[1].strip()
        for line in (PROJECT_DIR / "config.yml").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- name:")
    ]
    extractor = pipeline.index("components.address_extractor.AddressExtractor")
    assert extractor < pipeline.index("components.intent_classifier.TfidfIntentClassifier")
    assert extractor < pipeline.index("components.industry_classifier.IndustryClassifier")


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
