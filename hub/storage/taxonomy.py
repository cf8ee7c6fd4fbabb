"""Loading the taxonomy snapshot from the database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.schema import categories, dispatch_rules, districts, industries, request_types, units
from hub.taxonomy import Category, DispatchRule, District, Named, RequestType, Taxonomy, Unit


async def load_taxonomy(engine: AsyncEngine) -> Taxonomy:
    """Read every taxonomy table into an immutable :class:`Taxonomy`."""
    async with engine.connect() as conn:
        types = (await conn.execute(sa.select(request_types))).all()
        inds = (await conn.execute(sa.select(industries).order_by(industries.c.position))).all()
        cats = (await conn.execute(sa.select(categories).order_by(categories.c.code))).all()
        dists = (await conn.execute(sa.select(districts).order_by(districts.c.code))).all()
        unit_rows = (await conn.execute(sa.select(units).order_by(units.c.code))).all()
        rule_rows = (await conn.execute(sa.select(dispatch_rules).order_by(dispatch_rules.c.position))).all()
    return Taxonomy(
        request_types={r.code: RequestType(r.code, r.name_zh, r.name_en, r.deadline_days) for r in types},
        industries={r.code: Named(r.code, r.name_zh, r.name_en) for r in inds},
        categories={
            r.code: Category(
                r.code,
                r.name_zh,
                r.name_en,
                industry=r.industry,
                keywords=tuple(r.keywords or ()),
                urgent=bool(r.urgent),
                deadline_days=r.deadline_days,
            )
            for r in cats
        },
        districts={
            r.code: District(
                r.code, r.name_zh, r.name_en, aliases=tuple(r.aliases or ()), streets=tuple(r.streets or ())
            )
            for r in dists
        },
        units={
            r.code: Unit(
                r.code,
                r.name_zh,
                r.name_en,
                parent=r.parent,
                kind=r.kind,
                alert_channel=r.alert_channel,
                alert_address=r.alert_address,
                emergency_sign_minutes=r.emergency_sign_minutes,
            )
            for r in unit_rows
        },
        rules=tuple(DispatchRule(r.industry, r.category, r.district, r.unit) for r in rule_rows),
    )
