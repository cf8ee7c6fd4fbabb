"""The dialogue engine: decides the bot's answer to one citizen message.

The engine holds no storage: it reads and returns the conversation's ``dialogue_state`` (a JSON dict) and
uses injected ports for NLU, the knowledge base and work orders. The conversation service persists the
outcome, stores the replies and performs the hand-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hub.dialogue import slots
from hub.dialogue.ports import Announcements, KbAnswer, KnowledgeBase, WorkOrderDesk, WorkOrderDraft
from hub.i18n import t
from hub.models import WorkOrder
from hub.nlu import NluResult, NluService, NluUnavailable
from hub.taxonomy import Taxonomy

log = logging.getLogger(__name__)

REQUEST_TYPES = ("consult", "complaint", "repair", "suggestion", "praise")
NEEDS_ADDRESS = frozenset({"complaint", "repair"})
# Dialogue-state key: the citizen's phone the channel already knows (a phone call's caller ID, put there by the
# voice channel). A work order takes it instead of asking for a phone; a number the citizen says still wins.
KNOWN_PHONE = "known_phone"


@dataclass(frozen=True, slots=True)
class BotSettings:
    """Thresholds of the bot.

    The knowledge-base thresholds match the calibration of ``knowledge_base.search`` (ANSWER_THRESHOLD,
    SUGGEST_THRESHOLD), measured on the team's paraphrase dev set.
    """

    nlu_min_confidence: float = 0.3  # DIET spreads short messages thin: 你好 → greet at ~0.43
    kb_answer_threshold: float = 0.5
    kb_offer_threshold: float = 0.3
    max_misunderstandings: int = 2
    max_slot_attempts: int = 3


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
    ) -> None:
        self.nlu = nlu
        self.kb = kb
        self.desk = desk
        self.taxonomy = taxonomy
        self.settings = settings or BotSettings()
        self.announcements = announcements

    async def handle(
        self, conversation_id: str, state: dict[str, Any], text: str, locale: str = "zh-CN"
    ) -> TurnOutcome:
        """Decide the bot's reply to ``text`` given the conversation's ``state``."""
        out = TurnOutcome(state=dict(state))
        if slots.wants_human(text):
            return self._handoff(out, "requested", locale)
        if out.state.get("pending") in ("callback", "callback_cause"):
            handled = await self._callback(out, text, locale)
            if handled is not None:
                return handled
        try:
            nlu = await self.nlu.parse(text)
        except NluUnavailable as exc:
            log.warning("NLU unavailable (%s); conversation %s goes to a human agent", exc, conversation_id)
            return self._handoff(out, "nlu_unavailable", locale, degraded=True)
        out.nlu = nlu
        if nlu.intent.name == "human_handoff" and nlu.intent.confidence >= self.settings.nlu_min_confidence:
            return self._handoff(out, "requested", locale)
        if out.state.get("pending") == "work_order":
            return await self._fill_work_order(conversation_id, out, text, nlu, locale)
        if out.state.get("offered") and (choice := _choice(text, len(out.state["offered"]))) is not None:
            article = self.kb.get(out.state["offered"][choice])
            out.state.pop("offered", None)
            if article is not None:
                return self._answer(out, article, locale)
        out.state.pop("offered", None)
        return self._announce(await self._route(conversation_id, out, text, nlu, locale), text, nlu)

    def _announce(self, out: TurnOutcome, text: str, nlu: NluResult) -> TurnOutcome:
        """Mention current notices for the industry or area asked about, each once per conversation."""
        if self.announcements is None or out.handoff:
            return out
        industry = out.industry or (nlu.industry.name if nlu.industry else None)
        said = list(out.state.get("announced", []))
        for key, notice in self.announcements.relevant(text, industry):
            if key not in said:
                said.append(key)
                out.replies.append(notice)
        if said:
            out.state["announced"] = said
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
                return out
            if confident and intent == "affirm":
                out.replies.append(t("bot.kb_helpful", locale))
                return out
        if confident and intent in ("greet", "thank", "goodbye"):
            out.replies.append(t(f"bot.{intent}", locale))
            return out
        if confident and intent == "out_of_scope":
            out.replies.append(t("bot.out_of_scope", locale))
            return out
        if confident and intent == "status_query":
            return await self._status(out, text, locale, conversation_id)
        if (number := slots.WORK_ORDER_NUMBER.search(text)) is not None:
            return await self._status(out, number.group(1), locale, conversation_id)
        if confident and intent in REQUEST_TYPES and intent != "consult":
            return await self._start_work_order(conversation_id, out, text, nlu, locale)
        # A consultation, or something the NLU is unsure about: the knowledge base may still know.
        hits = self.kb_candidates(text, nlu)
        best = hits[0].confidence if hits else 0.0
        if (answer := self.kb_answer(hits)) is not None:
            return self._answer(out, answer, locale)
        if not confident:
            log.info("low NLU confidence %.2f in conversation %s", nlu.intent.confidence, conversation_id)
            return self._handoff(out, "low_confidence", locale)
        if best >= self.settings.kb_offer_threshold:
            offered = [h for h in hits if h.confidence >= self.settings.kb_offer_threshold][:3]
            out.state["offered"] = [h.article_id for h in offered]
            choices = "\n".join(f"{i}. {h.question}" for i, h in enumerate(offered, 1))
            out.replies.append(t("bot.kb_offer", locale, choices=choices))
            return out
        if intent == "consult":
            out.kb_miss = "current"
        return self._misunderstood(out, locale)

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

    def _misunderstood(self, out: TurnOutcome, locale: str) -> TurnOutcome:
        count = int(out.state.get("misunderstood", 0)) + 1
        out.state["misunderstood"] = count
        if count >= self.settings.max_misunderstandings:
            return self._handoff(out, "misunderstood", locale)
        out.replies.append(t("bot.not_understood", locale))
        return out

    def _handoff(self, out: TurnOutcome, reason: str, locale: str, degraded: bool = False) -> TurnOutcome:
        out.handoff = reason
        out.state = {k: v for k, v in out.state.items() if k == "draft"}
        out.replies.append(t("bot.handoff_degraded" if degraded else "bot.handoff", locale))
        return out

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

    # -- work-order slot filling ------------------------------------------------------------------

    async def _start_work_order(
        self, conversation_id: str, out: TurnOutcome, text: str, nlu: NluResult, locale: str
    ) -> TurnOutcome:
        request_type = nlu.intent.name
        industry = nlu.industry.name if nlu.industry and nlu.industry.name in self.taxonomy.industries else None
        category = nlu.category.name if nlu.category and nlu.category.name in self.taxonomy.categories else None
        if category is None or self.taxonomy.industry_of_category(category) != industry:
            category = self.taxonomy.guess_category(industry, text)
        if industry is None and category is not None:
            industry = self.taxonomy.industry_of_category(category)
        address = nlu.entity("address")
        phone = nlu.entity("phone") or slots.normalise_phone(text) or out.state.get(KNOWN_PHONE)
        draft = {
            "request_type": request_type,
            "industry": industry,
            "category": category,
            "description": text.strip(),
            "address": address,
            "phone": phone if phone and slots.is_valid_phone(phone) else None,
            "attempts": 0,
        }
        out.state.update(pending="work_order", draft=draft, misunderstood=0)
        out.request_type = request_type
        out.industry = industry
        industry_row = self.taxonomy.industries.get(industry or "")
        out.replies.append(
            t(
                "bot.wo_start",
                locale,
                industry=industry_row.name(locale) if industry_row else t("unknown_industry", locale),
                type=t(f"bot.type.{request_type}", locale),
            )
        )
        return await self._next_slot_or_register(conversation_id, out, locale)

    async def _fill_work_order(
        self, conversation_id: str, out: TurnOutcome, text: str, nlu: NluResult, locale: str
    ) -> TurnOutcome:
        draft = dict(out.state.get("draft") or {})
        if slots.wants_cancel(text):
            out.state = {}
            out.replies.append(t("bot.wo_cancelled", locale))
            return out
        asking = out.state.get("asking")
        phone = nlu.entity("phone") or slots.normalise_phone(text)
        if phone and slots.is_valid_phone(phone) and not draft.get("phone"):
            draft["phone"] = phone
        address = nlu.entity("address")
        if not draft.get("address"):
            if address:
                draft["address"] = address
            elif asking == "address" and slots.looks_like_address(text) and not phone:
                draft["address"] = slots.clean_address(text)
        if asking == "phone" and not draft.get("phone") and slots.has_digits(text):
            out.replies.append(t("bot.bad_phone", locale))
        elif asking == "address" and not draft.get("address") and draft.get("description"):
            # The citizen added detail instead of an address: keep it with the description.
            draft["description"] = f"{draft['description']}；{text.strip()}"
        draft["attempts"] = int(draft.get("attempts", 0)) + 1
        out.state["draft"] = draft
        out.request_type = draft.get("request_type")
        out.industry = draft.get("industry")
        if draft["attempts"] > self.settings.max_slot_attempts + 2:
            return self._handoff(out, "slot_filling_failed", locale)
        return await self._next_slot_or_register(conversation_id, out, locale)

    async def _next_slot_or_register(self, conversation_id: str, out: TurnOutcome, locale: str) -> TurnOutcome:
        draft = out.state["draft"]
        if draft["request_type"] in NEEDS_ADDRESS and not draft.get("address"):
            out.state["asking"] = "address"
            out.replies.append(t("bot.ask_address", locale))
            return out
        if not draft.get("phone"):
            out.state["asking"] = "phone"
            out.replies.append(t("bot.ask_phone", locale))
            return out
        order, unit_name = await self.desk.register(
            conversation_id,
            WorkOrderDraft(
                request_type=draft["request_type"],
                industry=draft.get("industry"),
                category=draft.get("category"),
                description=draft["description"],
                address=draft.get("address"),
                phone=draft.get("phone"),
            ),
        )
        out.state = {"last_work_order": order.number}
        if unit_name:
            out.replies.append(t("bot.wo_created", locale, number=order.number, unit=unit_name))
        else:
            out.replies.append(t("bot.wo_created_manual", locale, number=order.number))
        return out


def _choice(text: str, count: int) -> int | None:
    """A reply like "2" or "第2个" choosing one of ``count`` offered articles (0-based), else None."""
    stripped = text.strip().strip("。.！!个条第")
    digits = {"1": 0, "2": 1, "3": 2, "一": 0, "二": 1, "三": 2}
    index = digits.get(stripped)
    return index if index is not None and index < count else None
