"""The work-order service: who may do what to which order, deadlines, and the record of every action."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock, utc_now
from hub.events import EventBus, WorkOrderChanged, WorkOrderCreated
from hub.localtime import DEFAULT_ZONE
from hub.models import Role, User, WorkOrder
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.actions import HANDLERS, Step, clean_text
from hub.work_orders.actions import MAX_EXTENSION_DAYS as MAX_EXTENSION_DAYS
from hub.work_orders.actions import MAX_TEXT as MAX_TEXT
from hub.work_orders.actions import RETURN_REASONS as RETURN_REASONS
from hub.work_orders.actions import SATISFACTION as SATISFACTION
from hub.work_orders.actions import Params as Params
from hub.work_orders.actions import WorkOrderError as WorkOrderError
from hub.work_orders.calendar import WorkingCalendar, calendar_from_rows
from hub.work_orders.escalation import DEFAULT_EMERGENCY_SIGN_MINUTES, escalate_unsigned
from hub.work_orders.states import Action, IllegalTransition, Side, State, allowed_actions, next_state

log = logging.getLogger(__name__)

CENTRE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
# request fields the centre may correct before dispatch (WorkOrderService.edit)
EDITABLE = frozenset(
    {"request_type", "industry", "category", "district", "address", "phone", "description", "urgent"}
    | {"citizen_name", "forward_text"}
)
AUTO_DISPATCH_NOTE = "自动派单"  # the history note of a dispatch by rule at registration


class NotFound(LookupError):
    """No such work order (or the user may not see it: the two are not distinguished)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """An action carried out (written, not yet announced): the order after it and the event to publish."""

    order: WorkOrder
    event: WorkOrderChanged
    then: tuple[Action, Params] | None  # the system's follow-up action, if any


def side_of(user: User | None) -> Side | None:
    """The side a user acts for; ``None`` user = the system itself (scheduler, bot callback) acts as the centre."""
    if user is None or user.role in CENTRE_ROLES:
        return Side.CENTRE
    if user.role is Role.DEPARTMENT:
        return Side.DEPARTMENT
    if user.role is Role.LEADER:
        return Side.LEADER
    return None


