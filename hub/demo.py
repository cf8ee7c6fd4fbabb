"""Loading the hub's demo data (taxonomy, units, dispatch rules, calendar, one account per role).

The knowledge base loads its own demo articles (:mod:`knowledge_base.demo`); :mod:`rexian.demo` loads both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Role
from hub.storage.schema import (
    calendar_days,
    categories,
    dispatch_rules,
    districts,
    industries,
    request_types,
    units,
    users,
)
from hub.storage.users import UserStore

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).parent / "demo_data"


def read_yaml(name: str, directory: Path = DEMO_DIR) -> Any:
    """Parse one demo data file."""
    with (directory / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


async def is_empty(engine: AsyncEngine) -> bool:
    """True when no taxonomy has been loaded yet."""
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(industries))).scalar_one() == 0


UNIT_ALERT_FIELDS = ("alert_channel", "alert_address", "emergency_sign_minutes")  # how a unit hears of orders


def _unit_order(unit_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children (foreign keys)."""
    done: set[str] = set()
    ordered: list[dict[str, Any]] = []
    pending = list(unit_rows)
    while pending:
        progress = [u for u in pending if u.get("parent") in (None, *done)]
        if not progress:
            raise ValueError(f"unit tree has a cycle or a missing parent: {[u['code'] for u in pending]}")
        for unit in progress:
            ordered.append(unit)
            done.add(unit["code"])
        pending = [u for u in pending if u["code"] not in done]
    return ordered


async def load_demo(engine: AsyncEngine, users_store: UserStore, directory: Path = DEMO_DIR) -> bool:
    """Load the demo data if the store is empty; returns whether anything was loaded."""
    if not await is_empty(engine):
        log.info("store already has data; demo data not loaded")
        return False
    taxonomy = read_yaml("taxonomy.yaml", directory)
    unit_data = read_yaml("units.yaml", directory)
    accounts = read_yaml("accounts.yaml", directory)
    calendar = read_yaml("calendar.yaml", directory) if (directory / "calendar.yaml").exists() else {"days": []}
    async with engine.begin() as conn:
        await conn.execute(
            request_types.insert(),
            [{k: t[k] for k in ("code", "name_zh", "name_en", "deadline_days")} for t in taxonomy["request_types"]],
        )
        await conn.execute(
            industries.insert(),
            [
                {"code": i["code"], "name_zh": i["name_zh"], "name_en": i["name_en"], "position": n}
                for n, i in enumerate(taxonomy["industries"])
            ],
        )
        await conn.execute(
            categories.insert(),
            [
                {
                    "code": c["code"],
                    "industry": i["code"],
                    "name_zh": c["name_zh"],
                    "name_en": c["name_en"],
                    "keywords": list(c.get("keywords") or []),
                    "urgent": bool(c.get("urgent", False)),
                    "deadline_days": c.get("deadline_days"),
                }
                for i in taxonomy["industries"]
                for c in i.get("categories") or []
            ],
        )
        await conn.execute(
            districts.insert(),
            [
                {
                    "code": d["code"],
                    "name_zh": d["name_zh"],
                    "name_en": d["name_en"],
                    "aliases": list(d.get("aliases") or []),
                    "streets": list(d.get("streets") or []),
                }
                for d in unit_data["districts"]
            ],
        )
        await conn.execute(
            units.insert(),
            [
                {k: u.get(k) for k in ("code", "name_zh", "name_en", "parent", "kind", *UNIT_ALERT_FIELDS)}
                for u in _unit_order(unit_data["units"])
            ],
        )
        await conn.execute(
            dispatch_rules.insert(),
            [
                {
                    "position": n,
                    "industry": r["industry"],
                    "category": r.get("category"),
                    "district": r.get("district"),
                    "unit": r["unit"],
                }
                for n, r in enumerate(unit_data["dispatch_rules"])
            ],
        )
        if calendar["days"]:
            await conn.execute(
                calendar_days.insert(),
                [{"day": d["day"], "kind": d["kind"], "name": d.get("name")} for d in calendar["days"]],
            )
    for account in accounts["users"]:
        async with engine.connect() as conn:
            exists = (await conn.execute(sa.select(users.c.id).where(users.c.username == account["username"]))).first()
        if exists is None:
            await users_store.create(
                account["username"],
                account["password"],
                account["display_name"],
                Role(account["role"]),
                account.get("unit"),
            )
    log.info("demo data loaded: %d industries, %d accounts", len(taxonomy["industries"]), len(accounts["users"]))
    return True
