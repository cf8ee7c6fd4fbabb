"""Chinese text analysis for knowledge-base search.

An :class:`Analyzer` turns text into two kinds of features:

* word features: jieba tokens (precise mode, no HMM, with a domain dictionary), stop words removed, synonyms
  normalised to canonical tokens, and long words also contributing their dictionary sub-words (维修基金 →
  维修基金, 维修, 基金), like jieba's search mode;
* character-bigram features (prefixed with ``#``) over the runs of non-stop words, so that words unknown to the
  dictionary, typos of one character and partial overlaps still match.

jieba is used through one dedicated ``jieba.Tokenizer`` instance created lazily and quietly (the global
``jieba.dt`` dictionary is never touched). Domain words (taxonomy keywords, category names, synonym variants) are
added to that instance; additions are idempotent and shared by all analyzers in the process.

Segmentation uses :func:`knowledge_base.segment.cut_precise`, a faster exact equivalent of jieba's precise mode
without HMM. Analyses are memoised per text, and per distinct jieba token, in caches shared by all analyzers with
the same synonym table (so a fresh index built after publishing one article re-analyses only that article) and
dropped whenever the shared dictionary changes.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import jieba
import opencc

from knowledge_base.segment import cut_precise
from knowledge_base.synonyms import DEFAULT_SYNONYMS, build_synonym_map, surface_words

BIGRAM_PREFIX = "#"

#: Function words and politeness that carry no topic. Question words that do carry meaning (几点, 多少钱) are
#: not here: the synonym table maps them to 时间 / 价格.
_STOP_WORDS_TEXT = """
    的 了 吗 呢 啊 吧 呀 哦 嘛 么 哈 啦 嗯 喂 哎 诶 呗 哟 着 过 地 得 之
    怎么 怎么样 怎样 怎么办 咋 咋办 咋样 如何 什么 啥 哪 哪里 哪儿 哪些 哪个 那 这 这个 那个 这样 那样 这些 那些
    请问 请 问 问问 问一下 一下 咨询 想问 想咨询 了解 知道 告诉 帮 帮忙 帮我 麻烦 谢谢 您好 你好 您 你 你们
    我 我家 我们 我们家 咱 咱们 俺 他 她 它 他们 她们 人家 自己 大家 家里 本人
    是 是不是 有 有没有 没有 在 要 想 想要 需要 需 能 能不能 可以 可不可以 可否 会 会不会 该 应该 得 必须
    和 与 及 或 或者 还是 也 都 就 还 又 再 把 被 给 让 对 向 从 跟 为 为了 因为 所以 但是 但 而且 如果
    一 一个 个 些 一些 点 一点 多少 几 多 很 太 非常 比较 特别 挺 最 更
    现在 目前 已经 一直 刚 刚刚 马上 今年 这边 那边 里 上 下
    就是 然后 那么 呃 额 嗯嗯 哎呀 哎哟 的话 反正 其实 那啥 这么 那么 就 吧啦
    谁 找 找谁 谁管 谁负责 负责 部门 哪个部门 向谁 找哪个 应该找 归谁管
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())

_WORD_START = re.compile(r"\w", re.UNICODE)
_RUN_SPLIT = re.compile(r"[^\w]+", re.UNICODE)

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unit:
    """The word features of one query token.

    Attributes:
        forms: The token's canonical forms (the token itself, or its synonym's canonical tokens).
        subwords: Canonical forms of dictionary sub-words of a long token (维修基金 → 维修, 基金).
        prior: Informativeness in [0.3, 1] from the general jieba dictionary: common words such as 突然 or 附近
            are low, rare ones high.
    """

    forms: tuple[str, ...]
    subwords: tuple[str, ...]
    prior: float


@dataclass(frozen=True, slots=True)
class Analysis:
    """Features of one text.

    Attributes:
        words: Canonical word features (a word may repeat; repetitions count as term frequency).
        bigrams: Character-bigram features, each prefixed with :data:`BIGRAM_PREFIX`.
        units: One :class:`Unit` per non-stop token, used to measure how much of a query a hit explains.
    """

    words: tuple[str, ...]
    bigrams: tuple[str, ...]
    units: tuple[Unit, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.bigrams)


