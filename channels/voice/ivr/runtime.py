"""The sans-IO IVR interpreter: events in (:mod:`.events`), actions out; no I/O, clock injected.

One :class:`IvrSession` per call::

    ivr = IvrSession(flow, caller="13800001111", now=clock, calendar=calendar)
    actions = ivr.start()                 # [Play(...)]  → the session plays, then sends PromptDone
    actions = ivr.handle(PromptDone())    # [Play(menu prompt, barge_in=True), Listen(grammar, 1, 6.0)]
    actions = ivr.handle(Dtmf("2"))       # ...

It keeps the IVR path (:attr:`IvrSession.path`) for the call record and the menu the caller left for an agent,
to which they may return after :class:`AgentLegEnded`. A ``speech_intake`` node hands what the caller says to the
hub's bot (:class:`Converse` → :class:`ConverseResult`); :class:`SpeechBusy` (the recogniser pool is full) asks
the caller for keys wherever they are.
"""

from __future__ import annotations

from datetime import time, tzinfo
from zoneinfo import ZoneInfo

from channels.voice.ivr import speech
from channels.voice.ivr.events import (
    AgentAnswered,
    AgentLegEnded,
    Announcements,
    AskKb,
    CallerHungUp,
    Converse,
    ConverseResult,
    Dtmf,
    Enqueue,
    FetchAnnouncements,
    Hangup,
    InputTimeout,
    IvrAction,
    IvrEvent,
    KbResult,
    Listen,
    LookupOrder,
    OrderStatusResult,
    PathStep,
    Play,
    PromptDone,
    QueueOverflow,
    RecordVoicemail,
    Speech,
    SpeechBusy,
    VoicemailDone,
)
from channels.voice.ivr.flow import (
    AgentNode,
    CollectDigitsNode,
    Flow,
    GotoNode,
    HangupNode,
    HoursNode,
    KbAnswerNode,
    MenuNode,
    OrderStatusNode,
    PlayNode,
    Prompt,
    SpeechIntakeNode,
    VoicemailNode,
)
from hub.clock import Clock
from hub.localtime import DEFAULT_ZONE
from hub.work_orders.calendar import WorkingCalendar

MAX_HOPS = 100  # nodes passed without waiting for anything (a validated flow needs far fewer)
_EVENTS = (
    AgentAnswered,
    Dtmf,
    Speech,
    PromptDone,
    InputTimeout,
    AgentLegEnded,
    QueueOverflow,
    CallerHungUp,
    VoicemailDone,
    OrderStatusResult,
    KbResult,
    Announcements,
    ConverseResult,
    SpeechBusy,
)


