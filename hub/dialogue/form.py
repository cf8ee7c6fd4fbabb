"""The work-order form: slot filling that never traps, and the read-back before registering.

State (in the conversation's dialogue state, ``pending == "work_order"``):
    draft: request_type, industry, category, description, address, phone, anonymous, time, failures (per slot)
    asking: the slot asked for ("address", "phone", "description"), "confirm" (the read-back), "switch" (a new
        request arrived mid-form: keep or drop the current one?)
    switch_to, switch_back, switch_asked: the new request's text, the step to return to and whether the question
        was asked twice, while ``asking == "switch"``

Every reply is validated by what the slot is (an address looks like an address, a phone like a phone); a reply
that is not the slot is understood as what it is (:mod:`hub.dialogue.reply_kinds`): cancel, a correction, a
refusal, a question (answered, then the form resumes), a new request. After two failed attempts on a slot the
prompt offers choices (转人工, 取消 …) instead of repeating itself; the next failure hands off.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from hub.dialogue import choices as ch
from hub.dialogue import reply_kinds, slots
from hub.dialogue.ports import WorkOrderDraft
from hub.i18n import t
from hub.nlu import NluResult

if TYPE_CHECKING:
    from hub.dialogue.engine import DialogueEngine, TurnOutcome

log = logging.getLogger(__name__)

NEEDS_ADDRESS = frozenset({"complaint", "repair"})
REPORT_TYPES = frozenset({"complaint", "repair", "suggestion", "praise"})
_PROBLEM = re.compile(r"坏|不亮|漏|堵|臭|吵|脏|乱|没水|停水|没电|塌|破损|噪音|扰民|油烟|太大|投诉|举报|没人管")
_LOCATIVE_TAIL = ("门口", "附近", "旁边", "对面", "楼下", "路口", "一带", "东侧", "西侧", "南侧", "北侧", "拐角")


def mask_phone(phone: str) -> str:
    """138****5678 (mobile) or 0571****4567 (landline): the read-back never shows the whole number."""
    if len(phone) == 11 and phone.startswith("1"):
        return f"{phone[:3]}****{phone[-4:]}"
    return f"{phone[:4]}****{phone[-4:]}" if len(phone) > 8 else phone


def address_from(text: str, nlu: NluResult | None, asking: str | None) -> str | None:
    """The address a message gives: the NLU's entity, or (when the bot asked for it) the reply if it looks like one.

    When the bot asked for the address and the reply is the entity plus a locative ("幸福路12号门口"), the whole
    reply is kept: the landmark helps the unit find the place.
    """
    if (location := slots.location_from(text)) is not None:
        return location
    entity = nlu.entity("address") if nlu is not None else None
    cleaned = slots.clean_address(text)
    if entity:
        tail = cleaned[len(entity) :] if cleaned.startswith(entity) else ""
        if asking == "address" and tail.endswith(_LOCATIVE_TAIL) and len(tail) <= 8:
            return cleaned
        if asking == "address" and reply_kinds.is_question(text):
            return None
        return entity
    if asking == "address" and slots.looks_like_address(text) and not slots.normalise_phone(text):
        if len(cleaned) > 10 and _PROBLEM.search(cleaned):
            return None  # a description of the problem that mentions a place, not the address
        return cleaned
    return None


def phone_from(text: str, nlu: NluResult | None) -> str | None:
    """A valid phone number the message gives."""
    phone = (nlu.entity("phone") if nlu is not None else None) or slots.normalise_phone(text)
    return phone if phone and slots.is_valid_phone(phone) else None


class WorkOrderForm:
    """Runs the form for the engine (its settings, desk, knowledge base and hand-off)."""

    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine

    # -- starting --------------------------------------------------------------------------------------

    def draft_for(self, text: str, nlu: NluResult | None, request_type: str, known_phone: str | None) -> dict[str, Any]:
        """A new draft from the first message (its description) and what the NLU found in it."""
        taxonomy = self.engine.taxonomy
        industry = None
        category = None
        if nlu is not None:
            industry = nlu.industry.name if nlu.industry and nlu.industry.name in taxonomy.industries else None
            category = nlu.category.name if nlu.category and nlu.category.name in taxonomy.categories else None
        if category is None or taxonomy.industry_of_category(category) != industry:
            category = taxonomy.guess_category(industry, text)
        if industry is None and category is not None:
            industry = taxonomy.industry_of_category(category)
        phone = phone_from(text, nlu) or (known_phone if known_phone and slots.is_valid_phone(known_phone) else None)
        return {
            "request_type": request_type,
            "industry": industry,
            "category": category,
            "description": text.strip(),
            "address": address_from(text, nlu, None),
            "phone": phone,
            "anonymous": False,
            "time": nlu.entity("time") if nlu is not None else None,
            "failures": {},
        }

    async def start(self, conversation_id: str, out: TurnOutcome, draft: dict[str, Any], locale: str) -> TurnOutcome:
        """Open the form with ``draft``: acknowledge the request, then ask for what is missing (or read back)."""
        for key in ("offer", "referred", "last_article", "offered"):
            out.state.pop(key, None)
        out.state.update(pending="work_order", draft=draft, misunderstood=0)
        out.request_type = draft["request_type"]
        out.industry = draft.get("industry")
        industry_row = self.engine.taxonomy.industries.get(draft.get("industry") or "")
        out.replies.append(
            t(
                "bot.wo_start",
                locale,
                industry=industry_row.name(locale) if industry_row else t("unknown_industry", locale),
                type=t(f"bot.type.{draft['request_type']}", locale),
            )
        )
        return self.next_step(out, locale)

    # -- one reply -------------------------------------------------------------------------------------

    async def turn(
        self, conversation_id: str, out: TurnOutcome, text: str, nlu: NluResult | None, locale: str
    ) -> TurnOutcome:
        """The citizen's reply while the form is open."""
        draft = dict(out.state.get("draft") or {})
        draft["failures"] = dict(draft.get("failures") or {})
        out.state["draft"] = draft
        out.request_type = draft.get("request_type")
        out.industry = draft.get("industry")
        asking = out.state.get("asking")
        if reply_kinds.is_cancel(text) or text == ch.CANCEL:
            out.state = {k: v for k, v in out.state.items() if k in ("announced",)}
            out.replies.append(t("bot.wo_cancelled", locale))
            return out
        if asking == "switch":
            return await self._switch_reply(conversation_id, out, text, locale)
        if text in (ch.EDIT_ADDRESS, ch.EDIT_PHONE, ch.EDIT_DESCRIPTION) or (slot := reply_kinds.correction(text)):
            slot = {ch.EDIT_ADDRESS: "address", ch.EDIT_PHONE: "phone", ch.EDIT_DESCRIPTION: "description"}.get(
                text
            ) or reply_kinds.correction(text)
            assert slot is not None
            return self._correct(out, draft, slot, text, nlu, locale)
        if asking == "description":
            if len(text.strip()) >= 2 and not reply_kinds.is_question(text):
                draft["description"] = text.strip()
                return self.next_step(out, locale)
            return self._failed(out, draft, "description", text, locale)
        if asking == "confirm":
            return await self._confirm_reply(conversation_id, out, draft, text, nlu, locale)
        # asking for the address or the phone
        if text == ch.ANONYMOUS and asking == "phone":
            if self._anonymous_allowed(draft):
                draft["anonymous"] = True
                return self.next_step(out, locale)
            return self._phone_required(out, locale)
        if text == ch.GIVE_PHONE:
            draft["failures"].pop("phone", None)
            return self._ask(out, "phone", "ask_phone", locale)
        gives_slot = (
            (nlu is not None and bool(nlu.entity("address")))
            or bool(phone_from(text, nlu))
            or slots.location_from(text) is not None
        )
        if asking in ("address", "phone") and not gives_slot:
            switched = self._new_request(out, text, nlu, locale)
            if switched is not None:
                return switched  # a new matter, not the slot (checked first: it may name a place too)
        filled = self._fill(draft, text, nlu, asking)
        if filled:
            return self.next_step(out, locale)
        if asking == "address" and reply_kinds.address_unknown(text):
            return self._address_unknown(out, draft, locale)
        if asking == "phone" and (reply_kinds.refuses(text) or (ch.ANONYMOUS in text)):
            return self._phone_refused(out, draft, locale)
        if reply_kinds.is_question(text) or (nlu is not None and self._confident(nlu, "consult")):
            answered = self._answer_question(out, text, nlu, locale)
            if answered is not None:
                return answered
            if reply_kinds.is_question(text):
                return self._question_unanswered(out, draft, asking or "address", locale)
        if (switched := self._new_request(out, text, nlu, locale)) is not None:
            return switched
        return self._failed(out, draft, asking or "address", text, locale)

    # -- steps -----------------------------------------------------------------------------------------

    def next_step(self, out: TurnOutcome, locale: str) -> TurnOutcome:
        """Ask for the first missing slot, else read the draft back."""
        draft = out.state["draft"]
        if draft["request_type"] in NEEDS_ADDRESS and not draft.get("address"):
            return self._ask(out, "address", "ask_address", locale)
        if not draft.get("phone") and not draft.get("anonymous"):
            return self._ask(out, "phone", "ask_phone", locale)
        out.state["asking"] = "confirm"
        out.replies.append(self.readback(draft, locale))
        self._offer(out, self._readback_choices(draft), locale)
        return out

    def readback(self, draft: dict[str, Any], locale: str) -> str:
        """The summary read back before registering: type, industry/category, place, contact, time, problem."""
        taxonomy = self.engine.taxonomy
        industry = taxonomy.industries.get(draft.get("industry") or "")
        category = taxonomy.categories.get(draft.get("category") or "")
        kind = industry.name(locale) if industry else t("unknown_industry", locale)
        if category is not None:
            kind = f"{kind}/{category.name(locale)}"
        lines = [t("bot.readback_type", locale, type=t(f"bot.type.{draft['request_type']}", locale), kind=kind)]
        if draft.get("address"):
            lines.append(t("bot.readback_address", locale, address=draft["address"]))
        phone = t("bot.anonymous", locale) if draft.get("anonymous") else mask_phone(str(draft.get("phone") or ""))
        lines.append(t("bot.readback_phone", locale, phone=phone))
        if draft.get("time"):
            lines.append(t("bot.readback_time", locale, time=draft["time"]))
        lines.append(t("bot.readback_description", locale, description=draft["description"]))
        return "\n".join([t("bot.readback", locale), *lines, t("bot.readback_confirm", locale)])

    def _readback_choices(self, draft: dict[str, Any]) -> list[str]:
        values = [ch.CONFIRM]
        if draft["request_type"] in NEEDS_ADDRESS or draft.get("address"):
            values.append(ch.EDIT_ADDRESS)
        return [*values, ch.EDIT_PHONE, ch.EDIT_DESCRIPTION, ch.CANCEL]

    def _ask(self, out: TurnOutcome, slot: str, key: str, locale: str) -> TurnOutcome:
        out.state["asking"] = slot
        out.replies.append(t(f"bot.{key}", locale))
        return out

    def _offer(self, out: TurnOutcome, values: list[str], locale: str) -> None:
        self.engine.offer(out, [(ch.label(v, locale), v) for v in values])

    def _fill(self, draft: dict[str, Any], text: str, nlu: NluResult | None, asking: str | None) -> bool:
        """Take the slot values the reply gives; True if the slot asked for is now filled."""
        phone = phone_from(text, nlu)
        if phone and (asking == "phone" or not draft.get("phone")):
            draft["phone"] = phone
            draft["anonymous"] = False
        address = address_from(text, nlu, asking)
        if address and not phone and (asking == "address" or not draft.get("address")):
            draft["address"] = address
        if asking == "address":
            return bool(draft.get("address")) and (bool(address) or bool(phone))
        return asking == "phone" and bool(phone)

    def _failed(self, out: TurnOutcome, draft: dict[str, Any], slot: str, text: str, locale: str) -> TurnOutcome:
        """A reply that is not the slot: ask better, then offer choices, then hand off (never the same prompt 3x)."""
        failures = int(draft["failures"].get(slot, 0)) + 1
        draft["failures"][slot] = failures
        detail = text.strip()
        description = str(draft.get("description") or "")
        keep = slot == "address" and detail and detail not in description and len(description) < 500
        if keep and not reply_kinds.is_question(text):
            draft["description"] = f"{description}；{detail}"  # detail instead of an address
        if failures > self.engine.settings.max_slot_attempts - 1:
            return self.engine.handoff(out, "slot_filling_failed", locale)
        if failures >= 2:
            values = [ch.HUMAN, ch.CANCEL]
            if slot == "phone" and self._anonymous_allowed(draft):
                values = [ch.ANONYMOUS, *values]
                key = "ask_phone_stuck_anonymous"
            else:
                key = f"ask_{slot}_stuck"
            out.state["asking"] = slot
            out.replies.append(t(f"bot.{key}", locale))
            self._offer(out, values, locale)
            return out
        if slot == "phone" and slots.has_digits(text):
            return self._ask(out, slot, "bad_phone", locale)
        return self._ask(out, slot, f"ask_{slot}_retry", locale)

    def _correct(
        self, out: TurnOutcome, draft: dict[str, Any], slot: str, text: str, nlu: NluResult | None, locale: str
    ) -> TurnOutcome:
        """Clear a slot the citizen corrects and ask it again (or take the new value said with it)."""
        if slot == "phone":
            draft["phone"], draft["anonymous"] = None, False
            if phone := phone_from(text, nlu):
                draft["phone"] = phone
                return self.next_step(out, locale)
        elif slot == "address":
            draft["address"] = None
            if address := address_from(text.split("是", 1)[-1] if "是" in text else "", nlu, "address"):
                draft["address"] = address
                return self.next_step(out, locale)
        draft["failures"].pop(slot, None)
        out.replies.append(t("bot.correct_ack", locale))
        key = {"address": "ask_address", "phone": "ask_phone", "description": "ask_description"}[slot]
        return self._ask(out, slot, key, locale)

    async def _confirm_reply(
        self,
        conversation_id: str,
        out: TurnOutcome,
        draft: dict[str, Any],
        text: str,
        nlu: NluResult | None,
        locale: str,
    ) -> TurnOutcome:
        if text == ch.CONFIRM or reply_kinds.is_confirm(text):
            return await self.register(conversation_id, out, draft, locale)
        if reply_kinds.is_deny(text):
            out.replies.append(t("bot.readback_what", locale))
            self._offer(out, self._readback_choices(draft)[1:], locale)
            return out
        # a new phone or address said at the read-back replaces the old one
        phone = phone_from(text, nlu)
        address = None if phone else address_from(text, nlu, "address")
        if phone or (address and not reply_kinds.is_question(text)):
            if phone:
                draft["phone"], draft["anonymous"] = phone, False
            else:
                draft["address"] = address
            return self.next_step(out, locale)
        if reply_kinds.is_question(text):
            answered = self._answer_question(out, text, nlu, locale)
            if answered is not None:
                return answered
            return self._question_unanswered(out, draft, "confirm", locale)
        if (switched := self._new_request(out, text, nlu, locale)) is not None:
            return switched
        failures = int(draft["failures"].get("confirm", 0)) + 1
        draft["failures"]["confirm"] = failures
        if failures > self.engine.settings.max_slot_attempts - 1:
            return self.engine.handoff(out, "slot_filling_failed", locale)
        out.replies.append(t("bot.readback_repeat", locale))
        self._offer(out, [*self._readback_choices(draft), *([ch.HUMAN] if failures >= 2 else [])], locale)
        return out

    async def register(self, conversation_id: str, out: TurnOutcome, draft: dict[str, Any], locale: str) -> TurnOutcome:
        """The citizen confirmed: register the order (dispatched by rule) and tell its number."""
        order, unit_name = await self.engine.desk.register(
            conversation_id,
            WorkOrderDraft(
                request_type=draft["request_type"],
                industry=draft.get("industry"),
                category=draft.get("category"),
                description=draft["description"],
                address=draft.get("address"),
                phone=None if draft.get("anonymous") else draft.get("phone"),
            ),
        )
        kept = {k: v for k, v in out.state.items() if k == "announced"}
        out.state = {**kept, "last_work_order": order.number}
        if unit_name:
            out.replies.append(t("bot.wo_created", locale, number=order.number, unit=unit_name))
        else:
            out.replies.append(t("bot.wo_created_manual", locale, number=order.number))
        return out

    # -- replies that are not the slot -----------------------------------------------------------------

    def _anonymous_allowed(self, draft: dict[str, Any]) -> bool:
        return draft.get("request_type") in self.engine.settings.anonymous_types

    def _phone_refused(self, out: TurnOutcome, draft: dict[str, Any], locale: str) -> TurnOutcome:
        out.state["asking"] = "phone"
        if self._anonymous_allowed(draft):
            out.replies.append(t("bot.phone_refused_anonymous", locale))
            self._offer(out, [ch.ANONYMOUS, ch.GIVE_PHONE, ch.HUMAN, ch.CANCEL], locale)
            return out
        return self._phone_required(out, locale)

    def _phone_required(self, out: TurnOutcome, locale: str) -> TurnOutcome:
        out.state["asking"] = "phone"
        out.replies.append(t("bot.phone_refused_required", locale))
        self._offer(out, [ch.GIVE_PHONE, ch.HUMAN, ch.CANCEL], locale)
        return out

    def _address_unknown(self, out: TurnOutcome, draft: dict[str, Any], locale: str) -> TurnOutcome:
        failures = int(draft["failures"].get("address", 0)) + 1
        draft["failures"]["address"] = failures
        if failures > self.engine.settings.max_slot_attempts - 1:
            return self.engine.handoff(out, "slot_filling_failed", locale)
        out.state["asking"] = "address"
        out.replies.append(t("bot.address_unknown" if failures < 2 else "bot.ask_address_stuck", locale))
        self._offer(out, [ch.HUMAN, ch.CANCEL], locale)
        return out

    def _answer_question(self, out: TurnOutcome, text: str, nlu: NluResult | None, locale: str) -> TurnOutcome | None:
        """A question asked mid-form that the knowledge base answers confidently: answer it, then resume."""
        answer = self.engine.kb_answer(self.engine.kb_candidates(text, nlu))
        if answer is None:
            return None
        out.replies.append(answer.answer)
        self._resume_prompt(out, str(out.state.get("asking") or "address"), locale)
        return out

    def _resume_prompt(self, out: TurnOutcome, asking: str, locale: str) -> None:
        """我们继续登记：<the pending prompt> (with the read-back's choices when that is pending)."""
        if asking == "confirm":
            out.replies.append(t("bot.resume_form", locale, prompt=t("bot.readback_repeat", locale)))
            self._offer(out, self._readback_choices(out.state["draft"]), locale)
            return
        key = {"phone": "ask_phone", "description": "ask_description"}.get(asking, "ask_address")
        out.replies.append(t("bot.resume_form", locale, prompt=t(f"bot.{key}", locale)))

    def _question_unanswered(self, out: TurnOutcome, draft: dict[str, Any], asking: str, locale: str) -> TurnOutcome:
        """A question mid-form the knowledge base cannot answer: say so, then resume (it counts as a failure)."""
        failures = int(draft["failures"].get(asking, 0)) + 1
        draft["failures"][asking] = failures
        if failures > self.engine.settings.max_slot_attempts - 1:
            return self.engine.handoff(out, "slot_filling_failed", locale)
        out.state["asking"] = asking
        out.replies.append(t("bot.question_unanswered", locale))
        self._resume_prompt(out, asking, locale)
        if failures >= 2 and asking != "confirm":
            self._offer(out, [ch.HUMAN, ch.CANCEL], locale)
        return out

    def _confident(self, nlu: NluResult, *intents: str) -> bool:
        return nlu.intent.name in intents and nlu.intent.confidence >= self.engine.settings.nlu_min_confidence

    def _new_request(self, out: TurnOutcome, text: str, nlu: NluResult | None, locale: str) -> TurnOutcome | None:
        """An unrelated new request mid-form (or one for another hotline): ask whether to drop the current one."""
        if not reply_kinds.is_substantial(text):
            return None
        draft = out.state["draft"]
        referral = self.engine.refer(text, nlu, locale)
        new = referral is not None
        if not new and nlu is not None and nlu.intent.name in REPORT_TYPES:
            strong = nlu.intent.confidence >= max(0.6, self.engine.settings.nlu_min_confidence)
            industry = nlu.industry
            other = industry is not None and industry.name != draft.get("industry") and industry.confidence >= 0.3
            new = strong and other
        if not new:
            return None
        if referral is not None:
            out.replies.append(referral.text)
        out.state["switch_back"] = out.state.get("asking")
        out.state["asking"] = "switch"
        out.state["switch_to"] = text.strip()
        out.replies.append(t("bot.switch_request", locale))
        self._offer(out, [ch.CONTINUE, ch.NEW_REQUEST, ch.HUMAN, ch.CANCEL], locale)
        return out

    async def _switch_reply(self, conversation_id: str, out: TurnOutcome, text: str, locale: str) -> TurnOutcome:
        """The answer to "continue the current report or start the new one?"."""
        back = str(out.state.pop("switch_back", None) or "address")
        new_text = str(out.state.pop("switch_to", "") or "")
        out.state["asking"] = back
        if text == ch.NEW_REQUEST or (reply_kinds.is_confirm(text) and text != ch.CONTINUE):
            out.state = {k: v for k, v in out.state.items() if k in ("announced", "known_phone")}
            return await self.engine.route_text(conversation_id, out, new_text, locale)
        asked_again = bool(out.state.pop("switch_asked", False))
        if text == ch.CONTINUE or reply_kinds.is_deny(text) or "继续" in text or asked_again:
            # continue (also after a second unclear answer: the same question is not asked a third time)
            if back == "confirm":
                return self.next_step(out, locale)
            self._resume_prompt(out, back, locale)
            return out
        out.state.update(asking="switch", switch_back=back, switch_to=new_text, switch_asked=True)
        out.replies.append(t("bot.switch_request", locale))
        self._offer(out, [ch.CONTINUE, ch.NEW_REQUEST, ch.HUMAN, ch.CANCEL], locale)
        return out
