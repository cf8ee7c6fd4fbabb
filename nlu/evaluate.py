"""``rexian nlu eval FILE.jsonl``: measure the NLU on a labelled set and print one JSON object.

Each input line is ``{"text": ..., "type": ..., "industry": ..., "category": ..., "intent": ...,
"entities": [{"entity": "address", "value": ...}, ...], "scope": "in" | "out", "topic": ...}``; every label is
optional. ``scope``/``topic`` score jurisdiction: the decision is the bot's own
(:meth:`hub.dialogue.jurisdiction.Directory.decide`, packaged directory or ``--referral-directory``).
A label that is present but ``null`` means "expected none" (e.g. a greeting has no request type) and is scored as
the class ``none``; an absent label is not scored (``--assume-scope in`` scores lines without ``scope`` as in scope,
except those whose gold intent is ``out_of_scope``: the in-scope recall of a set of 12319 requests).
``district`` (a code or Chinese name of the demo districts, or ``null``) scores the district that
:meth:`hub.taxonomy.Taxonomy.detect_district` of the demo taxonomy (``hub/demo_data/units.yaml``) finds in the
first predicted address. Entities are scored only on lines that have an ``entities`` key, and only the entity kinds
that are labelled somewhere in the file.

The metric functions (:func:`classification_scores`, :func:`entity_scores`, :func:`percentile`,
:func:`evaluate_predictions`) are pure and tested without Rasa; :func:`run` wires them to a Rasa server,
starting the trained one itself unless one answers at ``--rasa-url`` / ``REXIAN_RASA_URL``.

Output (stdout)::

    {"n": 160, "type": {"accuracy": .., "macro_f1": .., "n": ..}, "industry": {...},
     "entities": {"address": {"precision": .., "recall": .., "f1": .., "support": ..}, ...},
     "latency_ms": {"p50": .., "p99": .., "mean": ..},
     "scope": {"out_precision": .., "out_recall": .., "in_recall": .., "n_in": .., "n_out": ..,
               "topic_accuracy": ..},
     "district": {"accuracy": .., "n": ..},
     "confusions": [{"label": "type", "expected": "repair", "predicted": "complaint", "count": 3,
                     "examples": [...]}, ...]}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LABELS = ("type", "industry", "category", "intent")
"""Sentence labels scored when present in the input lines."""

NONE = "none"
"""Class name for "no label" (gold ``null`` or no prediction)."""

OUT_OF_SCOPE_INTENT = "out_of_scope"
"""Gold intent of lines that are not 12319 matters: ``--assume-scope`` leaves them unscored."""


def normalise_value(value: str) -> str:
    """Entity value for matching: whitespace and punctuation removed, full-width folded (NFKC), lower case.

    >>> normalise_value(" 0571-8888 6666。")
    '057188886666'
    """
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if not (ch.isspace() or unicodedata.category(ch)[0] in "PZ")).lower()


def classification_scores(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Accuracy and macro-F1 of ``(expected, predicted)`` pairs.

    Macro-F1 averages the per-class F1 over every class that occurs as expected or predicted
    (a class never expected but predicted counts with F1 = 0, as in scikit-learn).

    Args:
        pairs: ``(expected, predicted)`` class names; use :data:`NONE` for "no label".

    Returns:
        ``{"n", "accuracy", "macro_f1", "per_class": {class: {"precision", "recall", "f1", "support"}}}``.
    """
    n = len(pairs)
    if n == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_class": {}}
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, predicted in pairs:
        if expected == predicted:
            tp[expected] += 1
        else:
            fp[predicted] += 1
            fn[expected] += 1
    classes = sorted({c for pair in pairs for c in pair})
    per_class = {}
    for cls in classes:
        precision, recall, f1 = _prf(tp[cls], fp[cls], fn[cls])
        per_class[cls] = {"precision": precision, "recall": recall, "f1": f1, "support": tp[cls] + fn[cls]}
    macro = sum(v["f1"] for v in per_class.values()) / len(per_class)
    return {
        "n": n,
        "accuracy": _round(sum(tp.values()) / n),
        "macro_f1": _round(macro),
        "per_class": per_class,
    }


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return _round(precision), _round(recall), _round(f1)


