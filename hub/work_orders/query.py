"""Finding work orders: the search and filters of the centre's list, the department portal and the staff API.

:class:`OrderQuery` is what a page or API asks for; :func:`where_clauses` turns it into SQL conditions that the
store applies to one page of rows and to the count of all matches. :func:`tab_conditions` are the list tabs as SQL
conditions, and :func:`find_page` reads one page, the total and every tab's count in two statements (the counts
are one aggregate with a ``FILTER`` per tab: no row is loaded to count).

Search (``q``): a string of 6 or more digits is an order number (prefix, on the unique index) or a phone number
(equality, on its index); anything else matches the address, the description, the forwarded text and the citizen's
name (on the order or its contact) as a substring. Measured with 100,000 orders in ``bench/orders_search.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import WorkOrder
from hub.storage import rows
from hub.storage.schema import contacts, work_order_extensions, work_orders

MAX_PER_PAGE = 200
SORTS: dict[str, tuple[Any, ...]] = {
    "newest": (work_orders.c.id.desc(),),
    "oldest": (work_orders.c.id.asc(),),
    "due": (work_orders.c.due_at.is_(None), work_orders.c.due_at.asc(), work_orders.c.id.desc()),
    "updated": (work_orders.c.updated_at.desc(), work_orders.c.id.desc()),
}
_NUMBER = re.compile(r"^\d{6,32}$")
HANDLING = ("signed", "in_progress")  # the states in which the deadline runs (overdue, due soon)
TABS = (
    "unassigned",
    "to_sign",
    "in_progress",
    "due_soon",
    "overdue",
    "supervision",
    "returned",
    "replied",
    "extensions",
    "closed",
    "all",
)


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


def _number_range(digits: str) -> Any:
    """Numbers starting with ``digits``, as a range the unique index answers (LIKE would scan on SQLite)."""
    upper = digits[:-1] + chr(ord(digits[-1]) + 1)  # "2026120" -> "2026121"; "...9" -> "...:" sorts after 9
    return sa.and_(work_orders.c.number >= digits, work_orders.c.number < upper)


def text_condition(text: str) -> Any:
    """The condition of the search box's ``text`` (see the module's docstring)."""
    wo = work_orders.c
    compact = re.sub(r"[\s-]", "", text)
    if _NUMBER.match(compact):
        return sa.or_(_number_range(compact), wo.phone == compact)
    pattern = _like(text)
    named = sa.select(contacts.c.id).where(contacts.c.name.like(pattern, escape="\\"))
    return sa.or_(
        wo.address.like(pattern, escape="\\"),
        wo.description.like(pattern, escape="\\"),
        wo.forward_text.like(pattern, escape="\\"),
        wo.citizen_name.like(pattern, escape="\\"),
        wo.contact_id.in_(named),
    )


def where_clauses(query: OrderQuery) -> list[Any]:
    """The SQL conditions of ``query`` on ``work_orders``."""
    wo = work_orders.c
    where: list[Any] = list(query.extra)
    if query.units is not None:
        where.append(wo.unit.in_(query.units) if query.units else sa.false())
    text = query.q.strip()
    if text:
        where.append(text_condition(text))
    if query.phone:
        where.append(wo.phone == re.sub(r"[\s-]", "", query.phone))
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
        where += [wo.state.in_(HANDLING), wo.due_at.is_not(None), wo.due_at < query.overdue_at]
    if query.supervised is not None:
        where.append(wo.supervised == query.supervised)
    if query.urgent is not None:
        where.append(wo.urgent == query.urgent)
    return where


def tab_condition(tab: str, now: datetime, due_soon_before: datetime) -> Any:
    """The SQL condition of a list tab (see :data:`TABS`); ``due_soon_before`` ends the "due soon" window.

    Raises:
        KeyError: not a tab.
    """
    wo = work_orders.c
    handling = wo.state.in_(HANDLING)
    if tab == "unassigned":
        return wo.state == "received"
    if tab == "to_sign":
        return wo.state == "dispatched"
    if tab == "in_progress":
        return handling
    if tab == "due_soon":
        return sa.and_(handling, wo.due_at >= now, wo.due_at < due_soon_before)
    if tab == "overdue":
        return sa.and_(handling, wo.due_at < now)
    if tab == "supervision":
        return sa.and_(wo.supervised == sa.true(), wo.state != "closed")
    if tab == "extensions":
        pending = sa.select(work_order_extensions.c.work_order_id).where(work_order_extensions.c.status == "pending")
        return wo.id.in_(pending)
    if tab in ("returned", "replied", "closed"):
        return wo.state == tab
    if tab == "all":
        return sa.true()
    raise KeyError(tab)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a list: its orders, how many match the active tab, and every tab's count."""

    items: list[WorkOrder]
    total: int
    counts: dict[str, int]


async def find_page(engine: AsyncEngine, query: OrderQuery, tabs: dict[str, Any], active: str) -> OrderPage:
    """The page of ``query`` within tab ``active``, and the count of every tab under the same filters.

    Args:
        engine: the database.
        query: filters, sort and page (its ``extra`` is applied to the page and to every count).
        tabs: tab name -> SQL condition (:func:`tab_condition`); ``active`` must be one of them.
        active: the tab whose rows are read.
    """
    where = where_clauses(query)
    page = (
        sa.select(work_orders)
        .where(*where, tabs[active])
        .order_by(*query.order_by())
        .limit(query.limit())
        .offset(query.offset())
    )
    labels = list(tabs)
    columns = [sa.func.count().filter(condition).label(f"t{i}") for i, condition in enumerate(tabs.values())]
    counting = sa.select(*columns).select_from(work_orders).where(*where)
    async with engine.connect() as conn:
        items = [rows.work_order(r) for r in await conn.execute(page)]
        counted = (await conn.execute(counting)).one()
    counts = {label: int(counted[i] or 0) for i, label in enumerate(labels)}
    return OrderPage(items, counts[active], counts)
