"""The inbox's demo data: a few shared canned replies in Chinese (``routing/demo_data/canned_replies.yaml``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.canned import CannedStore

DEMO_FILE = Path(__file__).parent / "demo_data" / "canned_replies.yaml"


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
