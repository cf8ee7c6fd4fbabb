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
from knowledge_base.search import ArticleDoc, KnowledgeIndex
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

    :meth:`reload` rebuilds the index off the event loop; the curation service calls it after publish, archive
    and rollback. Dates are re-checked on every search: an article that expires is never returned, and when an
    article's window opens or closes a reload is scheduled.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._store = KnowledgeStore(engine)
        self._clock = clock
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

    async def reload(self, taxonomy: Taxonomy | None = None) -> None:
        """Rebuild the index from the live articles and the taxonomy's words (the last taxonomy if None)."""
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
        index = KnowledgeIndex()
        await asyncio.to_thread(index.build, docs, words)
        self._index, self._docs, self._expiry = index, {d.id: d for d in docs}, expiry
        self._next_change = min(upcoming, default=None)
        log.info("knowledge base index built: %d live articles", len(docs))

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
