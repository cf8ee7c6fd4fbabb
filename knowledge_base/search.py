"""Knowledge-base retrieval: BM25 over Chinese features with a calibrated confidence.

Each article is indexed as several passages: its question and each similar question (question field, weight 1),
and its answer plus spoken answer (answer field, weight :data:`ANSWER_WEIGHT`, character bigrams only, which keeps
indexing fast for long answers). An article's score is its best question passage plus the weighted answer score.

The confidence of a hit, in [0, 1], combines:

* query coverage: the IDF-weighted share of the query's features found in the hit's best question passage (half
  credit for features found only in the answer); words unknown to the index count against it with maximal IDF,
  so 我想办护照 scores low even if 办 matches somewhere;
* passage coverage: the IDF-weighted share of the best question passage explained by the query;
* margin: how far the hit's score is above the best competing article.

Recommended use (measured on ``tests/knowledge_base/kb_dev.jsonl``, see the tests):
answer directly when confidence ≥ :data:`ANSWER_THRESHOLD`, offer the top three between
:data:`SUGGEST_THRESHOLD` and it, hand off to an agent below :data:`SUGGEST_THRESHOLD`.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from knowledge_base.tokenize import Analysis, Analyzer, text_bigrams

#: Confidence at or above which the bot answers with the top hit.
ANSWER_THRESHOLD = 0.5
#: Confidence at or above which (and below :data:`ANSWER_THRESHOLD`) the bot offers the top three hits.
SUGGEST_THRESHOLD = 0.3

#: Weight of the answer field relative to the question field.
ANSWER_WEIGHT = 0.3
#: Weight of a character-bigram feature relative to a word feature.
BIGRAM_WEIGHT = 0.5
#: Score multiplier for articles of the requested industry.
INDUSTRY_BOOST = 1.2

_QUESTION, _ANSWER = 0, 1


@dataclass(frozen=True, slots=True)
class ArticleDoc:
    """The fields of a knowledge-base article that search needs."""

    id: str
    question: str
    similar_questions: tuple[str, ...] = ()
    answer: str = ""
    spoken_answer: str = ""
    industry: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked search result.

    Attributes:
        article_id: The article's id.
        score: The raw BM25-based score (only comparable within one query).
        confidence: Calibrated-ish confidence in [0, 1]; compare with the module thresholds.
    """

    article_id: str
    score: float
    confidence: float


