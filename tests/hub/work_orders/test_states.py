"""The work-order state machine, exhaustively: every state × every action × every side."""

from __future__ import annotations

import itertools

import pytest

from hub.work_orders.states import Action, IllegalTransition, Side, State, allowed_actions, next_state

# Written out by hand from how 12319 centres run orders (not derived from the implementation's table).
# Columns: received dispatched signed in_progress replied returned closed ; "-" = refused, "=" = state unchanged,
# otherwise the resulting state's initial (D dispatched, S signed, I in_progress, R replied, T returned, C closed).
EXPECTED = """
action             side        rec disp sign prog repl ret  clos
dispatch           centre      D   -    -    -    -    -    -
redispatch         centre      -   D    D    D    D    D    -
forward            department  -   D    -    -    -    -    -
sign               department  -   S    -    -    -    -    -
start              department  -   -    I    -    -    -    -
reply              department  -   -    R    R    -    -    -
return             department  -   T    T    -    -    -    -
arbitrate          centre      -   -    -    -    -    D    -
close              centre      -   -    -    -    C    -    -
rehandle           centre      -   -    -    -    D    -    D
request_extension  department  -   -    =    =    -    -    -
approve_extension  centre      -   -    =    =    =    -    -
refuse_extension   centre      -   -    =    =    =    -    -
supervise          centre      =   =    =    =    -    =    -
supervise          leader      =   =    =    =    -    =    -
remind             centre      -   =    =    =    -    -    -
instruct           leader      =   =    =    =    =    =    -
callback           centre      -   -    -    -    -    -    =
note               centre      =   =    =    =    =    =    =
note               department  =   =    =    =    =    =    =
note               leader      =   =    =    =    =    =    =
merge              centre      C   C    -    -    -    C    -
"""
STATES = [
    State.RECEIVED,
    State.DISPATCHED,
    State.SIGNED,
    State.IN_PROGRESS,
    State.REPLIED,
    State.RETURNED,
    State.CLOSED,
]
LETTERS = {
    "D": State.DISPATCHED,
    "S": State.SIGNED,
    "I": State.IN_PROGRESS,
    "R": State.REPLIED,
    "T": State.RETURNED,
    "C": State.CLOSED,
}


def expected() -> dict[tuple[State, Action, Side], State | None]:
    table: dict[tuple[State, Action, Side], State | None] = {}
    for line in EXPECTED.strip().splitlines()[1:]:
        action, side, *cells = line.split()
        for state, cell in zip(STATES, cells, strict=True):
            key = (state, Action(action), Side(side))
            table[key] = None if cell == "-" else state if cell == "=" else LETTERS[cell]
    return table


TABLE = expected()
CASES = list(itertools.product(STATES, list(Action), list(Side)))


def test_the_table_covers_every_action() -> None:
    assert {a for _s, a, _side in TABLE} == set(Action)


@pytest.mark.parametrize("state,action,side", CASES, ids=lambda v: v.value)
def test_transition(state: State, action: Action, side: Side) -> None:
    want = TABLE.get((state, action, side))  # sides not listed for an action are refused
    if want is None:
        with pytest.raises(IllegalTransition) as err:
            next_state(state, action, side)
        assert action.value in str(err.value)
    else:
        assert next_state(state, action, side) == want


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.value)
@pytest.mark.parametrize("side", list(Side), ids=lambda s: s.value)
def test_allowed_actions_agree_with_transitions(state: State, side: Side) -> None:
    assert set(allowed_actions(state, side)) == {
        a for (s, a, sd), v in TABLE.items() if s == state and sd == side and v is not None
    }


def test_error_messages_are_clear() -> None:
    with pytest.raises(IllegalTransition, match="sign is not allowed when the order is closed"):
        next_state(State.CLOSED, Action.SIGN, Side.DEPARTMENT)
    with pytest.raises(IllegalTransition, match="close is not allowed by department"):
        next_state(State.REPLIED, Action.CLOSE, Side.DEPARTMENT)
