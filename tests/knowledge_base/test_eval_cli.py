"""``rexian kb eval``: imports a FAQ CSV into a temporary store and prints one JSON line of metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from knowledge_base.sources import load_articles
from rexian.cli import main

DEV_SET = Path(__file__).with_name("kb_dev.jsonl")


def test_kb_eval_prints_metrics_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faq = tmp_path / "FAQ.csv"
    with faq.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "similar_questions", "answer", "industry", "spoken_answer"])
        for a in load_articles():
            writer.writerow([a.id, a.question, "|".join(a.similar_questions), a.answer, a.industry, a.spoken_answer])
    data_dir = tmp_path / "live"
    assert main(["kb", "eval", "--kb", str(faq), "--queries", str(DEV_SET)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert set(result) == {"n", "top1", "top3", "mrr", "answered", "wrong_answer", "p50_ms", "p99_ms"}
    assert result["n"] == len(DEV_SET.read_text(encoding="utf-8").strip().splitlines())
    assert result["top1"] >= 0.9 and result["top3"] >= 0.95 and result["mrr"] >= result["top1"]
    assert not data_dir.exists()  # nothing written outside the temporary store


TEAM = Path(__file__).resolve().parents[2] / "knowledge_base" / "dev" / "team"


@pytest.mark.parametrize("flags", [[], ["--no-embeddings"]])
def test_kb_eval_breaks_down_by_style_and_scores_negatives(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["kb", "eval", *flags, "--kb", str(TEAM / "faq.csv"), "--queries", str(TEAM / "queries.jsonl")]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 200
    assert set(result["by_style"]) == {"asr", "colloquial", "synonym", "traditional", "typo"}
    assert all(s["n"] == 40 for s in result["by_style"].values())
    assert result["negatives"]["n"] == 40 and result["negatives"]["answered"] == 0.0
    assert result["top1"] >= 0.95 and result["wrong_answer"] <= 0.01
    if not flags:  # fused with embeddings: answers far more paraphrases directly
        assert result["answered"] >= 0.7 and result["top3"] >= 0.99
