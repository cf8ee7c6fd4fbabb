"""IndustryClassifier: a Rasa 3 graph component predicting the 12319 industry of a message.

The request type is the Rasa intent (TfidfIntentClassifier); the industry is a second, independent label. It is learnt from
the ``industry`` key of the training examples' metadata (example-level metadata wins over intent-level
metadata); examples without it form the ``none`` class (greetings, hand-off requests, bare addresses ...).

Entity spans (addresses, phones) are cut out of the text first. Model: TF-IDF over character 1-3 grams plus TF-IDF over the Jieba tokens (the custom
dictionary keeps domain words such as 井盖 or 维修基金 whole), fed to a multinomial logistic regression.

Output (added to the ``/model/parse`` answer)::

    "industry": {"name": "gas", "confidence": 0.91}   # or null when the best class is "none"
    "industry_ranking": [{"name": ..., "confidence": ...}, ...]   # top 5, "none" included
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.tfidf_base import TfidfLogisticComponent, entity_spans

logger = logging.getLogger(__name__)

INDUSTRY = "industry"
INDUSTRY_RANKING = "industry_ranking"
_MODEL_FILE = "industry_classifier.joblib"


def industry_of(message: Message) -> Optional[Text]:
    """The industry code in a training example's metadata (example level first, then intent level)."""
    metadata = message.get(METADATA) or {}
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        value = metadata.get(level)
        if isinstance(value, dict) and value.get(INDUSTRY):
            return str(value[INDUSTRY])
    return None


def _entity_spans(message: Message, training: bool = False) -> List[Tuple[int, int]]:
    """Non-overlapping entity spans; at training time addresses are those AddressExtractor finds at run time."""
    out: List[Tuple[int, int]] = []
    for start, end, _ in sorted(entity_spans(message, training), key=lambda s: (s[0], -s[1])):
        if not out or start >= out[-1][1]:
            out.append((start, end))
    return out


def _text(message: Message, training: bool = False) -> Text:
    """The text with entity spans (addresses, phones) cut out: they say nothing about the industry."""
    text = message.get(TEXT) or ""
    for start, end in sorted(_entity_spans(message, training), reverse=True):
        text = text[:start] + " " + text[end:]
    return text


def _tokens(message: Message, training: bool = False) -> Text:
    spans = _entity_spans(message, training)
    tokens = [
        t.text for t in message.get(TEXT_TOKENS) or [] if not any(s < t.end and t.start < e for s, e in spans)
    ]
    return " ".join(tokens) or _text(message, training)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IndustryClassifier(TfidfLogisticComponent):
    """Predicts ``industry`` from text with char n-gram + token TF-IDF and logistic regression."""

    MODEL_FILE = _MODEL_FILE

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default configuration (overridable in config.yml)."""
        return {"none_label": "none", "C": 20.0, "max_char_ngram": 3, "ranking_length": 5, "random_seed": 0}

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorisers and the classifier on all intent examples, then persists them."""
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = [industry_of(m) or self._config["none_label"] for m in examples]
        if len(set(labels)) < 2:
            logger.warning("IndustryClassifier: fewer than two industry labels; nothing trained.")
            return self._resource
        return self._fit([_text(m, True) for m in examples], [_tokens(m, True) for m in examples], labels)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets ``industry`` and ``industry_ranking`` on each message (added to the parse output)."""
        if self._model is None or not messages:
            for message in messages:
                message.set(INDUSTRY, None, add_to_output=True)
                message.set(INDUSTRY_RANKING, [], add_to_output=True)
            return messages
        rankings = self._rankings([_text(m) for m in messages], [_tokens(m) for m in messages])
        for message, ranking in zip(messages, rankings):
            best = ranking[0]
            industry = None if best["name"] == self._config["none_label"] else best
            message.set(INDUSTRY, industry, add_to_output=True)
            message.set(INDUSTRY_RANKING, ranking, add_to_output=True)
        return messages
