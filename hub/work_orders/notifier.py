"""Tells citizens about their work orders in their own conversation, and asks for satisfaction (回访)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.conversation_service import ConversationNotFound, ConversationService
from hub.events import Event, EventBus, WorkOrderChanged
from hub.file_store import ContentStore
from hub.i18n import t
from hub.models import SenderKind, WorkOrder
from hub.notices import NoticeRoutes
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.reply_photos import PICTURE_CHANNELS, reply_photos, without_photo_mentions

log = logging.getLogger(__name__)

CALLBACK_PENDING = "callback"


class CitizenNotifier:
    """Listens to work-order changes and writes to the citizen's conversation.

    Dispatch after registration (manual, re-dispatch, arbitration) and re-handling are announced; closure is
    announced with the result, followed by the satisfaction question, which the bot then handles.

    The closure notice carries the department's photos (the images of its latest reply) when the conversation's
    channel shows pictures (:data:`hub.work_orders.reply_photos.PICTURE_CHANNELS`) and says how many are attached;
    on any other channel it carries none and its text mentions no photo (clauses about photos in the result are
    left out).
    """

    def __init__(
        self,
        conversations: ConversationService,
        taxonomy: Callable[[], Taxonomy],
        bus: EventBus,
        routes: NoticeRoutes | None = None,
        *,
        orders: WorkOrderStore | None = None,
        attachments_dir: Path | None = None,
        photos: ContentStore | None = None,
        picture_channels: frozenset[str] = PICTURE_CHANNELS,
    ) -> None:
        """``orders``, ``attachments_dir`` (the departments' reply files) and ``photos`` (the outbound store the
        channels read): all three are needed to send photos; without them notices carry none."""
        self.conversations = conversations
        self.taxonomy = taxonomy
        self.bus = bus
        self.routes = routes  # None: always the order's own conversation
        self.orders = orders
        self.attachments_dir = attachments_dir
        self.photos = photos
        self.picture_channels = picture_channels

    def attach(self) -> None:
        """Subscribe to the bus."""
        self.bus.subscribe(WorkOrderChanged, self.on_change)

    async def on_change(self, event: Event) -> None:
        """Handle one work-order change."""
        assert isinstance(event, WorkOrderChanged)
        order = event.work_order
        if order.conversation_id is None or event.announced:  # dispatched at registration: its reply told them
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
        attachments: list[dict[str, Any]] = []  # of the first text
        if event.action in ("dispatch", "redispatch", "arbitrate"):
            texts.append((SenderKind.SYSTEM, t("notice.dispatched", locale, number=order.number, unit=unit_name)))
        elif event.action == "rehandle":
            texts.append((SenderKind.SYSTEM, t("notice.rehandle", locale, number=order.number, unit=unit_name)))
        elif event.action == "close":
            if conversation.channel in self.picture_channels:
                attachments = await self._photos(order)
            result = order.result or "-"
            if not attachments:  # the citizen sees no photo: the text must not point to one
                result = without_photo_mentions(result) or "-"
            text = t("notice.closed", locale, number=order.number, result=result)
            if attachments:
                text += t("notice.photos", locale, count=len(attachments))
            texts.append((SenderKind.SYSTEM, text))
            texts.append((SenderKind.BOT, t("bot.callback_ask", locale, number=order.number)))
            state = {"pending": CALLBACK_PENDING, "order": order.number}
            # the bot waits for the answer, unless an agent holds the conversation
            conversation = await self.conversations.resume_bot(conversation.id, state)
        for index, (kind, text) in enumerate(texts):
            await self.conversations.post(
                conversation, text, sender=kind, attachments=attachments if index == 0 else ()
            )
        if texts:
            log.info("citizen notified about work order %s (%s)", order.number, event.action)

    async def _photos(self, order: WorkOrder) -> list[dict[str, Any]]:
        """The images of the department's latest reply, ready for the notice (none when not configured)."""
        if self.orders is None or self.attachments_dir is None or self.photos is None:
            return []
        try:
            return await reply_photos(self.orders, order, self.attachments_dir, self.photos)
        except OSError:
            log.exception("photos of work order %s could not be prepared; the notice goes without them", order.number)
            return []
