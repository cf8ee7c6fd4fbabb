"""What each work-order action writes, one small handler per action (or per group of the same shape).

A handler checks the action's parameters and returns a :class:`Change`: the order's columns to set, the history
event's data, an optional statement for the same transaction and an optional follow-up action. Handlers never
write and never decide the state: :class:`hub.work_orders.service.WorkOrderService` checks the permission, looks
the next state up in the state table, applies the change with its ``WHERE state =`` guard and publishes the event,
for every action alike (ADR 0021).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import User, WorkOrder
from hub.storage.schema import work_order_extensions, work_order_instructions
from hub.taxonomy import Taxonomy
from hub.work_orders.refusals import Refusal
from hub.work_orders.states import Action, IllegalTransition, State

if TYPE_CHECKING:
    from hub.work_orders.service import WorkOrderService

RETURN_REASONS = ("not_our_jurisdiction", "ownership_unclear", "duplicate", "insufficient_information")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
MAX_EXTENSION_DAYS = 30
MAX_TEXT = 4000


class WorkOrderError(Refusal):
    """A request about a work order that cannot be carried out; ``code`` says why (``wo.error.<code>``)."""


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
    forward_text: str | None = None  # dispatch: what the centre forwards to the unit (None: unchanged)


@dataclass(frozen=True, slots=True)
class Step:
    """One action about to be taken: what a handler may look at."""

    service: WorkOrderService
    order: WorkOrder
    state: State
    action: Action
    user: User | None
    params: Params
    note: str | None  # the params' note, trimmed (None if empty)
    now: datetime
    automatic: bool = False  # taken by the system on its own: dispatch by rule at registration

    @property
    def actor_id(self) -> int | None:
        """The acting user's id (None: the system)."""
        return None if self.user is None else self.user.id


Extra = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(slots=True)
class Change:
    """What an action writes besides the state and the history event's fixed columns."""

    values: dict[str, Any] = field(default_factory=dict)  # columns of the order
    data: dict[str, Any] = field(default_factory=dict)  # the history event's data
    extra: Extra | None = None  # one more statement in the same transaction
    then: tuple[Action, Params] | None = None  # an action the system takes right after (as the centre)


Handler = Callable[[Step], Awaitable[Change]]


def clean_text(value: str | None) -> str | None:
    """``value`` trimmed, None if empty; :class:`WorkOrderError` if longer than :data:`MAX_TEXT`."""
    if value is None:
        return None
    stripped = value.strip()
    if len(stripped) > MAX_TEXT:
        raise WorkOrderError("text_too_long", max=MAX_TEXT)
    return stripped or None


def responsible_unit(tax: Taxonomy, unit: str | None) -> str:
    """The code of a unit an order can be handed to (not the centre itself); :class:`WorkOrderError` if none."""
    found = tax.units.get(unit or "")
    if found is None or found.kind == "centre":
        raise WorkOrderError("choose_unit")
    return found.code


# -- handlers, in the order of the lifecycle ---------------------------------------------------------------


async def _assign(step: Step) -> Change:
    """派单, 二次派单, 仲裁: hand the order to a unit; its clock restarts at sign-for."""
    unit = responsible_unit(step.service.taxonomy(), step.params.unit)
    change = Change(
        values={"unit": unit, "dispatched_at": step.now, "signed_at": None, "due_at": None, "warned_at": None},
        data={"unit": unit},
    )
    if step.action is Action.ARBITRATE:
        change.values["return_locked"] = True
    if step.automatic:
        change.data["auto"] = True
    if step.params.forward_text is not None:  # the form sent the field: the centre set or edited it
        forward = clean_text(step.params.forward_text)
        if forward != (step.order.forward_text or None):
            change.values["forward_text"] = forward  # audited: the history event keeps the old and the new text
            change.data["forward_text"] = forward
            change.data["forward_text_was"] = step.order.forward_text
    return change


async def _forward(step: Step) -> Change:
    """转派: a department hands the order down to one of its sub-units."""
    tax = step.service.taxonomy()
    unit = responsible_unit(tax, step.params.unit)
    holder = step.order.unit
    if holder is None or unit == holder or unit not in tax.unit_subtree(holder):
        raise WorkOrderError("forward_subunit")
    return Change(values={"unit": unit, "dispatched_at": step.now}, data={"unit": unit})


async def _sign(step: Step) -> Change:
    """签收: the deadline clock starts (working days of the category or request type)."""
    svc = step.service
    due = svc.calendar().due_at(step.now, svc.deadline_days(step.order), svc.tz)
    return Change(values={"signed_at": step.now, "due_at": due.astimezone(UTC)})  # UTC: SQLite keeps no zone


async def _nothing(step: Step) -> Change:
    """Actions that write nothing but the state and the event (开始办理)."""
    return Change()


async def _reply(step: Step) -> Change:
    """反馈: the unit's result, with photos."""
    if not step.note:
        raise WorkOrderError("reply_needs_note")
    change = Change(values={"replied_at": step.now, "result": step.note})
    if step.params.attachments:
        change.data["attachments"] = list(step.params.attachments)
    return change


async def _return(step: Step) -> Change:
    """退单 with a coded reason, unless the centre's arbitration made the order final."""
    if step.order.return_locked:
        raise IllegalTransition(step.action, step.state, code="arbitration_final")
    if step.params.reason not in RETURN_REASONS:
        raise WorkOrderError("return_reason", reasons=RETURN_REASONS)
    return Change(values={"returns": step.order.returns + 1}, data={"reason": step.params.reason})