@dataclass(frozen=True, slots=True)
class _Token:
    """What one distinct jieba token contributes to an analysis (memoised per analyzer)."""

    words: tuple[str, ...]
    joined: str
    unit: Unit


_UNSEEN = _Token((), "", Unit((), (), 0.0))


@dataclass(slots=True)
class _Caches:
    """Memoised analyses for one synonym table, valid for the current jieba dictionary."""

    #: text → analysis
    analyses: dict[str, Analysis] = field(default_factory=dict)
    #: jieba token → what it contributes (None for stop words and punctuation)
    tokens: dict[str, _Token | None] = field(default_factory=dict)


class _SharedJieba:
    """One lazily initialised, dedicated jieba tokenizer for the whole process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tokenizer: jieba.Tokenizer | None = None
        self._added: set[str] = set()
        self._caches: dict[object, _Caches] = {}
        #: Incremented whenever the dictionary changes (analyses cached before that are dropped).
        self.version = 0

    def get(self) -> jieba.Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                self._tokenizer = tokenizer
            return self._tokenizer

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def add_words(self, words: Iterable[str]) -> int:
        """Add words to the dictionary; returns how many were new."""
        tokenizer = self.get()
        added = 0
        with self._lock:
            for word in words:
                if word in self._added:
                    continue
                self._added.add(word)
                # suggest_freq (used when freq is None) picks the smallest frequency that keeps the word whole.
                tokenizer.add_word(word)
                added += 1
            if added:
                self.version += 1
                for caches in self._caches.values():
                    caches.analyses.clear()
                    caches.tokens.clear()
        return added

    def caches(self, key: object) -> _Caches:
        """The analysis caches shared by all analyzers whose synonym table is ``key``."""
        with self._lock:
            return self._caches.setdefault(key, _Caches())


_JIEBA = _SharedJieba()


@functools.cache
def _to_simplified() -> opencc.OpenCC:
    """OpenCC's traditional → simplified converter (phrase-aware: 水錶 → 水表, 乾淨 → 干净, 幹部 → 干部)."""
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC-normalise (full-width to half-width), convert traditional to simplified characters and lower-case."""
    return _to_simplified().convert(unicodedata.normalize("NFKC", text)).lower()


def text_bigrams(text: str) -> tuple[str, ...]:
    """Character bigrams of ``text`` without segmentation (cheap; used for long answer fields).

    Args:
        text: Any text; punctuation and spaces split runs.

    Returns:
        Bigram features prefixed with :data:`BIGRAM_PREFIX`.
    """
    out: list[str] = []
    for run in _RUN_SPLIT.split(normalize(text)):
        out.extend(BIGRAM_PREFIX + run[i : i + 2] for i in range(len(run) - 1))
    return tuple(out)


def bigram_counts(text: str) -> dict[str, int]:
    """``Counter(text_bigrams(text))``, faster: each distinct bigram gets its prefix once.

    Args:
        text: Any text, e.g. an article's answer.

    Returns:
        Bigram feature → count, in order of first occurrence.
    """
    counts: Counter[str] = Counter()
    for run in _RUN_SPLIT.split(normalize(text)):
        if len(run) > 1:
            counts.update([run[i : i + 2] for i in range(len(run) - 1)])
    return {BIGRAM_PREFIX + pair: count for pair, count in counts.items()}


def _is_domain_word(word: str) -> bool:
    """Whether a taxonomy keyword is a good dictionary entry (short, and no stop word inside it)."""
    if not 2 <= len(word) <= 6 or not _WORD_START.match(word):
        return False
    return not any(stop in word for stop in STOP_WORDS if len(stop) > 1)


class Analyzer:
    """Tokenises Chinese text into word and bigram features (see the module docstring).

    Args:
        domain_words: Extra dictionary words, e.g. taxonomy keywords and category names. Phrases that contain stop
            words (什么时候来水) or are longer than six characters are skipped: they would hide their parts.
        synonyms: Extra synonym groups (canonical → variants) on top of the default table.
        cache_size: How many analysed texts to memoise (in a cache shared with the other analyzers that use the
            same synonyms), so that rebuilding an index re-uses earlier work.
    """

    def __init__(
        self,
        domain_words: Iterable[str] = (),
        synonyms: Mapping[str, Iterable[str]] | None = None,
        cache_size: int = 200_000,
    ) -> None:
        self._synonyms = build_synonym_map(DEFAULT_SYNONYMS, synonyms)
        caches = _JIEBA.caches(tuple(sorted(self._synonyms.items())))
        self._cache = caches.analyses
        self._tokens = caches.tokens
        self._cache_size = cache_size
        self._pending: set[str] = set(surface_words(self._synonyms))
        self._words = set(self._pending)
        self.add_words(domain_words)

    def add_words(self, words: Iterable[str]) -> None:
        """Queue domain words for the dictionary (loaded lazily, before the next analysis).

        Args:
            words: Candidate words; unsuitable ones are skipped.
        """
        new = {normalize(w).strip() for w in words}
        new = {w for w in new if _is_domain_word(w)} - self._words
        # Caches are dropped when the words actually change the shared dictionary (see _SharedJieba.add_words).
        self._words |= new
        self._pending |= new

    def _tokenizer(self) -> jieba.Tokenizer:
        if self._pending:
            count = _JIEBA.add_words(sorted(self._pending))
            _LOG.debug("added %d domain words to the jieba dictionary", count)
            self._pending = set()
        return _JIEBA.get()

    def canonical(self, token: str) -> tuple[str, ...]:
        """Canonical tokens for one surface token (the token itself when it has no synonym)."""
        return self._synonyms.get(token, (token,))

    def _token(self, raw: str, tokenizer: jieba.Tokenizer) -> _Token | None:
        """Features of one jieba token (None for stop words and punctuation); call with the jieba lock held."""
        token = raw.strip()
        if not token or not _WORD_START.match(token) or token in STOP_WORDS:
            return None
        freq = tokenizer.FREQ
        forms = self.canonical(token)
        seen = set(forms)
        subwords: list[str] = []
        if len(token) > 2:
            for size in (2, 3):
                for start in range(len(token) - size + 1):
                    sub = token[start : start + size]
                    if size < len(token) and freq.get(sub) and sub not in STOP_WORDS:
                        for form in self.canonical(sub):
                            if form not in seen:
                                seen.add(form)
                                subwords.append(form)
        general_idf = math.log(tokenizer.total) - math.log(freq.get(token) or 1)
        prior = min(1.0, max(0.3, (general_idf - 5.0) / 8.0))
        return _Token(
            words=forms + tuple(subwords),
            joined="".join(forms),
            unit=Unit(forms=forms, subwords=tuple(subwords), prior=prior),
        )

    def analyze(self, text: str) -> Analysis:
        """Analyse ``text`` into word and bigram features.

        Args:
            text: A question, query or any short text.

        Returns:
            The features; empty when the text holds only stop words and punctuation.
        """
        if self._pending:
            self._tokenizer()  # new domain words first: they may change the segmentation (and drop the caches)
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        tokenizer = self._tokenizer()
        known = self._tokens
        if len(known) >= self._cache_size:
            known.clear()
        words: list[str] = []
        units: list[Unit] = []
        runs: list[str] = []
        run: list[str] = []
        with _JIEBA.lock:
            version = _JIEBA.version
            for raw in cut_precise(tokenizer, normalize(text)):
                token = known.get(raw, _UNSEEN)
                if token is _UNSEEN:
                    token = known[raw] = self._token(raw, tokenizer)
                if token is None:
                    if run:
                        runs.append("".join(run))
                        run = []
                    continue
                run.append(token.joined)
                words.extend(token.words)
                units.append(token.unit)
        if run:
            runs.append("".join(run))
        bigrams = tuple(BIGRAM_PREFIX + r[i : i + 2] for r in runs for i in range(len(r) - 1))
        result = Analysis(words=tuple(words), bigrams=bigrams, units=tuple(units))
        if version == _JIEBA.version:  # else the dictionary changed meanwhile: do not cache a stale analysis
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[text] = result
        return result
