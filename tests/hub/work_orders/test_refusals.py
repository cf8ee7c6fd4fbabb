"""Refusals of work-order requests are coded; every code has its text in both languages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hub.i18n import lookup, t
from hub.work_orders.actions import RETURN_REASONS, WorkOrderError
from hub.work_orders.refusals import Refusal
from hub.work_orders.states import Action, IllegalTransition, Side, State

SOURCES = Path(__file__).resolve().parents[3] / "hub" / "work_orders"
REFUSALS = {"WorkOrderError", "Refusal", "IllegalTransition"}


def _codes() -> set[str]:
    """Every literal refusal code in hub/work_orders (first argument, or ``code=`` of IllegalTransition)."""
    found = {"not_allowed_by", "not_allowed_in"}  # IllegalTransition's own
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFUSALS):
                continue
            if node.func.id != "IllegalTransition" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    found.add(str(keyword.value.value))
    return found


def test_the_scan_sees_the_refusals() -> None:
    assert {"choose_unit", "return_reason", "arbitration_final", "role_not_allowed", "too_many_files"} <= _codes()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_refusal_code_has_a_text(locale: str) -> None:
    missing = sorted(code for code in _codes() if lookup(f"wo.error.{code}", locale) is None)
    assert missing == []


def test_a_refusal_reads_in_the_users_language_with_labels() -> None:
    refused = IllegalTransition(Action.CLOSE, State.SIGNED, Side.DEPARTMENT)
    assert str(refused) == "close is not allowed by department"  # logs and API clients: English, codes
    assert refused.text("zh-CN") == "承办单位不能执行“办结”"
    assert refused.text("en") == f"{t('action.close', 'en')} is not allowed by the department"
    in_state = IllegalTransition(Action.SIGN, State.CLOSED)
    assert in_state.text("zh-CN") == f"工单处于“{t('state.closed')}”状态，不能执行“{t('action.sign')}”"
    reasons = WorkOrderError("return_reason", reasons=RETURN_REASONS)
    zh = reasons.text("zh-CN")
    assert "not_our_jurisdiction" not in zh and "、" in zh
    assert "not_our_jurisdiction" in str(reasons)


def test_an_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        Refusal("no_such_reason")
