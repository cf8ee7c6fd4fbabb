"""``RasaNLU``: the hub's NLU service backed by a Rasa server's ``POST /model/parse``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub.nlu import Entity, Label, NluResult, NluUnavailable
from nlu.patterns import normalise

REQUEST_TYPES = frozenset({"consult", "complaint", "repair", "suggestion", "praise"})
"""Intents that are also request types (the 12319 taxonomy)."""

INDUSTRY_KEY = "industry"
"""Key under which the custom IndustryClassifier component reports its prediction."""


def _label(data: Any) -> Label | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return None
    confidence = data.get("confidence", 0.0)
    if not isinstance(confidence, int | float):
        raise ValueError(f"bad confidence {confidence!r}")
    return Label(data["name"], float(confidence))


def _entities(data: Any) -> tuple[Entity, ...]:
    if not isinstance(data, list):
        raise ValueError("entities is not a list")
    seen: set[tuple[str, str]] = set()
    out: list[Entity] = []
    for item in data:
        name, value = item.get("entity"), item.get("value")
        if not isinstance(name, str) or value is None:
            continue
        norm = normalise(name, str(value))
        if not norm or (name, norm) in seen:
            continue
        seen.add((name, norm))
        out.append(Entity(name, norm, int(item.get("start", 0)), int(item.get("end", 0))))
    return tuple(out)


def to_result(text: str, data: dict[str, Any], min_confidence: float = 0.0) -> NluResult:
    """Map a Rasa ``/model/parse`` answer to an :class:`NluResult`.

    Args:
        text: The text that was parsed.
        data: Rasa's JSON answer.
        min_confidence: Request types and industries below this confidence are dropped (set to None).

    Returns:
        The result.

    Raises:
        ValueError: ``data`` does not look like a Rasa parse answer.
    """
    intent = _label(data.get("intent"))
    if intent is None:
        raise ValueError("answer has no intent")
    request_type = intent if intent.name in REQUEST_TYPES and intent.confidence >= min_confidence else None
    industry = _label(data.get(INDUSTRY_KEY))
    if industry is not None and industry.confidence < min_confidence:
        industry = None
    return NluResult(
        text=text,
        intent=intent,
        type=request_type,
        industry=industry,
        entities=_entities(data.get("entities", [])),
        raw=data,
    )


class RasaNLU:
    """:class:`hub.nlu.NluService` implementation talking to ``rasa run --enable-api``.

    Example::

        async with aiohttp.ClientSession() as session:
            nlu = RasaNLU("http://127.0.0.1:5005", session)
            result = await nlu.parse("燃气开户需要带什么材料")
    """

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        timeout: float = 2.0,
        min_confidence: float = 0.0,
    ) -> None:
        """Create the client.

        Args:
            base_url: The Rasa server, e.g. ``http://127.0.0.1:5005``.
            session: A shared aiohttp session (owned by the caller).
            timeout: Total seconds allowed per request.
            min_confidence: Request types and industries below this confidence are reported as None.
        """
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.min_confidence = min_confidence

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            async with self._session.request(method, url, json=payload, timeout=self._timeout) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise NluUnavailable(f"{method} {url}: HTTP {resp.status}: {body[:200]!r}")
        except TimeoutError as exc:
            raise NluUnavailable(f"{method} {url}: timed out after {self._timeout.total} s") from exc
        except aiohttp.ClientError as exc:
            raise NluUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise NluUnavailable(f"{method} {url}: malformed JSON: {body[:200]!r}") from exc
        if not isinstance(data, dict):
            raise NluUnavailable(f"{method} {url}: expected a JSON object, got {type(data).__name__}")
        return data

    async def parse(self, text: str) -> NluResult:
        """Parse ``text`` with Rasa.

        Raises:
            NluUnavailable: Connection error, timeout, non-200 answer or an answer that is not a parse.
        """
        data = await self._request("POST", "/model/parse", {"text": text})
        try:
            return to_result(text, data, self.min_confidence)
        except (ValueError, TypeError, AttributeError) as exc:
            raise NluUnavailable(f"unexpected /model/parse answer: {exc}") from exc

    async def status(self) -> dict[str, Any]:
        """``{"status": "ok", "url", "model"}`` or ``{"status": "down", "url", "error"}``; never raises."""
        try:
            data = await self._request("GET", "/status")
        except NluUnavailable as exc:
            return {"status": "down", "url": self.base_url, "error": str(exc)}
        model = data.get("model_file")
        if not model:
            return {"status": "down", "url": self.base_url, "error": "no model loaded"}
        return {"status": "ok", "url": self.base_url, "model": model}
