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
from collections import Counter
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
#: Features whose IDF is below this (present in nearly every article) are ignored when scoring.
MIN_IDF = 0.05
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
    passage_tfn: list[dict[str, float]]
    first_passage: list[int]
    answer_passage: list[int]
    postings: dict[str, list[tuple[int, float]]]
    max_gain: dict[str, float]
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
        self._snap = _Snapshot([], [], [], [], [], [0], [], {}, {}, {}, 0.0)

    def __len__(self) -> int:
        return len(self._snap.ids)

    @property
    def article_ids(self) -> list[str]:
        """Ids of the indexed articles, in build order."""
        return list(self._snap.ids)

    def build(self, docs: Iterable[ArticleDoc | Mapping[str, Any] | object], extra_words: Iterable[str] = ()) -> None:
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

        analyze = self.analyzer.analyze
        passage_article: list[int] = []
        passage_field: list[int] = []
        passage_tf: list[Counter[str]] = []
        first_passage: list[int] = []
        answer_passage: list[int] = []
        df: Counter[str] = Counter()
        for index, article in enumerate(articles):
            first_passage.append(len(passage_tf))
            seen: set[str] = set()
            for text in dict.fromkeys((article.question, *article.similar_questions)):
                analysis = analyze(text)
                if analysis:
                    tf = Counter(analysis.words)
                    tf.update(analysis.bigrams)
                    passage_article.append(index)
                    passage_field.append(_QUESTION)
                    passage_tf.append(tf)
                    seen.update(tf)
            tf = Counter(text_bigrams(f"{article.answer}\n{article.spoken_answer}"))
            if tf:
                answer_passage.append(len(passage_tf))
                passage_article.append(index)
                passage_field.append(_ANSWER)
                passage_tf.append(tf)
                seen.update(tf)
            else:
                answer_passage.append(-1)
            df.update(seen)
        first_passage.append(len(passage_tf))

        total = len(articles)
        idf = {f: math.log(1.0 + (total - n + 0.5) / (n + 0.5)) for f, n in df.items()}
        passage_len = [tf.total() for tf in passage_tf]
        avgdl = []
        for field in (_QUESTION, _ANSWER):
            lengths = [n for n, f in zip(passage_len, passage_field, strict=True) if f == field]
            avgdl.append(sum(lengths) / len(lengths) if lengths else 1.0)
        postings: dict[str, list[tuple[int, float]]] = {}
        passage_tfn: list[dict[str, float]] = []
        k1, b = self._k1, self._b
        for passage, tf in enumerate(passage_tf):
            norm = k1 * (1.0 - b + b * passage_len[passage] / avgdl[passage_field[passage]])
            weights = {feature: count * (k1 + 1.0) / (count + norm) for feature, count in tf.items()}
            passage_tfn.append(weights)
            for feature, tfn in weights.items():
                plist = postings.get(feature)
                if plist is None:
                    postings[feature] = [(passage, tfn)]
                else:
                    plist.append((passage, tfn))

        # Upper bound of what one feature can add to an article's score (best question passage + answer).
        max_gain: dict[str, float] = {}
        for feature, plist in postings.items():
            best = [0.0, 0.0]
            for passage, tfn in plist:
                field = passage_field[passage]
                if tfn > best[field]:
                    best[field] = tfn
            max_gain[feature] = idf[feature] * _feature_weight(feature) * (best[0] + ANSWER_WEIGHT * best[1])

        snap = _Snapshot(
            ids=ids,
            industries=[a.industry for a in articles],
            passage_article=passage_article,
            passage_field=passage_field,
            passage_tfn=passage_tfn,
            first_passage=first_passage,
            answer_passage=answer_passage,
            postings=postings,
            max_gain=max_gain,
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

        passage_scores = self._accumulate(snap, query_features, k + 1, industry, industry_only)
        best_question, totals = self._aggregate(snap, passage_scores, industry, industry_only)
        if not totals:
            return []

        ranked = heapq.nlargest(k + 1, totals.items(), key=lambda item: (item[1], -item[0]))
        hits = []
        for position, (article, score) in enumerate(ranked[:k]):
            # Margin over the strongest other article: the runner-up for the first hit, the first for the rest.
            competitor = (ranked[1][1] if len(ranked) > 1 else 0.0) if position == 0 else ranked[0][1]
            margin = max(0.0, (score - competitor) / score) if score > 0 else 0.0
            passage = best_question.get(article, (0.0, snap.answer_passage[article]))[1]
            confidence = self._confidence(snap, analysis, article, passage, margin)
            hits.append(SearchHit(snap.ids[article], round(score, 4), round(confidence, 4)))
        return hits

    def _accumulate(
        self, snap: _Snapshot, features: list[str], depth: int, industry: str | None, industry_only: bool
    ) -> dict[int, float]:
        """BM25 scores of the passages that can still reach the top ``depth`` articles (MaxScore pruning).

        Features are processed rarest first. Once the ``depth``-th best article already scores more than any
        article could gain from the remaining features, the remaining (common, long) posting lists are no longer
        scanned: only the passages of articles that can still make the top are updated, by direct lookup.
        """
        boost = INDUSTRY_BOOST if industry is not None else 1.0
        entries = sorted(
            (
                (snap.max_gain[f] * boost, snap.idf[f] * _feature_weight(f), f)
                for f in features
                if f in snap.postings and snap.idf[f] >= MIN_IDF
            ),
            reverse=True,
        )
        remaining = [0.0] * (len(entries) + 1)
        for i in range(len(entries) - 1, -1, -1):
            remaining[i] = remaining[i + 1] + entries[i][0]
        scores: dict[int, float] = {}
        candidates: list[int] | None = None
        for i, (_, weight, feature) in enumerate(entries):
            # Cheap test first: pruning needs some passage to already beat everything still to come.
            if candidates is None and scores and max(scores.values()) * boost > remaining[i]:
                _, totals = self._aggregate(snap, scores, industry, industry_only)
                if len(totals) >= depth:
                    theta = heapq.nlargest(depth, totals.values())[-1]
                    if theta > remaining[i]:
                        candidates = [a for a, t in totals.items() if t + remaining[i] >= theta]
            if candidates is None:
                for passage, tfn in snap.postings[feature]:
                    scores[passage] = scores.get(passage, 0.0) + weight * tfn
                continue
            plist = snap.postings[feature]
            if len(plist) < 4 * len(candidates):
                wanted = set(candidates)
                article_of = snap.passage_article
                for passage, tfn in plist:
                    if article_of[passage] in wanted:
                        scores[passage] = scores.get(passage, 0.0) + weight * tfn
                continue
            for article in candidates:
                for passage in range(snap.first_passage[article], snap.first_passage[article + 1]):
                    gain = snap.passage_tfn[passage].get(feature)
                    if gain is not None:
                        scores[passage] = scores.get(passage, 0.0) + weight * gain
        return scores

    @staticmethod
    def _aggregate(
        snap: _Snapshot, scores: dict[int, float], industry: str | None, industry_only: bool
    ) -> tuple[dict[int, tuple[float, int]], dict[int, float]]:
        """Per article: the best question passage (score, passage) and the total score."""
        best_question: dict[int, tuple[float, int]] = {}
        answer_score: dict[int, float] = {}
        for passage, score in scores.items():
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
        return best_question, totals

    @staticmethod
    def _confidence(snap: _Snapshot, analysis: Analysis, article: int, passage: int, margin: float) -> float:
        """Confidence of one hit in [0, 1]: query coverage, scaled by passage coverage and margin."""
        empty: dict[str, float] = {}
        terms = snap.passage_tfn[passage] if passage >= 0 else empty
        answer = snap.answer_passage[article]
        answer_terms = snap.passage_tfn[answer] if answer >= 0 else empty

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
