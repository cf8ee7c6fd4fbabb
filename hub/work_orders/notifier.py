"""Tells citizens about their work orders in their own conversation, and asks for satisfaction (回访)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.conversation_service import ConversationNotFound, ConversationService
from hub.events import Event, EventBus, WorkOrderChanged
from hub.i18n import t
from hub.models import SenderKind
from hub.notices import NoticeRoutes
from hub.taxonomy import Taxonomy

log = logging.getLogger(__name__)

CALLBACK_PENDING = "callback"


class CitizenNotifier:
    """Listens to work-order changes and writes to the citizen's conversation.

    Dispatch after registration (manual, re-dispatch, arbitration) and re-handling are announced; closure is
    announced with the result, followed by the satisfaction question, which the bot then handles.
    """

    def __init__(
        self,
        conversations: ConversationService,
        taxonomy: Callable[[], Taxonomy],
        bus: EventBus,
        routes: NoticeRoutes | None = None,
    ) -> None:
        self.conversations = conversations
        self.taxonomy = taxonomy
        self.bus = bus
        self.routes = routes  # None: always the order's own conversation

    def attach(self) -> None:
        """Subscribe to the bus."""
        self.bus.subscribe(WorkOrderChanged, self.on_change)

    async def on_change(self, event: Event) -> None:
        """Handle one work-order change."""
        assert isinstance(event, WorkOrderChanged)
        order = event.work_order
        if order.conversation_id is None or event.automatic:  # dispatch by rule: the registration reply told them
            return
        try:
            conversation = await self.conversations.reads.get(order.conversation_id)
        except ConversationNotFound:
            return
        if self.routes is not None:
            contact_id = order.contact_id or conversation.contact_id
            contact = await self.conversations.reads.contact(contact_id) if contact_id else None
            target = await self.routes.target(conversation, contact)
            if target.conversation.id != conversation.id:
                log.info(
                    "notices of work order %s go to %s (%s) instead of %s",
                    order.number,
                    target.conversation.channel,
                    target.reason,
                    conversation.channel,
                )
            conversation = target.conversation
        locale = conversation.locale
        unit = self.taxonomy().units.get(order.unit or "")
        unit_name = unit.name(locale) if unit else t("centre", locale)
        texts: list[tuple[SenderKind, str]] = []
        if event.action in ("dispatch", "redispatch", "arbitrate"):
            texts.append((SenderKind.SYSTEM, t("notice.dispatched", locale, number=order.number, unit=unit_name)))
        elif event.action == "rehandle":
            texts.append((SenderKind.SYSTEM, t("notice.rehandle", locale, number=order.number, unit=unit_name)))
        elif event.action == "close":
            texts.append(
                (SenderKind.SYSTEM, t("notice.closed", locale, number=order.number, result=order.result or "-"))
            )
            texts.append((SenderKind.BOT, t("bot.callback_ask", locale, number=order.number)))
            state = {"pending": CALLBACK_PENDING, "order": order.number}
            # the bot waits for the answer, unless an agent holds the conversation
            conversation = await self.conversations.resume_bot(conversation.id, state)
        for kind, text in texts:
            await self.conversations.post(conversation, text, sender=kind)
        if texts:
            log.info("citizen notified about work order %s (%s)", order.number, event.action)
