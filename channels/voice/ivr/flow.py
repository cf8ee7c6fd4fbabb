"""IVR flows as data: the frozen model of a flow document and its loader.

A flow is a YAML document (see ``flows/default_12319.yaml``)::

    name: ...
    start: welcome                # the first node
    defaults: {timeout_s, retries, min_confidence, agent, invalid_prompt, no_input_prompt, return_prompt, goodbye,
               no_answer_prompt, busy_prompt}
    routing: {vip: [patterns], blacklist: [patterns], vip_priority, reject_prompt}
    nodes:
      welcome: {type: play, prompt: 您好..., next: hours}
      ...

Node types: ``play``, ``menu``, ``hours``, ``collect_digits``, ``order_status``, ``kb_answer``, ``speech_intake``,
``voicemail``, ``agent``, ``hangup``, ``goto``. Prompts are zh-CN text, or a mapping ``{zh-CN: ..., en: ...}``.
:func:`channels.voice.ivr.loader.load_flow` returns a :class:`Flow` or raises :class:`FlowError` listing every
problem with its path in the document (``nodes.main.options[2].key: duplicate DTMF key '1'``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import ClassVar

from hub.i18n import CatalogError, t

DTMF_KEYS = frozenset("0123456789*#")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


ISSUE_KEY = "ivr.issue."  # catalog key of an issue: ISSUE_KEY + code (the ``voice`` domain)
CODED_PARAMS = {"kind": "ivr.kind.", "problem": "ivr.yaml."}  # params whose values are codes, with their keys
ParamValue = str | int | float
RESERVED_PARAMS = frozenset({"key", "locale"})  # the names of ui(key, locale, **params)'s own arguments


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """One problem (or warning) found in a flow document, with its path (``nodes.main.options[1].next``).

    ``code`` names the problem (the catalog key ``ivr.issue.<code>``), ``params`` fill its placeholders. The
    params named in :data:`CODED_PARAMS` (``kind``, ``problem``) hold codes themselves, translated too;
    the others are shown as they are (text typed by the administrator, numbers).
    """

    path: str
    code: str
    params: Mapping[str, ParamValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if RESERVED_PARAMS & set(self.params):
            raise ValueError(f"FlowIssue params may not be named {sorted(RESERVED_PARAMS)}")
        plain = {
            k: v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v) for k, v in self.params.items()
        }
        object.__setattr__(self, "params", plain)

    def render(self, translate: Callable[..., str]) -> str:
        """The message through ``translate(key, **params)`` (a page's ``ui``, or :func:`hub.i18n.t` for a locale)."""
        params = dict(self.params)
        for name, prefix in CODED_PARAMS.items():
            if name in params:
                params[name] = translate(f"{prefix}{params[name]}", **self.params)
        return translate(ISSUE_KEY + self.code, **params)

    def text(self, locale: str = "en") -> str:
        """The message in ``locale`` (the code and params when the catalogs cannot be read)."""
        try:
            return self.render(lambda key, **params: t(key, locale, **params))
        except (CatalogError, KeyError, IndexError, ValueError):
            return f"{self.code} {json.dumps(self.params, ensure_ascii=False)}" if self.params else self.code

    @property
    def message(self) -> str:
        """The English message (logs, exceptions)."""
        return self.text("en")

    def as_json(self, locale: str = "en") -> dict[str, object]:
        """``{path, code, params, message}`` with the message in ``locale``."""
        return {"path": self.path, "code": self.code, "params": dict(self.params), "message": self.text(locale)}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class FlowError(ValueError):
    """The document is not a valid flow; ``issues`` lists every problem found (``warnings`` the rest)."""

    def __init__(self, issues: list[FlowIssue], warnings: list[FlowIssue] | None = None) -> None:
        self.issues = tuple(issues)
        self.warnings = tuple(warnings or ())
        super().__init__("; ".join(str(i) for i in self.issues[:5]) + (" ..." if len(self.issues) > 5 else ""))


@dataclass(frozen=True, slots=True)
class Prompt:
    """Text spoken by TTS: zh-CN always, English optionally. ``id`` names it for the prompt cache."""

    zh: str
    en: str | None = None
    id: str = ""

    def text(self, locale: str = "zh-CN") -> str:
        """The text in ``locale`` (zh-CN when no English text exists)."""
        return self.en if locale == "en" and self.en else self.zh


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Base of every node; ``id`` is its key under ``nodes``."""

    type: ClassVar[str] = ""
    id: str

    def targets(self) -> tuple[str, ...]:
        """Ids of the nodes this node can continue with (its static edges)."""
        return ()


@dataclass(frozen=True, slots=True)
class MenuOption:
    """A menu choice: a DTMF key and/or spoken phrases leading to ``next``."""

    key: str | None
    phrases: tuple[str, ...]
    next: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayNode(Node):
    """Say a prompt (or the knowledge base's current notices when ``announcements``), then go on to ``next``."""

    type: ClassVar[str] = "play"
    prompt: Prompt | None = None
    announcements: bool = False
    empty_prompt: Prompt | None = None  # said when ``announcements`` finds no current notice
    next: str

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True, slots=True, kw_only=True)
class MenuNode(Node):
    """Choices by DTMF or speech; ``0`` reaches ``agent`` (None: disabled) and ``*`` the previous menu."""

    type: ClassVar[str] = "menu"
    prompt: Prompt
    options: tuple[MenuOption, ...]
    timeout_s: float
    retries: int
    invalid_prompt: Prompt
    no_input_prompt: Prompt
    return_prompt: Prompt  # said when the caller comes back here after an agent leg
    on_fail: str | None  # after the retries: this node, else the agent (or hang up when there is none)
    agent: str | None
    back: bool = True

    def targets(self) -> tuple[str, ...]:
        extra = tuple(t for t in (self.on_fail, self.agent) if t)
        return tuple(o.next for o in self.options) + extra


@dataclass(frozen=True, slots=True, kw_only=True)
class HoursNode(Node):
    """Business hours: ``weekly[weekday]`` open ranges in ``timezone`` (None: the city's zone, ``--timezone``);
    holidays of the working calendar close."""

    type: ClassVar[str] = "hours"
    weekly: tuple[tuple[tuple[time, time], ...], ...]  # 7 entries, Monday first; end may be 24:00 (time.max)
    timezone: str | None
    holidays: bool
    open: str
    closed: str

    def targets(self) -> tuple[str, ...]:
        return (self.open, self.closed)


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectDigitsNode(Node):
    """Collect ``min_digits``..``max_digits`` keypad (or spoken) digits, ended by ``terminator``, into a variable."""

    type: ClassVar[str] = "collect_digits"
    prompt: Prompt
    min_digits: int
    max_digits: int
    terminator: str | None
    timeout_s: float
    retries: int
    invalid_prompt: Prompt
    store_as: str
    next: str
    on_fail: str | None

    def targets(self) -> tuple[str, ...]:
        return (self.next, *((self.on_fail,) if self.on_fail else ()))


ORDER_PLACEHOLDERS = frozenset({"number", "status", "detail"})


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStatusNode(Node):
    """Say a work order's status, looked up by a collected number (``digits``), caller ID (``caller``) or both."""

    type: ClassVar[str] = "order_status"
    by: str  # digits | caller | auto (the collected number if any, else the caller ID)
    digits_from: str
    found: Prompt  # template: {number} {status} {detail}
    not_found: Prompt
    next: str
    not_found_next: str

    def targets(self) -> tuple[str, ...]:
        return (self.next, self.not_found_next)


@dataclass(frozen=True, slots=True, kw_only=True)
class KbAnswerNode(Node):
    """Ask a free-form spoken question, read the knowledge base's answer; no answer → ``no_answer``."""

    type: ClassVar[str] = "kb_answer"
    prompt: Prompt
    timeout_s: float
    retries: int
    no_input_prompt: Prompt
    no_answer_prompt: Prompt
    next: str
    no_answer: str | None  # None: the agent (or ``next`` when the flow has no agent)
    agent: str | None

    def targets(self) -> tuple[str, ...]:
        return (self.next, *(t for t in (self.no_answer, self.agent) if t))


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechIntakeNode(Node):
    """Speech first (GB/T 33358): the caller says what they need and the hub's bot answers, turn by turn.

    The bot is the text channels' (knowledge base, order status, work-order registration read back, hand-off).
    Keys still work: ``0`` reaches ``agent``, another key the ``keys`` menu as if pressed there, ``*`` that menu.
    Speech not understood ``retries`` times, or a busy recogniser, also leads to ``keys``. After an answer the
    caller hears ``again_prompt``; saying they are done, or ``max_turns`` answers, continues at ``next``.
    """

    type: ClassVar[str] = "speech_intake"
    prompt: Prompt  # greeting + "please say what you need"
    again_prompt: Prompt  # after an answer: "anything else? say it, or hang up"
    timeout_s: float
    retries: int
    no_input_prompt: Prompt
    invalid_prompt: Prompt  # speech not understood (low confidence)
    max_turns: int
    keys: str  # a menu node
    agent: str | None
    next: str

    def targets(self) -> tuple[str, ...]:
        return (self.keys, self.next, *((self.agent,) if self.agent else ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicemailNode(Node):
    """Prompt, beep, record up to ``max_s`` seconds (留言), then ``next``."""

    type: ClassVar[str] = "voicemail"
    prompt: Prompt
    max_s: int
    beep: bool
    next: str

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNode(Node):
    """Queue for an agent; after the agent leg the caller may go back to the menu they left."""

    type: ClassVar[str] = "agent"
    queue: str
    skill: str | None
    industry: str | None
    priority: int
    prompt: Prompt | None
    overflow: str | None  # the queue's maximum wait passed (e.g. voicemail); None: hang up
    return_to_menu: bool

    def targets(self) -> tuple[str, ...]:
        return (self.overflow,) if self.overflow else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HangupNode(Node):
    """Say goodbye (optional) and hang up with ``cause``."""

    type: ClassVar[str] = "hangup"
    prompt: Prompt | None
    cause: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GotoNode(Node):
    """Continue at ``target``."""

    type: ClassVar[str] = "goto"
    target: str

    def targets(self) -> tuple[str, ...]:
        return (self.target,)


NODE_CLASSES: dict[str, type[Node]] = {
    cls.type: cls
    for cls in (
        PlayNode,
        MenuNode,
        HoursNode,
        CollectDigitsNode,
        OrderStatusNode,
        KbAnswerNode,
        SpeechIntakeNode,
        VoicemailNode,
        AgentNode,
        HangupNode,
        GotoNode,
    )
}
INPUT_NODE_TYPES = frozenset({"menu", "collect_digits", "kb_answer", "speech_intake"})  # a cycle must pass one of these


_PATTERN = re.compile(r"^\+?[0-9*?]{1,32}$")


def number_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a number pattern: digits, ``?`` one digit, ``*`` any digits (``1380000*``, ``010????????``)."""
    if not _PATTERN.match(pattern):
        raise ValueError("a number pattern has digits, '?', '*' and an optional leading '+'")
    body = re.escape(pattern).replace(r"\*", r"\d*").replace(r"\?", r"\d")
    return re.compile(f"^{body}$")


def national_forms(number: str) -> tuple[str, ...]:
    """The number with and without a +86/0086/86 country prefix (separators removed)."""
    digits = re.sub(r"[\s\-()]", "", number)
    forms = [digits]
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 10:
            forms.append(digits[len(prefix) :])
            break
    return tuple(forms)


@dataclass(frozen=True, slots=True)
class Routing:
    """Number rules: blacklisted callers hear ``reject_prompt`` and are hung up on; VIPs queue with priority."""

    vip: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()
    vip_priority: int = 10
    reject_prompt: Prompt = field(default_factory=lambda: Prompt("您的来电暂时无法受理，再见。", id="routing.reject"))

    def classify(self, number: str | None, *, vip: bool = False, blacklisted: bool = False) -> str:
        """``"blacklist"``, ``"vip"`` or ``"normal"`` from the contact's flags and the number patterns."""
        if blacklisted or (number and _matches(self.blacklist, number)):
            return "blacklist"
        if vip or (number and _matches(self.vip, number)):
            return "vip"
        return "normal"


def _matches(patterns: tuple[str, ...], number: str) -> bool:
    forms = national_forms(number)
    return any(number_pattern(p).match(f) for p in patterns for f in forms)


@dataclass(frozen=True, slots=True)
class Defaults:
    """Values that nodes inherit unless they set their own."""

    timeout_s: float
    retries: int
    min_confidence: float
    agent: str | None
    goodbye: Prompt
    busy_prompt: Prompt = field(  # speech recognition is busy: the caller is asked for keys
        default_factory=lambda: Prompt(
            "语音识别繁忙，请使用按键选择。",
            "Speech recognition is busy. Please use your keypad.",
            "defaults.busy_prompt",
        )
    )


@dataclass(frozen=True)
class Flow:
    """A validated flow: nodes by id, the start node, routing rules; ``warnings`` did not prevent loading."""

    name: str
    start: str
    nodes: dict[str, Node]
    defaults: Defaults
    routing: Routing
    warnings: tuple[FlowIssue, ...] = ()

    def node(self, node_id: str) -> Node:
        """The node ``node_id`` (KeyError if absent: a loaded flow has no dangling references)."""
        return self.nodes[node_id]