async def _close(step: Step) -> Change:
    """办结."""
    return Change(values={"closed_at": step.now})


async def _rehandle(step: Step) -> Change:
    """重办: back to the same unit, every handling mark cleared."""
    cleared = dict.fromkeys(("signed_at", "due_at", "replied_at", "closed_at", "warned_at", "reminded_at"))
    return Change(values={"rehandles": step.order.rehandles + 1, "dispatched_at": step.now, **cleared})


async def _request_extension(step: Step) -> Change:
    """申请延期: one pending request at a time, with a reason."""
    days, note, order = step.params.days, step.note, step.order
    if days is None or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise WorkOrderError("extension_days", max=MAX_EXTENSION_DAYS)
    if not note:
        raise WorkOrderError("extension_needs_reason")
    if any(e["status"] == "pending" for e in await step.service.store.extensions(order.id)):
        raise WorkOrderError("extension_pending")
    actor, now = step.actor_id, step.now

    async def insert_extension(conn: AsyncConnection) -> None:
        await conn.execute(
            work_order_extensions.insert().values(
                work_order_id=order.id, days=days, reason=note, status="pending", requested_by=actor, requested_at=now
            )
        )

    return Change(data={"days": days}, extra=insert_extension)


async def _decide_extension(step: Step) -> Change:
    """The centre approves (the deadline moves by the requested working days) or refuses an extension."""
    svc, order = step.service, step.order
    pending = [e for e in await svc.store.extensions(order.id) if e["status"] == "pending"]
    chosen = next((e for e in pending if step.params.extension_id in (None, e["id"])), None)
    if chosen is None:
        raise WorkOrderError("no_pending_extension")
    approved = step.action is Action.APPROVE_EXTENSION
    change = Change(data={"extension_id": chosen["id"], "days": chosen["days"]})
    if approved and order.due_at is not None:
        new_day = svc.calendar().add_working_days(order.due_at.astimezone(svc.tz).date(), chosen["days"])
        due = datetime.combine(new_day, time(23, 59, 59), tzinfo=svc.tz)
        change.values.update(due_at=due.astimezone(UTC), warned_at=None)
    decider, now = step.actor_id, step.now

    async def decide(conn: AsyncConnection) -> None:
        await conn.execute(
            work_order_extensions.update()
            .where(work_order_extensions.c.id == chosen["id"], work_order_extensions.c.status == "pending")
            .values(status="approved" if approved else "refused", decided_by=decider, decided_at=now)
        )

    change.extra = decide
    return change


async def _supervise(step: Step) -> Change:
    """督办: the order enters the supervision list."""
    return Change(values={"supervised": True})


async def _remind(step: Step) -> Change:
    """催办."""
    return Change(values={"reminded_at": step.now})


async def _instruct(step: Step) -> Change:
    """批示: a leader's instruction, kept in its own table."""
    if not step.note:
        raise WorkOrderError("instruction_needs_text")
    author, order, text, now = step.actor_id, step.order, step.note, step.now
    if author is None:
        raise WorkOrderError("instructions_by_leader")

    async def insert_instruction(conn: AsyncConnection) -> None:
        await conn.execute(
            work_order_instructions.insert().values(work_order_id=order.id, author_id=author, text=text, created_at=now)
        )

    return Change(extra=insert_instruction)


async def _callback(step: Step) -> Change:
    """回访: the citizen's satisfaction; unsatisfied because of the unit sends the order back (重办)."""
    p = step.params
    if p.satisfaction not in SATISFACTION:
        raise WorkOrderError("satisfaction", choices=SATISFACTION)
    change = Change(
        values={"satisfaction": p.satisfaction},
        data={"satisfaction": p.satisfaction, "department_at_fault": p.department_at_fault},
    )
    if p.satisfaction == "unsatisfied" and p.department_at_fault:
        change.then = (Action.REHANDLE, Params(note="回访不满意（承办单位原因），重办"))
    return change


async def _merge(step: Step) -> Change:
    """A duplicate is closed with a pointer to the open order that carries on."""
    target = await step.service.store.get_by_number((step.params.target or "").strip())
    if target is None or target.id == step.order.id or target.state == State.CLOSED.value:
        raise WorkOrderError("merge_target")
    return Change(
        values={"closed_at": step.now, "result": f"重复工单，已合并至 {target.number}"},
        data={"merged_into": target.number},
    )


async def _note(step: Step) -> Change:
    """A remark in the history."""
    if not step.note:
        raise WorkOrderError("note_needs_text")
    return Change()


HANDLERS: Mapping[Action, Handler] = {
    Action.DISPATCH: _assign,
    Action.REDISPATCH: _assign,
    Action.ARBITRATE: _assign,
    Action.FORWARD: _forward,
    Action.SIGN: _sign,
    Action.START: _nothing,
    Action.REPLY: _reply,
    Action.RETURN: _return,
    Action.CLOSE: _close,
    Action.REHANDLE: _rehandle,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _decide_extension,
    Action.REFUSE_EXTENSION: _decide_extension,
    Action.SUPERVISE: _supervise,
    Action.REMIND: _remind,
    Action.INSTRUCT: _instruct,
    Action.CALLBACK: _callback,
    Action.MERGE: _merge,
    Action.NOTE: _note,
}
