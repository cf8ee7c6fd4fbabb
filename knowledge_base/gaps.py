"""Gap mining: group the questions the bot could not answer, so knowledge managers see what to write next."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledge_base.store import UnansweredMessage
from knowledge_base.tokenize import Analyzer

#: Minimum token overlap (Dice) with one of a group's first questions to join the group.
SIMILARITY = 0.4
#: Messages that carry no question (greetings, confirmations) are not gaps.
SMALL_TALK = frozenset({"你好", "您好", "谢谢", "好的", "嗯", "在吗", "转人工", "人工", "再见", "是", "不是"})


@dataclass
class Gap:
    """A group of similar unanswered questions."""

    question: str  # the representative (first, usually shortest phrasing) question
    examples: list[str] = field(default_factory=list)
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def _features(analyzer: Analyzer, text: str) -> set[str]:
    analysis = analyzer.analyze(text)
    return set(analysis.words) | set(analysis.bigrams)


def _overlap(a: set[str], b: set[str]) -> float:
    """Dice coefficient of two feature sets."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def mine_gaps(
    messages: Iterable[UnansweredMessage], analyzer: Analyzer | None = None, max_examples: int = 5
) -> list[Gap]:
    """Greedy single-pass clustering (single link over a group's first members) by token overlap, largest first.

    Args:
        messages: Unanswered citizen messages (see :meth:`KnowledgeStore.unanswered`).
        analyzer: The knowledge base's analyzer (same segmentation and synonyms as retrieval).
        max_examples: How many distinct example phrasings to keep per group.
    """
    analyzer = analyzer or Analyzer()
    groups: list[tuple[list[set[str]], Gap]] = []
    for message in messages:
        text = message.text.strip()
        if len(text) < 3 or text.strip("。？！?!.， ") in SMALL_TALK:
            continue
        features = _features(analyzer, text)
        if not features:
            continue
        best, best_score = None, SIMILARITY
        for members, gap in groups:
            score = max(_overlap(features, member) for member in members)
            if score >= best_score:
                best, best_score = (members, gap), score
        if best is None:
            gap = Gap(question=text)
            groups.append(([features], gap))
        else:
            members, gap = best
            if len(members) < max_examples:
                members.append(features)
            if len(text) < len(gap.question):
                gap.question = text
        gap.count += 1
        gap.reasons[message.reason] = gap.reasons.get(message.reason, 0) + 1
        if text not in gap.examples and len(gap.examples) < max_examples:
            gap.examples.append(text)
    return sorted((gap for _, gap in groups), key=lambda g: (-g.count, g.question))