class IvrSession:
    """Walks one caller through a flow.

    Args:
        flow: the validated flow.
        caller: the caller ID (None: withheld).
        now: the clock (timestamps of the path, business hours).
        locale: ``zh-CN`` or ``en`` prompts.
        vip, blacklisted: the contact's flags (number patterns of ``flow.routing`` apply as well).
        calendar: holidays close ``hours`` nodes that have ``holidays: true``.
        zone: the city's zone, for ``hours`` nodes that name no ``timezone``.
    """

    def __init__(
        self,
        flow: Flow,
        *,
        caller: str | None,
        now: Clock,
        locale: str = "zh-CN",
        vip: bool = False,
        blacklisted: bool = False,
        calendar: WorkingCalendar | None = None,
        zone: tzinfo = DEFAULT_ZONE,
    ) -> None:
        self.flow = flow
        self.caller = caller
        self.locale = locale
        self.calendar = calendar
        self.zone = zone
        self.routing = flow.routing.classify(caller, vip=vip, blacklisted=blacklisted)
        self.path: list[PathStep] = []
        self.vars: dict[str, str] = {}
        self.hangup_cause: str | None = None
        self.voicemail_path: str | None = None
        self.enqueued: Enqueue | None = None
        self.return_menu: str | None = None
        self.agent_id: int | None = None
        self._now = now
        self._node: str | None = None
        self._wait = "idle"
        self._then: str | None = None  # node after PromptDone
        self._then_hangup: str | None = None  # or hang up with this cause
        self._attempts = 0
        self._turns = 0  # answers given at the current speech_intake node
        self._choices: tuple[str, ...] = ()  # the bot's quick replies at the intake: key n sends _choices[n - 1]
        self._digits = ""
        self._menus: list[str] = []

    # -- public ---------------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """The call ended (hung up by the flow or by the caller)."""
        return self._wait == "done"

    @property
    def waiting_for(self) -> str:
        """What the session waits for: ``prompt``, ``menu``, ``digits``, ``order``, ``kb_question``, ``intake``,
        ``converse`` ..."""
        return self._wait

    @property
    def node(self) -> str | None:
        """The current node id."""
        return self._node

    def path_json(self) -> list[dict[str, str | None]]:
        """The IVR path in the call record's form."""
        return [step.to_json() for step in self.path]

    def start(self) -> list[IvrAction]:
        """The first actions of the call (rejection of blacklisted callers, else the start node)."""
        if self._wait != "idle":
            raise RuntimeError("the IVR session has already started")
        if self.routing == "blacklist":
            self.path.append(PathStep("(rejected)", self._now(), "routing"))
            return self._say_then_hangup([self._play(self.flow.routing.reject_prompt)], "rejected")
        return self._enter(self.flow.start)

    def handle(self, event: IvrEvent) -> list[IvrAction]:
        """Feed one event; returns the actions to perform (``[]``: keep waiting; stray events are ignored)."""
        if not isinstance(event, _EVENTS):
            raise TypeError(f"not an IVR event: {event!r}")
        if self._wait in ("done", "idle"):
            return []
        if isinstance(event, CallerHungUp):
            self.hangup_cause = "abandoned" if self._wait == "queue" else "caller_bye"
            self._wait = "done"
            return []
        handler = getattr(self, f"_on_{self._wait}")
        result: list[IvrAction] = handler(event)
        return result

    # -- moving between nodes -------------------------------------------------------------------------------

    def _play(self, prompt: Prompt, barge_in: bool = False) -> Play:
        return Play(prompt.text(self.locale), prompt.id or None, barge_in)

    def _say_then(self, actions: list[IvrAction], target: str) -> list[IvrAction]:
        self._wait, self._then, self._then_hangup = "prompt", target, None
        return actions

    def _say_then_hangup(self, actions: list[IvrAction], cause: str) -> list[IvrAction]:
        if not any(isinstance(a, Play) for a in actions):
            return self._hangup(actions, cause)
        self._wait, self._then, self._then_hangup = "prompt", None, cause
        return actions

    def _hangup(self, actions: list[IvrAction], cause: str) -> list[IvrAction]:
        self.hangup_cause = cause
        self._wait = "done"
        return [*actions, Hangup(cause)]

    def _goodbye(self, cause: str, actions: list[IvrAction] | None = None) -> list[IvrAction]:
        return self._say_then_hangup([*(actions or []), self._play(self.flow.defaults.goodbye)], cause)

    def _busy(self) -> Play:
        """The recogniser pool is full: the caller is asked for keys (never left waiting for a result)."""
        return self._play(self.flow.defaults.busy_prompt, True)

    def _mark(self, via: str) -> None:
        """Record an event at the current node (``busy`` ...) in the path."""
        self.path.append(PathStep(self._node or "", self._now(), via))

    def _enter(self, node_id: str, via: str | None = None, actions: list[IvrAction] | None = None) -> list[IvrAction]:
        out = list(actions or [])
        for _ in range(MAX_HOPS):
            node = self.flow.node(node_id)
            self.path.append(PathStep(node_id, self._now(), via))
            self._node, via, self._attempts = node_id, None, 0
            if isinstance(node, GotoNode):
                node_id = node.target
            elif isinstance(node, HoursNode):
                node_id = node.open if self._is_open(node) else node.closed
            else:
                return self._arrive(node, out)
        return self._hangup(out, "error")

    def _arrive(self, node: object, out: list[IvrAction]) -> list[IvrAction]:
        if isinstance(node, MenuNode):
            self._visit_menu(node.id)
            return self._menu_prompt(node, out)
        if isinstance(node, PlayNode):
            if node.prompt is not None:
                out.append(self._play(node.prompt))
            if node.announcements:
                self._wait = "announcements"
                return [*out, FetchAnnouncements()]
            return self._say_then(out, node.next)
        if isinstance(node, CollectDigitsNode):
            self._digits = ""
            return self._digits_prompt(node, out)
        if isinstance(node, OrderStatusNode):
            return self._lookup(node, out)
        if isinstance(node, KbAnswerNode):
            self._wait = "kb_question"
            return [*out, self._play(node.prompt, True), Listen(None, None, node.timeout_s)]
        if isinstance(node, SpeechIntakeNode):
            self._turns, self._choices = 0, ()
            return self._intake_listen(node, [*out, self._play(node.prompt, True)])
        if isinstance(node, VoicemailNode):
            self._wait = "voicemail_prompt"
            return [*out, self._play(node.prompt)]
        if isinstance(node, AgentNode):
            self.return_menu = self._menus[-1] if node.return_to_menu and self._menus else None
            priority = max(node.priority, self.flow.routing.vip_priority) if self.routing == "vip" else node.priority
            self.enqueued = Enqueue(node.queue, priority, node.skill, node.industry)
            self._wait = "queue"
            return [*out, *([self._play(node.prompt)] if node.prompt else []), self.enqueued]
        if isinstance(node, HangupNode):
            return self._say_then_hangup([*out, *([self._play(node.prompt)] if node.prompt else [])], node.cause)
        raise TypeError(f"unknown node {node!r}")

    def _is_open(self, node: HoursNode) -> bool:
        local = self._now().astimezone(ZoneInfo(node.timezone) if node.timezone else self.zone)
        day = local.date()
        ranges = node.weekly[day.weekday()]
        if node.holidays and self.calendar is not None:
            if day in self.calendar.holidays and day not in self.calendar.workdays:
                return False
            if day in self.calendar.workdays and day.weekday() >= 5:
                ranges = node.weekly[0]  # 调休: a working weekend day keeps Monday's hours
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end or (end == time.max and now >= start) for start, end in ranges)

    # -- waiting states ------------------------------------------------------------------------------------

    def _on_prompt(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, PromptDone):
            return []
        if self._then_hangup is not None:
            return self._hangup([], self._then_hangup)
        assert self._then is not None
        return self._enter(self._then)

    def _on_announcements(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, Announcements):
            return []
        node = self.flow.node(self._node or "")
        assert isinstance(node, PlayNode)
        texts = [t for t in event.texts if t.strip()]
        plays: list[IvrAction] = [Play(t, None, True) for t in texts]
        if not plays and node.empty_prompt is not None:
            plays.append(self._play(node.empty_prompt))
        if not plays:
            return self._enter(node.next)
        return self._say_then(plays, node.next)

    def _on_voicemail_prompt(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, PromptDone):
            return []
        node = self.flow.node(self._node or "")
        assert isinstance(node, VoicemailNode)
        self._wait = "voicemail"
        return [RecordVoicemail(node.max_s, node.beep)]

    def _on_voicemail(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, VoicemailDone):
            return []
        node = self.flow.node(self._node or "")
        assert isinstance(node, VoicemailNode)
        self.voicemail_path = event.path
        return self._enter(node.next, "recorded" if event.path else "empty")

    def _on_queue(self, event: IvrEvent) -> list[IvrAction]:
        node = self.flow.node(self._node or "")
        assert isinstance(node, AgentNode)
        if isinstance(event, AgentAnswered):
            self.agent_id = event.agent_id
            self.path.append(PathStep(node.id, self._now(), "answered"))
            self._wait = "bridged"
            return []
        if isinstance(event, QueueOverflow):
            self.path.append(PathStep(node.id, self._now(), "overflow"))
            return self._enter(node.overflow, "overflow") if node.overflow else self._goodbye("overflow")
        return self._on_bridged(event)

    def _on_bridged(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, AgentLegEnded):
            return []
        if self.return_menu is None:
            return self._hangup([], "agent_bye")
        menu = self.flow.node(self.return_menu)
        assert isinstance(menu, MenuNode)
        self._wait = "after_agent"
        return [self._play(menu.return_prompt, True), self._after_agent_listen(menu)]

    def _after_agent_listen(self, menu: MenuNode) -> Listen:
        grammar = speech.unique([*self._menu_grammar(menu), *speech.BACK_PHRASES, *speech.ROOT_PHRASES])
        return Listen(grammar, 1, menu.timeout_s)

    def _on_after_agent(self, event: IvrEvent) -> list[IvrAction]:
        assert self.return_menu is not None
        menu = self.flow.node(self.return_menu)
        assert isinstance(menu, MenuNode)
        if isinstance(event, InputTimeout):
            return self._goodbye("agent_bye")
        if isinstance(event, SpeechBusy):
            self._mark("busy")
            return [self._busy(), self._after_agent_listen(menu)]
        if not isinstance(event, (Dtmf, Speech)):
            return []
        choice = self._choose(menu, event)
        if choice is not None and choice[0] == "option":
            return self._enter(choice[1], self._via(event))
        return self._enter(menu.id, "return")

    # -- menus ---------------------------------------------------------------------------------------------

    def _menu_grammar(self, node: MenuNode) -> tuple[str, ...]:
        words: list[str] = []
        for option in node.options:
            words += option.phrases
            if option.key and option.key.isdigit():
                words += speech.DIGIT_WORDS[option.key][:1]
        if node.agent:
            words += speech.AGENT_PHRASES
        if node.back:
            words += [*speech.BACK_PHRASES, *speech.ROOT_PHRASES]
        return speech.unique([*words, *speech.REPEAT_PHRASES])

    def _visit_menu(self, menu_id: str) -> None:
        """The caller is at this menu: ``*`` leads back to the one before, an agent leg returns here."""
        if menu_id in self._menus:
            del self._menus[self._menus.index(menu_id) + 1 :]
        else:
            self._menus.append(menu_id)

    def _menu_prompt(self, node: MenuNode, out: list[IvrAction]) -> list[IvrAction]:
        self._wait = "menu"
        return [*out, self._play(node.prompt, True), Listen(self._menu_grammar(node), 1, node.timeout_s)]

    def _choose(self, node: MenuNode, event: Dtmf | Speech) -> tuple[str, str] | None:
        """("option"|"agent"|"back"|"root"|"repeat", target) for the input, None if it matches nothing."""
        key: str | None
        if isinstance(event, Dtmf):
            key = event.digit
        else:
            if event.confidence < self.flow.defaults.min_confidence or not speech.normalise(event.text):
                return None
            choices = [(p, o.next) for o in node.options for p in o.phrases]
            if (target := speech.best_phrase(event.text, choices)) is not None:
                return ("option", target)
            key = speech.spoken_key(event.text)
            if key is None:
                if node.agent and speech.contains_any(event.text, speech.AGENT_PHRASES):
                    return ("agent", node.agent)
                if node.back and speech.contains_any(event.text, speech.ROOT_PHRASES):
                    return ("root", self._menus[0])
                if node.back and speech.contains_any(event.text, speech.BACK_PHRASES):
                    key = "*"
                elif speech.contains_any(event.text, speech.REPEAT_PHRASES):
                    return ("repeat", node.id)
        option = next((o for o in node.options if o.key is not None and o.key == key), None)
        if option is not None:
            return ("option", option.next)
        if key == "0" and node.agent:
            return ("agent", node.agent)
        if key == "*" and node.back:
            here = self._menus.index(node.id) if node.id in self._menus else len(self._menus)
            return ("back", self._menus[here - 1] if here > 0 else node.id)
        return None

    @staticmethod
    def _via(event: Dtmf | Speech) -> str:
        return f"dtmf:{event.digit}" if isinstance(event, Dtmf) else "speech"

    def _on_menu(self, event: IvrEvent) -> list[IvrAction]:
        node = self.flow.node(self._node or "")
        assert isinstance(node, MenuNode)
        if isinstance(event, (Dtmf, Speech)):
            choice = self._choose(node, event)
            if choice is not None:
                kind, target = choice
                via = self._via(event) if kind in ("option", "agent") else kind
                return self._enter(target, via)
            return self._menu_retry(node, node.invalid_prompt)
        if isinstance(event, InputTimeout):
            return self._menu_retry(node, node.no_input_prompt)
        if isinstance(event, SpeechBusy):  # keys still work: wait for one, no retry counted
            self._mark("busy")
            return [self._busy(), Listen(self._menu_grammar(node), 1, node.timeout_s)]
        return []

    def _menu_retry(self, node: MenuNode, prompt: Prompt) -> list[IvrAction]:
        self._attempts += 1
        if self._attempts <= node.retries:
            return self._menu_prompt(node, [self._play(prompt)])
        target = node.on_fail or node.agent
        if target is None:
            return self._goodbye("no_input", [self._play(prompt)])
        return self._enter(target, "fail", [self._play(prompt)])

    # -- digits, orders, knowledge base --------------------------------------------------------------------

    def _digits_prompt(self, node: CollectDigitsNode, out: list[IvrAction]) -> list[IvrAction]:
        self._wait = "digits"
        return [*out, self._play(node.prompt, True), self._digits_listen(node)]

    @staticmethod
    def _digits_listen(node: CollectDigitsNode) -> Listen:
        grammar = speech.unique(w for words in speech.DIGIT_WORDS.values() for w in words)
        return Listen(grammar, node.max_digits, node.timeout_s, node.terminator)

    def _on_digits(self, event: IvrEvent) -> list[IvrAction]:
        node = self.flow.node(self._node or "")
        assert isinstance(node, CollectDigitsNode)
        if isinstance(event, Dtmf):
            if node.terminator is not None and event.digit == node.terminator:
                return self._digits_done(node)
            if event.digit.isdigit():
                self._digits += event.digit
                return self._digits_done(node) if len(self._digits) >= node.max_digits else []
            return []
        if isinstance(event, Speech):
            spoken = speech.spoken_digits(event.text) if event.confidence >= self.flow.defaults.min_confidence else None
            if spoken is None:
                return self._digits_retry(node)
            self._digits += spoken
            return self._digits_done(node)
        if isinstance(event, InputTimeout):
            return self._digits_done(node)
        if isinstance(event, SpeechBusy):  # the keys typed so far are kept
            self._mark("busy")
            return [self._busy(), self._digits_listen(node)]
        return []

    def _digits_done(self, node: CollectDigitsNode) -> list[IvrAction]:
        digits, self._digits = self._digits, ""
        if not node.min_digits <= len(digits) <= node.max_digits:
            return self._digits_retry(node)
        self.vars[node.store_as] = digits
        return self._enter(node.next, f"digits:{len(digits)}")

    def _digits_retry(self, node: CollectDigitsNode) -> list[IvrAction]:
        self._digits = ""
        self._attempts += 1
        if self._attempts <= node.retries:
            return self._digits_prompt(node, [self._play(node.invalid_prompt)])
        target = node.on_fail or (self._menus[-1] if self._menus else None)
        if target is None:
            return self._goodbye("no_input", [self._play(node.invalid_prompt)])
        return self._enter(target, "fail", [self._play(node.invalid_prompt)])

    def _lookup(self, node: OrderStatusNode, out: list[IvrAction]) -> list[IvrAction]:
        number = self.vars.get(node.digits_from) if node.by in ("digits", "auto") else None
        if number is None and node.by in ("caller", "auto") and self.caller:
            self._wait = "order"
            return [*out, LookupOrder(self.caller, by_caller=True)]
        if number is None:
            return self._say_then([*out, self._play(node.not_found)], node.not_found_next)
        self._wait = "order"
        return [*out, LookupOrder(number, by_caller=False)]

    def _on_order(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, OrderStatusResult):
            return []
        node = self.flow.node(self._node or "")
        assert isinstance(node, OrderStatusNode)
        if not event.found:
            return self._say_then([self._play(node.not_found)], node.not_found_next)
        values = {"number": event.number or "", "status": event.status or "", "detail": event.detail or ""}
        text = node.found.text(self.locale).format_map(values)
        return self._say_then([Play(text, None, True)], node.next)

    def _on_kb_question(self, event: IvrEvent) -> list[IvrAction]:
        node = self.flow.node(self._node or "")
        assert isinstance(node, KbAnswerNode)
        if isinstance(event, Dtmf):
            if event.digit == "0" and node.agent:
                return self._enter(node.agent, "dtmf:0")
            if event.digit == "*" and self._menus:
                return self._enter(self._menus[-1], "back")
            return []
        if isinstance(event, Speech):
            usable = event.confidence >= self.flow.defaults.min_confidence and speech.normalise(event.text)
            if not usable:
                return self._kb_retry(node)
            said = speech.normalise(event.text)
            if node.agent and len(said) <= 6 and speech.contains_any(said, speech.AGENT_PHRASES):
                return self._enter(node.agent, "speech")
            self._wait = "kb_lookup"
            return [AskKb(event.text.strip())]
        if isinstance(event, InputTimeout):
            return self._kb_retry(node)
        if isinstance(event, SpeechBusy):  # a free-form question needs the recogniser: keys instead
            target = self._menus[-1] if self._menus else node.agent or node.next
            return self._enter(target, "busy", [self._busy()])
        return []

    def _kb_retry(self, node: KbAnswerNode) -> list[IvrAction]:
        self._attempts += 1
        if self._attempts <= node.retries:
            self._wait = "kb_question"
            return [self._play(node.no_input_prompt), self._play(node.prompt, True), Listen(None, None, node.timeout_s)]
        return self._kb_no_answer(node)

    def _kb_no_answer(self, node: KbAnswerNode) -> list[IvrAction]:
        target = node.no_answer or node.agent or node.next
        return self._say_then([self._play(node.no_answer_prompt)], target)

    def _on_kb_lookup(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, KbResult):
            return []
        node = self.flow.node(self._node or "")
        assert isinstance(node, KbAnswerNode)
        if event.answer and event.answer.strip():
            return self._say_then([Play(event.answer.strip(), None, True)], node.next)
        return self._kb_no_answer(node)

    # -- speech first (GB/T 33358): the caller says what they need, the hub's bot answers -------------------

    def _intake_node(self) -> SpeechIntakeNode:
        node = self.flow.node(self._node or "")
        assert isinstance(node, SpeechIntakeNode)
        return node

    def _intake_listen(self, node: SpeechIntakeNode, out: list[IvrAction]) -> list[IvrAction]:
        self._wait = "intake"
        return [*out, Listen(None, None, node.timeout_s)]

    def _on_intake(self, event: IvrEvent) -> list[IvrAction]:
        node = self._intake_node()
        if isinstance(event, Dtmf):
            return self._pick(event.digit, "dtmf") or self._intake_key(node, event.digit)
        if isinstance(event, Speech):
            said = speech.normalise(event.text)
            if event.confidence < self.flow.defaults.min_confidence or not said:
                return self._intake_retry(node, node.invalid_prompt, timeout=False)
            digit = speech.spoken_digits(said)
            if digit is not None and (picked := self._pick(digit, "speech", event.confidence)):
                return picked  # "一": the key's number said instead of pressed
            if node.agent and len(said) <= 6 and speech.contains_any(said, speech.AGENT_PHRASES):
                return self._enter(node.agent, "speech")
            if self._turns and speech.says_done(said):
                return self._enter(node.next, "done")
            self._wait = "converse"
            return [Converse(event.text.strip(), event.confidence)]
        if isinstance(event, InputTimeout):
            return self._intake_retry(node, node.no_input_prompt, timeout=True)
        if isinstance(event, SpeechBusy):
            return self._enter(node.keys, "busy", [self._busy()])
        return []

    def _pick(self, digit: str, via: str, confidence: float = 1.0) -> list[IvrAction]:
        """Key ``digit`` picks the bot's quick reply of that number: its value goes to the bot as the caller's words."""
        if not (digit.isdigit() and 1 <= int(digit) <= len(self._choices)):
            return []
        value, self._choices = self._choices[int(digit) - 1], ()
        self._mark(f"choice:{via}:{digit}")
        self._wait = "converse"
        return [Converse(value, confidence)]

    def _intake_key(self, node: SpeechIntakeNode, digit: str) -> list[IvrAction]:
        """Keys still work: ``0`` is the agent, ``*`` the keys menu, another key that menu's choice."""
        if digit == "0" and node.agent:
            return self._enter(node.agent, "dtmf:0")
        menu = self.flow.node(node.keys)
        assert isinstance(menu, MenuNode)
        if digit == "*":
            return self._enter(menu.id, "dtmf:*")
        self._visit_menu(menu.id)  # as if pressed there: "*" and the return after an agent lead back to it
        choice = self._choose(menu, Dtmf(digit))
        if choice is not None and choice[0] in ("option", "agent"):
            return self._enter(choice[1], f"dtmf:{digit}")
        return self._enter(menu.id, f"dtmf:{digit}", [self._play(menu.invalid_prompt)])

    def _intake_retry(self, node: SpeechIntakeNode, prompt: Prompt, *, timeout: bool) -> list[IvrAction]:
        self._attempts += 1
        if self._attempts <= node.retries:
            return self._intake_listen(node, [self._play(prompt)])
        if timeout and self._turns:
            return self._enter(node.next, "timeout")  # answered, then silent: the caller is done
        return self._enter(node.keys, "fail", [self._play(prompt)])

    def _on_converse(self, event: IvrEvent) -> list[IvrAction]:
        if not isinstance(event, ConverseResult):
            return []  # keys and speech while the hub answers are not taken
        node = self._intake_node()
        self._attempts = 0
        self._choices = event.choices if event.outcome not in ("handoff", "unavailable") else ()
        plays: list[IvrAction] = [Play(text.strip(), None, True) for text in event.replies if text.strip()]
        if event.outcome in ("handoff", "unavailable"):
            return self._enter(node.agent or node.keys, event.outcome, plays)
        if event.outcome == "asking":
            return self._intake_listen(node, plays)
        self._turns += 1
        if self._turns >= node.max_turns:
            return self._enter(node.next, "max_turns", plays)
        return self._intake_listen(node, [*plays, self._play(node.again_prompt, True)])
