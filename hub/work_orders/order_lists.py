"""The centre's order list and the department portal: GET filters, search, sort, pages and tab counts.

Every filter is a GET parameter (bookmarkable, shown back in the form); values that are not choices of the user
(another department's unit, an unknown state) are ignored rather than trusted. A department only ever searches
its own units (:meth:`WorkOrderService.visible_units`), whatever it asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from hub.localtime import CityTime
from hub.models import Role, User
from hub.taxonomy import Taxonomy, Unit
from hub.work_orders.query import OrderPage, OrderQuery, find_page, tab_condition
from hub.work_orders.service import WorkOrderService
from hub.work_orders.sources import SOURCES
from hub.work_orders.states import State

PER_PAGE = 50
SORT_CHOICES = ("newest", "oldest", "due", "updated")
FILTER_KEYS = ("q", "state", "unit", "industry", "category", "type", "source", "from", "to", "overdue", "sort")
PAGE_WINDOW = 2  # page links shown either side of the current page


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 1_000_000 else 1


@dataclass(frozen=True, slots=True)
class Filters:
    """The list filters as the user gave them (cleaned), for the query and for showing them back."""

    values: dict[str, str]
    page: int

    def link(self, **changes: str | int | None) -> str:
        """``?query`` of these filters with ``changes`` (None or "" drops a parameter)."""
        params: dict[str, Any] = {**self.values, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def unit_choices(tax: Taxonomy, visible: list[str] | None) -> list[Unit]:
    """The units a user may filter by: every department for the centre, its own subtree for a department."""
    if visible is None:
        return [u for u in tax.units.values() if u.kind != "centre"]
    return [tax.units[code] for code in visible if code in tax.units]


def read_filters(params: Mapping[str, str], tax: Taxonomy, units: list[Unit], tabs: tuple[str, ...]) -> Filters:
    """The user's filters from GET ``params``, keeping only values that are choices (else "any")."""
    allowed: dict[str, Any] = {
        "state": {s.value for s in State},
        "unit": {u.code for u in units},
        "industry": set(tax.industries),
        "category": set(tax.categories),
        "type": set(tax.request_types),
        "source": set(SOURCES),
        "sort": set(SORT_CHOICES),
    }
    values: dict[str, str] = {"tab": params.get("tab", "") if params.get("tab") in tabs else tabs[0]}
    for key in FILTER_KEYS:
        value = params.get(key, "").strip()[:100]
        if key in allowed and value not in allowed[key]:
            value = ""
        if key in ("from", "to") and _day(value) is None:
            value = ""
        if key == "overdue":
            value = "1" if value == "1" else ""
        values[key] = value
    if values["category"] and not values["industry"]:
        values["industry"] = tax.industry_of_category(values["category"]) or ""
    if values["category"] and tax.industry_of_category(values["category"]) != values["industry"]:
        values["category"] = ""
    return Filters(values, _page_number(params.get("page", "")))


def to_query(filters: Filters, visible: list[str] | None, city: CityTime, now: datetime) -> OrderQuery:
    """The :class:`OrderQuery` of ``filters`` within ``visible`` units; dates are the city's local days."""
    v = filters.values
    first, last = _day(v["from"]), _day(v["to"])
    created_from = city.start_of(first) if first else None
    created_to = city.day_range(last, last)[1] if last else None
    return OrderQuery(
        q=v["q"],
        states=(v["state"],) if v["state"] else (),
        unit=v["unit"] or None,
        units=None if visible is None else tuple(visible),
        industry=v["industry"] or None,
        category=v["category"] or None,
        request_type=v["type"] or None,
        source=v["source"] or None,
        created_from=created_from,
        created_to=created_to,
        overdue_at=now if v["overdue"] else None,
        sort=v["sort"] or "newest",
        page=filters.page,
        per_page=PER_PAGE,
    )


def page_links(page: int, pages: int) -> list[int | None]:
    """Page numbers to link (None: a gap): the first, the last and a window around ``page``."""
    shown = sorted({1, pages, *range(max(1, page - PAGE_WINDOW), min(pages, page + PAGE_WINDOW) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and out[-1] is not None and number - out[-1] > 1:
            out.append(None)
        out.append(number)
    return out


async def list_context(
    service: WorkOrderService, user: User, params: Mapping[str, str], tabs: tuple[str, ...], city: CityTime
) -> dict[str, Any]:
    """Everything the list template shows: filters and their choices, the page, the tab counts, page links."""
    tax = service.taxonomy()
    visible = service.visible_units(user)
    units = unit_choices(tax, visible)
    filters = read_filters(params, tax, units, tabs)
    now = service.now()
    conditions = {t: tab_condition(t, now, service.due_soon_before(now)) for t in tabs}
    query = to_query(filters, visible, city, now)
    found: OrderPage = await find_page(service.store.engine, query, conditions, filters.values["tab"])
    pages = max(1, -(-found.total // PER_PAGE))
    if filters.page > pages:  # past the end (a bookmark of a shrunken list): the last page instead
        filters = Filters(filters.values, pages)
        query = to_query(filters, visible, city, now)
        found = await find_page(service.store.engine, query, conditions, filters.values["tab"])
    return {
        "tabs": tabs,
        "tab": filters.values["tab"],
        "orders": found.items,
        "total": found.total,
        "counts": found.counts,
        "filters": filters,
        "f": filters.values,
        "page": filters.page,
        "pages": pages,
        "page_links": page_links(filters.page, pages),
        "unit_choices": units,
        "states": [s.value for s in State],
        "sources": list(SOURCES.values()),
        "sorts": SORT_CHOICES,
        "centre": user.role is not Role.DEPARTMENT,
        "now": now,
    }
