"""The taxonomy snapshot: request types, industries, categories, districts, units and dispatch rules.

Administrators edit the rows; the hub keeps an immutable in-memory snapshot that it reloads after a change.
"""

from __future__ import annotations

import re
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
class District(Named):
    """A district of the configured city with its gazetteer.

    ``aliases``: other names of the district (城东, 高新技术产业开发区); ``streets``: roads, towns, villages and
    compounds known to lie in it, so that an address without the district prefix still finds its district.
    """

    aliases: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()


# An administrative component before a street in the same stretch of text: 杭州市上城区|解放路, 清苑区王庄镇|张家村,
# 杭州市西湖区文三路90号东部|软件园. Without a local district named in the address, the street then lies elsewhere.
_ADMIN_SUFFIX = re.compile(
    r"(?<=[\u4e00-\u9fff]{2})(?:省|自治区|自治州|特别行政区|市|州|盟|区|县|旗)(?![域别场民里内政容])"
)
_CLAUSE_BREAK = re.compile(r"[，。,.;；!！?？、:：()（）]")
_NOT_ADMIN_ENDS = ("小区", "社区", "园区", "景区", "校区", "片区", "街区", "厂区", "超市", "菜市", "本市", "我市")


def _foreign_before(before: str) -> bool:
    """Whether the clause before a street names an administrative component (none of them is local here)."""
    clause = _CLAUSE_BREAK.split(before)[-1]
    return any(clause[m.start() - 2 : m.end()] not in _NOT_ADMIN_ENDS for m in _ADMIN_SUFFIX.finditer(clause))


def _district_names(district: Named) -> list[str]:
    names = [district.name_zh, *getattr(district, "aliases", ())]
    if len(district.name_zh) > 2 and district.name_zh[-1] in "区县市旗":
        names.append(district.name_zh[:-1])  # 城东区 -> 城东
    if district.name_en:
        names.append(district.name_en)
    return ["".join(name.split()).lower() for name in names if name.strip()]


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
    districts: dict[str, District] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    rules: tuple[DispatchRule, ...] = ()

    def detect_district(self, address: str | None) -> str | None:
        """The district code of an address (or a text holding one), if the configured city's districts tell it.

        First a district named in the address: its Chinese name with or without 区/县 (城东区, 城东), an alias or
        the English name; the leftmost (then longest) mention wins. Else the gazetteer: the leftmost street, town,
        village or compound listed under a district, unless an administrative component comes before it in the same
        clause (杭州市上城区解放路, 清苑区王庄镇张家村: a street of that name in another city or district). So an
        address in another city is not mistaken for a local district.
        """
        if not address:
            return None
        text = "".join(address.split())
        lowered = text.lower()
        best: tuple[int, int, str] | None = None
        for district in self.districts.values():
            for name in _district_names(district):
                position = lowered.find(name)
                if position >= 0 and (best is None or (position, -len(name)) < best[:2]):
                    best = (position, -len(name), district.code)
        if best is not None:
            return best[2]
        for district in self.districts.values():
            for street in getattr(district, "streets", ()):
                position = text.find(street) if street else -1
                while position >= 0:
                    if not _foreign_before(text[:position]):
                        if best is None or (position, -len(street)) < best[:2]:
                            best = (position, -len(street), district.code)
                        break
                    position = text.find(street, position + 1)
        return None if best is None else best[2]

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
