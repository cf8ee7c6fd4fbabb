"""Knowledge-base retrieval on the demo articles, a paraphrase dev set and a synthetic 10k-article index."""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jieba
import pytest

from knowledge_base.search import (
    ANSWER_THRESHOLD,
    MIN_IDF,
    SUGGEST_THRESHOLD,
    ArticleDoc,
    Decision,
    KnowledgeIndex,
    decide,
    to_article_doc,
)
from knowledge_base.segment import cut_precise
from knowledge_base.sources import load_articles, load_taxonomy_words
from knowledge_base.tokenize import _JIEBA, Analyzer, bigram_counts, normalize, text_bigrams

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


# --- the fast paths must not change results -------------------------------------------------------------------


def test_fast_segmenter_matches_jieba(articles: list[ArticleDoc], index: KnowledgeIndex) -> None:
    tokenizer = _JIEBA.get()  # with the demo taxonomy words the index fixture added
    texts = [t for a in articles for t in (a.question, *a.similar_questions, a.answer, a.spoken_answer)]
    texts += [row["query"] for row in _dev_set()]
    texts += [t for d in _synthetic(300) for t in (d.question, *d.similar_questions, d.answer)]
    pool = "".join(texts[:200]) + "abcXYZ0123 \t\r\n-_.%#&+，。！？ＡＢ１２"
    rng = random.Random(4)
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for text in texts:
        for variant in (text, normalize(text)):
            assert cut_precise(tokenizer, variant) == tokenizer.lcut(variant, HMM=False), variant


def _reference_search(
    docs: list[ArticleDoc], analyzer: Analyzer, query: str, industry: str | None = None, industry_only: bool = False
) -> list[tuple[str, float]]:
    """Plain-Python BM25 over passages, as documented in knowledge_base.search: every article, no shortcuts."""
    k1, b = 1.2, 0.75
    passages: list[tuple[int, int, Counter[str]]] = []  # (article, field 0=question 1=answer, tf)
    for number, doc in enumerate(docs):
        for text in dict.fromkeys((doc.question, *doc.similar_questions)):
            analysis = analyzer.analyze(text)
            if analysis:
                passages.append((number, 0, Counter([*analysis.words, *analysis.bigrams])))
        answer = Counter(text_bigrams(f"{doc.answer}\n{doc.spoken_answer}"))
        if answer:
            passages.append((number, 1, answer))
    df: Counter[str] = Counter()
    for number in range(len(docs)):
        df.update({f for article, _, tf in passages if article == number for f in tf})
    idf = {f: math.log(1.0 + (len(docs) - n + 0.5) / (n + 0.5)) for f, n in df.items()}
    avgdl = {}
    for field in (0, 1):
        lengths = [tf.total() for _, f, tf in passages if f == field]
        avgdl[field] = sum(lengths) / len(lengths) if lengths else 1.0
    analysis = analyzer.analyze(query)
    features = [f for f in dict.fromkeys([*analysis.words, *analysis.bigrams]) if idf.get(f, 0.0) >= MIN_IDF]
    best_question = [0.0] * len(docs)
    answer_score = [0.0] * len(docs)
    for article, field, tf in passages:
        norm = k1 * (1.0 - b + b * tf.total() / avgdl[field])
        score = sum(
            idf[f] * (0.5 if f.startswith("#") else 1.0) * tf[f] * (k1 + 1.0) / (tf[f] + norm)
            for f in features
            if f in tf
        )
        if field == 0:
            best_question[article] = max(best_question[article], score)
        else:
            answer_score[article] = score
    ranked = []
    for number, doc in enumerate(docs):
        total = best_question[number] + 0.3 * answer_score[number]
        if industry is not None and doc.industry == industry:
            total *= 1.2
        elif industry_only and industry is not None:
            continue
        if total > 0:
            ranked.append((doc.id, total))
    return sorted(ranked, key=lambda item: -item[1])


@pytest.mark.parametrize(
    ("query", "industry", "industry_only"),
    [
        ("城东区路灯不亮的问题怎么处理", None, False),  # only common features: nothing can be skipped
        ("编号17燃气开户", None, False),
        ("编号17燃气开户", "gas", False),
        ("暖气不热", "municipal", True),
        ("三个工作日", None, False),  # answer-only matches
        ("燃气费怎么交", None, False),
    ],
)
def test_vectorised_scores_match_a_plain_reference(
    articles: list[ArticleDoc], query: str, industry: str | None, industry_only: bool
) -> None:
    docs = articles + _synthetic(400)
    index = KnowledgeIndex()
    index.build(docs)
    expected = _reference_search(docs, index.analyzer, query, industry, industry_only)
    hits = index.search(query, k=len(docs), industry=industry, industry_only=industry_only)
    assert [h.article_id for h in hits] == [article_id for article_id, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected], abs=1e-3)
    for k in (1, 3, 7):  # a shallower search is a prefix of a deeper one (the partial sort is exact)
        shallow = index.search(query, k=k, industry=industry, industry_only=industry_only)
        assert shallow == index.search(query, k=k + 1, industry=industry, industry_only=industry_only)[:k]


def test_top_k_ties_go_to_the_article_built_first() -> None:
    docs = [ArticleDoc(f"same-{i}", "路灯不亮怎么报修", answer="拨打12319") for i in range(12)]
    docs += _synthetic(200)[1::8]  # other topics, so that the shared words are not in every article
    index = KnowledgeIndex()
    index.build(docs)
    for k in (1, 3, 5, 12, 20):
        hits = index.search("路灯不亮", k=k)
        assert [h.article_id for h in hits] == [f"same-{i}" for i in range(min(k, 12))]
        assert len({h.score for h in hits}) == 1


def test_shared_analysis_cache_follows_the_dictionary() -> None:
    first = Analyzer()
    before = first.analyze("枫桥湾畔小区停水")
    assert "枫桥湾畔" not in before.words
    Analyzer(domain_words=["枫桥湾畔"]).analyze("x")  # another analyzer changes the shared dictionary
    assert "枫桥湾畔" in first.analyze("枫桥湾畔小区停水").words
    assert Analyzer().analyze("枫桥湾畔小区停水") is first.analyze("枫桥湾畔小区停水")  # one cache per synonym table
    other = Analyzer(synonyms={"停水": ["枫桥湾畔"]})
    assert "停水" in other.analyze("枫桥湾畔小区").words


def test_bigram_counts_match_text_bigrams(articles: list[ArticleDoc]) -> None:
    texts = [f"{a.answer}\n{a.spoken_answer}" for a in articles] + ["", "！", "ＡＢ 测试，测试测试", "a"]
    for text in texts:
        assert list(bigram_counts(text).items()) == list(Counter(text_bigrams(text)).items())
