"""The agent's desk: registering a work order (受理) from a conversation or from a walk-in, letter, call ...

Used by the registration pages (``hub/work_orders/intake_pages.py``) and the staff API (``POST
/api/v1/work-orders``). The desk validates the form, links the citizen's contact by phone, takes the unit the
dispatch rules choose (or the agent's), registers through :meth:`WorkOrderService.register` (which dispatches in
the same transaction) and tells the citizen: a system message in the conversation and, for a call or a request
without a conversation, an SMS to a mainland mobile when SMS is on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from hub.conversation_service import ConversationNotFound, ConversationService
from hub.dialogue import slots
from hub.i18n import t
from hub.intake import ContactHints
from hub.localtime import CityTime
from hub.models import Contact, Conversation, Role, SenderKind, User, WorkOrder
from hub.notices import NoticeRoutes
from hub.taxonomy import Taxonomy
from hub.work_orders.actions import MAX_TEXT
from hub.work_orders.intake_prefill import is_citizen, prefill
from hub.work_orders.refusals import Refusal
from hub.work_orders.service import WorkOrderService
from hub.work_orders.sources import MANUAL_SOURCES, SOURCES, source_for_channel
from hub.work_orders.states import State

__all__ = ["DeskRegistration", "Duplicate", "Preview", "RegistrationError", "RegistrationForm", "prefill"]

log = logging.getLogger(__name__)

# (industry, category, district) -> the unit the dispatch rules choose (HubContext.choose_unit)
UnitChooser = Callable[[str | None, str | None, str | None], str | None]

DESK_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
LEADER_SOURCE = "leader"  # 领导交办: the one source a leader registers with
MAX_ADDRESS = 200
MAX_NAME = 50
MOBILE = re.compile(r"1[3-9]\d{9}")  # mainland mobile: the desk's SMS notice goes only there
SMS = "sms"
VOICE = "voice"


class RegistrationError(Refusal):
    """A registration (or an edit) refused: ``code`` says why (text ``wo.error.<code>``), ``field`` which field."""

    def __init__(self, code: str, field: str | None = None, **params: Any) -> None:
        self.field = field
        super().__init__(code, **params)


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    """What the agent fills in at the desk."""

    source: str  # hub.work_orders.sources code; from a conversation: its channel
    request_type: str
    description: str
    industry: str | None = None
    category: str | None = None
    address: str | None = None
    phone: str | None = None
    citizen_name: str | None = None
    urgent: bool | None = None  # None: from the category
    conversation_id: str | None = None
    message_id: int | None = None  # the message the agent filled the form from
    unit: str | None = None  # the agent's choice; None: the dispatch rules' choice
    dispatch: bool = True  # register and dispatch in one step
    forward_text: str | None = None  # what the department is shown beyond the fields
    occurred_at: datetime | None = None  # when it happened, if the citizen said (goes in the description)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An open order that looks like the same request."""

    number: str
    state: str
    address: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Preview:
    """What registering the form now would do.

    Attributes:
        unit: the unit it would be dispatched to (None: it stays received, for the centre to dispatch).
        unit_from: ``"rule"`` or ``"agent"`` when ``unit`` is set.
        reason: why there is no unit: ``register_only``, ``no_industry`` or ``no_rule``.
        district: the district code found in the address.
        duplicates: likely duplicates, best first.
        urgent: whether it would be registered urgent (抢险).
    """

    unit: str | None
    unit_from: str | None
    reason: str | None
    district: str | None
    duplicates: tuple[Duplicate, ...]
    urgent: bool


def _text(value: str | None, field: str, limit: int) -> str | None:
    stripped = (value or "").strip()
    if len(stripped) > limit:
        raise RegistrationError("field_too_long", field, max=limit)
    return stripped or None


