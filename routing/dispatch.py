"""Dispatch of work orders to the responsible unit by rule."""

from __future__ import annotations

from collections.abc import Iterable

from hub.taxonomy import DispatchRule


def match_unit(
    rules: Iterable[DispatchRule], industry: str | None, category: str | None, district: str | None
) -> str | None:
    """The unit of the first rule matching the order (None = the centre dispatches by hand).

    A rule matches when its industry equals the order's and its category and district are either unset
    (any) or equal to the order's.
    """
    if industry is None:
        return None
    for rule in rules:
        if rule.industry != industry:
            continue
        if rule.category is not None and rule.category != category:
            continue
        if rule.district is not None and rule.district != district:
            continue
        return rule.unit
    return None