def _round(x: float) -> float:
    return round(x, 4)


def entity_scores(rows: Iterable[tuple[Sequence[tuple[str, str]], Sequence[tuple[str, str]]]]) -> dict[str, Any]:
    """Per-entity precision, recall and F1 over ``(expected, predicted)`` lists of ``(entity, value)``.

    Values are compared after :func:`normalise_value`; duplicates count as many times as they occur
    (multiset matching per line).

    Returns:
        ``{entity: {"precision", "recall", "f1", "support", "tp", "fp", "fn"}}`` for every entity name seen.
    """
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, predicted in rows:
        want = Counter((name, normalise_value(value)) for name, value in expected)
        got = Counter((name, normalise_value(value)) for name, value in predicted)
        for (name, _), count in (want & got).items():
            tp[name] += count
        for (name, _), count in (got - want).items():
            fp[name] += count
        for (name, _), count in (want - got).items():
            fn[name] += count
    out: dict[str, Any] = {}
    for name in sorted(set(tp) | set(fp) | set(fn)):
        precision, recall, f1 = _prf(tp[name], fp[name], fn[name])
        out[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": tp[name] + fn[name],
            "tp": tp[name],
            "fp": fp[name],
            "fn": fn[name],
        }
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Prediction:
    """What the NLU said about one line (labels are class names or :data:`NONE`)."""

    labels: dict[str, str]
    entities: list[tuple[str, str]] = field(default_factory=list)
    latency_ms: float = 0.0
    referral: str | None = None  # the topic the bot refers the message to; None: handled as a 12319 matter


def scope_scores(rows: Iterable[tuple[str, str | None, str | None]]) -> dict[str, Any]:
    """Jurisdiction scores over ``(expected scope, expected topic, referred topic)`` triples.

    ``expected scope`` is ``"in"`` or ``"out"``; ``referred topic`` is None when the bot keeps the message.
    ``topic_accuracy`` is over the out lines that have a topic and were referred (None when there are none).

    Returns:
        ``{"out_precision", "out_recall", "in_recall", "n_in", "n_out", "topic_accuracy"}``.
    """
    tp = fp = fn = tn = topic_right = topic_n = 0
    for expected, topic, referred in rows:
        if expected not in ("in", "out"):
            raise ValueError(f"scope must be 'in' or 'out', not {expected!r}")
        if expected == "out":
            if referred is None:
                fn += 1
            else:
                tp += 1
                if topic:
                    topic_n += 1
                    topic_right += referred == topic
        elif referred is None:
            tn += 1
        else:
            fp += 1
    precision, recall, _ = _prf(tp, fp, fn)
    return {
        "out_precision": precision if tp + fp else None,
        "out_recall": recall if tp + fn else None,
        "in_recall": _round(tn / (tn + fp)) if tn + fp else None,
        "n_in": tn + fp,
        "n_out": tp + fn,
        "topic_accuracy": _round(topic_right / topic_n) if topic_n else None,
    }


def demo_district_detector(units_yaml: Path | None = None) -> Callable[[str | None], str | None]:
    """``detect_district`` of the demo taxonomy's districts and gazetteer (no database needed)."""
    import yaml

    from hub.taxonomy import District, Taxonomy

    path = units_yaml or Path(__file__).resolve().parent.parent / "hub" / "demo_data" / "units.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    districts = {
        str(d["code"]): District(
            str(d["code"]),
            str(d["name_zh"]),
            str(d.get("name_en") or ""),
            aliases=tuple(d.get("aliases") or ()),
            streets=tuple(d.get("streets") or ()),
        )
        for d in data.get("districts") or []
    }
    return Taxonomy(districts=districts).detect_district


