"""The bot's work-order desk: registers an order from a conversation and dispatches it by rule."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.dialogue.ports import WorkOrderDraft
from hub.events import EventBus
from hub.intake import ContactHints, ContactLinks
from hub.models import WorkOrder
from hub.storage.conversations import ConversationStore
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.service import Params, WorkOrderService
from hub.work_orders.sources import source_for_channel
from hub.work_orders.states import Action
from routing.dispatch import match_unit

log = logging.getLogger(__name__)


class RuleDispatchDesk:
    """Implements :class:`hub.dialogue.ports.WorkOrderDesk` with the taxonomy's dispatch rules."""

    def __init__(
        self,
        orders: WorkOrderStore,
        conversations: ConversationStore,
        taxonomy: Callable[[], Taxonomy],
        bus: EventBus,
        service: WorkOrderService,
        contacts: ContactLinks | None = None,
    ) -> None:
        self.service = service
        self.orders = orders
        self.conversations = conversations
        self.taxonomy = taxonomy
        self.bus = bus
        # The conversation service links contacts. It runs the dialogue engine that calls this desk, so the
        # composition root sets this once the service exists.
        self.contacts = contacts

    async def register(self, conversation_id: str | None, draft: WorkOrderDraft) -> tuple[WorkOrder, str | None]:
        """Link the citizen's contact by phone, choose the unit by rule and register the order through the service.

        The service dispatches it to that unit at once (or leaves it to the centre when no rule matched); the
        unit's display name is returned only if the order was dispatched.

        ``conversation_id`` is None for orders that come from no conversation (e.g. Open311 requests).
        """
        tax = self.taxonomy()
        district = tax.detect_district(draft.address)
        unit = match_unit(tax.rules, draft.industry, draft.category, district)
        contact_id = None
        if draft.phone:
            if self.contacts is None:
                raise RuntimeError("RuleDispatchDesk.contacts is not set (the composition root wires it)")
            contact = await self.contacts.link_contact(conversation_id, ContactHints(phone=draft.phone))
            contact_id = contact.id if contact else None
        category = tax.categories.get(draft.category or "")
        source = "open311"  # the only way an order comes without a conversation but the desk's own form
        if conversation_id is not None:
            source = source_for_channel((await self.conversations.get(conversation_id)).channel)
        order = await self.service.register(
            request_type=draft.request_type,
            description=draft.description,
            industry=draft.industry,
            category=draft.category,
            district=district,
            address=draft.address,
            phone=draft.phone,
            urgent=bool(category and category.urgent),
            conversation_id=conversation_id,
            contact_id=contact_id,
            unit=unit,
            source=source,
        )
        unit_row = tax.units.get(order.unit or "")
        return order, unit_row.name_zh if unit_row else None

    async def lookup(self, number: str) -> WorkOrder | None:
        """An order by number."""
        return await self.orders.get_by_number(number)

    async def latest_for(self, conversation_id: str, phone: str | None) -> WorkOrder | None:
        """The citizen's latest order, by the phone given or the conversation's contact."""
        contact_id = None
        if phone:
            contact = await self.conversations.contact_by_phone(phone)
            contact_id = contact.id if contact else None
        if contact_id is None and conversation_id:
            conversation = await self.conversations.get(conversation_id)
            contact_id = conversation.contact_id
        return None if contact_id is None else await self.orders.latest_for_contact(contact_id)

    async def record_callback(self, number: str, satisfaction: str, department_at_fault: bool) -> WorkOrder:
        """Record the callback through the work-order service (re-handling if the unit was at fault)."""
        return await self.service.act(
            number,
            Action.CALLBACK,
            None,
            Params(satisfaction=satisfaction, department_at_fault=department_at_fault, note="回访（智能客服）"),
        )
