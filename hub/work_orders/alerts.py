"""Alerts to departments by SMS or e-mail: a new, re-dispatched or escalated order waits for them to sign for it.

Each unit chooses how it is alerted (``units.alert_channel`` "sms" | "email" | NULL, ``units.alert_address``; a
sub-unit without a setting is alerted like its parent). :class:`UnitAlerts` listens to work-order changes and
sends through the staff-alert senders the composition root registers per channel
(:attr:`hub.web.context.HubContext.staff_alerts`: ``send(address, subject, text)``, raising on failure and
:class:`hub.outbox.PermanentFailure` when a retry cannot help); the hub knows no channel.

Nothing is lost silently: sending happens off the publisher's path, a failure is logged (masked) and retried with
the outbox's backoff for as long as the order waits to be signed, every sent or finally refused alert is written to
the order's history (``alert`` / ``alert_failed``), and at start-up :meth:`UnitAlerts.resync` queues again every
order waiting to be signed whose latest dispatch or escalation has no alert in its history (a restart in between).

An SMS goes to a unit's shared phone: the citizen's phone is masked there; an e-mail masks nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.background import BackgroundTask, wait_event
from hub.events import Event, EventBus, WorkOrderChanged
from hub.i18n import DEFAULT_LOCALE, t
from hub.logsafe import mask
from hub.models import WorkOrder
from hub.outbox import PermanentFailure, RetryPolicy
from hub.storage.schema import work_order_events, work_orders
from hub.taxonomy import Taxonomy, Unit
from hub.work_orders.escalation import unit_minutes
from hub.work_orders.service import WorkOrderService

log = logging.getLogger(__name__)

#: ``send(address, subject, text)``: deliver one alert now; raise on failure (PermanentFailure: do not retry).
AlertSend = Callable[[str, str, str], Awaitable[None]]

CHANNELS = ("sms", "email")
#: Actions after which an order waits for a unit to sign for it (the unit hears of it), and the escalation.
TRIGGERS = ("dispatch", "redispatch", "arbitrate", "forward", "rehandle", "escalate")
ESCALATE = "escalate"
ALERTED = ("alert", "alert_failed")
WAITING = "dispatched"
RESYNC_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """Where a unit's alerts go."""

    unit: str
    channel: str
    address: str


def alert_target(tax: Taxonomy, unit_code: str | None) -> AlertTarget | None:
    """The unit's alert setting, else its nearest ancestor's (None: the unit is not alerted)."""
    seen: set[str] = set()
    unit: Unit | None = tax.units.get(unit_code or "")
    while unit is not None and unit.code not in seen:
        seen.add(unit.code)
        if unit.alert_channel in CHANNELS and unit.alert_address:
            return AlertTarget(unit.code, unit.alert_channel, unit.alert_address)
        unit = tax.units.get(unit.parent or "")
    return None


def centre_target(tax: Taxonomy) -> AlertTarget | None:
    """The centre's own alert setting (its supervisors hear of escalations), if it has one."""
    for unit in tax.units.values():
        if unit.kind == "centre" and unit.alert_channel in CHANNELS and unit.alert_address:
            return AlertTarget(unit.code, unit.alert_channel, unit.alert_address)
    return None


def compose(
    service: WorkOrderService, order: WorkOrder, reason: str, channel: str, locale: str = DEFAULT_LOCALE
) -> tuple[str, str]:
    """The alert's subject and text: number, type, category, address, deadline (and the citizen's phone).

    The phone is masked in an SMS (a unit's shared phone), shown in full in an e-mail.
    """
    tax = service.taxonomy()
    request_type = tax.request_types.get(order.request_type)
    category = tax.categories.get(order.category or "") or tax.industries.get(order.industry or "")
    unit = tax.units.get(order.unit or "")
    kind = "escalated" if reason == ESCALATE else ("urgent" if order.urgent else "new")
    phone = order.phone or "-"
    if channel == "sms":
        phone = mask(phone)
    if order.urgent and order.dispatched_at is not None:
        minutes = unit_minutes(service, order.unit)
        sign_by = (order.dispatched_at + timedelta(minutes=minutes)).astimezone(service.tz).strftime("%H:%M")
        deadline = t("alert.deadline_sign", locale, time=sign_by, minutes=minutes)
    else:
        deadline = t("alert.deadline_days", locale, days=service.deadline_days(order))
    params: dict[str, Any] = {
        "number": order.number,
        "type": request_type.name(locale) if request_type else order.request_type,
        "category": category.name(locale) if category else "-",
        "address": order.address or "-",
        "phone": phone,
        "deadline": deadline,
        "unit": unit.name(locale) if unit else "-",
        "description": " ".join(order.description.split())[:500],
    }
    subject = t(f"alert.subject.{kind}", locale, **params)
    text = t(f"alert.text.{kind}", locale, **params)
    if channel != "sms" and params["description"]:  # an e-mail has room for the request itself
        text += "\n" + t("alert.description", locale, description=params["description"])
    return subject, text


@dataclass(order=True, slots=True)
class _Job:
    due: datetime
    number: str
    reason: str
    target: AlertTarget = field(compare=False)
    attempts: int = field(default=0, compare=False)


