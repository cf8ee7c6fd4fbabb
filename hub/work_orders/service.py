"""The work-order service: who may do what to which order, deadlines, and the record of every action."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock, utc_now
from hub.events import EventBus, WorkOrderChanged
from hub.models import Role, User, WorkOrder
from hub.storage.schema import work_order_extensions, work_order_instructions
from hub.storage.work_orders import CENTRE_TZ, WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.calendar import WorkingCalendar, calendar_from_rows
from hub.work_orders.states import Action, IllegalTransition, Side, State, allowed_actions, next_state

log = logging.getLogger(__name__)

RETURN_REASONS = ("not_our_jurisdiction", "ownership_unclear", "duplicate", "insufficient_information")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
MAX_EXTENSION_DAYS = 30
MAX_TEXT = 4000
CENTRE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


class WorkOrderError(ValueError):
    """A request about a work order that cannot be carried out; the message says why."""


class NotFound(LookupError):
    """No such work order (or the user may not see it: the two are not distinguished)."""


@dataclass(frozen=True, slots=True)
class Params:
    """What an action may carry."""

    note: str | None = None
    unit: str | None = None
    reason: str | None = None
    days: int | None = None
    extension_id: int | None = None
    satisfaction: str | None = None
    department_at_fault: bool = False
    target: str | None = None  # merge: the number of the order that carries on
    attachments: tuple[dict[str, Any], ...] = ()


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
        tz: tzinfo = CENTRE_TZ,
    ) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.calendar = calendar
        self.bus = bus
        self._clock = clock
        self.tz = tz

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
            raise WorkOrderError("kind must be holiday or workday")
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

    # -- actions --------------------------------------------------------------------------------------

    async def act(self, number: str, action: Action, user: User | None, params: Params | None = None) -> WorkOrder:
        """Carry out ``action`` on order ``number`` as ``user`` (``None`` = the system).

        Raises:
            NotFound: no such order, or ``user`` may not see it.
            IllegalTransition: not allowed in the order's state or for the user's side.
            WorkOrderError: a missing or invalid parameter (reason code, unit, days ...).
        """
        p = params or Params()
        order = await self.store.get_by_number(number)
        if order is None or (user is not None and not self.can_view(user, order)):
            raise NotFound(number)
        side = side_of(user)
        state = State(order.state)
        if side is None:
            raise IllegalTransition(action, state, reason=f"{action.value} is not allowed for this role")
        target = next_state(state, action, side)
        note = _text(p.note)
        now = self._clock()
        values: dict[str, Any] = {}
        data: dict[str, Any] = {}
        extra = None
        tax = self.taxonomy()

        if action in (Action.DISPATCH, Action.REDISPATCH, Action.ARBITRATE):
            unit = self._unit(p.unit)
            values.update(unit=unit, dispatched_at=now, signed_at=None, due_at=None, warned_at=None)
            if action is Action.ARBITRATE:
                values["return_locked"] = True
            data["unit"] = unit
        elif action is Action.FORWARD:
            unit = self._unit(p.unit)
            if order.unit is None or unit == order.unit or unit not in tax.unit_subtree(order.unit):
                raise WorkOrderError("an order can only be forwarded to a sub-unit of the unit holding it")
            values.update(unit=unit, dispatched_at=now)
            data["unit"] = unit
        elif action is Action.SIGN:
            due = self.calendar().due_at(now, self.deadline_days(order), self.tz)
            values.update(signed_at=now, due_at=due.astimezone(UTC))  # stored in UTC (SQLite keeps no zone)
        elif action is Action.REPLY:
            if not note:
                raise WorkOrderError("a reply needs the result (note)")
            values.update(replied_at=now, result=note)
            if p.attachments:
                data["attachments"] = list(p.attachments)
        elif action is Action.RETURN:
            if order.return_locked:
                raise IllegalTransition(
                    action, state, reason="the centre's arbitration is final: it cannot be returned"
                )
            if p.reason not in RETURN_REASONS:
                raise WorkOrderError(f"a return needs a reason code, one of {', '.join(RETURN_REASONS)}")
            values.update(returns=order.returns + 1)
            data["reason"] = p.reason
        elif action is Action.CLOSE:
            values["closed_at"] = now
        elif action is Action.REHANDLE:
            values.update(
                rehandles=order.rehandles + 1,
                dispatched_at=now,
                signed_at=None,
                due_at=None,
                replied_at=None,
                closed_at=None,
                warned_at=None,
                reminded_at=None,
            )
        elif action is Action.REQUEST_EXTENSION:
            days = p.days
            if days is None or not 1 <= days <= MAX_EXTENSION_DAYS:
                raise WorkOrderError(f"an extension needs 1 to {MAX_EXTENSION_DAYS} working days")
            if not note:
                raise WorkOrderError("an extension request needs a reason (note)")
            if any(e["status"] == "pending" for e in await self.store.extensions(order.id)):
                raise WorkOrderError("an extension request is already waiting for the centre")
            data["days"] = days
            actor = None if user is None else user.id

            async def insert_extension(conn: AsyncConnection) -> None:
                await conn.execute(
                    work_order_extensions.insert().values(
                        work_order_id=order.id,
                        days=days,
                        reason=note,
                        status="pending",
                        requested_by=actor,
                        requested_at=now,
                    )
                )

            extra = insert_extension
        elif action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION):
            pending = [e for e in await self.store.extensions(order.id) if e["status"] == "pending"]
            chosen = next((e for e in pending if p.extension_id in (None, e["id"])), None)
            if chosen is None:
                raise WorkOrderError("no pending extension request on this order")
            approved = action is Action.APPROVE_EXTENSION
            data.update(extension_id=chosen["id"], days=chosen["days"])
            if approved and order.due_at is not None:
                new_day = self.calendar().add_working_days(order.due_at.astimezone(self.tz).date(), chosen["days"])
                due = datetime.combine(new_day, time(23, 59, 59), tzinfo=self.tz)
                values.update(due_at=due.astimezone(UTC), warned_at=None)
            decider = None if user is None else user.id

            async def decide(conn: AsyncConnection) -> None:
                await conn.execute(
                    work_order_extensions.update()
                    .where(work_order_extensions.c.id == chosen["id"], work_order_extensions.c.status == "pending")
                    .values(status="approved" if approved else "refused", decided_by=decider, decided_at=now)
                )

            extra = decide
        elif action is Action.SUPERVISE:
            values["supervised"] = True
        elif action is Action.REMIND:
            values["reminded_at"] = now
        elif action is Action.INSTRUCT:
            if not note:
                raise WorkOrderError("an instruction needs its text (note)")
            author = user.id if user is not None else None
            if author is None:
                raise WorkOrderError("instructions are written by a leader")

            async def insert_instruction(conn: AsyncConnection) -> None:
                await conn.execute(
                    work_order_instructions.insert().values(
                        work_order_id=order.id, author_id=author, text=note, created_at=now
                    )
                )

            extra = insert_instruction
        elif action is Action.CALLBACK:
            if p.satisfaction not in SATISFACTION:
                raise WorkOrderError(f"satisfaction must be one of {', '.join(SATISFACTION)}")
            values["satisfaction"] = p.satisfaction
            data.update(satisfaction=p.satisfaction, department_at_fault=p.department_at_fault)
        elif action is Action.MERGE:
            target_order = await self.store.get_by_number((p.target or "").strip())
            if target_order is None or target_order.id == order.id or target_order.state == State.CLOSED.value:
                raise WorkOrderError("merge into another open work order (its number)")
            values.update(closed_at=now, result=f"重复工单，已合并至 {target_order.number}")
            data["merged_into"] = target_order.number
        elif action is Action.NOTE and not note:
            raise WorkOrderError("a note needs text")

        updated = await self.store.apply(
            order,
            action=action.value,
            to_state=target.value,
            actor_id=None if user is None else user.id,
            note=note,
            data=data or None,
            values=values,
            extra=extra,
        )
        if updated is None:
            raise WorkOrderError("the order changed meanwhile; reload it and try again")
        log.info("work order %s: %s → %s (%s)", number, action.value, target.value, side.value)
        await self.bus.publish(WorkOrderChanged(updated, action.value, None if user is None else user.id, note))
        if action is Action.CALLBACK and p.satisfaction == "unsatisfied" and p.department_at_fault:
            updated = await self.act(number, Action.REHANDLE, None, Params(note="回访不满意（承办单位原因），重办"))
        return updated

    def _unit(self, unit: str | None) -> str:
        tax = self.taxonomy()
        found = tax.units.get(unit or "")
        if found is None or found.kind == "centre":
            raise WorkOrderError("choose the responsible unit")
        return found.code

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
        """Warn before the due time and remind (催办) overdue orders, which enter the supervision list.

        Run periodically; each order is warned once per deadline and reminded at most once a day.
        """
        now = self._clock()
        counts = {"warned": 0, "reminded": 0}
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


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    if len(stripped) > MAX_TEXT:
        raise WorkOrderError(f"text longer than {MAX_TEXT} characters")
    return stripped or None


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
