"""Finding work orders: the search and filters of the centre's list, the department portal and the staff API.

:class:`OrderQuery` is what a page or API asks for; :func:`where_clauses` turns it into SQL conditions that the
store applies to one page of rows and to the count of all matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hub.storage.schema import contacts, work_orders

MAX_PER_PAGE = 200
SORTS: dict[str, tuple[Any, ...]] = {
    "newest": (work_orders.c.id.desc(),),
    "oldest": (work_orders.c.id.asc(),),
    "due": (work_orders.c.due_at.is_(None), work_orders.c.due_at.asc(), work_orders.c.id.desc()),
    "updated": (work_orders.c.updated_at.desc(), work_orders.c.id.desc()),
}
_NUMBER = re.compile(r"^\d{6,32}$")


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (its own % and _ escaped with ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """What to find: every given filter must hold. ``None``/empty means "any".

    ``q`` matches the number, the phone, the citizen's name (on the order or its contact), the address or the text.
    ``units`` is the caller's visibility (None = every unit) and is applied on top of ``unit`` (one unit asked for).
    """

    q: str = ""
    phone: str | None = None
    states: tuple[str, ...] = ()
    unit: str | None = None
    units: tuple[str, ...] | None = None
    industry: str | None = None
    category: str | None = None
    request_type: str | None = None
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    overdue_at: datetime | None = None  # set: only orders being handled and due before this instant
    supervised: bool | None = None
    urgent: bool | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = 50
    extra: tuple[Any, ...] = field(default=())  # further SQL conditions (a page's tab)

    def offset(self) -> int:
        """Rows to skip for :attr:`page`."""
        return (max(self.page, 1) - 1) * self.limit()

    def limit(self) -> int:
        """Rows per page, bounded."""
        return min(max(self.per_page, 1), MAX_PER_PAGE)

    def order_by(self) -> tuple[Any, ...]:
        """The ORDER BY of :attr:`sort` (unknown sorts: newest first)."""
        return SORTS.get(self.sort, SORTS["newest"])


def where_clauses(query: OrderQuery) -> list[Any]:
    """The SQL conditions of ``query`` on ``work_orders``."""
    wo = work_orders.c
    where: list[Any] = list(query.extra)
    if query.units is not None:
        where.append(wo.unit.in_(query.units) if query.units else sa.false())
    text = query.q.strip()
    if text:
        pattern = _like(text)
        named = sa.select(contacts.c.id).where(contacts.c.name.like(pattern, escape="\\"))
        options: list[Any] = [
            wo.address.like(pattern, escape="\\"),
            wo.description.like(pattern, escape="\\"),
            wo.citizen_name.like(pattern, escape="\\"),
            wo.contact_id.in_(named),
        ]
        if _NUMBER.match(text):
            options += [wo.number.like(text + "%"), wo.phone == text]
        where.append(sa.or_(*options))
    if query.phone:
        where.append(wo.phone == query.phone.strip())
    if query.states:
        where.append(wo.state.in_(query.states))
    for column, value in (
        (wo.unit, query.unit),
        (wo.industry, query.industry),
        (wo.category, query.category),
        (wo.request_type, query.request_type),
        (wo.source, query.source),
    ):
        if value:
            where.append(column == value)
    if query.created_from is not None:
        where.append(wo.created_at >= query.created_from)
    if query.created_to is not None:
        where.append(wo.created_at < query.created_to)
    if query.overdue_at is not None:
        where += [wo.state.in_(("signed", "in_progress")), wo.due_at.is_not(None), wo.due_at < query.overdue_at]
    if query.supervised is not None:
        where.append(wo.supervised == query.supervised)
    if query.urgent is not None:
        where.append(wo.urgent == query.urgent)
    return where
