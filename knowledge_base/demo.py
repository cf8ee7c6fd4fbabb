"""The demo city's knowledge-base articles (``hub/demo_data/kb_articles.yaml``), loaded as published."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import utc_now
from hub.demo import DEMO_DIR, read_yaml
from hub.storage.engine import begin
from knowledge_base.store import articles

log = logging.getLogger(__name__)


async def load_demo_articles(engine: AsyncEngine, directory: Path = DEMO_DIR) -> int:
    """Insert the demo articles if the knowledge base is empty; returns how many were inserted."""
    async with engine.connect() as conn:
        if (await conn.execute(sa.select(articles.c.id).limit(1))).first() is not None:
            return 0
    kb = read_yaml("kb_articles.yaml", directory)
    now = utc_now()
    rows = [
        {
            "id": a["id"],
            "question": a["question"],
            "similar_questions": list(a.get("similar_questions") or []),
            "answer": a["answer"].strip(),
            "spoken_answer": a.get("spoken_answer", "").strip(),
            "industry": a.get("industry"),
            "category": a.get("category"),
            "unit": a.get("unit"),
            "tags": list(a.get("tags") or []),
            "status": "published",
            "version": 1,
            "updated_at": now,
        }
        for a in kb["articles"]
    ]
    async with begin(engine) as conn:
        await conn.execute(articles.insert(), rows)
    log.info("demo data loaded: %d knowledge-base articles", len(rows))
    return len(rows)
