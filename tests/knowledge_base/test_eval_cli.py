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
    assert set(result) == {"n", "top1", "top3", "mrr", "p50_ms", "p99_ms"}
    assert result["n"] == len(DEV_SET.read_text(encoding="utf-8").strip().splitlines())
    assert result["top1"] >= 0.9 and result["top3"] >= 0.95 and result["mrr"] >= result["top1"]
    assert not data_dir.exists()  # nothing written outside the temporary store
