"""Why an agent closed a conversation (``conversations.outcome``): the codes the close dialog offers.

Their names are the catalog's ``outcome.<code>`` strings; reports count conversations by these codes.
"""

from __future__ import annotations

OUTCOMES: tuple[str, ...] = (
    "resolved_by_answer",  # 已解答
    "order_registered",  # 已登记工单
    "transferred",  # 已转办
    "no_response",  # 市民无应答
    "spam",  # 无效/骚扰
    "other",  # 其他
)


def is_outcome(code: object) -> bool:
    """True for one of :data:`OUTCOMES`."""
    return isinstance(code, str) and code in OUTCOMES
