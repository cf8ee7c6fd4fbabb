"""The work-order lifecycle as a pure state machine (no I/O).

受理 received → 派单 dispatched → 签收 signed → 办理 in_progress → 反馈 replied → 办结 closed, with 退单 returned
(arbitrated by the centre), 二次派单 re-dispatch, 转派 forwarding to a sub-unit, 重办 re-handling after an
unsatisfied callback, and actions that keep the state (延期 extension requests and decisions, 督办 supervision,
催办 reminders, 批示 instructions, 回访 callbacks).
"""

from __future__ import annotations

from enum import StrEnum

from hub.work_orders.refusals import Refusal


class State(StrEnum):
    """Where a work order is."""

    RECEIVED = "received"  # 受理: registered by the centre, not yet dispatched
    DISPATCHED = "dispatched"  # 派单: waiting for the unit to sign for it
    SIGNED = "signed"  # 签收: the unit accepted it; the deadline clock runs
    IN_PROGRESS = "in_progress"  # 办理
    REPLIED = "replied"  # 反馈: the unit reported a result; the centre reviews it
    RETURNED = "returned"  # 退单: the unit says it is not theirs; the centre arbitrates
    CLOSED = "closed"  # 办结


class Action(StrEnum):
    """What someone does to a work order."""

    DISPATCH = "dispatch"  # centre: 派单
    REDISPATCH = "redispatch"  # centre: 二次派单 to another unit
    FORWARD = "forward"  # department: 转派 to one of its sub-units
    SIGN = "sign"  # department: 签收
    START = "start"  # department: 开始办理
    REPLY = "reply"  # department: 反馈 the result
    RETURN = "return"  # department: 退单 with a coded reason
    ARBITRATE = "arbitrate"  # centre: decides a return; the chosen unit can no longer return it
    CLOSE = "close"  # centre: 办结
    REHANDLE = "rehandle"  # centre/callback: 重办 by the same unit
    REQUEST_EXTENSION = "request_extension"  # department: 申请延期
    APPROVE_EXTENSION = "approve_extension"  # centre
    REFUSE_EXTENSION = "refuse_extension"  # centre
    SUPERVISE = "supervise"  # centre/leader: 督办
    REMIND = "remind"  # centre/system: 催办
    INSTRUCT = "instruct"  # leader: 批示
    CALLBACK = "callback"  # centre/bot: 回访 satisfaction
    NOTE = "note"  # anyone allowed to act on it: a remark in the history
    MERGE = "merge"  # centre: a duplicate is closed into the order that carries on


class Side(StrEnum):
    """Who may take an action: the hotline centre, the responsible department, a leader."""

    CENTRE = "centre"
    DEPARTMENT = "department"
    LEADER = "leader"


OPEN = frozenset({State.DISPATCHED, State.SIGNED, State.IN_PROGRESS, State.REPLIED, State.RETURNED, State.RECEIVED})
HANDLING = frozenset({State.SIGNED, State.IN_PROGRESS})

# action -> (states it is allowed from, resulting state or None = unchanged, sides allowed)
RULES: dict[Action, tuple[frozenset[State], State | None, frozenset[Side]]] = {
    Action.DISPATCH: (frozenset({State.RECEIVED}), State.DISPATCHED, frozenset({Side.CENTRE})),
    Action.REDISPATCH: (
        frozenset({State.DISPATCHED, State.SIGNED, State.IN_PROGRESS, State.REPLIED, State.RETURNED}),
        State.DISPATCHED,
        frozenset({Side.CENTRE}),
    ),
    Action.FORWARD: (frozenset({State.DISPATCHED}), State.DISPATCHED, frozenset({Side.DEPARTMENT})),
    Action.SIGN: (frozenset({State.DISPATCHED}), State.SIGNED, frozenset({Side.DEPARTMENT})),
    Action.START: (frozenset({State.SIGNED}), State.IN_PROGRESS, frozenset({Side.DEPARTMENT})),
    Action.REPLY: (HANDLING, State.REPLIED, frozenset({Side.DEPARTMENT})),
    Action.RETURN: (frozenset({State.DISPATCHED, State.SIGNED}), State.RETURNED, frozenset({Side.DEPARTMENT})),
    Action.ARBITRATE: (frozenset({State.RETURNED}), State.DISPATCHED, frozenset({Side.CENTRE})),
    Action.CLOSE: (frozenset({State.REPLIED}), State.CLOSED, frozenset({Side.CENTRE})),
    Action.REHANDLE: (frozenset({State.REPLIED, State.CLOSED}), State.DISPATCHED, frozenset({Side.CENTRE})),
    Action.REQUEST_EXTENSION: (HANDLING, None, frozenset({Side.DEPARTMENT})),
    Action.APPROVE_EXTENSION: (HANDLING | {State.REPLIED}, None, frozenset({Side.CENTRE})),
    Action.REFUSE_EXTENSION: (HANDLING | {State.REPLIED}, None, frozenset({Side.CENTRE})),
    Action.SUPERVISE: (
        frozenset({State.RECEIVED, State.DISPATCHED, State.SIGNED, State.IN_PROGRESS, State.RETURNED}),
        None,
        frozenset({Side.CENTRE, Side.LEADER}),
    ),
    Action.REMIND: (frozenset({State.DISPATCHED, State.SIGNED, State.IN_PROGRESS}), None, frozenset({Side.CENTRE})),
    Action.INSTRUCT: (OPEN, None, frozenset({Side.LEADER})),
    Action.CALLBACK: (frozenset({State.CLOSED}), None, frozenset({Side.CENTRE})),
    Action.NOTE: (OPEN | {State.CLOSED}, None, frozenset({Side.CENTRE, Side.DEPARTMENT, Side.LEADER})),
    Action.MERGE: (
        frozenset({State.RECEIVED, State.DISPATCHED, State.RETURNED}),
        State.CLOSED,
        frozenset({Side.CENTRE}),
    ),
}


class IllegalTransition(Refusal):
    """The action is not allowed in the order's state, or not for this side (``code``: another reason)."""

    def __init__(self, action: Action, state: State, side: Side | None = None, code: str | None = None) -> None:
        self.action, self.state, self.side = action, state, side
        if code is not None:
            super().__init__(code, action=action.value)
        elif side is not None:
            super().__init__("not_allowed_by", action=action.value, side=side.value)
        else:
            super().__init__("not_allowed_in", action=action.value, state=state.value)


def next_state(state: State, action: Action, side: Side) -> State:
    """The state after ``action`` by ``side``; raises :class:`IllegalTransition` when not allowed."""
    allowed_from, target, sides = RULES[action]
    if side not in sides:
        raise IllegalTransition(action, state, side)
    if state not in allowed_from:
        raise IllegalTransition(action, state)
    return state if target is None else target


def allowed_actions(state: State, side: Side) -> list[Action]:
    """Every action ``side`` may take now (for the pages' buttons)."""
    return [a for a, (froms, _t, sides) in RULES.items() if state in froms and side in sides]
