"""The dialogue engine: decides the bot's answer to one citizen message.

The engine holds no storage: it reads and returns the conversation's ``dialogue_state`` (a JSON dict) and
uses injected ports for NLU, the knowledge base, work orders, announcements and referrals. The conversation
service persists the outcome, stores the replies (with the quick replies offered) and performs the hand-off.

A turn, in order: a quick reply picked from the offered choices becomes its value; 转人工 hands off; an answer
to a pending question (the satisfaction callback, the work-order form of :mod:`hub.dialogue.form`, the offer
to report, a referral) is handled as such; otherwise the message is routed fresh: small talk, order status,
another hotline's matter (a referral, never a work order), a question about a service (the notice and the
knowledge base first, then the offer to report), a report (the form), a knowledge-base question, and the
fallback that says what the bot can do and offers 转人工 and the menu.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hub.dialogue import choices as ch
from hub.dialogue import reply_kinds, slots
from hub.dialogue.form import NEEDS_ADDRESS, WorkOrderForm
from hub.dialogue.ports import (
    Announcements,
    KbAnswer,
    KnowledgeBase,
    Referral,
    Referrals,
    WorkOrderDesk,
)
from hub.i18n import t
from hub.models import WorkOrder
from hub.nlu import NluResult, NluService, NluUnavailable
from hub.taxonomy import Taxonomy

log = logging.getLogger(__name__)

__all__ = [
    "KNOWN_PHONE",
    "NEEDS_ADDRESS",
    "REQUEST_TYPES",
    "BotSettings",
    "Choice",
    "DialogueEngine",
    "TurnOutcome",
]

REQUEST_TYPES = ("consult", "complaint", "repair", "suggestion", "praise")
# Dialogue-state key: the citizen's phone the channel already knows (a phone call's caller ID, put there by the
# voice channel). A work order takes it instead of asking for a phone; a number the citizen says still wins.
KNOWN_PHONE = "known_phone"
_FAQ_MENU_SIZE = 6  # questions listed by the 常见问题 menu, one per industry


@dataclass(frozen=True, slots=True)
class BotSettings:
    """Thresholds and rules of the bot.

    The knowledge-base thresholds match the calibration of ``knowledge_base.search`` (ANSWER_THRESHOLD,
    SUGGEST_THRESHOLD), measured on the team's paraphrase dev set. ``anonymous_types``: the request types
    that may be registered without a phone (a repair needs a contact for the visit).
    """

    nlu_min_confidence: float = 0.3  # DIET spreads short messages thin: 你好 → greet at ~0.43
    kb_answer_threshold: float = 0.5
    kb_offer_threshold: float = 0.3
    max_misunderstandings: int = 2
    max_slot_attempts: int = 3
    anonymous_types: tuple[str, ...] = ("consult", "suggestion", "praise", "complaint")


@dataclass(frozen=True, slots=True)
class Choice:
    """A quick reply offered with the bot's last message of a turn.

    ``value`` is what the citizen's next message carries when the choice is picked (a web chat or Telegram
    button sends it); the engine also accepts the 1-based number of the choice (an SMS reply "1", a key on the
    phone) and the label itself.
    """

    label: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"label": self.label, "value": self.value}


@dataclass(slots=True)
class TurnOutcome:
    """What the bot does in reply to one message."""

    replies: list[str] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)  # quick replies, shown with the last reply
    state: dict[str, Any] = field(default_factory=dict)
    handoff: str | None = None  # reason, when the conversation goes to the agent queue
    nlu: NluResult | None = None
    request_type: str | None = None
    industry: str | None = None
    kb_miss: str | None = None  # "current": the KB could not answer this message; "previous": the answer did not help


class DialogueEngine:
    """Runs one bot turn at a time for a conversation (the caller serialises turns per conversation)."""

    def __init__(
        self,
        nlu: NluService,
        kb: KnowledgeBase,
        desk: WorkOrderDesk,
        taxonomy: Taxonomy,
        settings: BotSettings | None = None,
        announcements: Announcements | None = None,
        referrals: Referrals | None = None,
    ) -> None:
        self.nlu = nlu
        self.kb = kb
        self.desk = desk
        self.taxonomy = taxonomy
        self.settings = settings or BotSettings()
        self.announcements = announcements
        self.referrals = referrals
        self.form = WorkOrderForm(self)

    async def handle(
        self, conversation_id: str, state: dict[str, Any], text: str, locale: str = "zh-CN"
    ) -> TurnOutcome:
        """Decide the bot's reply to ``text`` given the conversation's ``state``."""
        out = TurnOutcome(state=dict(state))
        values = list(out.state.pop("choices", None) or [])
        labels = list(out.state.pop("choice_labels", None) or [])
        picked = ch.pick(text, values, labels)
        said = picked if picked is not None else text.strip()
        pending = out.state.get("pending")
        if slots.wants_human(said):
            return self.handoff(out, "out_of_scope" if pending == "referral" else "requested", locale)
        if pending in ("callback", "callback_cause"):
            handled = await self._callback(out, said, locale)
            if handled is not None:
                return handled
            pending = out.state.get("pending")
        nlu: NluResult | None = None
        try:
            nlu = await self.nlu.parse(said)
        except NluUnavailable as exc:
            log.warning("NLU unavailable (%s) in conversation %s: text rules alone", exc, conversation_id)
        out.nlu = nlu
        # mid-form, short replies ("不方便说") can look like a request for a person to the model: be surer there
        floor = 0.5 if pending == "work_order" else self.settings.nlu_min_confidence
        if nlu is not None and picked is None and nlu.intent.name == "human_handoff" and nlu.intent.confidence >= floor:
            return self.handoff(out, "out_of_scope" if pending == "referral" else "requested", locale)
        if pending == "work_order":
            return await self.form.turn(conversation_id, out, said, nlu, locale)
        if pending == "offer":
            handled = await self._offer_reply(conversation_id, out, said, nlu, locale)
            if handled is not None:
                return handled
        if pending == "referral":
            handled = self._referral_reply(out, said, nlu, locale)
            if handled is not None:
                return handled
        if out.state.get("offered") and picked is not None and picked in values:
            index = values.index(picked)
            offered = list(out.state.pop("offered"))
            article = self.kb.get(offered[index]) if index < len(offered) else None
            if article is not None:
                return self._answer(out, article, locale)
        out.state.pop("offered", None)
        if nlu is None:
            return self._degraded(conversation_id, out, said, locale)
        return self._announce(await self._route(conversation_id, out, said, nlu, locale), said, nlu)

    async def route_text(self, conversation_id: str, out: TurnOutcome, text: str, locale: str) -> TurnOutcome:
        """Route ``text`` as a fresh message (e.g. the new request a citizen chose over an open form)."""
        try:
            nlu = await self.nlu.parse(text)
        except NluUnavailable as exc:
            log.warning("NLU unavailable (%s) in conversation %s", exc, conversation_id)
            return self._degraded(conversation_id, out, text, locale)
        out.nlu = nlu
        return self._announce(await self._route(conversation_id, out, text, nlu, locale), text, nlu)

    # -- small helpers shared with the form -------------------------------------------------------------

    def offer(self, out: TurnOutcome, offered: list[tuple[str, str]]) -> None:
        """Offer quick replies ``(label, value)`` with this turn's last reply (and remember them)."""
        out.choices = [Choice(label, value) for label, value in offered]
        ch.remember(out.state, offered)

    def refer(self, text: str, nlu: NluResult | None, locale: str) -> Referral | None:
        """The referral for an out-of-scope message (None: in scope, unsure, or no directory configured)."""
        if self.referrals is None:
            return None
        try:
            return self.referrals.refer(text, nlu, locale)
        except Exception:  # a broken directory must not break the conversation
            log.exception("the referral directory failed on a message")
            return None

    def _confident(self, nlu: NluResult, *intents: str) -> bool:
        return nlu.intent.name in intents and nlu.intent.confidence >= self.settings.nlu_min_confidence

    def _announce(self, out: TurnOutcome, text: str, nlu: NluResult | None, first: bool = False) -> TurnOutcome:
        """Mention current notices for the industry or area asked about, each once per conversation."""
        if self.announcements is None or out.handoff:
            return out
        industry = out.industry or (nlu.industry.name if nlu is not None and nlu.industry else None)
        said = list(out.state.get("announced", []))
        notices = []
        for key, notice in self.announcements.relevant(text, industry):
            if key not in said:
                said.append(key)
                notices.append(notice)
        if said:
            out.state["announced"] = said
        if first:
            out.replies[0:0] = notices
        else:
            out.replies.extend(notices)
        return out

    # -- routing of a fresh message -----------------------------------------------------------------

    async def _route(
        self, conversation_id: str, out: TurnOutcome, text: str, nlu: NluResult, locale: str
    ) -> TurnOutcome:
        intent = nlu.intent.name
        confident = nlu.intent.confidence >= self.settings.nlu_min_confidence
        if out.state.pop("last_article", None) is not None:
            if slots.says_unhelpful(text) or (confident and intent == "deny"):
                out.kb_miss = "previous"  # gap mining: the question the answer did not help with
                out.replies.append(t("bot.kb_unhelpful", locale))
                self.offer(out, self._menu(locale))
                return out
            if confident and intent == "affirm":
                out.replies.append(t("bot.kb_helpful", locale))
                return out
        if text == ch.FAQ:
            return self._faq(out, locale)
        if text == ch.STATUS:
            return await self._status(out, "", locale, conversation_id)
        if text in (ch.NO_THANKS, ch.MORE_12319):
            out.replies.append(t("bot.anything_else", locale))
            return out
        if confident and intent in ("greet", "thank", "goodbye"):
            out.replies.append(t(f"bot.{intent}", locale))
            return out
        if confident and intent == "status_query":
            return await self._status(out, text, locale, conversation_id)
        if (number := slots.WORK_ORDER_NUMBER.search(text)) is not None:
            return await self._status(out, number.group(1), locale, conversation_id)
        referral = self.refer(text, nlu, locale)
        if referral is not None:
            return self._referred(out, referral, text, locale)
        if confident and intent == "out_of_scope":
            out.state["pending"], out.state["referred"] = "referral", {"topic": None, "text": text}
            out.replies.append(t("bot.out_of_scope", locale))
            self.offer(out, [(ch.label(v, locale), v) for v in (ch.HUMAN, ch.MORE_12319)])
            return out
        request_type = self._report_type(nlu, text)
        known = nlu.industry is not None and nlu.industry.name in self.taxonomy.industries
        if request_type is None and known and self._confident(nlu, "consult") and reply_kinds.is_fault(text):
            request_type = "repair"  # "燃气什么时候恢复": a question about a fault, it may become a report
        if request_type is not None:
            if reply_kinds.is_question(text) and not reply_kinds.is_report(text):
                return self._ask_or_report(out, text, nlu, request_type, locale)
            draft = self.form.draft_for(text, nlu, request_type, out.state.get(KNOWN_PHONE))
            return await self.form.start(conversation_id, out, draft, locale)
        # A consultation, or something the NLU is unsure about: the knowledge base may still know.
        hits = self.kb_candidates(text, nlu)
        best = hits[0].confidence if hits else 0.0
        if (answer := self.kb_answer(hits)) is not None:
            return self._answer(out, answer, locale)
        if best >= self.settings.kb_offer_threshold:
            offered = [h for h in hits if h.confidence >= self.settings.kb_offer_threshold][:3]
            out.state["offered"] = [h.article_id for h in offered]
            listing = "\n".join(f"{i}. {h.question}" for i, h in enumerate(offered, 1))
            out.replies.append(t("bot.kb_offer", locale, choices=listing))
            self.offer(out, [(h.question, h.question) for h in offered])
            return out
        if not confident:
            log.info("low NLU confidence %.2f in conversation %s", nlu.intent.confidence, conversation_id)
        if not confident or intent == "consult":
            out.kb_miss = "current"  # gap mining: a message neither the NLU nor the KB could place
        return self._misunderstood(out, locale, "misunderstood" if confident else "low_confidence")

    def _report_type(self, nlu: NluResult, text: str) -> str | None:
        """The request type of a report the message makes (complaint, repair …), else None."""
        if self._confident(nlu, "complaint", "repair", "suggestion", "praise"):
            return nlu.intent.name
        return None

    def _ask_or_report(
        self, out: TurnOutcome, text: str, nlu: NluResult, request_type: str, locale: str
    ) -> TurnOutcome:
        """A question about a service or fault: the current notice and the KB answer first, then offer to report."""
        out.request_type = "consult"
        out.industry = nlu.industry.name if nlu.industry and nlu.industry.name in self.taxonomy.industries else None
        answer = self.kb_answer(self.kb_candidates(text, nlu))
        if answer is not None:
            out.state["last_article"] = answer.article_id
            out.industry = out.industry or answer.industry
            out.replies.append(answer.answer)
        self._announce(out, text, nlu, first=True)
        if not out.replies:
            out.kb_miss = "current"
            out.replies.append(t("bot.no_notice", locale))
        out.state["pending"] = "offer"
        out.state["offer"] = self.form.draft_for(text, nlu, request_type, out.state.get(KNOWN_PHONE))
        out.replies.append(t("bot.report_offer", locale))
        report = ch.REPORT_REPAIR if request_type == "repair" else ch.REPORT_COMPLAINT
        self.offer(out, [(ch.label(v, locale), v) for v in (report, ch.NO_THANKS)])
        return out

    async def _offer_reply(
        self, conversation_id: str, out: TurnOutcome, text: str, nlu: NluResult | None, locale: str
    ) -> TurnOutcome | None:
        """The answer to "report it?"; None when the message is something else (routed fresh)."""
        offer = dict(out.state.pop("offer", None) or {})
        out.state.pop("pending", None)
        if text in (ch.REPORT_REPAIR, ch.REPORT_COMPLAINT) or reply_kinds.wants_report(text):
            out.state.pop("last_article", None)
            if not offer.get("request_type") or not offer.get("description"):
                return None  # a state from elsewhere: route the message fresh
            return await self.form.start(conversation_id, out, offer, locale)
        if text == ch.NO_THANKS or reply_kinds.is_deny(text) or reply_kinds.is_cancel(text):
            out.state.pop("last_article", None)
            out.replies.append(t("bot.anything_else", locale))
            return out
        return None

    def _referred(self, out: TurnOutcome, referral: Referral, text: str, locale: str) -> TurnOutcome:
        out.request_type = None
        out.state["pending"] = "referral"
        out.state["referred"] = {"topic": referral.topic, "text": text}
        out.replies.append(referral.text)
        self.offer(out, [(ch.label(v, locale), v) for v in (ch.HUMAN, ch.MORE_12319)])
        return out

    def _referral_reply(self, out: TurnOutcome, text: str, nlu: NluResult | None, locale: str) -> TurnOutcome | None:
        """After a referral: insisting (or asking the same again) hands off for a transfer; else routed fresh."""
        referred = dict(out.state.pop("referred", None) or {})
        out.state.pop("pending", None)
        if text == ch.MORE_12319:
            out.replies.append(t("bot.referral_more", locale))
            return out
        again = self.refer(text, nlu, locale)
        same = again is not None and referred.get("topic") is not None and again.topic == referred.get("topic")
        if reply_kinds.insists(text) or same or text.strip() == str(referred.get("text", "")).strip():
            return self.handoff(out, "out_of_scope", locale)
        return None

    def _degraded(self, conversation_id: str, out: TurnOutcome, text: str, locale: str) -> TurnOutcome:
        """The NLU is down: answer from the knowledge base when it is confident, else hand off degraded."""
        if text == ch.FAQ:
            return self._faq(out, locale)
        answer = self.kb_answer(self.kb_candidates(text, None))
        if answer is not None:
            log.warning("NLU degraded: conversation %s answered from the knowledge base alone", conversation_id)
            return self._answer(out, answer, locale)
        log.warning("NLU unavailable; conversation %s goes to a human agent", conversation_id)
        return self.handoff(out, "nlu_unavailable", locale, degraded=True)

    # -- the knowledge-base step (shared with the phone IVR's spoken questions) ---------------------

    def kb_candidates(self, text: str, nlu: NluResult | None) -> list[KbAnswer]:
        """Knowledge-base articles for ``text``, best first; a confident NLU's industry is preferred.

        ``nlu`` is None when the NLU is unavailable: the search then runs on the text alone.
        """
        confident = nlu is not None and nlu.intent.confidence >= self.settings.nlu_min_confidence
        industry = nlu.industry.name if confident and nlu is not None and nlu.industry else None
        return self.kb.search(text, k=3, industry=industry)

    def kb_answer(self, candidates: list[KbAnswer]) -> KbAnswer | None:
        """The article the bot answers with: the best candidate, if it reaches ``kb_answer_threshold``."""
        if candidates and candidates[0].confidence >= self.settings.kb_answer_threshold:
            return candidates[0]
        return None

    def _answer(self, out: TurnOutcome, article: KbAnswer, locale: str) -> TurnOutcome:
        out.state["misunderstood"] = 0
        out.state["last_article"] = article.article_id
        out.request_type = out.request_type or "consult"
        out.industry = out.industry or article.industry
        out.replies.append(article.answer)
        out.replies.append(t("bot.kb_answer_suffix", locale))
        return out

    def _menu(self, locale: str) -> list[tuple[str, str]]:
        return [(ch.label(v, locale), v) for v in (ch.HUMAN, ch.FAQ, ch.STATUS)]

    def _faq(self, out: TurnOutcome, locale: str) -> TurnOutcome:
        """A few frequent questions, one per industry the knowledge base covers, as choices."""
        picked: list[KbAnswer] = []
        for code, industry in self.taxonomy.industries.items():
            hits = self.kb.search(industry.name("zh-CN"), k=1, industry=code)
            if hits and hits[0].industry == code:
                picked.append(hits[0])
            if len(picked) >= _FAQ_MENU_SIZE:
                break
        if not picked:
            out.replies.append(t("bot.faq_empty", locale))
            self.offer(out, [(ch.label(ch.HUMAN, locale), ch.HUMAN)])
            return out
        out.state["offered"] = [h.article_id for h in picked]
        listing = "\n".join(f"{i}. {h.question}" for i, h in enumerate(picked, 1))
        out.replies.append(t("bot.faq_menu", locale, choices=listing))
        self.offer(out, [(h.question, h.question) for h in picked])
        return out

    def _misunderstood(self, out: TurnOutcome, locale: str, reason: str = "misunderstood") -> TurnOutcome:
        count = int(out.state.get("misunderstood", 0)) + 1
        out.state["misunderstood"] = count
        if count >= self.settings.max_misunderstandings:
            return self.handoff(out, reason, locale)
        out.replies.append(t("bot.not_understood", locale))
        self.offer(out, self._menu(locale))
        return out

    def handoff(self, out: TurnOutcome, reason: str, locale: str, degraded: bool = False) -> TurnOutcome:
        """Hand the conversation to the agent queue (the draft of an unfinished order is kept for the agent)."""
        out.handoff = reason
        out.choices = []
        out.state = {k: v for k, v in out.state.items() if k == "draft"}
        out.replies.append(t("bot.handoff_degraded" if degraded else "bot.handoff", locale))
        return out

    _handoff = handoff  # the earlier private name

    async def _callback(self, out: TurnOutcome, text: str, locale: str) -> TurnOutcome | None:
        """The citizen answers the satisfaction callback; None when the text is not an answer to it."""
        number = str(out.state.get("order", ""))
        answer = text.strip().strip("。.！!")
        if out.state["pending"] == "callback_cause":
            at_fault = answer in ("是", "是的", "对", "对的", "嗯", "yes", "y", "1")
            if not at_fault and answer not in ("否", "不是", "没有", "不", "no", "n", "2"):
                return None
            await self.desk.record_callback(number, "unsatisfied", at_fault)
            out.state = {}
            key = "bot.callback_rehandle" if at_fault else "bot.callback_recorded"
            out.replies.append(t(key, locale, number=number))
            return out
        choice = {
            "1": "satisfied",
            "满意": "satisfied",
            "非常满意": "satisfied",
            "2": "basically_satisfied",
            "基本满意": "basically_satisfied",
            "3": "unsatisfied",
            "不满意": "unsatisfied",
        }.get(answer)
        if choice is None:
            attempts = int(out.state.get("attempts", 0)) + 1
            if attempts >= 2:
                out.state = {}
                return None  # not an answer: treat it as a new request
            out.state["attempts"] = attempts
            out.replies.append(t("bot.callback_repeat", locale))
            return out
        if choice == "unsatisfied":
            out.state = {"pending": "callback_cause", "order": number}
            out.replies.append(t("bot.callback_cause", locale))
            return out
        await self.desk.record_callback(number, choice, False)
        out.state = {}
        out.replies.append(t("bot.callback_thanks", locale))
        return out

    async def _status(self, out: TurnOutcome, text: str, locale: str, conversation_id: str = "") -> TurnOutcome:
        match = slots.WORK_ORDER_NUMBER.search(text)
        if match is None:
            latest = await self.desk.latest_for(conversation_id, slots.normalise_phone(text))
            if latest is None:
                out.replies.append(t("bot.status_ask_number", locale))
                return out
            out.replies.append(self._status_text("bot.status_latest", latest, locale))
            return out
        number = match.group(1)
        order = await self.desk.lookup(number)
        if order is None:
            out.replies.append(t("bot.status_not_found", locale, number=number))
            return out
        out.replies.append(self._status_text("bot.status_found", order, locale))
        return out

    def _status_text(self, key: str, order: WorkOrder, locale: str) -> str:
        unit = self.taxonomy.units.get(order.unit or "")
        industry = self.taxonomy.industries.get(order.industry or "")
        return t(
            key,
            locale,
            number=order.number,
            industry=industry.name(locale) if industry else t("unknown_industry", locale),
            state=t(f"state.{order.state}", locale),
            unit=unit.name(locale) if unit else t("centre", locale),
        )
