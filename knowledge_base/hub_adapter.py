"""The knowledge base as the hub's dialogue engine sees it: published, unexpired articles, searchable in Chinese,
and the current announcements (信息公告)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, utc_now
from hub.dialogue.ports import KbAnswer
from hub.taxonomy import Taxonomy
from knowledge_base.embed import Embedder, default_embedder
from knowledge_base.search import ArticleDoc, KnowledgeIndex, embedding_texts
from knowledge_base.store import Announcement, KnowledgeStore, _parse_time

log = logging.getLogger(__name__)


def taxonomy_words(taxonomy: Taxonomy) -> list[str]:
    """Segmentation words from the taxonomy: industry and category names, category keywords."""
    return sorted(
        {c.name_zh for c in taxonomy.categories.values()}
        | {k for c in taxonomy.categories.values() for k in c.keywords}
        | {i.name_zh for i in taxonomy.industries.values()}
    )


def _doc(article_id: str, content: dict[str, Any]) -> ArticleDoc:
    return ArticleDoc(
        id=article_id,
        question=content["question"],
        similar_questions=tuple(content["similar_questions"]),
        answer=content["answer"],
        spoken_answer=content["spoken_answer"],
        industry=content["industry"],
    )


class IndexedKnowledgeBase:
    """Implements :class:`hub.dialogue.ports.KnowledgeBase` over an in-memory index of the articles that may
    answer citizens: published (the published version, even while a newer draft is in review), not archived,
    and inside their effective/expiry window.

    With ``embeddings`` (the default) the index fuses BM25 with sentence embeddings when the bundled model loads
    (see :mod:`knowledge_base.embed`).

    :meth:`reload` rebuilds the index off the event loop; the curation service calls it after publish, archive
    and rollback. Dates are re-checked on every search: an article that expires is never returned, and when an
    article's window opens or closes a reload is scheduled.
    """

    def __init__(
        self, engine: AsyncEngine, clock: Clock = utc_now, *, embeddings: bool = True, sync_embed_limit: int = 200
    ) -> None:
        self._store = KnowledgeStore(engine)
        self._clock = clock
        self._embeddings = embeddings
        self._sync_embed_limit = sync_embed_limit
        self._generation = 0
        self._embedding: asyncio.Task[None] | None = None
        self._index = KnowledgeIndex()
        self._docs: dict[str, ArticleDoc] = {}
        self._expiry: dict[str, datetime] = {}
        self._next_change: datetime | None = None
        self._taxonomy: Taxonomy | None = None
        self._reloading: asyncio.Task[None] | None = None

    @property
    def size(self) -> int:
        """How many articles can answer citizens."""
        return len(self._docs)

    @property
    def embeddings_ready(self) -> bool:
        """Whether the current index uses sentence embeddings."""
        return self._index.embedder is not None

    async def reload(self, taxonomy: Taxonomy | None = None, *, wait: bool = False) -> None:
        """Rebuild the index from the live articles and the taxonomy's words (the last taxonomy if None).

        With embeddings, questions not embedded before are embedded here when there are at most
        ``sync_embed_limit`` of them (a publish: one article) or with ``wait``; otherwise (a large knowledge base
        at start-up: ~10 ms per question on an idle core) a BM25 index is swapped in at once and the fused index
        follows from a background task, unless a newer reload came first.
        """
        if taxonomy is not None:
            self._taxonomy = taxonomy
        now = self._clock()
        docs: list[ArticleDoc] = []
        expiry: dict[str, datetime] = {}
        upcoming: list[datetime] = []
        for article_id, content in await self._store.live_contents():
            start, end = _parse_time(content["effective_from"]), _parse_time(content["expires_at"])
            if start is not None and start > now:
                upcoming.append(start)
                continue
            if end is not None:
                if end <= now:
                    continue
                expiry[article_id] = end
                upcoming.append(end)
            docs.append(_doc(article_id, content))
        words = taxonomy_words(self._taxonomy) if self._taxonomy else []
        # Sentence embeddings when the bundled model loads (knowledge_base.embed), else BM25 alone.
        embedder = await asyncio.to_thread(default_embedder) if self._embeddings else None
        later = embedder is not None and not wait and embedder.uncached(embedding_texts(docs)) > self._sync_embed_limit
        index = KnowledgeIndex(embedder=None if later else embedder)
        await asyncio.to_thread(index.build, docs, words)
        self._generation += 1
        self._index, self._docs, self._expiry = index, {d.id: d for d in docs}, expiry
        self._next_change = min(upcoming, default=None)
        log.info("knowledge base index built: %d live articles", len(docs))
        if later and embedder is not None:
            self._embedding = asyncio.get_running_loop().create_task(
                self._embed_later(embedder, docs, words, self._generation)
            )

    async def _embed_later(self, embedder: Embedder, docs: list[ArticleDoc], words: list[str], generation: int) -> None:
        index = KnowledgeIndex(embedder=embedder)
        try:
            await asyncio.to_thread(index.build, docs, words)
        except Exception:  # the BM25 index stays in service
            log.exception("knowledge base embeddings failed")
            return
        if generation == self._generation:  # else a newer reload has swapped in newer articles meanwhile
            self._index = index
            log.info("knowledge base embeddings ready: %d articles", len(docs))

    def _check_dates(self, now: datetime) -> None:
        if self._next_change is None or now < self._next_change:
            return
        if self._reloading is None or self._reloading.done():
            # Without a running loop (synchronous use) expired hits are still filtered out below.
            with contextlib.suppress(RuntimeError):
                self._reloading = asyncio.get_running_loop().create_task(self.reload())

    def _live(self, article_id: str, now: datetime) -> bool:
        end = self._expiry.get(article_id)
        return article_id in self._docs and (end is None or now < end)

    def _answer(self, doc: ArticleDoc, confidence: float) -> KbAnswer:
        return KbAnswer(doc.id, doc.question, doc.answer, doc.spoken_answer, confidence, doc.industry)

    def search(self, query: str, k: int = 3, industry: str | None = None) -> list[KbAnswer]:
        """The best ``k`` live articles for ``query``."""
        now = self._clock()
        self._check_dates(now)
        hits = self._index.search(query, k=k, industry=industry)
        return [self._answer(self._docs[h.article_id], h.confidence) for h in hits if self._live(h.article_id, now)]

    def get(self, article_id: str) -> KbAnswer | None:
        """A live article by id (confidence 1: the citizen chose it)."""
        if not self._live(article_id, self._clock()):
            return None
        return self._answer(self._docs[article_id], 1.0)


class AnnouncementBoard:
    """Implements :class:`hub.dialogue.ports.Announcements`: current notices by industry and district.

    Notices are cached in memory (:meth:`reload` after every change) and filtered by time on each call.
    """

    def __init__(self, engine: AsyncEngine, taxonomy: Taxonomy | None = None, clock: Clock = utc_now) -> None:
        self._store = KnowledgeStore(engine)
        self._clock = clock
        self._taxonomy = taxonomy
        self._items: list[Announcement] = []

    async def reload(self, taxonomy: Taxonomy | None = None) -> None:
        if taxonomy is not None:
            self._taxonomy = taxonomy
        self._items = await self._store.announcements(include_ended=False)

    def current_texts(self) -> list[str]:
        """Every notice in force now, as a sentence to read (the phone IVR's announcements)."""
        now = self._clock()
        return [f"{item.title}。{item.body}" for item in self._items if item.current(now)]

    def relevant(self, text: str, industry: str | None) -> list[tuple[str, str]]:
        """(key, text) of the current notices for ``industry`` or a district named in ``text``."""
        now = self._clock()
        district = self._taxonomy.detect_district(text) if self._taxonomy else None
        out = []
        for item in self._items:
            if not item.current(now):
                continue
            by_industry = item.industry is not None and item.industry == industry
            by_district = item.district is not None and item.district == district
            if by_industry or by_district:
                out.append((f"a{item.id}", f"【公告】{item.title}：{item.body}"))
        return out