def clean_phone(value: str | None) -> str | None:
    """A phone as digits (spaces, dashes, brackets and a +86 prefix removed); :class:`RegistrationError` if it is
    not a mobile or a landline with area code."""
    digits = re.sub(r"[\s()（）-]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits:
        return None
    if not slots.is_valid_phone(digits):
        raise RegistrationError("phone_format", "phone")
    return digits


def check_fields(values: dict[str, Any], tax: Taxonomy) -> dict[str, Any]:
    """The request fields in ``values`` validated and normalised (only the keys present).

    Raises:
        RegistrationError: an unknown code, an empty description, a malformed phone, a text too long.
    """
    out = dict(values)
    if "request_type" in out and out["request_type"] not in tax.request_types:
        raise RegistrationError("unknown_request_type", "request_type")
    for key, known in (("industry", tax.industries), ("category", tax.categories)):
        if key in out:
            out[key] = out[key] or None
            if out[key] is not None and out[key] not in known:
                raise RegistrationError(f"unknown_{key}", key)
    if out.get("category") and "industry" in out:
        owner = tax.industry_of_category(out["category"])
        if out["industry"] is None:
            out["industry"] = owner
        elif owner != out["industry"]:
            raise RegistrationError("category_mismatch", "category")
    if "description" in out:
        out["description"] = _text(out["description"], "description", MAX_TEXT)
        if out["description"] is None:
            raise RegistrationError("description_required", "description")
    if "address" in out:
        out["address"] = _text(out["address"], "address", MAX_ADDRESS)
    if "citizen_name" in out:
        out["citizen_name"] = _text(out["citizen_name"], "citizen_name", MAX_NAME)
    if "forward_text" in out:
        out["forward_text"] = _text(out["forward_text"], "forward_text", MAX_TEXT)
    if "phone" in out:
        out["phone"] = clean_phone(out["phone"])
    if "urgent" in out and not isinstance(out["urgent"], bool):
        raise RegistrationError("invalid_value", "urgent")
    return out


class DeskRegistration:
    """Registers work orders at the agent's desk (see the module docstring)."""

    def __init__(
        self,
        orders: WorkOrderService,
        conversations: ConversationService,
        taxonomy: Callable[[], Taxonomy],
        choose_unit: UnitChooser | None,
        notice_routes: NoticeRoutes | None = None,
        city: CityTime | None = None,
    ) -> None:
        self.orders = orders
        self.conversations = conversations
        self.taxonomy = taxonomy
        self.choose_unit = choose_unit
        self.notice_routes = notice_routes  # SMS is available when the sms channel registered there
        self.city = city or CityTime(orders.tz)

    # -- the form ---------------------------------------------------------------------------------------

    async def _conversation(self, conversation_id: str | None) -> Conversation | None:
        if conversation_id is None:
            return None
        try:
            return await self.conversations.reads.get(conversation_id)
        except ConversationNotFound:
            raise RegistrationError("unknown_conversation", "conversation_id") from None

    async def _check_message(self, conversation: Conversation | None, message_id: int | None) -> None:
        if message_id is None:
            return
        message = await self.conversations.reads.message(message_id) if conversation is not None else None
        if message is None or conversation is None or message.conversation_id != conversation.id:
            raise RegistrationError("unknown_message", "message_id")
        if not is_citizen(message):
            raise RegistrationError("message_not_citizen", "message_id")

    def _check_source(self, form: RegistrationForm, conversation: Conversation | None, user: User) -> str:
        source = form.source or (source_for_channel(conversation.channel) if conversation else "")
        if source not in SOURCES:
            raise RegistrationError("unknown_source", "source")
        if conversation is not None and source != source_for_channel(conversation.channel):
            raise RegistrationError("source_not_channel", "source")
        if conversation is None and source not in MANUAL_SOURCES:
            raise RegistrationError("manual_source_only", "source")
        if user.role is Role.LEADER and (source != LEADER_SOURCE or conversation is not None):
            raise RegistrationError("leader_source_only", "source")
        if user.role not in DESK_ROLES and user.role is not Role.LEADER:
            raise RegistrationError("role_not_allowed", action="receive")
        return source

    async def validate(self, form: RegistrationForm, user: User) -> tuple[RegistrationForm, Conversation | None]:
        """The form with normalised values, and its conversation.

        Raises:
            RegistrationError: what is wrong, and in which field.
        """
        conversation = await self._conversation(form.conversation_id)
        source = self._check_source(form, conversation, user)
        await self._check_message(conversation, form.message_id)
        tax = self.taxonomy()
        fields = check_fields(
            {
                "request_type": form.request_type,
                "industry": form.industry,
                "category": form.category,
                "description": form.description,
                "address": form.address,
                "phone": form.phone,
                "citizen_name": form.citizen_name,
                "forward_text": form.forward_text,
            },
            tax,
        )
        unit = form.unit or None
        if unit is not None and (unit not in tax.units or tax.units[unit].kind == "centre"):
            raise RegistrationError("unknown_unit", "unit")
        occurred = form.occurred_at
        if occurred is not None:
            occurred = self.city.attach(occurred)
            if occurred > self.orders.now() + timedelta(minutes=5):
                raise RegistrationError("occurred_in_future", "occurred_at")
        return replace(form, source=source, unit=unit, occurred_at=occurred, **fields), conversation

    def _target(self, form: RegistrationForm, district: str | None) -> tuple[str | None, str | None, str | None]:
        """(unit, where it came from, why there is none)."""
        if not form.dispatch:
            return None, None, "register_only"
        if form.unit:
            return form.unit, "agent", None
        if not form.industry:
            return None, None, "no_industry"
        unit = self.choose_unit(form.industry, form.category, district) if self.choose_unit else None
        return (unit, "rule", None) if unit else (None, None, "no_rule")

    def _urgent(self, form: RegistrationForm) -> bool:
        if form.urgent is not None:
            return form.urgent
        category = self.taxonomy().categories.get(form.category or "")
        return bool(category and category.urgent)

    async def preview(self, form: RegistrationForm, user: User) -> Preview:
        """The dispatch target, district, likely duplicates and urgency of an unfinished form (never raises for
        unknown codes: they count as not chosen)."""
        tax = self.taxonomy()
        form = replace(
            form,
            industry=form.industry if form.industry in tax.industries else None,
            category=form.category if form.category in tax.categories else None,
            unit=form.unit if form.unit in tax.units else None,
        )
        if form.industry is None and form.category is not None:
            form = replace(form, industry=tax.industry_of_category(form.category))
        district = tax.detect_district(form.address)
        unit, unit_from, reason = self._target(form, district)
        now = self.orders.now()
        probe = WorkOrder(
            id=0,
            number="",
            conversation_id=None,
            contact_id=None,
            request_type=form.request_type,
            industry=form.industry,
            category=form.category,
            district=district,
            address=(form.address or "").strip() or None,
            phone=None,
            description="",
            unit=None,
            state=State.RECEIVED.value,
            urgent=False,
            created_at=now,
            updated_at=now,
        )
        found = await self.orders.likely_duplicates(probe)
        duplicates = tuple(Duplicate(o.number, o.state, o.address, o.created_at) for o in found)
        return Preview(unit, unit_from, reason, district, duplicates, self._urgent(form))

    # -- registering ------------------------------------------------------------------------------------

    async def register(self, form: RegistrationForm, user: User) -> WorkOrder:
        """Validate, link the contact, choose the unit, register (and dispatch), tell the citizen.

        Raises:
            RegistrationError: the form is refused; nothing was registered.
        """
        form, conversation = await self.validate(form, user)
        contact: Contact | None = None
        if form.phone:
            hints = ContactHints(phone=form.phone, name=form.citizen_name)
            contact = await self.conversations.link_contact(form.conversation_id, hints)
        elif conversation is not None and conversation.contact_id is not None:
            contact = await self.conversations.reads.contact(conversation.contact_id)
        district = self.taxonomy().detect_district(form.address)
        unit, _from, _reason = self._target(form, district)
        description = form.description
        if form.occurred_at is not None:
            when = self.city.format(form.occurred_at)
            description = f"{description}\n{t('intake.occurred_line', 'zh-CN', time=when)}"
        order = await self.orders.register(
            request_type=form.request_type,
            description=description,
            industry=form.industry,
            category=form.category,
            district=district,
            address=form.address,
            phone=form.phone,
            urgent=self._urgent(form),
            conversation_id=form.conversation_id,
            contact_id=contact.id if contact else None,
            unit=unit,
            source=form.source,
            actor=user,
            citizen_name=form.citizen_name,
            forward_text=form.forward_text,
        )
        log.info("desk: %s registered order %s (source %s)", user.username, order.number, form.source)
        try:
            await self._tell(order, conversation, contact)
        except Exception:  # the order stands; the agent sees the number and can tell the citizen
            log.exception("work order %s: the citizen could not be told", order.number)
        return order

    def notice_text(self, order: WorkOrder, locale: str) -> str:
        """What the citizen is told: the number, and the unit if dispatched."""
        unit = self.taxonomy().units.get(order.unit or "")
        if unit is not None and order.state != State.RECEIVED.value:
            return t("intake.notice.dispatched", locale, number=order.number, unit=unit.name(locale))
        return t("intake.notice.registered", locale, number=order.number)

    async def _tell(self, order: WorkOrder, conversation: Conversation | None, contact: Contact | None) -> None:
        if conversation is not None:
            text = self.notice_text(order, conversation.locale)
            await self.conversations.post(
                conversation, text, sender=SenderKind.SYSTEM, external_id=f"registered:{order.number}"
            )
        by_sms = conversation is None or conversation.channel == VOICE
        routes = self.notice_routes
        if not (by_sms and order.phone and MOBILE.fullmatch(order.phone) and contact is not None):
            return
        if routes is None or not routes.can_push(SMS):
            log.info("work order %s: no SMS to the citizen (SMS is off)", order.number)
            return
        target = await self.conversations.conversation_for(SMS, order.phone, contact)
        text = self.notice_text(order, target.locale)
        await self.conversations.post(target, text, sender=SenderKind.SYSTEM, external_id=f"registered:{order.number}")

    # -- before dispatch --------------------------------------------------------------------------------

    async def edit(self, number: str, changes: dict[str, Any], user: User) -> WorkOrder:
        """Correct an order still received (受理): validated like the form, audited as an ``edit`` event.

        Raises:
            RegistrationError: a refused value or role.
            WorkOrderError: ``edit_after_dispatch`` once it was dispatched.
            NotFound: no such order (or not visible to ``user``).
        """
        order = await self.orders.get_for(user, number)
        if user.role not in DESK_ROLES and not (user.role is Role.LEADER and order.source == LEADER_SOURCE):
            raise RegistrationError("role_not_allowed", action="edit")
        tax = self.taxonomy()
        values = check_fields(changes, tax)
        category = values.get("category", order.category)
        industry = values.get("industry", order.industry)
        if category and tax.industry_of_category(category) != industry:
            if "category" in values:
                raise RegistrationError("category_mismatch", "category")
            values["category"] = None  # another industry: the old category no longer applies
        if "address" in values:
            values["district"] = tax.detect_district(values["address"])
        if values.get("category", order.category) != order.category and "urgent" not in values:
            found = tax.categories.get(values["category"] or "")
            values["urgent"] = bool(found and found.urgent)
        return await self.orders.edit(number, values, user)

    # -- prefilled from a conversation ------------------------------------------------------------------

    async def draft_from_conversation(self, conversation_id: str, message_id: int | None, user: User) -> dict[str, Any]:
        """The form prefilled from the conversation (see :func:`hub.work_orders.intake_prefill.prefill`).

        Raises:
            RegistrationError: unknown conversation, or the message is not a citizen message of it.
        """
        if user.role not in DESK_ROLES:
            raise RegistrationError("role_not_allowed", action="receive")
        conversation = await self._conversation(conversation_id)
        assert conversation is not None
        await self._check_message(conversation, message_id)
        messages = await self.conversations.reads.messages(conversation.id)
        contact = await self.conversations.reads.contact(conversation.contact_id) if conversation.contact_id else None
        try:
            return prefill(conversation, messages, contact, self.taxonomy(), message_id)
        except LookupError:
            raise RegistrationError("unknown_message", "message_id") from None
