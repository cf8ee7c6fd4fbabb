"""Generates the Jieba custom dictionary ``rasa_project/data/jieba/userdict.txt``.

Sources, in order (the first occurrence of a word wins):

1. ``nlu/jieba_base.txt`` — hand-written hotline words with frequency and part of speech;
2. the taxonomy (``hub/demo_data/taxonomy.yaml``): industry and category names and category keywords;
3. the knowledge base (``hub/demo_data/kb_articles.yaml``): article tags;
4. places (``hub/demo_data/units.yaml``): district names.

Only words of 2-5 CJK/alphanumeric characters are taken from 2-4, and phrases ending in a particle
(``水表坏了``) are skipped: a dictionary word becomes one token, so whole sentences must not become words.
Regenerate after editing any source::

    python -m nlu.jieba_dict > nlu/rasa_project/data/jieba/userdict.txt

``tests/nlu/test_jieba_dict.py`` checks that the committed file is in sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

NLU_DIR = Path(__file__).resolve().parent
BASE = NLU_DIR / "jieba_base.txt"
DEMO_DATA = NLU_DIR.parent / "hub" / "demo_data"
OUTPUT = NLU_DIR / "rasa_project" / "data" / "jieba" / "userdict.txt"

_WORD = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{2,5}")
_PARTICLE_END = ("了", "的", "吗", "呢", "啊")


def _load(name: str) -> Any:
    return yaml.safe_load((DEMO_DATA / name).read_text(encoding="utf-8"))


def taxonomy_words(taxonomy: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(word, part of speech)`` from industry/category names and keywords."""
    for industry in taxonomy.get("industries") or []:
        yield str(industry.get("name_zh", "")), "n"
        for category in industry.get("categories") or []:
            yield str(category.get("name_zh", "")), "n"
            for keyword in category.get("keywords") or []:
                yield str(keyword), "n"


def kb_words(kb: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(word, part of speech)`` from the knowledge base article tags."""
    for article in kb.get("articles") or []:
        for tag in article.get("tags") or []:
            yield str(tag), "n"


def place_words(units: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """District names as place nouns."""
    for district in units.get("districts") or []:
        yield str(district.get("name_zh", "")), "ns"


def render(base: str, generated: Iterable[tuple[str, str]], frequency: int = 30) -> str:
    """The dictionary text: base lines as they are, then new generated words ``WORD FREQ POS``."""
    lines = [line for line in base.splitlines() if line.strip()]
    seen = {line.split()[0] for line in lines}
    for word, pos in generated:
        word = word.strip()
        if word in seen or not _WORD.fullmatch(word) or word.endswith(_PARTICLE_END):
            continue
        seen.add(word)
        lines.append(f"{word} {frequency} {pos}")
    return "\n".join(lines) + "\n"


def generate() -> str:
    """Render the dictionary from the committed sources."""
    words: list[tuple[str, str]] = []
    words += taxonomy_words(_load("taxonomy.yaml"))
    words += kb_words(_load("kb_articles.yaml"))
    words += place_words(_load("units.yaml"))
    return render(BASE.read_text(encoding="utf-8"), words)


if __name__ == "__main__":
    print(generate(), end="")
