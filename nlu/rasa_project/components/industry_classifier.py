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
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import joblib
import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

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


def _entity_spans(message: Message) -> List[Tuple[int, int]]:
    return [(int(e["start"]), int(e["end"])) for e in message.get(ENTITIES) or [] if "start" in e and "end" in e]


def _text(message: Message) -> Text:
    """The text with entity spans (addresses, phones) cut out: they say nothing about the industry."""
    text = message.get(TEXT) or ""
    for start, end in sorted(_entity_spans(message), reverse=True):
        text = text[:start] + " " + text[end:]
    return text


def _tokens(message: Message) -> Text:
    spans = _entity_spans(message)
    tokens = [
        t.text for t in message.get(TEXT_TOKENS) or [] if not any(s < t.end and t.start < e for s, e in spans)
    ]
    return " ".join(tokens) or _text(message)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IndustryClassifier(GraphComponent):
    """Predicts ``industry`` from text with char n-gram + token TF-IDF and logistic regression."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default configuration (overridable in config.yml)."""
        return {"none_label": "none", "C": 20.0, "max_char_ngram": 3, "ranking_length": 5, "random_seed": 0}

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages needed by the component."""
        return ["sklearn", "scipy", "joblib"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[Text, Any]] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IndustryClassifier":
        """Creates an untrained component."""
        return cls(config, model_storage, resource)

    def _features(self, messages: List[Message]) -> Any:
        assert self._model is not None
        chars = self._model["chars"].transform([_text(m) for m in messages])
        words = self._model["words"].transform([_tokens(m) for m in messages])
        return scipy.sparse.hstack([chars, words]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorisers and the classifier on all intent examples, then persists them."""
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = [industry_of(m) or self._config["none_label"] for m in examples]
        if len(set(labels)) < 2:
            logger.warning("IndustryClassifier: fewer than two industry labels; nothing trained.")
            return self._resource
        self._model = {
            "chars": TfidfVectorizer(
                analyzer="char_wb", ngram_range=(1, self._config["max_char_ngram"]), sublinear_tf=True
            ).fit([_text(m) for m in examples]),
            "words": TfidfVectorizer(
                analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True
            ).fit([_tokens(m) for m in examples]),
        }
        classifier = LogisticRegression(
            C=self._config["C"], max_iter=3000, class_weight="balanced", random_state=self._config["random_seed"]
        )
        classifier.fit(self._features(examples), labels)
        self._model["classifier"] = classifier
        logger.info("IndustryClassifier trained on %d examples, %d classes.", len(examples), len(set(labels)))
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, Path(directory) / _MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "IndustryClassifier":
        """Loads the persisted vectorisers and classifier (an untrained component if there are none)."""
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / _MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("IndustryClassifier: no trained model in resource %s.", resource.name)
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets ``industry`` and ``industry_ranking`` on each message (added to the parse output)."""
        if self._model is None or not messages:
            for message in messages:
                message.set(INDUSTRY, None, add_to_output=True)
                message.set(INDUSTRY_RANKING, [], add_to_output=True)
            return messages
        classifier = self._model["classifier"]
        probabilities = classifier.predict_proba(self._features(messages))
        for message, row in zip(messages, probabilities):
            order = np.argsort(row)[::-1]
            ranking = [
                {"name": str(classifier.classes_[i]), "confidence": float(row[i])}
                for i in order[: self._config["ranking_length"]]
            ]
            best = ranking[0]
            industry = None if best["name"] == self._config["none_label"] else best
            message.set(INDUSTRY, industry, add_to_output=True)
            message.set(INDUSTRY_RANKING, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """No-op at training time (the industry is a label, not a feature for later components)."""
        return training_data
