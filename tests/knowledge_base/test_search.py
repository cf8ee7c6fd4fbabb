"""Knowledge-base retrieval on the demo articles, a paraphrase dev set and a synthetic 10k-article index."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import jieba
import pytest

from knowledge_base.search import (
    ANSWER_THRESHOLD,
    SUGGEST_THRESHOLD,
    ArticleDoc,
    Decision,
    KnowledgeIndex,
    decide,
    to_article_doc,
)
from knowledge_base.sources import load_articles, load_taxonomy_words
from knowledge_base.tokenize import Analyzer, text_bigrams

DEV_SET = Path(__file__).with_name("kb_dev.jsonl")


@pytest.fixture(scope="module")
def articles() -> list[ArticleDoc]:
    return load_articles()


@pytest.fixture(scope="module")
def index(articles: list[ArticleDoc]) -> KnowledgeIndex:
    built = KnowledgeIndex()
    built.build(articles, load_taxonomy_words())
    return built


def _dev_set() -> list[dict[str, str]]:
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev_set_is_paraphrases_of_existing_articles(articles: list[ArticleDoc]) -> None:
    rows = _dev_set()
    known = {q for a in articles for q in (a.question, *a.similar_questions)}
    ids = {a.id for a in articles}
    assert len(rows) >= 40
    for row in rows:
        assert row["expected_id"] in ids, row
        assert row["query"] not in known, f"copied, not paraphrased: {row['query']}"


def test_dev_set_accuracy(index: KnowledgeIndex) -> None:
    rows = _dev_set()
    top1 = top3 = 0
    misses = []
    for row in rows:
        ids = [hit.article_id for hit in index.search(row["query"], k=3)]
        top1 += ids[:1] == [row["expected_id"]]
        top3 += row["expected_id"] in ids
        if ids[:1] != [row["expected_id"]]:
            misses.append((row["query"], row["expected_id"], ids))
    print(f"\nkb dev set: n={len(rows)} top1={top1 / len(rows):.3f} top3={top3 / len(rows):.3f} misses={misses}")
    assert top1 / len(rows) >= 0.8
    assert top3 / len(rows) >= 0.9


def test_exact_question_is_answered(index: KnowledgeIndex) -> None:
    hits = index.search("燃气开户需要带什么材料")
    assert hits[0].article_id == "kb-gas-001"
    assert hits[0].confidence >= ANSWER_THRESHOLD
    assert decide(hits) is Decision.ANSWER


@pytest.mark.parametrize("query", ["今天天气怎么样", "我想办护照", "我要订一张机票", "个人所得税怎么申报"])
def test_unrelated_query_is_handed_off(index: KnowledgeIndex, query: str) -> None:
    hits = index.search(query)
    assert not hits or hits[0].confidence < SUGGEST_THRESHOLD
    assert decide(hits) is Decision.HANDOFF


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("煤气开户", "kb-gas-001"),
        ("天然气怎么开户", "kb-gas-001"),
        ("暖气什么时候来", "kb-heat-001"),
        ("供热几号开始", "kb-heat-001"),
        ("敬老卡", "kb-transit-001"),
        ("公交IC卡丢了", "kb-transit-005"),
        ("欠薪", "kb-cm-001"),
        ("大修基金怎么用", "kb-housing-002"),
    ],
)
def test_synonyms(index: KnowledgeIndex, query: str, expected: str) -> None:
    assert index.search(query)[0].article_id == expected


@pytest.mark.parametrize(("surface", "canonical"), [("煤气", "燃气"), ("天然气", "燃气"), ("取暖", "供暖")])
def test_synonym_normalisation(index: KnowledgeIndex, surface: str, canonical: str) -> None:
    assert canonical in index.analyzer.analyze(f"{surface}问题").words


@pytest.mark.parametrize("query", ["", "   ", "？？！", "。。。...", "!!", "吗", "请问"])
def test_empty_and_punctuation_only_queries(index: KnowledgeIndex, query: str) -> None:
    assert index.search(query) == []


def test_hits_are_ranked_and_bounded(index: KnowledgeIndex) -> None:
    hits = index.search("燃气费怎么交", k=5)
    assert 1 <= len(hits) <= 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)
    assert len({h.article_id for h in hits}) == len(hits)
    assert index.search("燃气费怎么交", k=1) == hits[:1]
    assert index.search("燃气费怎么交", k=0) == []


def test_industry_filter_and_boost(index: KnowledgeIndex, articles: list[ArticleDoc]) -> None:
    industry = {a.id: a.industry for a in articles}
    filtered = index.search("多少钱", k=5, industry="water", industry_only=True)
    assert filtered
    assert {industry[h.article_id] for h in filtered} == {"water"}
    plain = {h.article_id: h.score for h in index.search("多少钱", k=20)}
    boosted = {h.article_id: h.score for h in index.search("多少钱", k=20, industry="scenic")}
    for article_id, score in boosted.items():
        factor = 1.2 if industry[article_id] == "scenic" else 1.0
        assert score == pytest.approx(plain[article_id] * factor, rel=1e-3)


def test_domain_words_do_not_touch_the_global_jieba_dictionary(index: KnowledgeIndex) -> None:
    assert index.search("燃气开户")
    assert "燃气开户" not in jieba.dt.FREQ


def test_to_article_doc_accepts_mappings_and_objects() -> None:
    @dataclass
    class Row:
        id: str
        question: str
        similar_questions: list[str]
        answer: str
        spoken_answer: str
        industry: str | None

    from_dict = to_article_doc({"id": "a", "question": "问", "similar_questions": ["问问"], "answer": "答"})
    assert from_dict == ArticleDoc("a", "问", ("问问",), "答", "", None)
    from_object = to_article_doc(Row("b", "问", ["x"], "答", "短", "gas"))
    assert from_object == ArticleDoc("b", "问", ("x",), "答", "短", "gas")


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KnowledgeIndex().build([ArticleDoc("x", "问题一"), ArticleDoc("x", "问题二")])


def test_rebuild_replaces_the_index(articles: list[ArticleDoc]) -> None:
    rebuilt = KnowledgeIndex()
    rebuilt.build(articles)
    assert len(rebuilt) == len(articles)
    rebuilt.build([ArticleDoc("only", "路灯不亮怎么报修", answer="拨打12319")])
    assert rebuilt.article_ids == ["only"]
    assert [h.article_id for h in rebuilt.search("燃气开户")] == []
    assert [h.article_id for h in rebuilt.search("路灯坏了")] == ["only"]


def test_unknown_words_still_match_through_bigrams() -> None:
    index = KnowledgeIndex(Analyzer())
    index.build([ArticleDoc("a", "翡翠湾小区路灯不亮"), ArticleDoc("b", "燃气开户材料")])
    assert index.search("翡翠湾")[0].article_id == "a"
    assert "#翡翠" in text_bigrams("翡翠湾")


TOPICS = ["路灯不亮", "燃气开户", "暖气不热", "垃圾清运", "井盖丢失", "公交线路", "物业收费", "违建举报"]
PLACES = ["城东区", "城西区", "城南区", "城北区", "高新区", "和平路", "人民路", "解放街"]


def _synthetic(count: int) -> list[ArticleDoc]:
    docs = []
    for i in range(count):
        topic, place = TOPICS[i % len(TOPICS)], PLACES[(i // len(TOPICS)) % len(PLACES)]
        docs.append(
            ArticleDoc(
                id=f"syn-{i}",
                question=f"{place}{topic}的问题编号{i}怎么处理",
                similar_questions=(f"{topic}事项{i}号", f"关于{place}{i}号{topic}的咨询"),
                answer=f"{place}的{topic}问题（编号{i}）由责任单位在三个工作日内处理，请保持电话畅通。" * 2,
                spoken_answer=f"编号{i}的{topic}三个工作日内处理。",
                industry="municipal" if i % 2 else "gas",
            )
        )
    return docs


def test_ten_thousand_articles_build_and_search() -> None:
    docs = _synthetic(10_000)
    index = KnowledgeIndex()
    started = time.perf_counter()
    index.build(docs)
    built = time.perf_counter() - started
    assert len(index) == 10_000
    queries = [(i, f"编号{i}{TOPICS[i % len(TOPICS)]}") for i in range(0, 10_000, 97)]
    started = time.perf_counter()
    results = [(i, index.search(query, k=3)) for i, query in queries]
    per_query_ms = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"\n10k synthetic: build {built:.2f}s, search {per_query_ms:.2f} ms/query")
    for i, hits in results:
        assert hits[0].article_id == f"syn-{i}"
    started = time.perf_counter()
    index.build(docs)
    print(f"10k synthetic: rebuild {time.perf_counter() - started:.2f}s (analysis cache)")
