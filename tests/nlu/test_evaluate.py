"""The pure metric functions of ``rexian nlu eval`` (nlu/evaluate.py), without Rasa."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu.evaluate import (
    NONE,
    Prediction,
    classification_scores,
    entity_scores,
    evaluate_predictions,
    normalise_value,
    percentile,
    read_rows,
)
from rexian.cli import build_parser


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (" 0571-8888 6666。", "057188886666"),
        ("幸福路12号，3单元", "幸福路12号3单元"),
        ("（西湖区）文三路９０号！", "西湖区文三路90号"),
        ("Room 5\t", "room5"),
    ],
)
def test_normalise_value_drops_whitespace_and_punctuation(raw: str, value: str) -> None:
    assert normalise_value(raw) == value


def test_classification_scores_accuracy_and_macro_f1() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "c")]
    scores = classification_scores(pairs)
    assert scores["accuracy"] == 0.75
    # a: P=1 R=.5 F=.6667; b: P=.5 R=1 F=.6667; c: F=1 -> macro (0.6667*2+1)/3
    assert scores["macro_f1"] == pytest.approx((2 / 3 * 2 + 1) / 3, abs=1e-4)
    assert scores["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}


def test_classification_scores_class_only_predicted_counts_as_zero() -> None:
    scores = classification_scores([("a", "a"), ("a", "x")])
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 0) / 2, abs=1e-4)
    assert classification_scores([])["accuracy"] is None


def test_entity_scores_multiset_and_normalised() -> None:
    rows = [
        ([("phone", "138-1234-5678"), ("address", "幸福路12号")], [("phone", "13812345678"), ("address", "幸福路")]),
        ([("phone", "13812345678"), ("phone", "13812345678")], [("phone", "13812345678")]),
        ([], [("time", "昨天晚上")]),
    ]
    scores = entity_scores(rows)
    assert scores["phone"]["tp"] == 2 and scores["phone"]["fn"] == 1 and scores["phone"]["fp"] == 0
    assert scores["phone"]["precision"] == 1.0 and scores["phone"]["recall"] == pytest.approx(0.6667)
    assert scores["address"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "tp": 0, "fp": 1, "fn": 1}
    assert scores["time"]["fp"] == 1 and scores["time"]["support"] == 0


@pytest.mark.parametrize(("q", "expected"), [(50, 5.0), (99, 10.0), (10, 1.0), (100, 10.0)])
def test_percentile_nearest_rank(q: float, expected: float) -> None:
    assert percentile([float(x) for x in range(10, 0, -1)], q) == expected


def test_percentile_empty() -> None:
    assert percentile([], 50) is None


def test_evaluate_predictions_report_shape_and_confusions() -> None:
    rows = [
        {"text": "燃气泄漏", "type": "repair", "industry": "gas", "entities": []},
        {"text": "暖气不热", "type": "repair", "industry": "heating"},
        {"text": "你好", "type": None, "intent": "greet", "entities": [{"entity": "phone", "value": "13812345678"}]},
        {"text": "路灯坏了", "industry": "municipal"},
    ]
    predictions = [
        Prediction({"type": "repair", "industry": "gas", "intent": "repair"}, [], 10.0),
        Prediction({"type": "complaint", "industry": "heating", "intent": "complaint"}, [], 20.0),
        Prediction(
            {"type": NONE, "industry": NONE, "intent": "greet"}, [("phone", "13812345678"), ("time", "今天")], 30.0
        ),
        Prediction({"type": "complaint", "industry": "municipal", "intent": "complaint"}, [], 40.0),
    ]
    report = evaluate_predictions(rows, predictions)
    assert report["n"] == 4
    assert report["type"]["n"] == 3 and report["type"]["accuracy"] == pytest.approx(0.6667)
    assert report["industry"]["accuracy"] == 1.0 and report["industry"]["n"] == 3
    assert report["intent"] == {"accuracy": 1.0, "macro_f1": 1.0, "n": 1, "per_class": report["intent"]["per_class"]}
    assert "category" not in report
    assert report["entities"]["phone"]["f1"] == 1.0
    assert set(report["entities"]) == {"phone"}  # time is never labelled in this file: not scored
    assert report["latency_ms"] == {"p50": 20.0, "p99": 40.0, "mean": 25.0}
    assert report["confusions"] == [
        {"label": "type", "expected": "repair", "predicted": "complaint", "count": 1, "examples": ["暖气不热"]}
    ]
    json.dumps(report)


def test_evaluate_predictions_length_mismatch() -> None:
    with pytest.raises(ValueError, match="1 rows but 0 predictions"):
        evaluate_predictions([{"text": "x"}], [])


def test_read_rows_rejects_lines_without_text(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "你好"}\n\n{"text": "再见", "type": null}\n', encoding="utf-8")
    assert [r["text"] for r in read_rows(good)] == ["你好", "再见"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"type": "consult"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        read_rows(bad)


def test_cli_parses_eval_subcommand() -> None:
    args = build_parser().parse_args(["nlu", "eval", "nlu/dev/dev.jsonl", "--rasa-url", "http://127.0.0.1:1"])
    assert args.nlu_command == "eval"
    assert args.file == Path("nlu/dev/dev.jsonl") and args.rasa_url == "http://127.0.0.1:1"
