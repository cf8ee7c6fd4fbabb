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

With a sentence embedder (:mod:`knowledge_base.embed`) the ranking fuses BM25 with the cosine similarity of the
query and each article, and a hit's confidence is the better of the one above and an embedding confidence (cosine
level and lead over the next article); see ``docs/adr/0033-kb-paraphrases.md``.

Recommended use (measured on ``tests/knowledge_base/kb_dev.jsonl``, see the tests):
answer directly when confidence ≥ :data:`ANSWER_THRESHOLD`, offer the top three between
:data:`SUGGEST_THRESHOLD` and it, hand off to an agent below :data:`SUGGEST_THRESHOLD`.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge_base.embed import Embedder
from knowledge_base.tokenize import Analysis, Analyzer, bigram_counts, normalize

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

# Sentence embeddings (optional, see knowledge_base.embed). Every question passage (the question and each similar
# question) is embedded; an article's cosine is its best passage's. An article's fused score is its BM25 total
# divided by the best BM25 total of the query, plus EMBED_WEIGHT × its cosine rescaled from [EMBED_FLOOR, 1] to
# [0, 1]; its embedding confidence rises from 0 at cosine EMBED_CONFIDENT to 1 at EMBED_CONFIDENT + EMBED_SPAN,
# times its lead over the next article's cosine (full at EMBED_MARGIN). Chosen on the team-written dev sets (ADR
# 0033): the most answers at which no unrelated question of knowledge_base/dev/team reaches ANSWER_THRESHOLD.
EMBED_WEIGHT = 5.0
EMBED_FLOOR = 0.8
EMBED_CONFIDENT = 0.9
EMBED_SPAN = 0.04
EMBED_MARGIN = 0.01


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


_IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]


class _Vocabulary(dict[str, int]):
    """Feature → feature number; a new feature gets the next number on first lookup."""

    def __missing__(self, feature: str) -> int:
        number = self[feature] = len(self)
        return number


def _csr(keys: _IntArray, size: int) -> tuple[_IntArray, _IntArray]:
    """(order, pointers): a stable sort of ``keys`` and where each key's run starts (``size + 1`` entries)."""
    pointers = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=pointers[1:])
    return np.argsort(keys, kind="stable"), pointers


def _run_max(values: _FloatArray, pointers: _IntArray) -> _FloatArray:
    """The maximum of each run ``values[pointers[i]:pointers[i + 1]]`` (0 for empty runs)."""
    out = np.zeros(len(pointers) - 1)
    starts = pointers[:-1]
    nonempty = np.flatnonzero(pointers[1:] > starts)
    if len(nonempty):
        out[nonempty] = np.maximum.reduceat(values, starts[nonempty])
    return out


@dataclass(slots=True)
class _Field:
    """One field's passages as arrays: postings by feature, and each passage's features in text order.

    Postings of feature ``f`` are ``slots[ptr[f]:ptr[f + 1]]`` (passage numbers, ascending) with the matching
    ``gains`` (IDF × feature weight × BM25 term weight: exactly what the feature adds to the passage's score).
    The features of passage ``p`` are ``fids[fptr[p]:fptr[p + 1]]``, in first-occurrence order.
    """

    ptr: list[int]
    slots: _IntArray
    gains: _FloatArray
    best_tfn: list[float]
    fptr: list[int]
    fids: _IntArray

    @classmethod
    def empty(cls, features: int = 0) -> _Field:
        none = np.zeros(0, np.int64)
        return cls([0] * (features + 1), none, np.zeros(0), [0.0] * features, [0], none)


@dataclass(slots=True)
class _Snapshot:
    """Immutable-after-build index state, swapped atomically by :meth:`KnowledgeIndex.build`.

    Question passages are numbered so that article ``a`` owns ``q_start[a]:q_start[a + 1]``; the answer field
    has exactly one (possibly empty) passage per article, numbered like the articles.
    """

    ids: list[str]
    industries: list[str | None]
    industry_codes: _IntArray
    industry_index: dict[str, int]
    vocab: dict[str, int]
    features: list[str]
    idf: dict[str, float]
    idf_unseen: float
    max_gain: list[float]
    q_start: list[int]
    q_owner: _IntArray
    question: _Field
    answer: _Field
    #: One embedding row per question passage (None without an embedder).
    vectors: npt.NDArray[np.float32] | None = None

    @classmethod
    def empty(cls) -> _Snapshot:
        none = np.zeros(0, np.int64)
        return cls([], [], none, {}, {}, [], {}, 0.0, [], [0], none, _Field.empty(), _Field.empty())


