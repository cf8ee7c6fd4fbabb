"""Category within the industry: a keyword matcher over the taxonomy (see docs/adr/0007-nlu-category-time-eval.md).

The taxonomy has ~250 categories with curated keywords (``hub/demo_data/taxonomy.yaml``, editable by
administrators) and the training data has a handful of examples per industry, far too few for a statistical
classifier over hundreds of classes. So the category is chosen among the categories of the *predicted*
industry by keyword evidence: each category scores the summed length of its keywords (and its Chinese name)
found in the text; the best wins. Its confidence is the industry confidence times the winner's share of the
evidence, so a category is never surer than the industry it belongs to.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.nlu import Label

TAXONOMY_FILE = Path(__file__).resolve().parents[1] / "hub" / "demo_data" / "taxonomy.yaml"


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """A category code with its industry and the words that evidence it."""

    code: str
    industry: str
    keywords: tuple[str, ...]


class CategoryMatcher:
    """Chooses the category of a text within an industry by keyword evidence."""

    def __init__(self, rules: Iterable[CategoryRule]) -> None:
        """Create the matcher from category rules."""
        self._by_industry: dict[str, list[CategoryRule]] = {}
        for rule in rules:
            self._by_industry.setdefault(rule.industry, []).append(rule)

    @classmethod
    def from_taxonomy(cls, taxonomy: Mapping[str, Any]) -> CategoryMatcher:
        """Build from the taxonomy YAML structure (``industries: [{code, categories: [...]}]``)."""
        rules = []
        for industry in taxonomy.get("industries") or []:
            for category in industry.get("categories") or []:
                words = [str(category.get("name_zh") or ""), *(str(k) for k in category.get("keywords") or [])]
                rules.append(CategoryRule(str(category["code"]), str(industry["code"]), tuple(w for w in words if w)))
        return cls(rules)

    @classmethod
    def from_file(cls, path: Path = TAXONOMY_FILE) -> CategoryMatcher:
        """Build from a taxonomy YAML file (default: the hub's default 12319 taxonomy)."""
        return cls.from_taxonomy(yaml.safe_load(path.read_text(encoding="utf-8")))

    def ranking(self, text: str, industry: str) -> list[tuple[str, int]]:
        """``(category, score)`` of every category of ``industry`` with evidence in ``text``, best first."""
        scored = []
        for rule in self._by_industry.get(industry, []):
            score = sum(len(word) for word in rule.keywords if word in text)
            if score:
                scored.append((rule.code, score))
        return sorted(scored, key=lambda item: (-item[1], item[0]))

    def match(self, text: str, industry: Label | None) -> Label | None:
        """The category of ``text`` within ``industry`` (None without an industry or without evidence)."""
        if industry is None:
            return None
        ranking = self.ranking(text, industry.name)
        if not ranking:
            return None
        total = sum(score for _, score in ranking)
        code, best = ranking[0]
        return Label(code, round(industry.confidence * best / total, 4))


@functools.cache
def default_matcher() -> CategoryMatcher:
    """The matcher over the default taxonomy file (loaded once)."""
    return CategoryMatcher.from_file()
