"""Shared machinery of the TF-IDF + logistic-regression components (intent and industry).

Each subclass prepares two views of a message — the text (char n-grams) and its space-joined tokens (word n-grams)
— and a label; this base fits the vectorisers and the classifier, persists and loads them, and ranks predictions.
"""

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Text, Tuple

import joblib
import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from components.address import find_addresses

logger = logging.getLogger(__name__)


def entity_spans(message: Message, training: bool = False) -> Set[Tuple[int, int, Text]]:
    """``(start, end, entity)`` of a message's entities.

    At run time these are what the extractors found. At training time the annotated ``address`` entities are
    replaced by what AddressExtractor finds in the text (``components.address.find_addresses``), so the
    classifiers mask addresses at training time exactly as at run time (annotations cover only some of them).
    """
    spans = {
        (int(e["start"]), int(e["end"]), str(e.get("entity", "x")))
        for e in message.get(ENTITIES) or []
        if "start" in e and "end" in e and not (training and e.get("entity") == "address")
    }
    if training:
        spans |= {(start, end, "address") for start, end, _ in find_addresses(message.get(TEXT) or "")}
    return spans


class TfidfLogisticComponent(GraphComponent):
    """Base of a trainable text classifier; subclasses set ``MODEL_FILE`` and implement train/process."""

    MODEL_FILE = "tfidf_classifier.joblib"

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
    ) -> "TfidfLogisticComponent":
        """Creates an untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TfidfLogisticComponent":
        """Loads the persisted vectorisers and classifier (an untrained component if there are none)."""
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / cls.MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained model in resource %s.", cls.__name__, resource.name)
            model = None
        return cls(config, model_storage, resource, model)

    def _vectorise(self, texts: Sequence[Text], tokens: Sequence[Text]) -> Any:
        assert self._model is not None
        chars = self._model["chars"].transform(texts)
        words = self._model["words"].transform(tokens)
        return scipy.sparse.hstack([chars, words]).tocsr()

    def _fit(self, texts: Sequence[Text], tokens: Sequence[Text], labels: Sequence[Text]) -> Resource:
        """Fits both vectorisers and the classifier, then persists them in the component's resource."""
        self._model = {
            "chars": TfidfVectorizer(
                analyzer="char_wb", ngram_range=(1, self._config["max_char_ngram"]), sublinear_tf=True
            ).fit(texts),
            "words": TfidfVectorizer(
                analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True
            ).fit(tokens),
        }
        classifier = LogisticRegression(
            C=self._config["C"], max_iter=3000, class_weight="balanced", random_state=self._config["random_seed"]
        )
        classifier.fit(self._vectorise(texts, tokens), list(labels))
        self._model["classifier"] = classifier
        logger.info("%s trained on %d examples, %d classes.", type(self).__name__, len(labels), len(set(labels)))
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, Path(directory) / self.MODEL_FILE)
        return self._resource

    def _rankings(self, texts: Sequence[Text], tokens: Sequence[Text]) -> List[List[Dict[Text, Any]]]:
        """For each message, the labels with their probabilities, best first (``ranking_length`` of them)."""
        assert self._model is not None
        classifier = self._model["classifier"]
        out = []
        for row in classifier.predict_proba(self._vectorise(texts, tokens)):
            order = np.argsort(row)[::-1]
            out.append(
                [
                    {"name": str(classifier.classes_[i]), "confidence": float(row[i])}
                    for i in order[: self._config["ranking_length"]]
                ]
            )
        return out

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """No-op at training time (the label is not a feature for later components)."""
        return training_data
