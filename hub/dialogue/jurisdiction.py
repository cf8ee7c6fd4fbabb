"""Jurisdiction: recognise requests that belong to another hotline and say where to go (issue 15).

:class:`Directory` implements :class:`hub.dialogue.ports.Referrals`. It is configuration: a YAML file (the
packaged ``referrals.yaml``, or a city's own via ``rexian serve --referral-directory FILE``) with the decision
thresholds and, per topic (``power``, ``labour`` ... the NLU's topic keys), the number, the name and what it
handles in zh-CN and English, and keyword rules.

The decision (:meth:`Directory.decide`, the one ``rexian nlu eval`` scores too):

0. A dialogue act (the NLU's intent is a greeting, yes/no, thanks, an address or phone given, asking for an agent
   or for an order's status) is never referred: it belongs to the conversation, not to another hotline.
1. A keyword rule matches when the text contains one of a topic's keywords and none of the
   ``in_scope_keywords`` (words of 12319 matters: 路灯不亮 is a street light, not the power company's).
2. Without the NLU's scope (NLU down, or a model without a scope classifier): the keyword rule alone.
3. The NLU says ``out`` with at least ``threshold`` confidence (``in_keyword_threshold`` when the text contains
   one of the ``in_scope_keywords``: 燃气费怎么交 is gas, whatever its likeness to 电费怎么交): refer, to the
   keyword rule's topic when one matches (more specific), else the NLU's topic, else the ``fallback`` topic.
4. The NLU says ``in`` with at least ``in_guard`` confidence: no referral, whatever the keywords say.
5. Otherwise (the NLU is unsure): the keyword rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.dialogue.ports import Referral
from hub.i18n import DEFAULT_LOCALE, t
from hub.nlu import Label, NluResult

DEFAULT_PATH = Path(__file__).with_name("referrals.yaml")
"""The packaged directory (the usual hotlines of a Chinese city)."""

_TOP_KEYS = frozenset({"version", "threshold", "in_guard", "in_keyword_threshold", "in_scope_keywords", "topics"})
_TOPIC_KEYS = frozenset({"number", "name", "handles", "urgent", "keywords", "fallback"})
_LOCALES = frozenset({"zh-CN", "en"})
_TOPIC_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_NUMBER_RE = re.compile(r"\d[\d-]{1,18}\d")

DIALOGUE_ACTS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "inform", "human_handoff", "status_query"})
"""NLU intents that are moves in the conversation, never a matter to refer."""


class DirectoryError(ValueError):
    """The referral directory file is invalid; the message names the file and the offending entry."""


@dataclass(frozen=True, slots=True)
class Topic:
    """One entry of the directory: a hotline or department and what it handles."""

    key: str
    number: str
    name: dict[str, str]  # locale -> name ("zh-CN" always present)
    handles: dict[str, str]  # locale -> what it handles
    keywords: tuple[str, ...] = ()
    urgent: bool = False
    fallback: bool = False

    def text(self, locale: str) -> str:
        """What the bot tells the citizen, in ``locale`` (zh-CN when the entry has no text in it)."""
        key = "bot.referral_urgent" if self.urgent else "bot.referral"
        return t(
            key,
            locale,
            name=self.name.get(locale) or self.name[DEFAULT_LOCALE],
            number=self.number,
            handles=self.handles.get(locale) or self.handles[DEFAULT_LOCALE],
        )


class Directory:
    """The referral directory and the jurisdiction decision (:class:`hub.dialogue.ports.Referrals`)."""

    def __init__(
        self,
        topics: list[Topic],
        threshold: float = 0.5,
        in_guard: float = 0.75,
        in_scope_keywords: tuple[str, ...] = (),
        in_keyword_threshold: float = 0.9,
        source: str = "<directory>",
    ) -> None:
        """Build a directory (usually through :meth:`load`).

        Raises:
            DirectoryError: Duplicate topics, more than one fallback or thresholds outside 0.5..1.
        """
        self.source = source
        if not topics:
            raise DirectoryError(f"{source}: no topics")
        self.topics = {topic.key: topic for topic in topics}
        if len(self.topics) != len(topics):
            raise DirectoryError(f"{source}: a topic is listed twice")
        fallbacks = [topic.key for topic in topics if topic.fallback]
        if len(fallbacks) > 1:
            raise DirectoryError(f"{source}: more than one fallback topic: {', '.join(fallbacks)}")
        self.fallback = fallbacks[0] if fallbacks else None
        for name, value in (
            ("threshold", threshold),
            ("in_guard", in_guard),
            ("in_keyword_threshold", in_keyword_threshold),
        ):
            if not 0.5 <= value <= 1.0:
                raise DirectoryError(f"{source}: {name} must be between 0.5 and 1, not {value}")
        self.threshold = threshold
        self.in_guard = in_guard
        self.in_keyword_threshold = max(in_keyword_threshold, threshold)
        self.in_scope_keywords = tuple(in_scope_keywords)

    @classmethod
    def load(cls, path: Path | str | None = None) -> Directory:
        """Read and validate a directory file (default: the packaged ``referrals.yaml``).

        Raises:
            DirectoryError: The file is missing, not YAML, or has unknown keys, missing numbers or names,
                or values of the wrong kind.
        """
        path = Path(path) if path is not None else DEFAULT_PATH
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DirectoryError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise DirectoryError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<directory>") -> Directory:
        """Validate the parsed YAML document (see :meth:`load`)."""
        if not isinstance(data, dict):
            raise DirectoryError(f"{source}: expected a mapping with 'topics'")
        unknown = sorted(set(map(str, data)) - _TOP_KEYS)
        if unknown:
            known = ", ".join(sorted(_TOP_KEYS))
            raise DirectoryError(f"{source}: unknown keys: {', '.join(unknown)} (known: {known})")
        if data.get("version", 1) != 1:
            raise DirectoryError(f"{source}: unsupported version {data.get('version')!r} (expected 1)")
        raw_topics = data.get("topics")
        if not isinstance(raw_topics, dict) or not raw_topics:
            raise DirectoryError(f"{source}: 'topics' must be a non-empty mapping of topic key to entry")
        topics = [_topic(source, str(key), entry) for key, entry in raw_topics.items()]
        return cls(
            topics,
            threshold=_number(source, "threshold", data.get("threshold", 0.5)),
            in_guard=_number(source, "in_guard", data.get("in_guard", 0.75)),
            in_scope_keywords=_words(source, "in_scope_keywords", data.get("in_scope_keywords", [])),
            in_keyword_threshold=_number(source, "in_keyword_threshold", data.get("in_keyword_threshold", 0.9)),
            source=source,
        )

    def names_our_matter(self, text: str) -> bool:
        """The text contains one of the ``in_scope_keywords`` (words of 12319 matters)."""
        return any(word in text for word in self.in_scope_keywords)

    def keyword_topic(self, text: str) -> str | None:
        """The topic whose keyword the text contains (urgent topics first, then in directory order), unless it
        names a 12319 matter (:meth:`names_our_matter`)."""
        if self.names_our_matter(text):
            return None
        for topic in sorted(self.topics.values(), key=lambda topic: not topic.urgent):  # emergencies first
            if any(word in text for word in topic.keywords):
                return topic.key
        return None

    def decide(self, text: str, scope: Label | None, topic: Label | None, intent: str | None = None) -> str | None:
        """The topic ``text`` is referred to, or None (a 12319 matter, or not sure enough): see the module doc.

        Args:
            text: The citizen's message.
            scope: The NLU's scope label (``in``/``out`` with its confidence); None: the NLU does not say.
            topic: The NLU's out-of-scope topic, if any.
            intent: The NLU's intent, if any.
        """
        if intent in DIALOGUE_ACTS:
            return None
        keyword = self.keyword_topic(text)
        if scope is None:
            return keyword
        needed = self.in_keyword_threshold if self.names_our_matter(text) else self.threshold
        if scope.name == "out" and scope.confidence >= needed:
            if keyword is not None:
                return keyword
            if topic is not None and topic.name in self.topics:
                return topic.name
            return self.fallback
        if scope.name == "in" and scope.confidence >= self.in_guard:
            return None
        return keyword

    def refer(self, text: str, nlu: NluResult | None, locale: str) -> Referral | None:
        """The referral for ``text`` when it belongs elsewhere, else None (``nlu`` None: the NLU is down)."""
        scope, topic, intent = (nlu.scope, nlu.topic, nlu.intent.name) if nlu is not None else (None, None, None)
        key = self.decide(text, scope, topic, intent)
        if key is None:
            return None
        return Referral(key, self.topics[key].text(locale))


def _number(source: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DirectoryError(f"{source}: {name} must be a number, not {value!r}")
    return float(value)


def _words(source: str, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(word, str) and word.strip() for word in value):
        raise DirectoryError(f"{source}: {where} must be a list of non-empty words")
    return tuple(word.strip() for word in value)


def _texts(source: str, where: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {DEFAULT_LOCALE: value}
    if not isinstance(value, dict):
        raise DirectoryError(f"{source}: {where} must be a text or a mapping of locale to text")
    unknown = sorted(set(map(str, value)) - _LOCALES)
    if unknown:
        raise DirectoryError(f"{source}: {where}: unknown locales: {', '.join(unknown)} (known: en, zh-CN)")
    texts = {str(k): v.strip() for k, v in value.items() if isinstance(v, str) and v.strip()}
    if len(texts) != len(value):
        raise DirectoryError(f"{source}: {where}: every text must be a non-empty string")
    if DEFAULT_LOCALE not in texts:
        raise DirectoryError(f"{source}: {where}: the {DEFAULT_LOCALE} text is missing")
    return texts


def _topic(source: str, key: str, entry: Any) -> Topic:
    where = f"topics.{key}"
    if not _TOPIC_RE.fullmatch(key):
        raise DirectoryError(f"{source}: {where}: a topic key is lower-case letters, digits and _")
    if not isinstance(entry, dict):
        raise DirectoryError(f"{source}: {where} must be a mapping (number, name, handles ...)")
    unknown = sorted(set(map(str, entry)) - _TOPIC_KEYS)
    if unknown:
        raise DirectoryError(
            f"{source}: {where}: unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(_TOPIC_KEYS))})"
        )
    for required in ("number", "name", "handles"):
        if required not in entry:
            raise DirectoryError(f"{source}: {where}: '{required}' is missing")
    number = entry["number"]
    if not isinstance(number, str) or not _NUMBER_RE.fullmatch(number.strip()):
        raise DirectoryError(f"{source}: {where}.number must be a phone number of digits (quote it), not {number!r}")
    for flag in ("urgent", "fallback"):
        if not isinstance(entry.get(flag, False), bool):
            raise DirectoryError(f"{source}: {where}.{flag} must be true or false")
    return Topic(
        key=key,
        number=number.strip(),
        name=_texts(source, f"{where}.name", entry["name"]),
        handles=_texts(source, f"{where}.handles", entry["handles"]),
        keywords=_words(source, f"{where}.keywords", entry.get("keywords", [])),
        urgent=entry.get("urgent", False),
        fallback=entry.get("fallback", False),
    )
