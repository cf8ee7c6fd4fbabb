"""Agents' corrections of the NLU (request type, industry) kept as candidate training examples.

The table lives on the hub's shared :data:`hub.storage.schema.metadata` (migration ``0002_nlu_feedback``);
importing this module registers it, which the composition root does through ``nlu.web``.

Life of a candidate: ``candidate`` (an agent corrected the labels of a citizen message) → ``accepted`` or
``rejected`` (an administrator reviewed it) → ``trained`` (written into the Rasa training data by a retrain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.storage.engine import begin
from hub.storage.schema import TS, metadata

nlu_feedback = sa.Table(
    "nlu_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("predicted_type", sa.String(32), nullable=True),
    sa.Column("predicted_industry", sa.String(64), nullable=True),
    sa.Column("request_type", sa.String(32), nullable=True),
    sa.Column("industry", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("reviewed_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("reviewed_at", TS, nullable=True),
    # migration 0008_feedback_message: the message the agent chose (the example's text is that message's)
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=True),
)


class FeedbackStatus(StrEnum):
    """Review state of a candidate example."""

    CANDIDATE = "candidate"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRAINED = "trained"


class FeedbackNotFound(LookupError):
    """No candidate with that id."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """One correction: the citizen's text, what the NLU said and what the agent says."""

    id: int
    conversation_id: str
    text: str
    predicted_type: str | None
    predicted_industry: str | None
    request_type: str | None
    industry: str | None
    status: FeedbackStatus
    created_by: int | None
    created_at: datetime
    reviewed_by: int | None = None
    reviewed_at: datetime | None = None
    message_id: int | None = None  # the citizen message the example's text is (None: older corrections)


def _row(row: sa.Row[tuple[object, ...]]) -> Feedback:
    m = row._mapping
    reviewed = m["reviewed_at"]
    return Feedback(
        id=int(m["id"]),
        conversation_id=str(m["conversation_id"]),
        text=str(m["text"]),
        predicted_type=m["predicted_type"],
        predicted_industry=m["predicted_industry"],
        request_type=m["request_type"],
        industry=m["industry"],
        status=FeedbackStatus(m["status"]),
        created_by=m["created_by"],
        created_at=as_utc(m["created_at"]),
        reviewed_by=m["reviewed_by"],
        reviewed_at=None if reviewed is None else as_utc(reviewed),
        message_id=m["message_id"],
    )


class NluFeedbackStore:
    """Persistence of the candidate training examples."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def add(
        self,
        conversation_id: str,
        text: str,
        *,
        predicted_type: str | None,
        predicted_industry: str | None,
        request_type: str | None,
        industry: str | None,
        created_by: int | None,
        message_id: int | None = None,
    ) -> Feedback:
        """Store a new candidate (``message_id``: the citizen message ``text`` comes from)."""
        values = {
            "conversation_id": conversation_id,
            "text": text,
            "predicted_type": predicted_type,
            "predicted_industry": predicted_industry,
            "request_type": request_type,
            "industry": industry,
            "status": FeedbackStatus.CANDIDATE.value,
            "created_by": created_by,
            "created_at": self._clock(),
            "message_id": message_id,
        }
        async with begin(self._engine) as conn:
            result = await conn.execute(nlu_feedback.insert().values(**values).returning(nlu_feedback))
            return _row(result.one())

    async def get(self, feedback_id: int) -> Feedback:
        """One candidate.

        Raises:
            FeedbackNotFound: Unknown id.
        """
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(nlu_feedback).where(nlu_feedback.c.id == feedback_id))).first()
        if row is None:
            raise FeedbackNotFound(feedback_id)
        return _row(row)

    async def list_by_status(
        self, statuses: tuple[FeedbackStatus, ...] = tuple(FeedbackStatus), limit: int = 500
    ) -> list[Feedback]:
        """Candidates in ``statuses``, newest first."""
        query = (
            sa.select(nlu_feedback)
            .where(nlu_feedback.c.status.in_([s.value for s in statuses]))
            .order_by(nlu_feedback.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).all()]

    async def review(self, feedback_id: int, status: FeedbackStatus, reviewer: int | None) -> Feedback:
        """Accept or reject a candidate (or put it back to ``candidate``).

        Raises:
            FeedbackNotFound: Unknown id.
            ValueError: ``status`` is not a review outcome or the example was already trained.
        """
        if status not in (FeedbackStatus.ACCEPTED, FeedbackStatus.REJECTED, FeedbackStatus.CANDIDATE):
            raise ValueError(f"not a review outcome: {status}")
        async with begin(self._engine) as conn:
            result = await conn.execute(
                nlu_feedback.update()
                .where(nlu_feedback.c.id == feedback_id, nlu_feedback.c.status != FeedbackStatus.TRAINED.value)
                .values(status=status.value, reviewed_by=reviewer, reviewed_at=self._clock())
                .returning(nlu_feedback)
            )
            row = result.first()
        if row is None:
            await self.get(feedback_id)  # raises FeedbackNotFound for unknown ids
            raise ValueError("already trained")
        return _row(row)

    async def mark_trained(self, ids: list[int]) -> None:
        """Mark accepted candidates as written into the training data."""
        if not ids:
            return
        async with begin(self._engine) as conn:
            await conn.execute(
                nlu_feedback.update()
                .where(nlu_feedback.c.id.in_(ids), nlu_feedback.c.status == FeedbackStatus.ACCEPTED.value)
                .values(status=FeedbackStatus.TRAINED.value)
            )
