"""``rexian user token create|list|revoke``: personal access tokens of the staff API.

``create`` prints the new token as the last line of its output (shown once: only its hash is stored).
The composition root passes the function that opens the migrated store (hub/ never imports rexian/).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.api_tokens import ApiToken, ApiTokenStore
from hub.storage.schema import users

OpenStore = Callable[[Path | None, str | None], Awaitable[AsyncEngine]]
StoreArgs = Callable[[argparse.ArgumentParser], None]


def add_parser(user_sub: Any, store_args: StoreArgs) -> None:
    """Add ``token`` (create, list, revoke) under ``rexian user``."""
    token = user_sub.add_parser("token", help="personal access tokens of the staff API (/api/v1)")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create", help="create a token for an active user; prints it as the last line (shown once)"
    )
    store_args(create)
    create.add_argument("username")
    create.add_argument("--name", default="", help="what the token is for (e.g. the script's name)")
    listing = token_sub.add_parser("list", help="a user's tokens (never the tokens themselves)")
    store_args(listing)
    listing.add_argument("username")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id (at once)")
    store_args(revoke)
    revoke.add_argument("id", type=int, help="the token's id (from `list`)")


async def _user(engine: AsyncEngine, username: str) -> tuple[int, str, bool]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(users.c.id, users.c.role, users.c.active).where(users.c.username == username))
        ).first()
    if row is None:
        raise SystemExit(f"rexian: no user {username!r}")
    return int(row.id), str(row.role), bool(row.active)


def _line(token: ApiToken) -> str:
    state = "active" if token.active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M UTC}"
    used = f"{token.last_used_at:%Y-%m-%d %H:%M UTC}" if token.last_used_at else "never"
    return f"{token.id}\t{token.name}\tcreated {token.created_at:%Y-%m-%d %H:%M UTC}\tlast used {used}\t{state}"


async def _run(args: argparse.Namespace, open_store: OpenStore) -> None:
    engine = await open_store(args.data_dir, args.database_url)
    try:
        tokens = ApiTokenStore(engine)
        action = args.token_command
        if action == "create":
            user_id, role, active = await _user(engine, args.username)
            if not active:
                raise SystemExit(f"rexian: user {args.username!r} is not active")
            try:
                token, secret = await tokens.create(user_id, args.name)
            except ValueError as exc:
                raise SystemExit(f"rexian: {exc}") from None
            print(f"created API token {token.id} ({token.name}) for {args.username} ({role}); only its hash is")
            print("stored, so keep it now; send it as 'Authorization: Bearer TOKEN':")
            print(secret)
        elif action == "list":
            user_id, _role, _active = await _user(engine, args.username)
            found = await tokens.list_for_user(user_id)
            if not found:
                print(f"no API tokens for {args.username}")
            for token in found:
                print(_line(token))
        else:
            revoked = await tokens.revoke(args.id)
            if revoked is None:
                raise SystemExit(f"rexian: no API token {args.id}")
            print(f"API token {revoked.id} ({revoked.name}) revoked")
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, open_store: OpenStore) -> int:
    """Carry out ``rexian user token ...``."""
    asyncio.run(_run(args, open_store))
    return 0
