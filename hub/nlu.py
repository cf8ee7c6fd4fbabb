"""The NLU contract between the hub and any NLU backend (the Rasa service in nlu/).

The hub's dialogue engine only sees these types; ``nlu.client.RasaNLU`` fills them from Rasa's
``POST /model/parse`` answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class NluUnavailable(Exception):
    """The NLU backend is down, too slow or answered garbage; the caller must degrade."""


@dataclass(frozen=True, slots=True)
class Label:
    """A predicted label (request type, industry, category or intent) with its confidence in [0, 1]."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Entity:
    """An extracted entity with its normalised value and character span in the text."""

    entity: str  # "address" | "phone" | "time" | "district" | ...
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NluResult:
    """What the hub knows about one citizen message.

    ``intent`` is the dialogue intent (e.g. ``greet``, ``human_handoff``, ``consult``, ``complaint``);
    ``type`` is the request type (consult/complaint/repair/suggestion/praise) when the message is a request;
    ``industry`` and ``category`` are taxonomy codes when the text allows.
    """

    text: str
    intent: Label
    type: Label | None = None
    industry: Label | None = None
    category: Label | None = None
    entities: tuple[Entity, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)
    # Jurisdiction: ``scope.name`` is "in" (a 12319 matter) or "out" (belongs elsewhere), with the confidence of
    # that label; ``topic`` names the out-of-scope topic (a key of the referral directory, e.g. "power",
    # "labour", "police") when the message is out of scope. None: the backend does not say.
    scope: Label | None = None
    topic: Label | None = None

    def entity(self, name: str) -> str | None:
        """Return the first value of entity ``name``, if any."""
        for ent in self.entities:
            if ent.entity == name:
                return ent.value
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (stored with the message; shown to agents)."""

        def lab(label: Label | None) -> dict[str, Any] | None:
            return None if label is None else {"name": label.name, "confidence": label.confidence}

        return {
            "text": self.text,
            "intent": lab(self.intent),
            "type": lab(self.type),
            "industry": lab(self.industry),
            "category": lab(self.category),
            "scope": lab(self.scope),
            "topic": lab(self.topic),
            "entities": [{"entity": e.entity, "value": e.value, "start": e.start, "end": e.end} for e in self.entities],
        }


class NluService(Protocol):
    """Anything that can parse a citizen message."""

    async def parse(self, text: str) -> NluResult:
        """Parse ``text``; raise :class:`NluUnavailable` when the backend cannot answer in time."""
        ...

    async def status(self) -> dict[str, Any]:
        """Health of the backend for /healthz: ``{"status": "ok"|"degraded"|"down", ...}``."""
        ...