class UnitAlerts:
    """Sends departments' (and, on escalation, the centre's) alerts, retrying until sent or refused for good."""

    def __init__(
        self,
        service: WorkOrderService,
        bus: EventBus,
        senders: Mapping[str, AlertSend],
        retry: RetryPolicy | None = None,
    ) -> None:
        self.service = service
        self.bus = bus
        self.senders = senders  # read at send time: channels register while the app is wired
        self.retry = retry or RetryPolicy(5.0, 300.0)
        self._queue: list[_Job] = []
        self._wake = asyncio.Event()
        self._worker = BackgroundTask("unit-alerts", self._run)
        self.sent = 0
        self.failed = 0

    def attach(self) -> None:
        """Subscribe to work-order changes."""
        self.bus.subscribe(WorkOrderChanged, self.on_change)

    def start(self) -> None:
        """Start sending (call :meth:`resync` first to pick up alerts a previous run did not send)."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop sending; unsent alerts are queued again by the next run's :meth:`resync`."""
        await self._worker.stop()

    @property
    def pending(self) -> int:
        """Alerts waiting to be sent or retried."""
        return len(self._queue)

    async def on_change(self, event: Event) -> None:
        """Queue the alerts a dispatch (or an escalation) calls for."""
        assert isinstance(event, WorkOrderChanged)
        if event.action not in TRIGGERS or event.work_order.state != WAITING:
            return
        self.enqueue(event.work_order, event.action)

    def enqueue(self, order: WorkOrder, reason: str) -> int:
        """Queue ``order``'s alerts for ``reason`` (a :data:`TRIGGERS` action); returns how many were queued."""
        tax = self.service.taxonomy()
        targets = [alert_target(tax, order.unit)]
        if reason == ESCALATE:
            targets.append(centre_target(tax))
        queued = 0
        now = self.service.now()
        for target in targets:
            if target is None:
                continue
            if any(j.number == order.number and j.target == target for j in self._queue):
                continue  # already waiting: the text is composed when it is sent
            heapq.heappush(self._queue, _Job(now, order.number, reason, target))
            queued += 1
        if queued:
            self._wake.set()
        return queued

    async def resync(self) -> int:
        """Queue the alerts of orders waiting to be signed whose latest trigger has no alert after it."""
        since = self.service.now() - RESYNC_WINDOW
        events = work_order_events.c
        async with self.service.store.engine.connect() as conn:
            result = await conn.execute(
                sa.select(work_orders.c.number, events.action, events.id)
                .join(work_orders, work_orders.c.id == events.work_order_id)
                .where(
                    work_orders.c.state == WAITING,
                    work_orders.c.dispatched_at >= since,
                    events.action.in_((*TRIGGERS, *ALERTED)),
                )
                .order_by(events.id)
            )
            last: dict[str, str] = {}
            for number, action, _id in result:
                last[number] = action
        queued = 0
        for number, action in last.items():
            if action in ALERTED:
                continue
            order = await self.service.store.get_by_number(number)
            if order is not None:
                queued += self.enqueue(order, action)
        if queued:
            log.warning("unit alerts: %d alert(s) not sent by the last run queued again", queued)
        return queued

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait_s: float | None = None
            try:
                wait_s = await self.send_due()
            except Exception:
                log.exception("unit alerts: sending round failed")
                wait_s = self.retry.max_s
            await wait_event(self._wake, wait_s)

    async def send_due(self) -> float | None:
        """Send every alert that is due; returns the seconds until the next retry (None: nothing queued)."""
        while self._queue:
            now = self.service.now()
            job = self._queue[0]
            if job.due > now:
                return (job.due - now).total_seconds()
            heapq.heappop(self._queue)
            await self._attempt(job)
        return None

    async def _attempt(self, job: _Job) -> None:
        order = await self.service.store.get_by_number(job.number)
        if order is None or order.state != WAITING:
            log.info("unit alert for %s dropped: the order is no longer waiting to be signed", job.number)
            return
        send = self.senders.get(job.target.channel)
        masked_to = mask(job.target.address)
        data = {"via": job.target.channel, "to": job.target.address, "unit": job.target.unit, "for": job.reason}
        if send is None:
            log.warning(  # e.g. the demo's SMS setting on a hub run without an SMSC: recorded, not retried
                "unit alert for %s to %s: channel %s is not configured", job.number, masked_to, job.target.channel
            )
            await self._record(order, "alert_failed", data | {"error": "channel_off"})
            self.failed += 1
            return
        subject, text = compose(self.service, order, job.reason, job.target.channel)
        job.attempts += 1
        try:
            await send(job.target.address, subject, text)
        except PermanentFailure as exc:
            log.error("unit alert for %s to %s refused for good: %s", job.number, masked_to, mask(str(exc)))
            await self._record(order, "alert_failed", data | {"error": mask(str(exc))[:200]})
            self.failed += 1
            return
        except Exception as exc:
            delay = self.retry.delay(job.attempts)
            log.warning(
                "unit alert for %s to %s attempt %d failed (%s); retrying in %.0f s",
                job.number,
                masked_to,
                job.attempts,
                mask(f"{type(exc).__name__}: {exc}"),
                delay,
            )
            job.due = self.service.now() + timedelta(seconds=delay)
            heapq.heappush(self._queue, job)
            return
        self.sent += 1
        log.info("unit alert for %s sent by %s to %s", job.number, job.target.channel, masked_to)
        await self._record(order, "alert", data)

    async def _record(self, order: WorkOrder, action: str, data: dict[str, Any]) -> None:
        """An ``alert``/``alert_failed`` event in the order's history (the state does not change)."""
        for _ in range(3):  # the order may move meanwhile (a guarded write): read it again
            written = await self.service.record(order, action, data=data)
            if written is not None:
                return
            fresh = await self.service.store.get_by_number(order.number)
            if fresh is None:
                return
            order = fresh
        log.warning("unit alert for %s: could not record it in the history", order.number)
