"""The taxonomy snapshot: request types, industries, categories, districts, units and dispatch rules.

Administrators edit the rows; the hub keeps an immutable in-memory snapshot that it reloads after a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Named:
    """A code with Chinese and English names."""

    code: str
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        """The display name for a locale (zh-CN first)."""
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass(frozen=True, slots=True)
class RequestType(Named):
    """咨询/投诉/求助/建议/表扬 with the default deadline in working days."""

    deadline_days: int = 5


@dataclass(frozen=True, slots=True)
class Category(Named):
    """A category within an industry."""

    industry: str = ""
    keywords: tuple[str, ...] = ()
    urgent: bool = False
    deadline_days: int | None = None


@dataclass(frozen=True, slots=True)
class Unit(Named):
    """A department or sub-unit; ``parent`` makes the department tree."""

    parent: str | None = None
    kind: str = "department"
    alert_channel: str | None = None  # "sms" | "email": how the unit hears of new and urgent orders
    alert_address: str | None = None
    emergency_sign_minutes: int | None = None  # an urgent order not signed this long after dispatch escalates


@dataclass(frozen=True, slots=True)
class DispatchRule:
    """Maps (industry, category?, district?) to a responsible unit; first match wins."""

    industry: str
    category: str | None
    district: str | None
    unit: str


@dataclass(frozen=True)
class Taxonomy:
    """An immutable snapshot of the editable taxonomy."""

    request_types: dict[str, RequestType] = field(default_factory=dict)
    industries: dict[str, Named] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    districts: dict[str, Named] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    rules: tuple[DispatchRule, ...] = ()

    def detect_district(self, address: str | None) -> str | None:
        """The district code named in an address (by its Chinese or English name), if any."""
        if not address:
            return None
        for district in self.districts.values():
            if district.name_zh in address or (len(district.name_zh) > 2 and district.name_zh[:-1] in address):
                return district.code
        return None

    def guess_category(self, industry: str | None, text: str) -> str | None:
        """The category of ``industry`` whose keywords best match ``text`` (None if none match)."""
        best: tuple[int, str] | None = None
        for category in self.categories.values():
            if industry is not None and category.industry != industry:
                continue
            score = sum(len(k) for k in category.keywords if k and k in text)
            if score and (best is None or score > best[0]):
                best = (score, category.code)
        return None if best is None else best[1]

    def unit_subtree(self, unit: str) -> list[str]:
        """``unit`` and every unit below it in the department tree."""
        out = [unit]
        frontier = [unit]
        while frontier:
            children = [u.code for u in self.units.values() if u.parent in frontier]
            out.extend(children)
            frontier = children
        return out

    def industry_of_category(self, category: str | None) -> str | None:
        """The industry a category belongs to."""
        found = self.categories.get(category or "")
        return None if found is None else found.industry
