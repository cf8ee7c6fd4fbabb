"""Load knowledge-base articles and taxonomy words from the YAML demo data (or files of the same shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from knowledge_base.search import ArticleDoc, to_article_doc

#: The demo data shipped with the hub.
DEMO_DATA_DIR = Path(__file__).resolve().parent.parent / "hub" / "demo_data"


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_articles(path: Path = DEMO_DATA_DIR / "kb_articles.yaml") -> list[ArticleDoc]:
    """Read articles from a ``kb_articles.yaml``-shaped file.

    Args:
        path: The YAML file, with a top-level ``articles`` list.

    Returns:
        The articles as :class:`ArticleDoc` records, in file order.
    """
    return [to_article_doc(item) for item in _load(path)["articles"]]


def load_taxonomy_words(path: Path = DEMO_DATA_DIR / "taxonomy.yaml") -> list[str]:
    """Collect segmentation words from a ``taxonomy.yaml``-shaped file.

    Args:
        path: The YAML file, with ``industries`` holding ``categories`` with ``name_zh`` and ``keywords``.

    Returns:
        Industry names, category names and category keywords, deduplicated, in file order.
    """
    words: list[str] = []
    for industry in _load(path)["industries"]:
        words.append(industry["name_zh"])
        for category in industry.get("categories", []):
            words.append(category["name_zh"])
            words.extend(category.get("keywords", []))
    return list(dict.fromkeys(words))
