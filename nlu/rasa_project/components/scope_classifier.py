"""ScopeClassifier: a Rasa 3 graph component telling 12319 matters ("in") from those of other hotlines.

Classes: ``in`` plus one class per out-of-scope topic (the keys of the referral directory: ``power``,
``labour``, ``police`` ...). Learnt from the training examples' metadata: an example with
``{scope: out, topic: KEY}`` is of class KEY; every other example is ``in`` (all request data and the dialogue
acts), except the other examples of the intent ``out_of_scope`` (chit-chat such as weather or jokes, and
older examples without a topic), which are left out: they are neither a 12319 matter nor a known referral.
(The examples of data/nlu/scope/ are of the intent ``out_of_scope`` too, so the industry classifier sees them as
``none``; the intent classifier skips them — they blurred repair/complaint — and instead this component turns a
request intent into ``out_of_scope`` when P(out) >= ``intent_override``, see :func:`override_intent`.) Same
features as the industry
classifier (TF-IDF over character 1-3 grams and Jieba tokens, entity spans cut out, logistic regression with
balanced class weights).

Output (added to the ``/model/parse`` answer)::

    "scope": {"name": "out", "confidence": 0.93}      # confidence of the label: P(in) or 1 - P(in)
    "scope_topic": {"name": "power", "confidence": 0.81}   # best out topic, its share of P(out); null if none
    "scope_ranking": [{"name": ..., "confidence": ...}, ...]   # top 5 classes, "in" included
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.industry_classifier import _text, _tokens
from components.tfidf_base import TfidfLogisticComponent

logger = logging.getLogger(__name__)

SCOPE = "scope"
SCOPE_TOPIC = "scope_topic"
SCOPE_RANKING = "scope_ranking"
IN = "in"
OUT_OF_SCOPE = "out_of_scope"
OUT = "out"
_MODEL_FILE = "scope_classifier.joblib"
_TAG = re.compile(
    r"【[^】]{0,8}】|\[[^\]]{0,8}\]|(?:来电人|来信人|市民|网民|群众)\s*(?:反映|咨询|留言|报称|来电|求助)\s*[:：]?"
)
"""SMS/web-form tags (【投诉】, [咨询]) and hotline summary openings (来电人反映：, 网民留言：): they tell how the
message came, not whose matter it is."""


def _views(message: Message, training: bool = False) -> tuple[str, str]:
    """The classifier's two views (text without entities, tokens), without SMS/web-form tags."""
    return _TAG.sub(" ", _text(message, training)), _TAG.sub(" ", _tokens(message, training))


def is_scope_out(message: Message) -> bool:
    """Whether a training example is labelled out of scope (``{scope: out}`` in its example or intent metadata)."""
    metadata = message.get(METADATA) or {}
    return any(
        isinstance(value, dict) and value.get(SCOPE) == OUT
        for value in (metadata.get(METADATA_EXAMPLE), metadata.get(METADATA_INTENT))
    )


def scope_label(message: Message, skip_intents: list[str]) -> str | None:
    """The training class of an example: its out-of-scope topic, ``in``, or None (left out of training)."""
    metadata = message.get(METADATA) or {}
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        value = metadata.get(level)
        if isinstance(value, dict) and value.get(SCOPE) == OUT:
            topic = value.get("topic")
            if not topic:
                raise ValueError(f"out-of-scope example without a topic: {message.get(TEXT)!r}")
            return str(topic)
    if message.get(INTENT) in skip_intents:
        return None
    return IN


def override_intent(message: Message, p_out: float, threshold: float | None, intents: list[str]) -> None:
    """Makes a request the intent ``out_of_scope`` when the scope classifier is at least ``threshold`` sure it is out.

    The intent classifier does not learn the referral examples (they blurred repair/complaint), so this is where
    a clearly out-of-scope message stops being a 12319 request. Dialogue acts (greet, affirm, human ...) are kept.
    """
    intent = message.get(INTENT) or {}
    if threshold is None or p_out < threshold or intent.get("name") not in intents:
        return
    ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != OUT_OF_SCOPE]
    top = {"name": OUT_OF_SCOPE, "confidence": p_out}
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)


def scope_output(ranking: list[dict[str, Any]], probabilities: dict[str, float]) -> dict[str, Any]:
    """``scope`` and ``scope_topic`` from the class probabilities (``in`` and the topics)."""
    p_in = probabilities.get(IN, 0.0)
    p_out = max(0.0, 1.0 - p_in)
    scope = {"name": OUT, "confidence": p_out} if p_out > p_in else {"name": IN, "confidence": p_in}
    topics = [(name, p) for name, p in probabilities.items() if name != IN]
    topic = None
    if topics and p_out > 0:
        name, p = max(topics, key=lambda item: item[1])
        topic = {"name": name, "confidence": p / p_out}
    return {SCOPE: scope, SCOPE_TOPIC: topic, SCOPE_RANKING: ranking}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ScopeClassifier(TfidfLogisticComponent):
    """Predicts ``scope`` (in/out) and the out-of-scope ``scope_topic`` of a message."""

    MODEL_FILE = _MODEL_FILE

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default configuration (overridable in config.yml)."""
        return {
            "C": 10.0,
            "max_char_ngram": 3,
            "ranking_length": 5,
            "random_seed": 0,
            "skip_intents": ["out_of_scope"],
            # P(out) from which a request intent becomes out_of_scope (None: never); see override_intent.
            "intent_override": 0.9,
            "override_intents": ["consult", "complaint", "repair", "suggestion", "praise"],
        }

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorisers and the classifier on the labelled intent examples, then persists them."""
        examples, labels = [], []
        for message in training_data.intent_examples:
            label = scope_label(message, list(self._config["skip_intents"])) if message.get(TEXT) else None
            if label is not None:
                examples.append(message)
                labels.append(label)
        if len(set(labels)) < 2:
            logger.warning("ScopeClassifier: no out-of-scope examples; nothing trained.")
            return self._resource
        views = [_views(m, True) for m in examples]
        return self._fit([v[0] for v in views], [v[1] for v in views], labels)

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets ``scope``, ``scope_topic`` and ``scope_ranking`` on each message (added to the parse output)."""
        if self._model is None or not messages:
            for message in messages:
                message.set(SCOPE, None, add_to_output=True)
                message.set(SCOPE_TOPIC, None, add_to_output=True)
                message.set(SCOPE_RANKING, [], add_to_output=True)
            return messages
        views = [_views(m) for m in messages]
        texts, tokens = [v[0] for v in views], [v[1] for v in views]
        classifier = self._model["classifier"]
        length = self._config["ranking_length"]
        for message, row in zip(messages, classifier.predict_proba(self._vectorise(texts, tokens)), strict=True):
            probabilities = {str(name): float(p) for name, p in zip(classifier.classes_, row, strict=True)}
            best = sorted(probabilities.items(), key=lambda item: -item[1])[:length]
            ranking = [{"name": name, "confidence": p} for name, p in best]
            for key, value in scope_output(ranking, probabilities).items():
                message.set(key, value, add_to_output=True)
            p_out = max(0.0, 1.0 - probabilities.get(IN, 0.0))
            override_intent(message, p_out, self._config["intent_override"], list(self._config["override_intents"]))
        return messages
