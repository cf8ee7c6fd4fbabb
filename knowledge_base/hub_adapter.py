"""The knowledge base as the hub's dialogue engine sees it: published articles, searchable in Chinese."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.dialogue.ports import KbAnswer
from hub.storage.schema import articles
from hub.taxonomy import Taxonomy
from knowledge_base.search import ArticleDoc, KnowledgeIndex

log = logging.getLogger(__name__)


class IndexedKnowledgeBase:
    """Implements :class:`hub.dialogue.ports.KnowledgeBase` over an in-memory index of published articles.

    The index is rebuilt (off the event loop) by :meth:`reload` when articles or the taxonomy change.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._index = KnowledgeIndex()
        self._docs: dict[str, ArticleDoc] = {}

    @property
    def size(self) -> int:
        """How many articles can answer citizens."""
        return len(self._docs)

    async def reload(self, taxonomy: Taxonomy) -> None:
        """Rebuild the index from the published articles and the taxonomy's words."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(articles).where(articles.c.status == "published"))).all()
        docs = [
            ArticleDoc(
                id=r.id,
                question=r.question,
                similar_questions=tuple(r.similar_questions or ()),
                answer=r.answer,
                spoken_answer=r.spoken_answer,
                industry=r.industry,
            )
            for r in rows
        ]
        words = sorted(
            {c.name_zh for c in taxonomy.categories.values()}
            | {k for c in taxonomy.categories.values() for k in c.keywords}
            | {i.name_zh for i in taxonomy.industries.values()}
        )
        index = KnowledgeIndex()
        await asyncio.to_thread(index.build, docs, words)
        self._index = index
        self._docs = {d.id: d for d in docs}
        log.info("knowledge base index built: %d published articles", len(docs))

    def _answer(self, doc: ArticleDoc, confidence: float) -> KbAnswer:
        return KbAnswer(doc.id, doc.question, doc.answer, doc.spoken_answer, confidence)

    def search(self, query: str, k: int = 3, industry: str | None = None) -> list[KbAnswer]:
        """The best ``k`` articles for ``query``."""
        hits = self._index.search(query, k=k, industry=industry)
        return [self._answer(self._docs[h.article_id], h.confidence) for h in hits if h.article_id in self._docs]

    def get(self, article_id: str) -> KbAnswer | None:
        """An article by id (confidence 1: the citizen chose it)."""
        doc = self._docs.get(article_id)
        return None if doc is None else self._answer(doc, 1.0)
