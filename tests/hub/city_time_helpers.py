"""Stored times at known instants on a running hub, for the time-zone tests (docs/adr/0024-time-zones.md).

The hub's own services stamp ``now``; these helpers write through the same stores and services with a fixed clock
and the zone the hub was configured with (``ctx.orders.tz``), so pages show a known UTC instant.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from hub.events import EventBus
from hub.models import ConversationStatus, SenderKind, WorkOrder
from hub.storage.conversations import ConversationStore
from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from hub.work_orders.service import Params, WorkOrderService
from hub.work_orders.states import Action
from tests.fixtures.hub import RunningHub
from tests.fixtures.work_orders import register_streetlight


async def signed_order_at(hub: RunningHub, when: datetime, conversation_id: str | None = None) -> WorkOrder:
    """A street-light complaint registered, dispatched by rule and signed for by ``dept`` at ``when``."""
    ctx = hub.hub.app[CTX]
    configured = ctx.orders  # the hub's service: its zone, taxonomy and holiday calendar
    assert configured is not None

    def clock() -> datetime:
        return when

    store = WorkOrderStore(hub.hub.engine, clock=clock, tz=configured.tz)
    service = WorkOrderService(
        store, configured.taxonomy, configured.calendar, EventBus(), clock=clock, tz=configured.tz
    )
    order = await register_streetlight(service, description="路灯不亮（时区测试）", conversation_id=conversation_id)
    dept = await ctx.users.authenticate("dept", "dept123")
    assert dept is not None
    return await service.act(order.number, Action.SIGN, dept, Params(note="已签收"))


async def queued_conversation_at(hub: RunningHub, when: datetime, text: str) -> str:
    """A REST conversation whose citizen message (and queueing) happened at ``when``; returns its id."""
    store = ConversationStore(hub.hub.engine, clock=lambda: when)
    conversation = await store.create("rest", external_ref=f"tz-{uuid.uuid4().hex[:8]}")
    await store.add_message(conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text=text)
    await store.update(
        conversation.id, status=ConversationStatus.QUEUED.value, handoff_reason="requested", queued_at=when
    )
    return conversation.id
