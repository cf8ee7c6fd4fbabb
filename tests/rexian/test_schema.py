"""One Alembic history over every package's migrations still upgrades the databases made before the split.

``tests/fixtures/data/main-0006.sqlite3.gz`` was made by main as of 2026-12-07 (commit 7e5c585, before the tables
and migrations moved to their packages): its migrations, its demo data and two generated rows in every table
(``tests/fixtures/fill_tables.py``). Upgrading it with today's code must keep every row of every table.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from hub.storage.engine import create_engine, sqlite_url
from rexian.schema import VERSION_LOCATIONS, alembic_config, metadata, migrate
from tests.fixtures.fill_tables import snapshot
from tests.fixtures.postgres import fresh_database

OLD_DB = Path(__file__).parents[1] / "fixtures" / "data" / "main-0006.sqlite3.gz"
OLD_HEAD = "0006_merge_channels"
ROOT = Path(__file__).parents[2]


def _old_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rexian.sqlite3"
    with gzip.open(OLD_DB, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def _old_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return snapshot(conn)
    finally:
        engine.dispose()


def _lost(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Per table, how many rows of ``before`` are not in ``after`` (on the columns ``before`` had)."""
    lost: dict[str, int] = {}
    for table, rows in before.items():
        if table == "alembic_version":
            continue
        kept = after.get(table, [])
        for row in rows:
            if not any(all(_same(row[k], new.get(k)) for k in row) for new in kept):
                lost[table] = lost.get(table, 0) + 1
    return lost


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, (dict, list)):  # JSON read back as text on one side
        import json

        return json.loads(old) == new
    return old == new or (isinstance(old, (int, bool)) and isinstance(new, (int, bool)) and int(old) == int(new))


def test_the_fixture_is_a_database_of_the_old_head_with_every_table_filled(tmp_path: Path) -> None:
    rows = _old_rows(_old_copy(tmp_path))
    assert rows["alembic_version"] == [{"version_num": OLD_HEAD}]
    empty = [name for name, table_rows in rows.items() if not table_rows]
    assert empty == []
    assert len(rows["industries"]) >= 15  # the demo taxonomy
    assert len(rows["articles"]) > 10  # the demo knowledge base


async def test_upgrading_a_database_made_by_the_old_main_loses_nothing_on_sqlite(tmp_path: Path) -> None:
    path = _old_copy(tmp_path)
    before = _old_rows(path)
    engine = create_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine)
        await migrate(engine)  # idempotent
        async with engine.connect() as conn:
            after = await conn.run_sync(snapshot)
            heads = set((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()
    assert _lost(before, after) == {}
    assert heads == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _utc(value: Any) -> Any:
    return value.replace(tzinfo=dt.UTC) if isinstance(value, dt.datetime) and value.tzinfo is None else value


@pytest.mark.postgres
async def test_upgrading_a_postgres_database_at_the_old_head_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    """The old rows are copied into a PostgreSQL database migrated to the old head, then upgraded."""
    path = _old_copy(tmp_path)
    source = sa.create_engine(f"sqlite:///{path}")
    old_meta = sa.MetaData()
    with source.connect() as conn:
        old_meta.reflect(conn)
        rows = {
            t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
            for t in old_meta.sorted_tables
            if "_fts" not in t.name and t.name != "alembic_version"
        }
        before = snapshot(conn)
    source.dispose()
    engine = create_engine(fresh_database(postgres_url))
    try:
        await migrate(engine, OLD_HEAD)

        def copy(conn: sa.Connection) -> None:
            target = sa.MetaData()
            target.reflect(conn)
            for table in target.sorted_tables:
                if rows.get(table.name):
                    conn.execute(table.insert(), [{k: _utc(v) for k, v in r.items()} for r in rows[table.name]])

        async with engine.begin() as conn:
            await conn.run_sync(copy)
        await migrate(engine)
        async with engine.connect() as conn:
            after = await conn.run_sync(snapshot)
    finally:
        await engine.dispose()
    before.pop("alembic_version", None)
    assert _lost(before, after) == {}


def test_every_package_owns_its_migrations_and_all_are_one_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    owners = {Path(rev.path).resolve().parent for rev in script.walk_revisions()}
    assert owners <= {p.resolve() for p in VERSION_LOCATIONS}
    # The channels' and other packages' revisions live in their own folders, not in hub's.
    hub_folder = (ROOT / "hub" / "storage" / "migrations" / "versions").resolve()
    for rev in script.walk_revisions():
        for prefix, folder in (
            ("0005_sms", "channels/sms/migrations"),
            ("0005_email", "channels/email/migrations"),
            ("0005_voice", "channels/voice/migrations"),
            ("0002_knowledge_base", "knowledge_base/migrations"),
            ("0002_nlu_feedback", "nlu/migrations"),
            ("0002_open311", "channels/open311/migrations"),
        ):
            if rev.revision == prefix:
                assert Path(rev.path).resolve().parent == (ROOT / folder).resolve()
                assert Path(rev.path).resolve().parent != hub_folder


def test_every_table_is_on_the_one_metadata() -> None:
    names = set(metadata.tables)
    for table in ("conversations", "work_orders", "articles", "kb_versions", "sms_submits", "calls", "ivr_flows"):
        assert table in names
