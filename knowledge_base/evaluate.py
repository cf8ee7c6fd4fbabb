"""``rexian kb eval``: retrieval quality and latency of a FAQ file, measured in a fresh temporary store.

The CSV (or .xlsx) is imported into a new SQLite store in a temporary directory (migrated, with the demo
taxonomy for segmentation words and industry codes — never the live store), every article is published, and
each query goes through :class:`knowledge_base.hub_adapter.IndexedKnowledgeBase` — the object the bot uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("rexian.kb.eval")

PrepareStore = Callable[[AsyncEngine], Awaitable[None]]


def add_parser(sub: Any) -> None:
    """Register ``kb eval`` on the ``rexian`` subcommand parsers."""
    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    ev = kb_sub.add_parser(
        "eval",
        help=(
            "measure retrieval on a FAQ file in a temporary store; prints JSON {n, top1, top3, mrr, answered, "
            "wrong_answer, p50_ms, p99_ms[, by_style][, negatives]}"
        ),
    )
    ev.add_argument("--kb", type=Path, required=True, help="FAQ.csv (id,question,similar_questions,answer,industry)")
    ev.add_argument(
        "--queries",
        type=Path,
        required=True,
        help='QUERIES.jsonl of {"query": ..., "expected_id": ... or null, "style": optional}',
    )
    ev.add_argument("--no-embeddings", action="store_true", help="BM25 alone (default: fused with sentence embeddings)")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def evaluate(
    kb_file: Path, queries_file: Path, prepare: PrepareStore, *, embeddings: bool = True
) -> dict[str, Any]:
    """Import ``kb_file`` into a temporary store and score ``queries_file`` against it.

    ``prepare`` migrates the new store and loads the demo taxonomy without its articles (the composition root
    passes it: the knowledge base does not know the other packages' migrations).
    """
    from hub.storage.engine import create_engine, sqlite_url
    from hub.storage.taxonomy import load_taxonomy
    from knowledge_base.exchange import read_table, row_to_content
    from knowledge_base.hub_adapter import IndexedKnowledgeBase
    from knowledge_base.store import KnowledgeStore

    query_text = await asyncio.to_thread(queries_file.read_text, encoding="utf-8")
    queries = [json.loads(line) for line in query_text.splitlines() if line.strip()]
    rows = read_table(kb_file.name, await asyncio.to_thread(kb_file.read_bytes))
    with tempfile.TemporaryDirectory(prefix="rexian-kb-eval-") as tmp:
        engine = create_engine(sqlite_url(Path(tmp)))
        try:
            await prepare(engine)
            taxonomy = await load_taxonomy(engine)
            store = KnowledgeStore(engine)
            for line, row in rows:
                content = row_to_content(row)
                if content["industry"] and content["industry"] not in taxonomy.industries:
                    log.warning("line %d: unknown industry %r ignored", line, content["industry"])
                    content["industry"] = None
                for name, known in (("category", taxonomy.categories), ("unit", taxonomy.units)):
                    if content[name] and content[name] not in known:
                        content[name] = None
                article_id = (row.get("id") or "").strip() or f"row-{line}"
                await store.create(article_id, content, None, action="import")
                await store.set_status(article_id, "published", None, "publish", "kb eval")
            kb = IndexedKnowledgeBase(engine, embeddings=embeddings)
            started = time.perf_counter()
            await kb.reload(taxonomy, wait=True)
            log.info("indexed %d articles in %.2f s", kb.size, time.perf_counter() - started)
            results: list[tuple[dict[str, Any], list[str], float]] = []
            latencies: list[float] = []
            for item in queries:
                started = time.perf_counter()
                hits = kb.search(str(item["query"]), k=10)
                latencies.append((time.perf_counter() - started) * 1000)
                results.append((item, [h.article_id for h in hits], hits[0].confidence if hits else 0.0))
        finally:
            await engine.dispose()
    return summarise(results, latencies)


def _rates(rows: list[tuple[dict[str, Any], list[str], float]]) -> dict[str, Any]:
    """Ranking and decision figures of queries that expect an article."""
    from knowledge_base.search import ANSWER_THRESHOLD

    n = len(rows)
    top1 = top3 = answered = wrong = 0
    reciprocal = 0.0
    for item, ids, confidence in rows:
        expected = str(item.get("expected_id"))
        rank = ids.index(expected) + 1 if expected in ids else 0
        if rank:
            top1 += rank == 1
            top3 += rank <= 3
            reciprocal += 1 / rank
        else:
            log.info("miss: %s (expected %s, got %s)", item["query"], expected, ids[:3])
        if confidence >= ANSWER_THRESHOLD:
            answered += 1
            wrong += rank != 1
    return {
        "n": n,
        "top1": round(top1 / n, 4) if n else 0.0,
        "top3": round(top3 / n, 4) if n else 0.0,
        "mrr": round(reciprocal / n, 4) if n else 0.0,
        "answered": round(answered / n, 4) if n else 0.0,
        "wrong_answer": round(wrong / n, 4) if n else 0.0,
    }


def summarise(results: list[tuple[dict[str, Any], list[str], float]], latencies: list[float]) -> dict[str, Any]:
    """The metrics JSON of an evaluation.

    ``results`` holds, per query line, the line, the ranked article ids and the top hit's confidence. Lines whose
    ``expected_id`` is null are negatives (no article answers them). ``answered`` is the share of queries the bot
    answers directly (top confidence ≥ the answer threshold), ``wrong_answer`` the share it answers with another
    article than expected; for negatives ``answered`` and ``offered`` (confidence ≥ the suggest threshold) should
    be low. ``by_style`` repeats the figures per ``style`` when the lines carry one.
    """
    from knowledge_base.search import ANSWER_THRESHOLD, SUGGEST_THRESHOLD

    positives = [r for r in results if r[0].get("expected_id") is not None]
    negatives = [r for r in results if r[0].get("expected_id") is None]
    out: dict[str, Any] = _rates(positives)
    out["p50_ms"] = round(statistics.median(latencies), 3) if latencies else 0.0
    out["p99_ms"] = round(_percentile(latencies, 0.99), 3)
    styles = sorted({str(r[0]["style"]) for r in positives if r[0].get("style")})
    if styles:
        out["by_style"] = {s: _rates([r for r in positives if r[0].get("style") == s]) for s in styles}
    if negatives:
        n = len(negatives)
        out["negatives"] = {
            "n": n,
            "answered": round(sum(c >= ANSWER_THRESHOLD for *_, c in negatives) / n, 4),
            "offered": round(sum(c >= SUGGEST_THRESHOLD for *_, c in negatives) / n, 4),
        }
    return out


def run(args: argparse.Namespace, prepare: PrepareStore) -> int:
    """Run ``kb eval``: JSON on stdout, logs on stderr."""
    result = asyncio.run(evaluate(args.kb, args.queries, prepare, embeddings=not args.no_embeddings))
    print(json.dumps(result), file=sys.stdout)
    return 0
