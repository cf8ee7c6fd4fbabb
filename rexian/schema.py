"""The whole database: every package's tables on one metadata and one Alembic history over all their migrations.

Each package owns its tables and its migrations (``hub/storage/migrations/versions``, ``knowledge_base/migrations``,
``nlu/migrations``, ``channels/<channel>/migrations``); the composition root is the only place that knows them all.
Merge revisions that join the packages' branches live in ``rexian/migrations/versions``. Alembic and the
schema-vs-migrations test import this module, so a table is never missed (a missed one would make autogenerate
propose dropping it).
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import channels
import hub
import knowledge_base
import nlu
import rexian
import routing
from channels.email import store as _email_store  # noqa: F401 - imported for their tables
from channels.open311 import store as _open311_store  # noqa: F401
from channels.sms import store as _sms_store  # noqa: F401
from channels.voice import call_store as _call_store  # noqa: F401
from channels.voice import outbound_store as _outbound_store  # noqa: F401
from channels.voice import sip_accounts as _sip_accounts  # noqa: F401
from channels.voice.ivr import flow_store as _flow_store  # noqa: F401
from hub.storage import outbox as _outbox  # noqa: F401
from hub.storage.schema import metadata
from knowledge_base import store as _kb_store  # noqa: F401
from nlu import feedback_store as _feedback_store  # noqa: F401
from routing import tables as _routing_tables  # noqa: F401

__all__ = ["MIGRATIONS_DIR", "VERSION_LOCATIONS", "alembic_config", "metadata", "migrate"]

MIGRATIONS_DIR = Path(rexian.__file__).parent / "migrations"


def _folder(package: object, *parts: str) -> Path:
    return Path(str(package.__file__)).parent.joinpath(*parts)  # type: ignore[attr-defined]


VERSION_LOCATIONS: tuple[Path, ...] = (
    _folder(hub, "storage", "migrations", "versions"),
    _folder(knowledge_base, "migrations"),
    _folder(nlu, "migrations"),
    _folder(channels, "open311", "migrations"),
    _folder(channels, "email", "migrations"),
    _folder(channels, "sms", "migrations"),
    _folder(channels, "voice", "migrations"),
    _folder(routing, "migrations"),
    MIGRATIONS_DIR / "versions",
)


def alembic_config() -> Config:
    """An Alembic config over every package's migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")  # version_locations split on os.pathsep
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in VERSION_LOCATIONS))
    return cfg


def _upgrade(sync_conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


async def migrate(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the database schema up to ``revision`` (idempotent; "heads": every branch of migrations)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