class Decision(StrEnum):
    """What the dialogue should do with a search result."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    HANDOFF = "handoff"


def decide(hits: Sequence[SearchHit]) -> Decision:
    """Map search hits to a dialogue decision using the recommended thresholds.

    Args:
        hits: The result of :meth:`KnowledgeIndex.search`, best first.

    Returns:
        ANSWER, SUGGEST (offer the top three) or HANDOFF (to an agent).
    """
    if not hits or hits[0].confidence < SUGGEST_THRESHOLD:
        return Decision.HANDOFF
    return Decision.ANSWER if hits[0].confidence >= ANSWER_THRESHOLD else Decision.SUGGEST


def to_article_doc(record: ArticleDoc | Mapping[str, Any] | object) -> ArticleDoc:
    """Convert a dict or any object with the article attributes to an :class:`ArticleDoc`.

    Args:
        record: An ArticleDoc, a mapping, or an object with id, question, similar_questions, answer,
            spoken_answer and industry attributes (missing optional ones default to empty).

    Returns:
        The ArticleDoc.
    """
    if isinstance(record, ArticleDoc):
        return record
    if isinstance(record, Mapping):
        get = record.get
    else:

        def get(name: str, default: Any = None) -> Any:
            return getattr(record, name, default)

    return ArticleDoc(
        id=str(get("id")),
        question=str(get("question") or ""),
        similar_questions=tuple(str(q) for q in (get("similar_questions") or ())),
        answer=str(get("answer") or ""),
        spoken_answer=str(get("spoken_answer") or ""),
        industry=get("industry"),
    )


@dataclass(slots=True)
class _Snapshot:
    """Immutable-after-build index state, swapped atomically by :meth:`KnowledgeIndex.build`."""

    ids: list[str]
    industries: list[str | None]
    passage_article: list[int]
    passage_field: list[int]
    passage_terms: list[frozenset[str]]
    answer_passage: list[int]
    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    idf_unseen: float


def _feature_weight(feature: str) -> float:
    return BIGRAM_WEIGHT if feature.startswith("#") else 1.0


def _features(analysis: Analysis) -> list[str]:
    return [*analysis.words, *analysis.bigrams]


class KnowledgeIndex:
    """An in-memory inverted index over knowledge-base articles.

    Build it from article records and query it; rebuild it when articles change (building is fast and the swap
    is atomic, so concurrent searches see either the old or the new index).

    Args:
        analyzer: The text analyzer; a new one is created by default.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
    """

    def __init__(self, analyzer: Analyzer | None = None, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.analyzer = analyzer or Analyzer()
        self._k1 = k1
        self._b = b
        self._lock = threading.Lock()
        self._snap = _Snapshot([], [], [], [], [], [], {}, {}, 0.0)

    def __len__(self) -> int:
        return len(self._snap.ids)

    @property
    def article_ids(self) -> list[str]:
        """Ids of the indexed articles, in build order."""
        return list(self._snap.ids)

    def build(
        self, docs: Iterable[ArticleDoc | Mapping[str, Any] | object], extra_words: Iterable[str] = ()
    ) -> None:
        """(Re)build the index.

        Args:
            docs: Article records (see :func:`to_article_doc`); ids must be unique.
            extra_words: Domain words for the segmenter, e.g. taxonomy keywords and category names.

        Raises:
            ValueError: If two records share an id.
        """
        self.analyzer.add_words(extra_words)
        articles = [to_article_doc(d) for d in docs]
        ids = [a.id for a in articles]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate article ids")

        passage_article: list[int] = []
        passage_field: list[int] = []
        passage_tf: list[dict[str, int]] = []
        answer_passage: list[int] = []
        df: dict[str, int] = {}
        for index, article in enumerate(articles):
            seen: set[str] = set()
            for text in dict.fromkeys((article.question, *article.similar_questions)):
                if not text.strip():
                    continue
                tf = _count(_features(self.analyzer.analyze(text)))
                if tf:
                    passage_article.append(index)
                    passage_field.append(_QUESTION)
                    passage_tf.append(tf)
                    seen.update(tf)
            tf = _count(text_bigrams(f"{article.answer}\n{article.spoken_answer}"))
            if tf:
                answer_passage.append(len(passage_tf))
                passage_article.append(index)
                passage_field.append(_ANSWER)
                passage_tf.append(tf)
                seen.update(tf)
            else:
                answer_passage.append(-1)
            for feature in seen:
                df[feature] = df.get(feature, 0) + 1

        total = len(articles)
        idf = {f: math.log(1.0 + (total - n + 0.5) / (n + 0.5)) for f, n in df.items()}
        lengths: list[list[int]] = [[], []]
        passage_len = [sum(tf.values()) for tf in passage_tf]
        for field, length in zip(passage_field, passage_len, strict=True):
            lengths[field].append(length)
        avgdl = [sum(x) / len(x) if x else 1.0 for x in lengths]
        postings: dict[str, list[tuple[int, float]]] = {}
        k1, b = self._k1, self._b
        for passage, tf in enumerate(passage_tf):
            norm = k1 * (1.0 - b + b * passage_len[passage] / avgdl[passage_field[passage]])
            for feature, count in tf.items():
                postings.setdefault(feature, []).append((passage, count * (k1 + 1.0) / (count + norm)))

        snap = _Snapshot(
            ids=ids,
            industries=[a.industry for a in articles],
            passage_article=passage_article,
            passage_field=passage_field,
            passage_terms=[frozenset(tf) for tf in passage_tf],
            answer_passage=answer_passage,
            postings=postings,
            idf=idf,
            idf_unseen=math.log(1.0 + (total + 0.5) / 0.5),
        )
        with self._lock:
            self._snap = snap

    def search(
        self, query: str, k: int = 3, industry: str | None = None, *, industry_only: bool = False
    ) -> list[SearchHit]:
        """Rank articles for a citizen's question.

        Args:
            query: The question in Chinese (ASR text, chat message, ...).
            k: How many hits to return at most.
            industry: Prefer articles of this industry (score × :data:`INDUSTRY_BOOST`), e.g. from the IVR menu.
            industry_only: With ``industry``, drop articles of other industries instead of boosting.

        Returns:
            Up to ``k`` hits, best first; empty for an empty or punctuation-only query or when nothing matches.
        """
        snap = self._snap
        if k <= 0 or not snap.ids:
            return []
        analysis = self.analyzer.analyze(query)
        query_features = list(dict.fromkeys(_features(analysis)))
        if not query_features:
            return []

        passage_scores: dict[int, float] = {}
        for feature in query_features:
            plist = snap.postings.get(feature)
            if not plist:
                continue
            weight = snap.idf[feature] * _feature_weight(feature)
            for passage, tfn in plist:
                passage_scores[passage] = passage_scores.get(passage, 0.0) + weight * tfn

        best_question: dict[int, tuple[float, int]] = {}
        answer_score: dict[int, float] = {}
        for passage, score in passage_scores.items():
            article = snap.passage_article[passage]
            if industry_only and industry is not None and snap.industries[article] != industry:
                continue
            if snap.passage_field[passage] == _ANSWER:
                answer_score[article] = score
            elif article not in best_question or score > best_question[article][0]:
                best_question[article] = (score, passage)

        totals: dict[int, float] = {}
        for article in best_question.keys() | answer_score.keys():
            total = best_question.get(article, (0.0, -1))[0] + ANSWER_WEIGHT * answer_score.get(article, 0.0)
            if industry is not None and snap.industries[article] == industry:
                total *= INDUSTRY_BOOST
            totals[article] = total
        if not totals:
            return []

        ranked = heapq.nlargest(k + 1, totals.items(), key=lambda item: (item[1], -item[0]))
        hits = []
        for position, (article, score) in enumerate(ranked[:k]):
            if position == 0:
                competitor = ranked[1][1] if len(ranked) > 1 else 0.0
            else:
                competitor = ranked[0][1]
            margin = max(0.0, (score - competitor) / score) if score > 0 else 0.0
            passage = best_question.get(article, (0.0, snap.answer_passage[article]))[1]
            confidence = self._confidence(snap, analysis, article, passage, margin)
            hits.append(SearchHit(snap.ids[article], round(score, 4), round(confidence, 4)))
        return hits

    @staticmethod
    def _confidence(snap: _Snapshot, analysis: Analysis, article: int, passage: int, margin: float) -> float:
        """Confidence of one hit in [0, 1]: query coverage, scaled by passage coverage and margin."""
        terms = snap.passage_terms[passage] if passage >= 0 else frozenset()
        answer = snap.answer_passage[article]
        answer_terms = snap.passage_terms[answer] if answer >= 0 else frozenset()

        def credit(feature: str) -> float:
            if feature in terms:
                return 1.0
            return 0.5 if feature in answer_terms else 0.0

        # Words: one unit per query token, matched by its best-matching form. Tokens unknown to the index weigh
        # the maximal IDF, scaled down for words that are common in general Chinese.
        unit_mass = unit_matched = 0.0
        for unit in analysis.units:
            forms = unit.forms + unit.subwords
            known = [snap.idf[f] for f in forms if f in snap.idf]
            mass = max(known, default=0.0)
            if any(f not in snap.idf for f in unit.forms):
                mass = max(mass, snap.idf_unseen * unit.prior)
            unit_mass += mass
            # A token matched only through a sub-word (今天天气 → 今天) gets half credit.
            matched = [snap.idf[f] * credit(f) for f in unit.forms if f in snap.idf]
            matched += [0.5 * snap.idf[f] * credit(f) for f in unit.subwords if f in snap.idf]
            unit_matched += max(matched, default=0.0)
        unit_coverage = min(1.0, unit_matched / unit_mass) if unit_mass else 0.0

        bigram_mass = bigram_matched = 0.0
        for feature in dict.fromkeys(analysis.bigrams):
            mass = snap.idf.get(feature, snap.idf_unseen)
            bigram_mass += mass
            bigram_matched += mass * credit(feature)
        bigram_coverage = bigram_matched / bigram_mass if bigram_mass else unit_coverage
        query_coverage = 0.75 * unit_coverage + 0.25 * bigram_coverage

        passage_coverage = 0.0
        if passage >= 0 and snap.passage_field[passage] == _QUESTION:
            query_set = set(analysis.words) | set(analysis.bigrams)
            passage_mass = passage_matched = 0.0
            for feature in terms:
                mass = snap.idf[feature] * _feature_weight(feature)
                passage_mass += mass
                if feature in query_set:
                    passage_matched += mass
            passage_coverage = passage_matched / passage_mass if passage_mass else 0.0
        return min(1.0, query_coverage * (0.6 + 0.4 * passage_coverage) * (0.85 + 0.15 * margin))


def _count(features: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for feature in features:
        counts[feature] = counts.get(feature, 0) + 1
    return counts
