"""The demo data of every package: the hub's taxonomy, units, calendar and accounts, then the KB's articles."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo import DEMO_DIR
from hub.demo import load_demo as load_hub_demo
from hub.storage.users import UserStore
from knowledge_base.demo import load_demo_articles
from rexian.schema import migrate
from routing.demo import load_demo_canned, load_demo_profiles


async def load_demo(engine: AsyncEngine, users: UserStore, directory: Path = DEMO_DIR) -> bool:
    """Load the demo data into an empty store; returns whether anything was loaded (False: the store had data)."""
    if not await load_hub_demo(engine, users, directory):
        return False
    await load_demo_articles(engine, directory)
    await load_demo_canned(engine)  # the inbox's shared canned replies
    await load_demo_profiles(engine)  # the demo agents' skills (the floor's routing profiles)
    return True


async def prepare_taxonomy_store(engine: AsyncEngine) -> None:
    """Migrate a new store and load the demo taxonomy, units and accounts, without articles (``rexian kb eval``)."""
    await migrate(engine)
    await load_hub_demo(engine, UserStore(engine))
