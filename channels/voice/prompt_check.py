"""How well a caller can understand a flow's prompts: TTS → G.711 → an independent recogniser → character error rate.

Every prompt of a flow (node prompts, the defaults, the routing rejection; templates filled with example values)
is synthesised exactly as a call plays it (:func:`channels.voice.spoken_text.speakable`, the configured engine),
encoded to G.711 μ-law at 8 kHz and decoded again, then transcribed by Whisper (the recogniser the IVR itself uses
for free-form speech: a machine listener stands in for the caller). The character error rate compares the
transcript with the spoken text after both are normalised the same way (NFKC, simplified characters, punctuation
and spaces removed, number words such as 幺/一/两 mapped to digits).

``rexian voice check-prompts [--flow NAME]`` prints the report as JSON; the IVR editor shows it after a save.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import string
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from . import media
from .ivr.flow import Flow, Prompt
from .spoken_text import speakable
from .tts import PromptSynthesizer

log = logging.getLogger(__name__)

TARGET_CER = 0.35  # the default flow must stay at or below this overall
HARD_TO_UNDERSTAND = 0.5  # a prompt above this is flagged in the editor

# Example values for the placeholders of templated prompts (order status read-outs and the like).
EXAMPLE_VALUES = {
    "number": "202612070012",
    "status": "正在处理",
    "detail": "预计三个工作日内办结",
    "position": "3",
    "minutes": "5",
    "department": "市水务集团",
    "answer": "居民用水价格为每立方米三元四角五分",
}

_NUMBER_WORDS = {
    **dict.fromkeys("零〇洞", "0"),
    **dict.fromkeys("一幺壹", "1"),
    **dict.fromkeys("二两贰", "2"),
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_PUNCTUATION = re.compile(
    "[\\s" + re.escape(string.punctuation) + "，。、；：？！“”‘’（）《》【】…—·～｜「」『』〈〉﹏]+"
)


def normalise(text: str) -> str:
    """Text as compared for the error rate: NFKC, simplified, no punctuation or spaces, number words as digits."""
    from .asr_whisper import to_simplified

    text = to_simplified(unicodedata.normalize("NFKC", text))
    text = _PUNCTUATION.sub("", text).lower()
    return "".join(_NUMBER_WORDS.get(ch, ch) for ch in text)


def character_error_rate(reference: str, hypothesis: str) -> tuple[float, int, int]:
    """(rate, edits, reference length) after :func:`normalise`; an empty reference gives rate 0."""
    from .asr_whisper import edit_distance

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0, 0, 0
    edits = edit_distance(ref, hyp)
    return edits / len(ref), edits, len(ref)


@dataclass(frozen=True, slots=True)
class PromptScore:
    """One prompt: where it is, what was spoken, what the recogniser heard and the error rate."""

    where: str
    text: str
    spoken: str
    heard: str
    cer: float
    edits: int
    chars: int
    seconds: float

    @property
    def hard(self) -> bool:
        """The recogniser misheard half of it or more."""
        return self.cer > HARD_TO_UNDERSTAND


@dataclass(frozen=True, slots=True)
class PromptReport:
    """Scores of a flow's prompts; ``cer`` is total edits over total reference characters."""

    flow: str
    engine: str
    recogniser: str
    prompts: tuple[PromptScore, ...]
    target: float = TARGET_CER
    elapsed_s: float = 0.0

    @property
    def cer(self) -> float:
        """Overall character error rate."""
        chars = sum(p.chars for p in self.prompts)
        return sum(p.edits for p in self.prompts) / chars if chars else 0.0

    @property
    def passed(self) -> bool:
        """Overall rate at or below the target."""
        return self.cer <= self.target

    def as_json(self) -> dict[str, object]:
        """The report as printed by ``rexian voice check-prompts``."""
        return {
            "flow": self.flow,
            "engine": self.engine,
            "recogniser": self.recogniser,
            "prompts": [dataclasses.asdict(p) | {"cer": round(p.cer, 3), "hard": p.hard} for p in self.prompts],
            "overall_cer": round(self.cer, 3),
            "target": self.target,
            "passed": self.passed,
            "hard_prompts": sum(p.hard for p in self.prompts),
            "elapsed_s": round(self.elapsed_s, 1),
        }


