"""The session's PostgreSQL server is real, version 15 and UTF-8."""

import asyncpg
import pytest

from tests.fixtures.postgres import asyncpg_dsn, fresh_database

pytestmark = pytest.mark.postgres


async def test_server_is_postgres_15_utf8(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+asyncpg://")
    conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        version = await conn.fetchval("SELECT version()")
        assert version.startswith("PostgreSQL 15")
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        assert await conn.fetchval("SELECT current_database()") == "rexian_test"
        await conn.execute("CREATE TABLE infra_probe (id serial PRIMARY KEY, body text NOT NULL)")
        try:
            await conn.execute("INSERT INTO infra_probe (body) VALUES ($1)", "自来水停水了，什么时候恢复？")
            assert await conn.fetchval("SELECT body FROM infra_probe") == "自来水停水了，什么时候恢复？"
            assert await conn.fetchval("SELECT upper('abc') || lower('ÄÖ')") == "ABCäö"
        finally:
            await conn.execute("DROP TABLE infra_probe")
    finally:
        await conn.close()


async def test_fresh_database_inside_event_loop(postgres_url: str) -> None:
    url = fresh_database(postgres_url)
    assert url != postgres_url
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        name = await conn.fetchval("SELECT current_database()")
        assert name.startswith("rexian_t_")
        assert await conn.fetchval("SHOW lc_ctype") == "C.UTF-8"
        # Chinese search relies on these contrib pieces being present in the server package.
        await conn.execute("CREATE EXTENSION pg_trgm")
        assert await conn.fetchval("SELECT similarity('燃气泄漏', '燃气泄露')") > 0
        assert await conn.fetchval("SELECT to_tsvector('simple', '供水 停水') @@ to_tsquery('simple', '停水')")
    finally:
        await conn.close()


def test_fresh_database_from_sync_code(postgres_url: str) -> None:
    assert fresh_database(postgres_url) != fresh_database(postgres_url)
