"""What the dialogue engine needs from the rest of the system (implemented elsewhere, injected)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.models import WorkOrder
from hub.nlu import NluResult


@dataclass(frozen=True, slots=True)
class KbAnswer:
    """A knowledge-base article proposed as an answer, with the retrieval confidence in [0, 1]."""

    article_id: str
    question: str
    answer: str
    spoken_answer: str
    confidence: float
    industry: str | None = None


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

    async def latest_for(self, conversation_id: str, phone: str | None) -> WorkOrder | None:
        """The citizen's most recent order: by the phone given, else by the conversation's contact."""
        ...

    async def record_callback(self, number: str, satisfaction: str, department_at_fault: bool) -> WorkOrder:
        """Record the satisfaction callback (回访); unsatisfied because of the unit sends it back (重办)."""
        ...


class Announcements(Protocol):
    """Current notices (信息公告: planned outages, new fee standards) the bot mentions once per conversation."""

    def relevant(self, text: str, industry: str | None) -> list[tuple[str, str]]:
        """(stable key, text to send) of the notices for ``industry`` or an area named in ``text``."""
        ...


@dataclass(frozen=True, slots=True)
class Referral:
    """Where an out-of-scope request belongs: a hotline or department of the configured directory."""

    topic: str  # the directory key, e.g. "power", "labour" (see NluResult.topic)
    text: str  # what the bot tells the citizen, in the conversation's locale (name, number, what it handles)


class Referrals(Protocol):
    """The jurisdiction check: recognises requests that belong to another hotline or department."""

    def refer(self, text: str, nlu: NluResult | None, locale: str) -> Referral | None:
        """The referral for ``text`` when it is out of the hotline's scope, else None (in scope or unsure)."""
        ...