class WorkOrderService:
    """Carries out actions on work orders with permission checks, deadlines and history."""

    def __init__(
        self,
        store: WorkOrderStore,
        taxonomy: Callable[[], Taxonomy],
        calendar: Callable[[], WorkingCalendar],
        bus: EventBus,
        clock: Clock = utc_now,
        tz: tzinfo = DEFAULT_ZONE,  # the city's zone (from the composition root): local days and deadlines
        emergency_sign_minutes: int = DEFAULT_EMERGENCY_SIGN_MINUTES,  # 抢险: unless the unit sets its own
    ) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.calendar = calendar
        self.bus = bus
        self._clock = clock
        self.tz = tz
        self.emergency_sign_minutes = emergency_sign_minutes

    def now(self) -> datetime:
        """The service's current time (injected clock)."""
        return self._clock()

    async def reload_calendar(self) -> None:
        """Re-read the holiday calendar after an administrator changed it."""
        fresh = calendar_from_rows(await self.store.calendar_days())
        self.calendar = lambda: fresh

    async def set_calendar_day(self, day: date, kind: str | None, name: str | None = None) -> None:
        """Mark ``day`` as a holiday or an adjusted working day (``kind`` None: back to the normal week)."""
        if kind not in (None, "holiday", "workday"):
            raise WorkOrderError("calendar_kind")
        await self.store.set_calendar_day(day, kind, (name or "").strip()[:100] or None)
        await self.reload_calendar()

    # -- visibility ---------------------------------------------------------------------------------

    def visible_units(self, user: User) -> list[str] | None:
        """Units whose orders ``user`` may see (None = all). A department sees its own and its sub-units'."""
        if user.role is Role.DEPARTMENT:
            return self.taxonomy().unit_subtree(user.unit) if user.unit else []
        if user.role in CENTRE_ROLES or user.role is Role.LEADER:
            return None
        return []

    def can_view(self, user: User, order: WorkOrder) -> bool:
        """Whether ``user`` may see ``order``."""
        units = self.visible_units(user)
        return units is None or (order.unit is not None and order.unit in units)

    async def get_for(self, user: User, number: str) -> WorkOrder:
        """The order if ``user`` may see it, else :class:`NotFound`."""
        order = await self.store.get_by_number(number)
        if order is None or not self.can_view(user, order):
            raise NotFound(number)
        return order

    def actions_for(self, user: User, order: WorkOrder) -> list[Action]:
        """The actions ``user`` may take on ``order`` now (buttons on the pages)."""
        side = side_of(user)
        if side is None or not self.can_view(user, order):
            return []
        actions = allowed_actions(State(order.state), side)
        if order.return_locked:
            actions = [a for a in actions if a is not Action.RETURN]
        return actions

    # -- deadlines ------------------------------------------------------------------------------------

    def deadline_days(self, order: WorkOrder) -> int:
        """The time limit in working days: the category's, else the request type's."""
        tax = self.taxonomy()
        category = tax.categories.get(order.category or "")
        if category is not None and category.deadline_days is not None:
            return category.deadline_days
        request_type = tax.request_types.get(order.request_type)
        return request_type.deadline_days if request_type else 5

    def due_soon_before(self, now: datetime) -> datetime:
        """Orders due before this instant are "due soon": by the end of the next working day."""
        next_day = self.calendar().add_working_days(now.astimezone(self.tz).date(), 1)
        return datetime.combine(next_day, time(23, 59, 59), tzinfo=self.tz)

    # -- the gateway of every state change -------------------------------------------------------------

    async def register(
        self,
        *,
        request_type: str,
        description: str,
        industry: str | None,
        category: str | None,
        district: str | None,
        address: str | None,
        phone: str | None,
        urgent: bool,
        conversation_id: str | None,
        contact_id: int | None,
        unit: str | None = None,
        source: str | None = None,
        actor: User | None = None,
        citizen_name: str | None = None,
        forward_text: str | None = None,
    ) -> WorkOrder:
        """Register an order (受理) and, when the dispatch rules chose ``unit``, dispatch it (派单) at once.

        Both happen in one transaction. The dispatch is the centre's ``dispatch`` action taken by the system, through
        the same checks and writes as a manual one; its history event carries the note 自动派单 and
        ``{"auto": true}``. If it is refused (e.g. the rule names a unit that no longer exists) the order stays
        received, in the centre's "to dispatch" list. Publishes :class:`WorkOrderCreated`, then the dispatch's
        :class:`WorkOrderChanged` with ``automatic`` set (the citizen hears of it in the registration's reply).

        Args:
            unit: the unit chosen by the dispatch rules (``routing.dispatch.match_unit``) or by the agent; None:
                the centre dispatches by hand.
            source: a code of :mod:`hub.work_orders.sources` (the conversation's channel, 来电, 来信 ...).
            actor: the agent registering it at the desk (None: the bot or an outside system); the dispatch is
                then the agent's own, not an automatic one.
            citizen_name: the name the citizen gave.
            forward_text: what the centre forwards to the department beyond the request fields.

        Returns:
            The order, dispatched or received.
        """
        dispatched: Transition | None = None
        async with self.store.transaction() as conn:
            created = await self.store.create(
                request_type=request_type,
                description=description,
                industry=industry,
                category=category,
                district=district,
                address=address,
                phone=phone,
                urgent=urgent,
                conversation_id=conversation_id,
                contact_id=contact_id,
                actor_id=actor.id if actor else None,
                source=source,
                citizen_name=citizen_name,
                forward_text=forward_text,
                conn=conn,
            )
            if unit is not None:
                auto = actor is None
                params = Params(unit=unit, note=AUTO_DISPATCH_NOTE if auto else None)
                try:
                    dispatched = await self._transition(created, Action.DISPATCH, actor, params, conn=conn, auto=auto)
                except (IllegalTransition, WorkOrderError) as exc:  # nothing of the dispatch was written
                    log.warning(
                        "work order %s: dispatch to %s refused (%s); left to the centre", created.number, unit, exc
                    )
        log.info("work order %s registered (industry=%s unit=%s)", created.number, industry, unit or "-")
        await self.bus.publish(WorkOrderCreated(created))
        if dispatched is None:
            return created
        # the registration's reply (bot) or notice (desk) names the unit: the citizen needs no second notice
        await self.bus.publish(replace(dispatched.event, announced=True))
        return dispatched.order

    async def act(self, number: str, action: Action, user: User | None, params: Params | None = None) -> WorkOrder:
        """Carry out ``action`` on order ``number`` as ``user`` (``None`` = the system).

        Raises:
            NotFound: no such order, or ``user`` may not see it.
            IllegalTransition: not allowed in the order's state or for the user's side.
            WorkOrderError: a missing or invalid parameter (reason code, unit, days ...).
        """
        order = await self.store.get_by_number(number)
        if order is None or (user is not None and not self.can_view(user, order)):
            raise NotFound(number)
        done = await self._transition(order, action, user, params or Params())
        await self.bus.publish(done.event)
        if done.then is not None:
            follow_up, follow_params = done.then
            return await self.act(number, follow_up, None, follow_params)
        return done.order

    async def _transition(
        self,
        order: WorkOrder,
        action: Action,
        user: User | None,
        params: Params,
        *,
        conn: AsyncConnection | None = None,
        auto: bool = False,
    ) -> Transition:
        """The one place an order changes: side, state table, the action's handler, the guarded write.

        Raises before writing anything when the action is refused or the order moved meanwhile.
        """
        side = side_of(user)
        state = State(order.state)
        if side is None:
            raise IllegalTransition(action, state, code="role_not_allowed")
        target = next_state(state, action, side)
        step = Step(self, order, state, action, user, params, clean_text(params.note), self._clock(), auto)
        change = await HANDLERS[action](step)
        updated = await self.store.apply(
            order,
            action=action.value,
            to_state=target.value,
            actor_id=step.actor_id,
            note=step.note,
            data=change.data or None,
            values=change.values,
            extra=change.extra,
            conn=conn,
        )
        if updated is None:
            raise WorkOrderError("changed_meanwhile")
        log.info("work order %s: %s → %s (%s)", order.number, action.value, target.value, side.value)
        event = WorkOrderChanged(updated, action.value, step.actor_id, step.note, automatic=auto)
        return Transition(updated, event, change.then)

    # -- corrections of the request (受理) ---------------------------------------------------------------

    async def edit(
        self, number: str, values: dict[str, Any], user: User | None, *, record_only: bool = False
    ) -> WorkOrder:
        """Correct an order's request fields before dispatch, recorded with who changed what.

        The history event is ``edit`` with ``{"changes": {field: [old, new]}}`` (unchanged fields left out; no
        event when nothing changed). Callers validate the values (``hub.work_orders.registration``).

        Args:
            values: new values of :data:`EDITABLE` fields.
            record_only: record the changes as a ``relabel`` event without changing the order, in any state (a
                label correction after dispatch: the department's order stays as it is).

        Raises:
            NotFound: no such order, or ``user`` may not see it.
            WorkOrderError: ``edit_after_dispatch`` (no longer received), ``role_not_allowed``, ``unknown_field``,
                ``changed_meanwhile``.
        """
        order = await self.store.get_by_number(number)
        if order is None or (user is not None and not self.can_view(user, order)):
            raise NotFound(number)
        if side_of(user) not in (Side.CENTRE, Side.LEADER):
            raise WorkOrderError("role_not_allowed", action="edit")
        if any(name not in EDITABLE for name in values):
            raise WorkOrderError("unknown_field")
        if not record_only and order.state != State.RECEIVED.value:
            raise WorkOrderError("edit_after_dispatch", state=order.state)
        changes = {k: [getattr(order, k), v] for k, v in values.items() if getattr(order, k) != v}
        if not changes:
            return order
        action = "relabel" if record_only else "edit"
        updated = await self.store.apply(
            order,
            action=action,
            to_state=order.state,
            actor_id=user.id if user else None,
            note=None,
            data={"changes": changes},
            values=None if record_only else {k: new for k, (_old, new) in changes.items()},
        )
        if updated is None:
            raise WorkOrderError("changed_meanwhile")
        log.info("work order %s: %s %s", number, action, ", ".join(changes))
        await self.bus.publish(WorkOrderChanged(updated, action, user.id if user else None))
        return updated

    async def record(
        self,
        order: WorkOrder,
        action: str,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
    ) -> WorkOrder | None:
        """Record a system event that keeps the order's state (an alert sent, a 抢险 escalation), with ``values``.

        Returns the order after it, or None if it moved meanwhile (nothing written). The caller publishes.
        """
        return await self.store.apply(
            order, action=action, to_state=order.state, actor_id=None, note=note, data=data, values=values
        )

    # -- duplicates ------------------------------------------------------------------------------------

    async def likely_duplicates(self, order: WorkOrder, window: timedelta = timedelta(days=7)) -> list[WorkOrder]:
        """Open orders of the same category (or industry) near the same address within ``window``, best first."""
        if not order.address or not (order.category or order.industry):
            return []
        key = address_key(order.address)
        candidates = await self.store.find(
            states=[s.value for s in State if s is not State.CLOSED], created_after=order.created_at - window
        )
        scored = []
        for other in candidates:
            if other.id == order.id or not other.address:
                continue
            same_kind = other.category == order.category if order.category else other.industry == order.industry
            if not same_kind or abs(other.created_at - order.created_at) > window:
                continue
            score = address_similarity(key, address_key(other.address))
            if score >= 0.5:
                scored.append((score, other))
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [other for _score, other in scored[:5]]

    # -- the deadline watch ---------------------------------------------------------------------------

    async def watch_deadlines(self) -> dict[str, int]:
        """Escalate urgent orders left unsigned (抢险, :mod:`hub.work_orders.escalation`), warn before the due time and
        remind (催办) overdue orders, which enter the supervision list.

        Run periodically; each order is warned once per deadline and reminded at most once a day.
        """
        now = self._clock()
        counts = {"warned": 0, "reminded": 0, "escalated": await escalate_unsigned(self)}
        handling = [State.SIGNED.value, State.IN_PROGRESS.value]
        for order in await self.store.find(states=handling, due_before=self.due_soon_before(now), limit=1000):
            assert order.due_at is not None
            if order.due_at < now:
                if order.reminded_at is None or now - order.reminded_at >= timedelta(days=1):
                    await self._system_remind(order)
                    counts["reminded"] += 1
            elif order.warned_at is None:
                updated = await self.store.apply(
                    order,
                    action="warn",
                    to_state=order.state,
                    actor_id=None,
                    note="即将到期",
                    values={"warned_at": now},
                )
                if updated is not None:
                    counts["warned"] += 1
                    await self.bus.publish(WorkOrderChanged(updated, "warn", None, "即将到期"))
        return counts

    async def _system_remind(self, order: WorkOrder) -> None:
        try:
            await self.act(order.number, Action.REMIND, None, Params(note="已超期，系统催办"))
            if not order.supervised:
                await self.act(order.number, Action.SUPERVISE, None, Params(note="超期自动列入督办"))
        except (IllegalTransition, WorkOrderError) as exc:  # it moved on meanwhile
            log.info("reminder for %s skipped: %s", order.number, exc)


_ROAD = re.compile(r"([\u4e00-\u9fa5A-Za-z0-9]{1,12}?(?:大道|路|街|巷|弄|胡同|道))(\d+)?")
_COMPOUND = re.compile(r"([\u4e00-\u9fa5]{2,10}?(?:小区|花园|苑|公寓|新村|大厦|广场))")


def address_key(address: str) -> tuple[str | None, str | None, str | None]:
    """(road, house number, compound) of a Chinese address, for spotting reports of the same place."""
    text = re.sub(r"\s+", "", address)
    text = re.sub(r"^.*?(?:区|县)", "", text, count=1)
    road = _ROAD.search(text)
    compound = _COMPOUND.search(text)
    return (
        road.group(1) if road else None,
        road.group(2) if road and road.group(2) else None,
        compound.group(1) if compound else None,
    )


def address_similarity(
    a: tuple[str | None, str | None, str | None], b: tuple[str | None, str | None, str | None]
) -> float:
    """1.0 same road and number (or same compound), 0.6 same road, else 0."""
    if a[2] and a[2] == b[2]:
        return 1.0
    if a[0] and a[0] == b[0]:
        return 1.0 if a[1] and a[1] == b[1] else 0.6
    return 0.0
