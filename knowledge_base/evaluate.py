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
        help="measure retrieval on a FAQ file in a temporary store; prints JSON {n, top1, top3, mrr, p50_ms, p99_ms}",
    )
    ev.add_argument("--kb", type=Path, required=True, help="FAQ.csv (id,question,similar_questions,answer,industry)")
    ev.add_argument("--queries", type=Path, required=True, help='QUERIES.jsonl of {"query": ..., "expected_id": ...}')


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def evaluate(kb_file: Path, queries_file: Path, prepare: PrepareStore) -> dict[str, Any]:
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
            kb = IndexedKnowledgeBase(engine)
            started = time.perf_counter()
            await kb.reload(taxonomy)
            log.info("indexed %d articles in %.2f s", kb.size, time.perf_counter() - started)
            top1 = top3 = 0
            reciprocal = 0.0
            latencies: list[float] = []
            for item in queries:
                started = time.perf_counter()
                hits = kb.search(str(item["query"]), k=10)
                latencies.append((time.perf_counter() - started) * 1000)
                ids = [h.article_id for h in hits]
                expected = str(item.get("expected_id"))
                if expected in ids:
                    rank = ids.index(expected) + 1
                    top1 += rank == 1
                    top3 += rank <= 3
                    reciprocal += 1 / rank
                else:
                    log.info("miss: %s (expected %s, got %s)", item["query"], expected, ids[:3])
        finally:
            await engine.dispose()
    n = len(queries)
    return {
        "n": n,
        "top1": round(top1 / n, 4) if n else 0.0,
        "top3": round(top3 / n, 4) if n else 0.0,
        "mrr": round(reciprocal / n, 4) if n else 0.0,
        "p50_ms": round(statistics.median(latencies), 3) if latencies else 0.0,
        "p99_ms": round(_percentile(latencies, 0.99), 3),
    }


def run(args: argparse.Namespace, prepare: PrepareStore) -> int:
    """Run ``kb eval``: JSON on stdout, logs on stderr."""
    result = asyncio.run(evaluate(args.kb, args.queries, prepare))
    print(json.dumps(result), file=sys.stdout)
    return 0
