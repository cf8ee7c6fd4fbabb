"""Tolerant matching of recognised speech against menu phrases (contains, digits spoken as 一/二/三, commands)."""

from __future__ import annotations

import re
from collections.abc import Iterable

DIGIT_WORDS: dict[str, tuple[str, ...]] = {
    "0": ("零", "洞"),
    "1": ("一", "幺", "壹"),
    "2": ("二", "两", "贰"),
    "3": ("三", "叁"),
    "4": ("四", "肆"),
    "5": ("五", "伍"),
    "6": ("六", "陆"),
    "7": ("七", "柒"),
    "8": ("八", "捌"),
    "9": ("九", "玖"),
}
_TO_DIGIT = {word: digit for digit, words in DIGIT_WORDS.items() for word in words} | {d: d for d in "0123456789"}
_TO_DIGIT |= {chr(0xFF10 + i): str(i) for i in range(10)}  # full-width digits
AGENT_PHRASES = ("转人工", "人工服务", "人工", "客服", "接线员", "坐席", "座席")
BACK_PHRASES = ("返回上级", "上一级", "上级", "返回")
ROOT_PHRASES = ("返回主菜单", "主菜单")
REPEAT_PHRASES = ("重听", "再说一遍", "重复")
_DONE = re.compile(
    r"^(?:嗯|哦|噢|呃)?(?:(?:没有|没|不用|不需要|没事|没别的|没其他|就这些|就这样|好的|谢谢|谢了|再见|拜拜)"
    r"(?:了|啊|吧|呀|哈|的|别的|其他|其它|事情?|问题|需要)*)+$"
)
_NOISE = re.compile(r"[\s，。、！？,.!?;；:：\"'“”‘’()（）\[\]【】<>《》-]+")
_KEY_WRAPPER = re.compile(r"^(?:我)?(?:要)?(?:按|选|选择|第)?(.)(?:号|键|个|项|号键)?(?:吧)?$")


def normalise(text: str) -> str:
    """Remove spaces and punctuation (vosk separates Chinese words with spaces)."""
    return _NOISE.sub("", text)


def spoken_key(text: str) -> str | None:
    """The DTMF key named by an utterance made of one digit ("一", "按二", "第3个", "三号键"), else None."""
    m = _KEY_WRAPPER.match(normalise(text))
    return _TO_DIGIT.get(m.group(1)) if m else None


def spoken_digits(text: str) -> str | None:
    """Digits read out one by one ("二零二六 一一二五" → "20261125"); None if anything else was said."""
    cleaned = normalise(text)
    if not cleaned or any(ch not in _TO_DIGIT for ch in cleaned):
        return None
    return "".join(_TO_DIGIT[ch] for ch in cleaned)


def best_phrase(text: str, choices: Iterable[tuple[str, str]]) -> str | None:
    """The value of the longest phrase contained in ``text``; None if none or two values tie at that length.

    Args:
        text: the recognised utterance.
        choices: (phrase, value) pairs.
    """
    said = normalise(text)
    best: dict[str, int] = {}
    for phrase, value in choices:
        key = normalise(phrase)
        if key and key in said:
            best[value] = max(best.get(value, 0), len(key))
    if not best:
        return None
    top = max(best.values())
    winners = [value for value, length in best.items() if length == top]
    return winners[0] if len(winners) == 1 else None


def contains_any(text: str, phrases: Iterable[str]) -> bool:
    """Whether ``text`` contains one of ``phrases`` (punctuation and spaces ignored)."""
    said = normalise(text)
    return any(normalise(p) in said for p in phrases)


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Items without duplicates, first occurrence order kept."""
    return tuple(dict.fromkeys(items))


def says_done(text: str) -> bool:
    """The caller says they need nothing more ("没有了", "不用了谢谢", "好的再见"); "没有水" is not that."""
    return bool(_DONE.match(normalise(text)))