def _feature_weight(feature: str) -> float:
    return BIGRAM_WEIGHT if feature.startswith("#") else 1.0


def _features(analysis: Analysis) -> list[str]:
    return [*analysis.words, *analysis.bigrams]


class KnowledgeIndex:
    """An in-memory inverted index over knowledge-base articles.

    Build it from article records and query it; rebuild it when articles change (building is fast and the swap
    is atomic, so concurrent searches see either the old or the new index).

    Postings are numpy arrays, and a query scores every passage its features occur in with one vectorised
    add per feature and field, so the cost of a query grows with the total length of its posting lists (common
    words and bigrams included) but stays at numpy speed; see ``docs/adr/0010-kb-search-speed.md``.

    With an ``embedder`` every question passage is also embedded, and a query is ranked by BM25 and
    cosine similarity fused (see :data:`EMBED_WEIGHT`); its confidence is the better of the BM25 confidence and the
    embedding confidence.

    Args:
        analyzer: The text analyzer; a new one is created by default.
        embedder: Sentence embeddings (:func:`knowledge_base.embed.default_embedder`); None for BM25 alone.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
    """

    def __init__(
        self,
        analyzer: Analyzer | None = None,
        *,
        embedder: Embedder | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self.analyzer = analyzer or Analyzer()
        self.embedder = embedder
        self._k1 = k1
        self._b = b
        self._lock = threading.Lock()
        self._snap = _Snapshot.empty()

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

        # Pass 1 (Python): features of every passage as feature numbers and counts, in text order.
        analyze = self.analyzer.analyze
        vocab = _Vocabulary()
        number = vocab.__getitem__
        q_start: list[int] = []
        q_owner: list[int] = []
        q_fids: list[int] = []
        q_counts: list[int] = []
        q_sizes: list[int] = []
        q_lengths: list[int] = []
        q_texts: list[str] = []
        a_fids: list[int] = []
        a_counts: list[int] = []
        a_sizes: list[int] = []
        a_lengths: list[int] = []
        for index, article in enumerate(articles):
            q_start.append(len(q_sizes))
            for text in dict.fromkeys((article.question, *article.similar_questions)):
                analysis = analyze(text)
                if analysis:
                    tf = Counter(analysis.words)
                    tf.update(analysis.bigrams)
                    q_fids.extend(map(number, tf))
                    q_counts.extend(tf.values())
                    q_sizes.append(len(tf))
                    q_lengths.append(tf.total())
                    q_owner.append(index)
                    q_texts.append(text)
            answer_tf = bigram_counts(f"{article.answer}\n{article.spoken_answer}")
            a_fids.extend(map(number, answer_tf))
            a_counts.extend(answer_tf.values())
            a_sizes.append(len(answer_tf))
            a_lengths.append(sum(answer_tf.values()))
        q_start.append(len(q_sizes))

        # Pass 2 (numpy): document frequencies, BM25 weights and postings.
        total, size = len(articles), len(vocab)
        features = list(vocab)
        q_fid = np.array(q_fids, dtype=np.int64)
        a_fid = np.array(a_fids, dtype=np.int64)
        q_slot = np.repeat(np.arange(len(q_sizes), dtype=np.int64), q_sizes)
        a_slot = np.repeat(np.arange(total, dtype=np.int64), a_sizes)
        owner = np.array(q_owner, dtype=np.int64)
        pairs = np.sort(np.concatenate([owner[q_slot] * size + q_fid, a_slot * size + a_fid]))
        pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
        df = np.bincount(pairs % size, minlength=size) if size else np.zeros(0, np.int64)
        idf_list = [math.log(1.0 + (total - n + 0.5) / (n + 0.5)) for n in df.tolist()]
        weight = np.array(idf_list) * np.array([_feature_weight(f) for f in features])

        k1, b = self._k1, self._b
        fields = []
        for fid, slot, counts, sizes, lengths in (
            (q_fid, q_slot, q_counts, q_sizes, q_lengths),
            (a_fid, a_slot, a_counts, a_sizes, a_lengths),
        ):
            present = [n for n in lengths if n]
            avgdl = sum(present) / len(present) if present else 1.0
            norm = k1 * (1.0 - b + b * np.array(lengths, dtype=np.float64) / avgdl)
            count = np.array(counts, dtype=np.float64)
            tfn = count * (k1 + 1.0) / (count + norm[slot])
            order, ptr = _csr(fid, size)
            fields.append(
                _Field(
                    ptr=ptr.tolist(),
                    slots=slot[order],
                    gains=(weight[fid] * tfn)[order],
                    best_tfn=_run_max(tfn[order], ptr).tolist(),
                    fptr=[0, *itertools.accumulate(sizes)],
                    fids=fid,
                )
            )
        question, answer = fields
        # Upper bound of what one feature can add to an article's score (best question passage + answer); it
        # orders the features of a query so that scores are summed in a fixed, reproducible order.
        max_gain = (weight * (np.array(question.best_tfn) + ANSWER_WEIGHT * np.array(answer.best_tfn))).tolist()

        industries = [a.industry for a in articles]
        industry_index: dict[str, int] = {}
        codes = [-1 if i is None else industry_index.setdefault(i, len(industry_index)) for i in industries]
        snap = _Snapshot(
            ids=ids,
            industries=industries,
            industry_codes=np.array(codes, dtype=np.int64),
            industry_index=industry_index,
            vocab=dict(vocab),
            features=features,
            idf=dict(zip(features, idf_list, strict=True)),
            idf_unseen=math.log(1.0 + (total + 0.5) / 0.5),
            max_gain=max_gain,
            q_start=q_start,
            q_owner=owner,
            question=question,
            answer=answer,
            vectors=self.embedder.embed(q_texts) if self.embedder is not None else None,
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

        scored = self._score(snap, query_features, industry, industry_only)
        if scored is None and snap.vectors is None:
            return []
        question_scores, totals = scored or (np.zeros(snap.q_start[-1]), np.zeros(len(snap.ids)))
        cosines = None
        ranking = totals
        if snap.vectors is not None and self.embedder is not None and len(snap.vectors):
            # The model reads simplified Chinese best: embed the normalised query (traditional → simplified).
            cosines = self._cosines(snap, self.embedder.embed([normalize(query)], query=True)[0])
            ranking = self._fuse(snap, totals, cosines, industry, industry_only)
        ranked = _top(ranking, k)
        if not ranked:
            return []
        bm25_best = _top(totals, 2)
        hits = []
        for article, score in ranked:
            # BM25 margin over the strongest other article (by BM25 score).
            own = float(totals[article])
            competitor = next((s for a, s in bm25_best if a != article), 0.0)
            margin = max(0.0, (own - competitor) / own) if own > 0 else 0.0
            confidence = self._confidence(
                snap, analysis, article, _best_passage(snap, question_scores, article), margin
            )
            if cosines is not None:
                semantic = _embedding_confidence(cosines, article)
                if own <= 0.0 and semantic <= 0.0:
                    continue  # no word in common and not close in meaning: not a hit (as without embeddings)
                confidence = max(confidence, semantic)
            hits.append(SearchHit(snap.ids[article], round(score, 4), round(confidence, 4)))
        return hits

    @staticmethod
    def _cosines(snap: _Snapshot, query_vector: npt.NDArray[np.float32]) -> _FloatArray:
        """Every article's best question-passage cosine with the query (-1 without a question passage)."""
        assert snap.vectors is not None
        best = np.full(len(snap.ids), -1.0)
        np.maximum.at(best, snap.q_owner, (snap.vectors @ query_vector).astype(np.float64))
        return best

    @staticmethod
    def _fuse(
        snap: _Snapshot, totals: _FloatArray, cosines: _FloatArray, industry: str | None, industry_only: bool
    ) -> _FloatArray:
        """BM25 totals (already boosted or filtered by industry) fused with the embedding cosines."""
        top = float(totals.max()) if len(totals) else 0.0
        lexical = totals / top if top > 0 else totals
        semantic = EMBED_WEIGHT * np.clip((cosines - EMBED_FLOOR) / (1.0 - EMBED_FLOOR), 0.0, 1.0)
        if industry is not None:
            same = snap.industry_codes == snap.industry_index.get(industry, -2)
            semantic[same] *= INDUSTRY_BOOST
            if industry_only:
                semantic[~same] = 0.0
        return lexical + semantic

    @staticmethod
    def _score(
        snap: _Snapshot, features: list[str], industry: str | None, industry_only: bool
    ) -> tuple[_FloatArray, _FloatArray] | None:
        """BM25 scores of all question passages and the total score of every article (None: nothing matches).

        An article's total is its best question passage plus :data:`ANSWER_WEIGHT` × its answer score, boosted
        for the requested industry; articles of other industries score 0 with ``industry_only``.
        """
        boost = INDUSTRY_BOOST if industry is not None else 1.0
        vocab, idf = snap.vocab, snap.idf
        entries = sorted(
            (
                (snap.max_gain[fid] * boost, idf[f] * _feature_weight(f), f, fid)
                for f in features
                if (fid := vocab.get(f)) is not None and idf[f] >= MIN_IDF
            ),
            reverse=True,
        )
        if not entries:
            return None
        question, answer = snap.question, snap.answer
        question_scores = np.zeros(snap.q_start[-1])
        answer_scores = np.zeros(len(snap.ids))
        for *_, fid in entries:
            # Posting lists hold each passage at most once, so fancy-index += adds every gain exactly once.
            start, end = question.ptr[fid], question.ptr[fid + 1]
            if end > start:
                question_scores[question.slots[start:end]] += question.gains[start:end]
            start, end = answer.ptr[fid], answer.ptr[fid + 1]
            if end > start:
                answer_scores[answer.slots[start:end]] += answer.gains[start:end]
        best_question = np.zeros(len(snap.ids))
        matched = np.flatnonzero(question_scores)
        np.maximum.at(best_question, snap.q_owner[matched], question_scores[matched])
        totals = best_question + ANSWER_WEIGHT * answer_scores
        if industry is not None:
            same = snap.industry_codes == snap.industry_index.get(industry, -2)
            totals[same] *= INDUSTRY_BOOST
            if industry_only:
                totals[~same] = 0.0
        return question_scores, totals

    @staticmethod
    def _confidence(snap: _Snapshot, analysis: Analysis, article: int, passage: int, margin: float) -> float:
        """Confidence of one hit in [0, 1]: query coverage, scaled by passage coverage and margin.

        ``passage`` is the hit's best question passage, or -1 when only its answer matched (then the answer's
        features stand in for the passage's).
        """
        features = snap.features
        answer = snap.answer
        answer_terms = {features[f] for f in answer.fids[answer.fptr[article] : answer.fptr[article + 1]].tolist()}
        if passage >= 0:
            question = snap.question
            terms: Collection[str] = [
                features[f] for f in question.fids[question.fptr[passage] : question.fptr[passage + 1]].tolist()
            ]
            term_set: Collection[str] = set(terms)
        else:
            terms = term_set = answer_terms

        def credit(feature: str) -> float:
            if feature in term_set:
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
        if passage >= 0:
            query_set = set(analysis.words) | set(analysis.bigrams)
            passage_mass = passage_matched = 0.0
            for feature in terms:
                mass = snap.idf[feature] * _feature_weight(feature)
                passage_mass += mass
                if feature in query_set:
                    passage_matched += mass
            passage_coverage = passage_matched / passage_mass if passage_mass else 0.0
        return min(1.0, query_coverage * (0.6 + 0.4 * passage_coverage) * (0.85 + 0.15 * margin))


def embedding_texts(articles: Iterable[ArticleDoc]) -> list[str]:
    """What a build embeds for these articles: their questions and similar questions."""
    return [text for a in articles for text in dict.fromkeys((a.question, *a.similar_questions))]


def _embedding_confidence(cosines: _FloatArray, article: int) -> float:
    """Confidence from embeddings alone: the article's cosine above :data:`EMBED_CONFIDENT`, times its lead
    over the best other article (full at :data:`EMBED_MARGIN`, none when another article is as close)."""
    own = float(cosines[article])
    others = np.delete(cosines, article)
    lead = own - (float(others.max()) if len(others) else -1.0)
    level = min(1.0, max(0.0, (own - EMBED_CONFIDENT) / EMBED_SPAN))
    return level * min(1.0, max(0.0, lead / EMBED_MARGIN))


def _top(totals: _FloatArray, depth: int) -> list[tuple[int, float]]:
    """The ``depth`` best-scoring articles with a positive score as (article, score), best first; ties go to
    the article built first."""
    positive = np.flatnonzero(totals > 0.0)
    chosen = positive
    if len(positive) > depth:
        values = totals[positive]
        cut = len(values) - depth
        threshold = np.partition(values, cut)[cut]
        above = positive[values > threshold]
        chosen = np.concatenate([above, positive[values == threshold][: depth - len(above)]])
    ranked = sorted(zip(chosen.tolist(), totals[chosen].tolist(), strict=True), key=lambda item: (-item[1], item[0]))
    return ranked[:depth]


def _best_passage(snap: _Snapshot, question_scores: _FloatArray, article: int) -> int:
    """The article's best-scoring question passage, or -1 if none of its question passages matched."""
    start, end = snap.q_start[article], snap.q_start[article + 1]
    if end == start:
        return -1
    best = int(np.argmax(question_scores[start:end]))
    return start + best if question_scores[start + best] > 0.0 else -1
