"""What the call session tells the IVR interpreter (events) and what the interpreter asks it to do (actions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# -- events: call session → IvrSession.handle() -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key pressed (RFC 4733 or in-band): ``0``-``9``, ``*``, ``#``."""

    digit: str


@dataclass(frozen=True, slots=True)
class Speech:
    """A recognised utterance (ASR final result) and its confidence (0..1)."""

    text: str
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class PromptDone:
    """Every :class:`Play` of the last batch of actions finished (or was cut by barge-in)."""


@dataclass(frozen=True, slots=True)
class InputTimeout:
    """No input within :attr:`Listen.timeout_s` after the prompts ended (reset by every key press)."""


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """An agent answered the offer: the caller is bridged (a hang-up is no longer an abandoned call)."""

    agent_id: int | None = None


@dataclass(frozen=True, slots=True)
class AgentLegEnded:
    """The bridged agent hung up (the caller is still on the line)."""


@dataclass(frozen=True, slots=True)
class QueueOverflow:
    """The queue's maximum wait passed without an agent (ACD ``Overflow``)."""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller hung up (BYE/CANCEL): the session ends; in a queue this is an abandoned call."""


@dataclass(frozen=True, slots=True)
class VoicemailDone:
    """The voicemail recording ended (``path`` of the stored audio, None if nothing was recorded)."""

    path: str | None


@dataclass(frozen=True, slots=True)
class OrderStatusResult:
    """Answer to :class:`LookupOrder`: the order's number, its status in words and optional detail to speak."""

    found: bool
    number: str | None = None
    status: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KbResult:
    """Answer to :class:`AskKb`: the spoken answer text, or None when the knowledge base has none."""

    answer: str | None


@dataclass(frozen=True, slots=True)
class Announcements:
    """Answer to :class:`FetchAnnouncements`: the current notices as speakable texts."""

    texts: tuple[str, ...]


CONVERSE_OUTCOMES = frozenset({"answered", "asking", "registered", "handoff", "unavailable"})


@dataclass(frozen=True, slots=True)
class ConverseResult:
    """Answer to :class:`Converse`: the bot's replies to speak, in order, and what became of the turn.

    ``outcome``: ``answered`` (the bot answered: a knowledge-base article, an order's status ...), ``asking`` (it
    asks a follow-up: the address of a complaint, a clearer wording ...), ``registered`` (a work order was
    registered: ``order_number``; the replies read back what was recorded), ``handoff`` (the bot handed the
    conversation to a person), ``unavailable`` (the hub or the NLU failed: the caller goes to an agent).

    ``choices``: the values of the quick replies the bot offered, in key order (key 1 picks the first); the replies
    end with the sentence that names the keys. A key (or saying a key's number) sends that value as the caller's
    next words.
    """

    replies: tuple[str, ...]
    outcome: str
    order_number: str | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in CONVERSE_OUTCOMES:
            raise ValueError(f"unknown converse outcome {self.outcome!r} (known: {sorted(CONVERSE_OUTCOMES)})")


@dataclass(frozen=True, slots=True)
class SpeechBusy:
    """The recognition pool was full: the caller's speech could not be recognised (posted instead of Speech)."""


IvrEvent = (
    AgentAnswered
    | Dtmf
    | Speech
    | PromptDone
    | InputTimeout
    | AgentLegEnded
    | QueueOverflow
    | CallerHungUp
    | VoicemailDone
    | OrderStatusResult
    | KbResult
    | Announcements
    | ConverseResult
    | SpeechBusy
)

# -- actions: IvrSession → call session --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    """Say ``text`` (TTS; ``prompt_id`` names flow prompts for the G.711 cache; ``"beep"`` is a tone).

    ``barge_in``: a key press or speech stops the prompt.
    """

    text: str
    prompt_id: str | None = None
    barge_in: bool = False


@dataclass(frozen=True, slots=True)
class Listen:
    """Collect input after the prompts: speech constrained to ``grammar`` (None: free-form), up to ``digits`` keys.

    Every key and every final utterance goes to ``handle()``; :class:`InputTimeout` after ``timeout_s`` of silence.
    """

    grammar: tuple[str, ...] | None
    digits: int | None
    timeout_s: float
    terminator: str | None = None


@dataclass(frozen=True, slots=True)
class LookupOrder:
    """Find a work order by ``number`` (or the caller's latest: ``by_caller``); answer :class:`OrderStatusResult`."""

    number: str | None
    by_caller: bool


@dataclass(frozen=True, slots=True)
class AskKb:
    """Ask the knowledge base ``question``; answer :class:`KbResult`."""

    question: str


@dataclass(frozen=True, slots=True)
class Converse:
    """Hand the caller's free-form words to the hub's bot (the text channels' dialogue); answer
    :class:`ConverseResult`. ``confidence`` is the recogniser's (0..1), kept with the transcript."""

    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class FetchAnnouncements:
    """Fetch the current notices; answer :class:`Announcements`."""


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Beep (if ``beep``), then record the caller up to ``max_s`` seconds; answer :class:`VoicemailDone`."""

    max_s: int
    beep: bool = True


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Put the caller in the agent queue (ACD) with hold music; answers: AgentLegEnded, QueueOverflow."""

    queue: str
    priority: int = 0
    skill: str | None = None
    industry: str | None = None


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call (after the last prompt played) with ``cause`` (``ivr_end``, ``rejected``, ``no_input`` ...)."""

    cause: str


IvrAction = Play | Listen | LookupOrder | AskKb | Converse | FetchAnnouncements | RecordVoicemail | Enqueue | Hangup


@dataclass(frozen=True, slots=True)
class PathStep:
    """A node the caller passed, when, and the input that led there (``dtmf:1``, ``speech``, ``timeout`` ...)."""

    node: str
    at: datetime
    via: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """The call record's form."""
        return {"node": self.node, "at": self.at.isoformat(), "via": self.via}
