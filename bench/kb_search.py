"""Knowledge-base search latency over 10,000 articles loaded from a real store (SQLite, or PostgreSQL by URL).

Prints one JSON object: build time and search p50/p99 for synthetic queries and for the demo dev set's paraphrases
(the anchor: 38 demo articles, same queries, same code). Logs go to stderr.

Each query set runs three rounds; its ``first_round`` is the first round alone, where no query's analysis is cached
yet. ``reload_s`` is a second full reload of the same articles (what follows a publish): a fresh index, re-using
the process-wide analysis cache.

With sentence embeddings (the default, ``knowledge_base.embed``) the first build embeds every article once; the
second reload re-uses the process-wide vector cache. ``--no-embeddings`` measures BM25 alone.

    python bench/kb_search.py [--articles 10000] [--no-embeddings] [--database-url postgresql+asyncpg://...]
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
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.storage.engine import begin, create_engine, sqlite_url  # noqa: E402
from hub.storage.taxonomy import load_taxonomy  # noqa: E402
from hub.storage.users import UserStore  # noqa: E402
from knowledge_base.hub_adapter import IndexedKnowledgeBase  # noqa: E402
from knowledge_base.store import articles  # noqa: E402
from rexian.demo import load_demo  # noqa: E402
from rexian.schema import migrate  # noqa: E402

TOPICS = ["路灯不亮", "燃气开户", "暖气不热", "垃圾清运", "井盖丢失", "公交线路", "物业收费", "违建举报"]
PLACES = ["城东区", "城西区", "城南区", "城北区", "高新区", "和平路", "人民路", "解放街"]
DEV_SET = ROOT / "tests" / "knowledge_base" / "kb_dev.jsonl"


def synthetic_rows(count: int) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for i in range(count):
        topic, place = TOPICS[i % len(TOPICS)], PLACES[(i // len(TOPICS)) % len(PLACES)]
        rows.append(
            {
                "id": f"syn-{i}",
                "question": f"{place}{topic}的问题编号{i}怎么处理",
                "similar_questions": [f"{topic}事项{i}号", f"关于{place}{i}号{topic}的咨询"],
                "answer": f"{place}的{topic}问题（编号{i}）由责任单位在三个工作日内处理，请保持电话畅通。" * 2,
                "spoken_answer": f"编号{i}的{topic}三个工作日内处理。",
                "industry": "municipal" if i % 2 else "gas",
                "category": None,
                "unit": None,
                "tags": [],
                "status": "published",
                "version": 1,
                "updated_at": now,
            }
        )
    return rows


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 3),
    }


def time_queries(kb: IndexedKnowledgeBase, queries: list[str], rounds: int = 3) -> dict[str, object]:
    """Percentiles over all rounds, and over the first round alone (queries not analysed before)."""
    latencies = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            kb.search(query, k=3)
            latencies.append((time.perf_counter() - started) * 1000)
    return {**percentiles(latencies), "first_round": percentiles(latencies[: len(queries)])}


async def run(count: int, url: str | None, embeddings: bool = True) -> dict[str, object]:
    dev = [json.loads(line)["query"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(url or sqlite_url(Path(tmp)))
        try:
            await migrate(engine)
            await load_demo(engine, UserStore(engine))
            taxonomy = await load_taxonomy(engine)
            anchor = IndexedKnowledgeBase(engine, embeddings=embeddings)
            await anchor.reload(taxonomy, wait=True)
            anchor_times = time_queries(anchor, dev)
            rows = synthetic_rows(count)
            async with begin(engine) as conn:
                for start in range(0, len(rows), 1000):
                    await conn.execute(articles.insert(), rows[start : start + 1000])
            kb = IndexedKnowledgeBase(engine, embeddings=embeddings)
            started = time.perf_counter()
            await kb.reload(taxonomy, wait=True)
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            await IndexedKnowledgeBase(engine, embeddings=embeddings).reload(taxonomy, wait=True)
            reload_s = time.perf_counter() - started
            synthetic = [f"编号{i}{TOPICS[i % len(TOPICS)]}" for i in range(0, count, max(1, count // 200))]
            result: dict[str, object] = {
                "backend": engine.url.get_backend_name(),
                "embeddings": embeddings,
                "articles": kb.size,
                "load_and_build_s": round(build_s, 2),
                "reload_s": round(reload_s, 2),
                "synthetic": time_queries(kb, synthetic),
                "dev_queries": time_queries(kb, dev),
                "anchor_demo_kb_dev_queries": anchor_times,
            }
            async with begin(engine) as conn:
                await conn.execute(sa.delete(articles).where(articles.c.id.like("syn-%")))
            return result
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--no-embeddings", action="store_true", help="BM25 alone")
    parser.add_argument("--database-url", default=None, help="an EMPTY database (PostgreSQL); default: temp SQLite")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(run(args.articles, args.database_url, not args.no_embeddings))))


if __name__ == "__main__":
    main()
