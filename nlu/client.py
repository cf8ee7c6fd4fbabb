"""``RasaNLU``: the hub's NLU service backed by a Rasa server's ``POST /model/parse``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub.nlu import Entity, Label, NluResult, NluUnavailable
from nlu.category import CategoryMatcher, default_matcher
from nlu.patterns import normalise
from nlu.timex import resolve as resolve_time

REQUEST_TYPES = frozenset({"consult", "complaint", "repair", "suggestion", "praise"})
"""Intents that are also request types (the 12319 taxonomy)."""

INDUSTRY_KEY = "industry"
"""Key under which the custom IndustryClassifier component reports its prediction."""

PROMOTABLE_INTENTS = frozenset({"inform", "affirm", "deny", "greet", "thank", "goodbye"})
"""Dialogue intents that yield to a request type when the industry classifier is confident (see :func:`reconcile`)."""

NONE_MARGIN = 0.5
"""A request takes its best real industry when that has at least this fraction of the ``none`` class's confidence."""

PROMOTE_MIN_INDUSTRY = 0.3
"""Industry confidence above which a message counts as a request whatever the intent classifier said."""

NO_FORCE_OUT = 0.7
"""Scope-classifier confidence in ``out`` from which a request gets no industry forced on it (see :func:`reconcile`)."""

SURE_IN = 0.8
"""Scope-classifier confidence in ``in`` from which a message is taken as a 12319 request (see :func:`reconcile`)."""

SCOPE_KEY = "scope"
SCOPE_TOPIC_KEY = "scope_topic"
"""Keys under which the custom ScopeClassifier component reports jurisdiction (in/out) and the out topic."""


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
        if name == "time":
            item["time"] = resolve_time(norm)  # machine-readable form, kept in NluResult.raw
        seen.add((name, norm))
        out.append(Entity(name, norm, int(item.get("start", 0)), int(item.get("end", 0))))
    return tuple(out)


def _ranking(data: dict[str, Any], key: str) -> list[Label]:
    out = []
    for item in data.get(key) or []:
        label = _label(item)
        if label is not None:
            out.append(label)
    return out


def reconcile(
    data: dict[str, Any], intent: Label, industry: Label | None, out_of_scope: bool = False, in_scope: bool = False
) -> tuple[Label, Label | None]:
    """Make the two classifiers agree: a request has an industry, a message with a clear industry is a request.

    - The intent is a request type but the industry classifier's best class is ``none``: take its best
      real industry (with its own confidence) unless ``none`` leads by more than 1/:data:`NONE_MARGIN`
      (then the text names no 12319 industry: schools, health insurance ...). Not when the scope classifier
      is at least :data:`NO_FORCE_OUT` sure the message is out of scope: no industry is forced on it; and
      whatever the margin when it is at least :data:`SURE_IN` sure the message is a 12319 matter.
    - The intent is a plain dialogue act (:data:`PROMOTABLE_INTENTS`: inform, affirm, greet ...) but the
      industry is at least :data:`PROMOTE_MIN_INDUSTRY` sure: the message is a request; its type is the best
      request type of the intent ranking, with confidence = industry confidence x that type's share among the
      request types. ("我家住在振兴路8号 楼下烧烤摊太吵" is a complaint that also informs an address.)
      The same for the intent ``out_of_scope`` when the scope classifier is at least :data:`SURE_IN` sure the
      message is a 12319 matter (城管没收了我的电动车), with the best real industry.

    Args:
        data: Rasa's parse answer (``intent_ranking``, ``industry_ranking``).
        intent: Rasa's intent.
        industry: The industry, None when its best class is ``none``.
        out_of_scope: The scope classifier is at least :data:`NO_FORCE_OUT` sure the message is out of scope.
        in_scope: The scope classifier is at least :data:`SURE_IN` sure the message is a 12319 matter.

    Returns:
        ``(intent, industry)`` after reconciliation.
    """
    if intent.name in REQUEST_TYPES and industry is None:
        if out_of_scope:
            return intent, None
        ranking = _ranking(data, "industry_ranking")
        none = next((label.confidence for label in ranking if label.name == "none"), 0.0)
        ranked = [label for label in ranking if label.name != "none"]
        if ranked and (in_scope or ranked[0].confidence >= NONE_MARGIN * none):
            return intent, ranked[0]
        return intent, None
    if intent.name == "out_of_scope" and in_scope:
        ranked = [label for label in _ranking(data, "industry_ranking") if label.name != "none"]
        industry = industry or (ranked[0] if ranked else None)
        if industry is not None and industry.confidence >= PROMOTE_MIN_INDUSTRY:
            intent = Label("inform", intent.confidence)  # promoted below like a dialogue act
    if intent.name in PROMOTABLE_INTENTS and industry is not None and industry.confidence >= PROMOTE_MIN_INDUSTRY:
        requests = [label for label in _ranking(data, "intent_ranking") if label.name in REQUEST_TYPES]
        total = sum(label.confidence for label in requests)
        if requests and total > 0:
            best = max(requests, key=lambda label: label.confidence)
            return Label(best.name, round(industry.confidence * best.confidence / total, 4)), industry
    return intent, industry


def to_result(
    text: str, data: dict[str, Any], min_confidence: float = 0.0, categories: CategoryMatcher | None = None
) -> NluResult:
    """Map a Rasa ``/model/parse`` answer to an :class:`NluResult`.

    Args:
        text: The text that was parsed.
        data: Rasa's JSON answer.
        min_confidence: Request types and industries below this confidence are dropped (set to None).
        categories: Chooses the category within the industry (default: keywords of the default taxonomy).

    Returns:
        The result.

    Raises:
        ValueError: ``data`` does not look like a Rasa parse answer.
    """
    intent = _label(data.get("intent"))
    if intent is None:
        raise ValueError("answer has no intent")
    scope = _label(data.get(SCOPE_KEY))
    topic = _label(data.get(SCOPE_TOPIC_KEY)) if scope is not None and scope.name == "out" else None
    sure_out = scope is not None and scope.name == "out" and scope.confidence >= NO_FORCE_OUT
    sure_in = scope is not None and scope.name == "in" and scope.confidence >= SURE_IN
    intent, industry = reconcile(data, intent, _label(data.get(INDUSTRY_KEY)), out_of_scope=sure_out, in_scope=sure_in)
    request_type = intent if intent.name in REQUEST_TYPES and intent.confidence >= min_confidence else None
    if industry is not None and industry.confidence < min_confidence:
        industry = None
    category = (categories or default_matcher()).match(text, industry)
    return NluResult(
        text=text,
        intent=intent,
        type=request_type,
        industry=industry,
        category=category,
        entities=_entities(data.get("entities", [])),
        raw=data,
        scope=scope,
        topic=topic,
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
        categories: CategoryMatcher | None = None,
    ) -> None:
        """Create the client.

        Args:
            base_url: The Rasa server, e.g. ``http://127.0.0.1:5005``.
            session: A shared aiohttp session (owned by the caller).
            timeout: Total seconds allowed per request.
            min_confidence: Request types and industries below this confidence are reported as None.
            categories: Category matcher (default: keywords of the default taxonomy).
        """
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.min_confidence = min_confidence
        self.categories = categories

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
            return to_result(text, data, self.min_confidence, self.categories)
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
