"""Personal access tokens: only the hash is stored, bearer authentication without cookie or CSRF, 401 for bad
tokens, the session cookie with CSRF on the same API, and the ``rexian user token`` command."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from hub.storage.schema import api_tokens, users
from hub.web.api_v1.routes import API_TOKENS
from tests.fixtures.hub import RunningHub, running_hub
from tests.hub.api_v1_support import call, token_for, two_units, user_id

ROOT = Path(__file__).resolve().parents[2]


async def test_only_the_hash_is_stored(live_hub: RunningHub) -> None:
    store = live_hub.hub.app[API_TOKENS]
    record, secret = await store.create(await user_id(live_hub, "agent1"), "  report script ")
    assert secret.startswith("rxn_") and len(secret) == 4 + 43
    assert record.name == "report script" and record.active and record.last_used_at is None
    async with live_hub.hub.engine.connect() as conn:
        row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == record.id))).one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in [str(v) for v in row._mapping.values()]
    assert (await store.list_for_user(record.user_id))[-1].id == record.id
    other, second = await store.create(record.user_id)
    assert other.name == "api" and second != secret


async def test_bearer_token_needs_no_cookie_and_no_csrf(live_hub: RunningHub) -> None:
    mine, _other = await two_units(live_hub)
    token = await token_for(live_hub, "agent1")
    me = await call(live_hub, "GET", "/api/v1/me", token)
    assert me.status == 200, me.body
    assert me.body["username"] == "agent1" and me.body["role"] == "agent" and me.body["role_name"] == "座席"
    assert me.body["visible_units"] is None
    assert not live_hub.session.cookie_jar.filter_cookies(live_hub.url)  # nothing ambient
    noted = await call(
        live_hub, "POST", f"/api/v1/work-orders/{mine.number}/actions/note", token, json={"note": "已电话联系市民"}
    )
    assert noted.status == 200, noted.body
    assert noted.body["history"][-1]["note"] == "已电话联系市民"
    assert noted.body["history"][-1]["actor_name"] == "座席 张敏"
    used = await live_hub.hub.app[API_TOKENS].list_for_user(await user_id(live_hub, "agent1"))
    assert used[-1].last_used_at is not None


async def test_bad_tokens_are_401_json_and_never_a_redirect(live_hub: RunningHub) -> None:
    store = live_hub.hub.app[API_TOKENS]
    revoked_record, revoked = await store.create(await user_id(live_hub, "agent2"))
    assert (await call(live_hub, "GET", "/api/v1/me", revoked)).status == 200
    assert (await store.revoke(revoked_record.id)) is not None
    inactive = await token_for(live_hub, "supervisor")
    async with live_hub.hub.engine.begin() as conn:
        await conn.execute(users.update().where(users.c.username == "supervisor").values(active=False))
    for token in (revoked, inactive, "rxn_" + "x" * 43, "not-a-token", "rxn_" + "y" * 500):
        reply = await call(live_hub, "GET", "/api/v1/work-orders", token)
        assert reply.status == 401, (token, reply.body)
        assert reply.body["error"] == "invalid_token"
        assert reply.body["message"] == "访问令牌无效、已吊销或其用户已停用。"
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    english = await call(live_hub, "GET", "/api/v1/me", revoked, headers={"Accept-Language": "en"})
    assert english.body["message"] == "The access token is invalid, revoked, or its user is inactive."
    anonymous = await call(live_hub, "GET", "/api/v1/work-orders")
    assert anonymous.status == 401 and anonymous.body["error"] == "login_required"
    assert "Location" not in anonymous.headers and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    # A bearer header on a page is not a login (tokens are for the API only).
    page = await call(live_hub, "GET", "/orders", await token_for(live_hub, "agent1"))
    assert page.status == 302 and page.headers["Location"].startswith("/login")


async def test_the_session_cookie_works_with_csrf(live_hub: RunningHub) -> None:
    mine, _other = await two_units(live_hub)
    session, csrf = await live_hub.login("agent1", "agent123")
    path = f"{live_hub.url}/api/v1/work-orders/{mine.number}/actions/note"
    async with session:
        async with session.get(live_hub.url + "/api/v1/me") as r:
            assert r.status == 200 and (await r.json())["username"] == "agent1"
        async with session.post(path, json={"note": "无令牌"}) as r:
            assert r.status == 403 and (await r.json())["error"] == "csrf"
        async with session.post(path, json={"note": "有令牌"}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200 and (await r.json())["history"][-1]["note"] == "有令牌"


def _rexian(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rexian.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


async def test_cli_prints_a_working_token_as_its_last_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = ("--data-dir", str(data))
    made = await asyncio.to_thread(
        _rexian, "user", "create", "ops", "--role", "supervisor", *store, stdin="pw-12345678\n"
    )
    assert made.returncode == 0, made.stderr
    created = await asyncio.to_thread(_rexian, "user", "token", "create", "ops", "--name", "nightly export", *store)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("rxn_") and " " not in token
    listed = await asyncio.to_thread(_rexian, "user", "token", "list", "ops", *store)
    assert listed.returncode == 0 and "nightly export" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout + listed.stderr + created.stderr
    token_id = listed.stdout.split("\t", 1)[0]
    missing = await asyncio.to_thread(_rexian, "user", "token", "create", "nobody", *store)
    assert missing.returncode != 0 and "no user 'nobody'" in missing.stderr
    async with running_hub(data, demo=False) as hub:
        me = await call(hub, "GET", "/api/v1/me", token)
        assert me.status == 200 and me.body["username"] == "ops" and me.body["role"] == "supervisor"
        revoked = await asyncio.to_thread(_rexian, "user", "token", "revoke", token_id, *store)
        assert revoked.returncode == 0, revoked.stderr
        assert (await call(hub, "GET", "/api/v1/me", token)).status == 401
    listed = await asyncio.to_thread(_rexian, "user", "token", "list", "ops", *store)
    assert "revoked" in listed.stdout
