"""Agents' softphone credentials: digests only, bound to a realm, reset on demand (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from channels.voice.sip_accounts import SipAccountStore, ha1, sip_accounts
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.users import UserStore
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[SipAccountStore, UserStore]]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    users = UserStore(engine)
    await load_demo(engine, users)
    try:
        yield SipAccountStore(engine), users
    finally:
        await engine.dispose()


def test_ha1_matches_rfc_7616_definition() -> None:
    # RFC 7616 §3.9.1: user Mufasa, realm http-auth@example.org, password "Circle of Life"
    assert (
        ha1("MD5", "Mufasa", "http-auth@example.org", "Circle of Life")
        == hashlib.md5(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    )
    assert len(ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")) == 64


async def test_reset_stores_digests_not_the_secret(stores: tuple[SipAccountStore, UserStore]) -> None:
    accounts, users = stores
    agent = await users.authenticate("agent1", "agent123")
    assert agent is not None
    account, secret = await accounts.reset(agent.id, "12319.example")
    assert account.sip_user == "agent1" and len(secret) == 16
    found = await accounts.credentials("agent1", "12319.example", "MD5")
    assert found == (agent.id, ha1("MD5", "agent1", "12319.example", secret))
    sha = await accounts.credentials("agent1", "12319.example", "SHA-256")
    assert sha == (agent.id, ha1("SHA-256", "agent1", "12319.example", secret))
    async with accounts._engine.connect() as conn:
        stored = [tuple(r) for r in await conn.execute(sa.select(sip_accounts))]
    assert all(secret not in str(value) for row in stored for value in row)
    # another realm, another algorithm or another user finds nothing
    assert await accounts.credentials("agent1", "other.realm", "MD5") is None
    assert await accounts.credentials("agent1", "12319.example", "SHA-512-256") is None
    assert await accounts.credentials("agent2", "12319.example", "MD5") is None
    assert list(await accounts.all_credentials("12319.example")) == ["agent1"]


async def test_a_reset_replaces_the_old_secret(stores: tuple[SipAccountStore, UserStore]) -> None:
    accounts, users = stores
    agent = await users.authenticate("agent1", "agent123")
    assert agent is not None
    _, first = await accounts.reset(agent.id, "r")
    _, second = await accounts.reset(agent.id, "r")
    assert first != second
    assert await accounts.credentials("agent1", "r", "MD5") == (agent.id, ha1("MD5", "agent1", "r", second))
    account = await accounts.get(agent.id)
    assert account is not None and account.realm == "r"


async def test_unknown_users_cannot_get_an_account(stores: tuple[SipAccountStore, UserStore]) -> None:
    accounts, _ = stores
    with pytest.raises(LookupError):
        await accounts.reset(99999, "r")
    assert await accounts.get(99999) is None
