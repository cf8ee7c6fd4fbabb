"""AddressExtractor: a Rasa 3 graph component adding ``address`` entities found by :mod:`components.address`.

Replaces the address regex of RegexEntityExtractor (which keeps the phone and time regexes). Each address becomes
``{"entity": "address", "start", "end", "value", "extractor": "AddressExtractor"}`` with ``value`` the span
without whitespace and punctuation. It must come before the intent/industry classifiers in config.yml: they mask
entity spans, and at training time they call the same :func:`components.address.find_addresses`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.address import DEFAULT_DICTIONARY_DIR, finder

ADDRESS = "address"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class AddressExtractor(GraphComponent, EntityExtractorMixin):
    """Finds Chinese addresses with a component grammar and jieba part-of-speech tags (no training)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """``dictionary_path``: the jieba user dictionaries (default: the project's data/jieba)."""
        return {"dictionary_path": None}

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages needed by the component."""
        return ["jieba"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = config
        path: Optional[Text] = config.get("dictionary_path")
        self._dictionary = str(Path(path).resolve()) if path else str(DEFAULT_DICTIONARY_DIR)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "AddressExtractor":
        """Creates the component (nothing to train or persist)."""
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Appends the message's addresses to its entities."""
        found = finder(self._dictionary)
        for message in messages:
            text = message.get(TEXT) or ""
            entities = [
                {"entity": ADDRESS, "start": start, "end": end, "value": value}
                for start, end, value in found.find(text)
            ]
            if entities:
                self.add_extractor_name(entities)
                message.set(ENTITIES, (message.get(ENTITIES) or []) + entities, add_to_output=True)
        return messages
