"""What the dialogue engine needs from the rest of the system (implemented elsewhere, injected)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.models import WorkOrder


@dataclass(frozen=True, slots=True)
class KbAnswer:
    """A knowledge-base article proposed as an answer, with the retrieval confidence in [0, 1]."""

    article_id: str
    question: str
    answer: str
    spoken_answer: str
    confidence: float


class KnowledgeBase(Protocol):
    """Published, unexpired knowledge-base articles, searchable in Chinese."""

    def search(self, query: str, k: int = 3, industry: str | None = None) -> list[KbAnswer]:
        """The best ``k`` answers for ``query``, best first."""
        ...

    def get(self, article_id: str) -> KbAnswer | None:
        """An article by id."""
        ...


@dataclass(frozen=True, slots=True)
class WorkOrderDraft:
    """Everything the bot gathered for a work order."""

    request_type: str
    industry: str | None
    category: str | None
    description: str
    address: str | None
    phone: str | None


class WorkOrderDesk(Protocol):
    """Registers and looks up work orders on the bot's behalf."""

    async def register(self, conversation_id: str, draft: WorkOrderDraft) -> tuple[WorkOrder, str | None]:
        """Create (and dispatch by rule) an order; returns it and the responsible unit's display name."""
        ...

    async def lookup(self, number: str) -> WorkOrder | None:
        """An order by number."""
        ...
