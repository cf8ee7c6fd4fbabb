"""抢险 escalation: an urgent order the unit has not signed for within its minutes after dispatch is escalated.

Urgent orders (an urgent category: gas leak, burst main, open manhole ...) must be signed quickly. When one has
waited longer than the unit's ``emergency_sign_minutes`` (its own, else its nearest ancestor's, else the service's
default) since it was dispatched, the deadline watch escalates it once per dispatch: ``escalated_at`` is set, the
order enters the supervision list (督办) with the history event "抢险超时未签收，已升级", and a
:class:`hub.events.WorkOrderChanged` with action ``escalate`` is published: the unit is alerted again
(:mod:`hub.work_orders.alerts`), the centre's supervisors are alerted on the centre's alert channel, and the
department portal's live feed shows it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from hub.events import WorkOrderChanged
from hub.work_orders.query import OrderQuery

if TYPE_CHECKING:
    from hub.work_orders.service import WorkOrderService

log = logging.getLogger(__name__)

DEFAULT_EMERGENCY_SIGN_MINUTES = 30
ESCALATION_NOTE = "抢险超时未签收，已升级"
ACTION = "escalate"
BATCH = 200  # the most one page of a search holds


def unit_minutes(service: WorkOrderService, unit_code: str | None) -> int:
    """The minutes ``unit_code`` has to sign for an urgent order (own, nearest ancestor's, or the default)."""
    tax = service.taxonomy()
    seen: set[str] = set()
    unit = tax.units.get(unit_code or "")
    while unit is not None and unit.code not in seen:
        seen.add(unit.code)
        if unit.emergency_sign_minutes:
            return unit.emergency_sign_minutes
        unit = tax.units.get(unit.parent or "")
    return service.emergency_sign_minutes


async def escalate_unsigned(service: WorkOrderService) -> int:
    """Escalate every urgent order waiting to be signed past its unit's minutes; returns how many were escalated.

    Runs in the deadline watch (``WorkOrderService.watch_deadlines``); an order is escalated once per dispatch (a
    re-dispatch gives the next unit its own minutes).
    """
    now = service.now()
    query = OrderQuery(states=("dispatched",), urgent=True, sort="oldest", per_page=BATCH)
    candidates, _total = await service.store.search(query)
    escalated = 0
    for order in candidates:
        dispatched = order.dispatched_at
        if dispatched is None or (order.escalated_at is not None and order.escalated_at > dispatched):
            continue
        minutes = unit_minutes(service, order.unit)
        if now - dispatched < timedelta(minutes=minutes):
            continue
        updated = await service.record(
            order,
            ACTION,
            note=ESCALATION_NOTE,
            data={"minutes": minutes, "unit": order.unit},
            values={"escalated_at": now, "supervised": True},
        )
        if updated is None:  # signed (or moved) meanwhile
            continue
        escalated += 1
        log.warning(
            "work order %s: urgent, not signed within %d min by %s: escalated", order.number, minutes, order.unit
        )
        await service.bus.publish(WorkOrderChanged(updated, ACTION, None, ESCALATION_NOTE))
    return escalated