def _filled(text: str) -> str:
    """A template with its ``{placeholders}`` replaced by example values (unknown ones dropped)."""
    return re.sub(r"\{(\w+)\}", lambda m: EXAMPLE_VALUES.get(m.group(1), ""), text)


def flow_prompts(flow: Flow, locale: str = "zh-CN", *, templates: bool = True) -> list[tuple[str, str]]:
    """(where, text) of every distinct prompt a caller of ``flow`` can hear, in document order.

    Templates (``{number}`` ...) are filled with example values, or left out when ``templates`` is False (what can
    be synthesised before a call: the prompt cache warm-up).
    """
    found: list[tuple[str, str]] = []

    def add(where: str, value: object) -> None:
        if isinstance(value, Prompt):
            text = value.text(locale)
            if "{" in text and not templates:
                return
            found.append((where, _filled(text)))

    start = flow.nodes.get(flow.start)
    for node in [*([start] if start is not None else []), *(n for n in flow.nodes.values() if n is not start)]:
        for f in dataclasses.fields(node):  # the start node first: the warm-up renders what callers hear first
            add(f"nodes.{node.id}.{f.name}", getattr(node, f.name))
    for f in dataclasses.fields(flow.defaults):
        add(f"defaults.{f.name}", getattr(flow.defaults, f.name))
    for f in dataclasses.fields(flow.routing):
        add(f"routing.{f.name}", getattr(flow.routing, f.name))
    seen: set[str] = set()
    unique: list[tuple[str, str]] = []
    for where, text in found:
        if text.strip() and text not in seen:
            seen.add(text)
            unique.append((where, text))
    return unique


def warm_texts(flow: Flow) -> list[str]:
    """The prompts of ``flow`` known before a call, as calls speak them (what the prompt cache is warmed with)."""
    return list(dict.fromkeys(speakable(text) for _where, text in flow_prompts(flow, templates=False)))


Transcriber = Callable[[bytes], Awaitable[str]]
"""8 kHz 16-bit mono PCM → transcript."""


def telephone_roundtrip(frames: Iterable[bytes], codec: str = "PCMU") -> bytes:
    """G.711 frames decoded back to 8 kHz PCM, as the far end of a call hears them."""
    return b"".join(media.decode(frame, codec) for frame in frames)


async def check_prompts(
    flow: Flow,
    synthesizer: PromptSynthesizer,
    transcribe: Transcriber,
    *,
    recogniser: str = "whisper-base",
    locale: str = "zh-CN",
    memo: dict[str, PromptScore] | None = None,
) -> PromptReport:
    """Synthesise, send through G.711 and transcribe every prompt of ``flow``; score each.

    ``memo`` keeps scores by spoken text, engine and recogniser: a re-check after an edit only listens to the
    prompts that changed.
    """
    started = time.perf_counter()
    scores: list[PromptScore] = []
    engine = await synthesizer.load()
    for where, text in flow_prompts(flow, locale):
        spoken = speakable(text)
        key = json.dumps([spoken, engine.identity, recogniser], ensure_ascii=False)
        known = memo.get(key) if memo is not None else None
        if known is not None:
            scores.append(dataclasses.replace(known, where=where, text=text))
            continue
        frames = await synthesizer.frames(spoken, "PCMU")
        pcm = telephone_roundtrip(frames)
        heard = await transcribe(pcm)
        rate, edits, chars = character_error_rate(spoken, heard)
        score = PromptScore(where, text, spoken, heard, rate, edits, chars, round(len(frames) * 0.02, 2))
        scores.append(score)
        if memo is not None:
            memo[key] = score
        log.debug("prompt check %s: cer %.2f heard %r", where, rate, heard)
    return PromptReport(
        flow=flow.name,
        engine=engine.identity,
        recogniser=recogniser,
        prompts=tuple(scores),
        elapsed_s=time.perf_counter() - started,
    )
