"""The bot's work-order desk: registers an order from a conversation and dispatches it by rule."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.dialogue.ports import WorkOrderDraft
from hub.events import EventBus, WorkOrderCreated
from hub.models import WorkOrder
from hub.storage.conversations import ConversationStore
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
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
    ) -> None:
        self.orders = orders
        self.conversations = conversations
        self.taxonomy = taxonomy
        self.bus = bus

    async def register(self, conversation_id: str, draft: WorkOrderDraft) -> tuple[WorkOrder, str | None]:
        """Create the order, link the citizen's contact by phone, dispatch by rule, publish the event."""
        tax = self.taxonomy()
        district = tax.detect_district(draft.address)
        unit = match_unit(tax.rules, draft.industry, draft.category, district)
        contact_id = None
        if draft.phone:
            contact = await self.conversations.ensure_contact_by_phone(draft.phone)
            contact_id = contact.id
            conversation = await self.conversations.get(conversation_id)
            if conversation.contact_id is None:
                await self.conversations.update(conversation_id, contact_id=contact_id)
        category = tax.categories.get(draft.category or "")
        order = await self.orders.create(
            request_type=draft.request_type,
            description=draft.description,
            industry=draft.industry,
            category=draft.category,
            district=district,
            address=draft.address,
            phone=draft.phone,
            unit=unit,
            urgent=bool(category and category.urgent),
            conversation_id=conversation_id,
            contact_id=contact_id,
        )
        log.info("work order %s created (industry=%s unit=%s)", order.number, order.industry, unit or "-")
        await self.bus.publish(WorkOrderCreated(order))
        unit_row = tax.units.get(unit or "")
        return order, unit_row.name_zh if unit_row else None

    async def lookup(self, number: str) -> WorkOrder | None:
        """An order by number."""
        return await self.orders.get_by_number(number)