def district_scores(
    rows: Sequence[dict[str, Any]],
    predictions: Sequence[Prediction],
    detect: Callable[[str | None], str | None],
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Accuracy of the district found in each line's first predicted address (lines with a ``district`` key).

    ``names`` maps a district's Chinese name to its code, so gold labels may use either.
    """
    n = right = 0
    for row, pred in zip(rows, predictions, strict=True):
        if "district" not in row:
            continue
        gold = row["district"]
        gold = None if gold in (None, "") else (names or {}).get(str(gold), str(gold))
        address = next((value for name, value in pred.entities if name == "address"), None)
        n += 1
        right += detect(address) == gold
    return {"accuracy": _round(right / n) if n else None, "n": n}


def _gold(row: dict[str, Any], label: str) -> str:
    value = row[label]
    return NONE if value in (None, "") else str(value)


def evaluate_predictions(
    rows: Sequence[dict[str, Any]],
    predictions: Sequence[Prediction],
    max_examples: int = 3,
    detect_district: Callable[[str | None], str | None] | None = None,
) -> dict[str, Any]:
    """Score predictions against labelled rows (same order) and build the report object.

    Args:
        rows: The parsed input lines.
        predictions: One :class:`Prediction` per row.
        max_examples: Texts listed per confusion.
        detect_district: Finds a district code in an address (default: the demo taxonomy's, when a row has a
            ``district`` label).

    Returns:
        The report printed by ``rexian nlu eval``.
    """
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} rows but {len(predictions)} predictions")
    report: dict[str, Any] = {"n": len(rows)}
    confusions: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for label in LABELS:
        pairs: list[tuple[str, str]] = []
        for row, pred in zip(rows, predictions, strict=True):
            if label not in row:
                continue
            expected, predicted = _gold(row, label), pred.labels.get(label, NONE)
            pairs.append((expected, predicted))
            if expected != predicted:
                confusions[(label, expected, predicted)].append(str(row.get("text", "")))
        if pairs:
            scores = classification_scores(pairs)
            report[label] = {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"], "n": scores["n"]}
            report[label]["per_class"] = scores["per_class"]
    labelled = [row for row in rows if isinstance(row.get("entities"), list)]
    kinds = {str(e["entity"]) for row in labelled for e in row["entities"]}
    # Only entity kinds labelled somewhere in the file are scored: a file without time labels does not
    # count every time the NLU finds as a false positive.
    report["entities"] = entity_scores(
        (
            [(str(e["entity"]), str(e["value"])) for e in row["entities"]],
            [(name, value) for name, value in pred.entities if name in kinds],
        )
        for row, pred in zip(rows, predictions, strict=True)
        if isinstance(row.get("entities"), list)
    )
    scoped = [
        (str(row["scope"]), row.get("topic"), pred.referral)
        for row, pred in zip(rows, predictions, strict=True)
        if row.get("scope") is not None
    ]
    if scoped:
        report["scope"] = scope_scores(scoped)
        for row, pred in zip(rows, predictions, strict=True):
            if row.get("scope") in ("in", "out"):
                expected = NONE if row["scope"] == "in" else str(row.get("topic") or "out")
                got = pred.referral or NONE
                if expected != got and not (expected == "out" and got != NONE):
                    confusions[("referral", expected, got)].append(str(row.get("text", "")))
    if any("district" in row for row in rows):
        detect = detect_district or demo_district_detector()
        report["district"] = district_scores(rows, predictions, detect, _demo_district_names())
    latencies = [p.latency_ms for p in predictions]
    report["latency_ms"] = {
        "p50": _maybe_round(percentile(latencies, 50)),
        "p99": _maybe_round(percentile(latencies, 99)),
        "mean": _maybe_round(sum(latencies) / len(latencies)) if latencies else None,
    }
    report["confusions"] = [
        {"label": label, "expected": exp, "predicted": got, "count": len(texts), "examples": texts[:max_examples]}
        for (label, exp, got), texts in sorted(confusions.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return report


def _demo_district_names() -> dict[str, str]:
    import yaml

    path = Path(__file__).resolve().parent.parent / "hub" / "demo_data" / "units.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(d["name_zh"]): str(d["code"]) for d in data.get("districts") or []}


def _maybe_round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL file of labelled lines (blank lines skipped).

    Raises:
        ValueError: A line is not a JSON object with a string ``text``.
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ValueError(f"{path}:{number}: expected an object with a string 'text'")
        rows.append(row)
    return rows


async def predict(
    rows: Sequence[dict[str, Any]], base_url: str, parse_timeout: float = 10.0, referrals: Path | None = None
) -> list[Prediction]:
    """Parse every row's text with the Rasa server at ``base_url`` (sequentially, timing each call).

    ``referrals``: the referral directory whose decision is scored (default: the packaged one).
    """
    import aiohttp

    from hub.dialogue.jurisdiction import Directory
    from nlu.client import RasaNLU

    directory = Directory.load(referrals)

    out = []
    async with aiohttp.ClientSession() as session:
        nlu = RasaNLU(base_url, session, timeout=parse_timeout)
        for row in rows:
            started = time.perf_counter()
            result = await nlu.parse(row["text"])
            elapsed = (time.perf_counter() - started) * 1000
            labels = {
                "intent": result.intent.name,
                "type": result.type.name if result.type else NONE,
                "industry": result.industry.name if result.industry else NONE,
                "category": result.category.name if result.category else NONE,
            }
            referral = directory.decide(result.text, result.scope, result.topic, result.intent.name)
            out.append(Prediction(labels, [(e.entity, e.value) for e in result.entities], elapsed, referral))
    return out


async def evaluate_file(
    path: Path, rasa_url: str | None = None, referrals: Path | None = None, assume_scope: str | None = None
) -> dict[str, Any]:
    """Evaluate ``path`` against the Rasa server at ``rasa_url``, or a server started from the trained model.

    ``assume_scope``: the scope label of lines that have none (default: such lines are not scored for scope).
    """
    from nlu import runtime

    rows = read_rows(path)
    if assume_scope is not None:
        rows = [
            {**row, "scope": assume_scope}
            if row.get("scope") is None and row.get("intent") != OUT_OF_SCOPE_INTENT
            else row
            for row in rows
        ]
    if rasa_url and await runtime.find_running(rasa_url):
        log.info("using the Rasa server at %s", rasa_url)
        predictions = await predict(rows, rasa_url, referrals=referrals)
    else:
        if rasa_url:
            log.warning("no Rasa server answers at %s; starting one", rasa_url)
        venv = await asyncio.to_thread(runtime.ensure_venv)
        model = await asyncio.to_thread(runtime.ensure_model)
        async with runtime.RasaServer(model, venv=venv) as server:
            predictions = await predict(rows, server.base_url, referrals=referrals)
    log.info("evaluated %d lines from %s", len(rows), path)
    return evaluate_predictions(rows, predictions)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rexian nlu eval``."""
    parser.add_argument("file", type=Path, metavar="FILE.jsonl", help="labelled lines, e.g. nlu/dev/dev.jsonl")
    parser.add_argument(
        "--rasa-url",
        default=os.environ.get("REXIAN_RASA_URL"),
        help="use the Rasa server answering here (env REXIAN_RASA_URL); default: start the trained model",
    )
    parser.add_argument("--per-class", action="store_true", help="include per-class precision/recall/F1")
    parser.add_argument(
        "--assume-scope",
        choices=("in", "out"),
        default=None,
        help="score lines without a 'scope' label as this scope (e.g. 'in' for a set of 12319 requests)",
    )
    parser.add_argument(
        "--referral-directory",
        type=Path,
        default=None,
        metavar="FILE",
        help="the referral directory whose jurisdiction decision is scored (default: the packaged one)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``rexian nlu eval``: the report as one JSON line on stdout, logs on stderr."""
    report = asyncio.run(
        evaluate_file(
            args.file, args.rasa_url, getattr(args, "referral_directory", None), getattr(args, "assume_scope", None)
        )
    )
    if not getattr(args, "per_class", False):
        for label in LABELS:
            if isinstance(report.get(label), dict):
                report[label].pop("per_class", None)
    json.dump(report, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
