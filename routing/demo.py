"""Routing's demo data: a few shared canned replies in Chinese (``routing/demo_data/canned_replies.yaml``) and the
demo agents' routing profiles (skills the floor's profile page shows and the ``skills`` strategy routes by)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.canned import CannedStore
from hub.storage.schema import users
from routing.agent_store import AgentStore, Profile

DEMO_FILE = Path(__file__).parent / "demo_data" / "canned_replies.yaml"
DEMO_PROFILES: dict[str, dict[str, int]] = {
    # every queue, the policy's capacity: only skills, so the demo routes as before unless a queue asks for skills
    "agent1": {"industry:water": 2, "industry:gas": 1, "district:chengdong": 1},
    "agent2": {"industry:municipal": 2, "industry:sanitation": 1, "district:chengxi": 1, "lang:yue": 1},
}


async def load_demo_canned(engine: AsyncEngine, path: Path = DEMO_FILE) -> int:
    """Add the demo's shared canned replies unless shared replies exist already; returns how many were added."""
    store = CannedStore(engine)
    if await store.count_shared():
        return 0
    with path.open(encoding="utf-8") as fh:
        replies = yaml.safe_load(fh)["replies"]
    for reply in replies:
        await store.create(None, reply["shortcut"], reply["title"], reply["text"])
    return len(replies)


async def load_demo_profiles(engine: AsyncEngine) -> int:
    """Give the demo agents their skills unless profiles exist already; returns how many were saved."""
    store = AgentStore(engine)
    if await store.profiles():
        return 0
    async with engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(users.c.id, users.c.username).where(users.c.username.in_(list(DEMO_PROFILES))))
        ).all()
    for user_id, username in rows:
        await store.save_profile(Profile(user_id, skills=dict(DEMO_PROFILES[username])))
    return len(rows)
