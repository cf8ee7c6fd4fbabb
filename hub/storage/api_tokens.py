"""Personal access tokens of the staff API (``Authorization: Bearer rxn_...``).

A token is ``rxn_`` followed by 43 URL-safe characters (``secrets.token_urlsafe(32)``): the prefix makes a leaked
token recognisable to secret scanners and in support tickets. Only the token's SHA-256 (hex) is stored; the token
itself is shown once, when it is created. A token works while it is not revoked and its user is active.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.models import User
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import api_tokens, users

TOKEN_PREFIX = "rxn_"  # noqa: S105 (a prefix, not a secret)
MAX_NAME = 100
MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours (and is not hashed)
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is written at most this often per token


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def masked(token: str) -> str:
    """A token as it may appear in logs: its prefix and first characters only."""
    return token[: len(TOKEN_PREFIX) + 4] + "…" if token.startswith(TOKEN_PREFIX) else "(not an rxn_ token)"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def _token(row: sa.Row[tuple[object, ...]]) -> ApiToken:
    m = row._mapping
    return ApiToken(
        id=m["id"],
        user_id=m["user_id"],
        name=m["name"],
        created_at=as_utc(m["created_at"]),
        last_used_at=None if m["last_used_at"] is None else as_utc(m["last_used_at"]),
        revoked_at=None if m["revoked_at"] is None else as_utc(m["revoked_at"]),
    )


class ApiTokenStore:
    """Creates, lists, revokes and checks personal access tokens."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, user_id: int, name: str = "") -> tuple[ApiToken, str]:
        """A new token for ``user_id``; returns its record and the token (shown once, never stored).

        Raises:
            ValueError: the name is longer than 100 characters.
        """
        name = name.strip() or "api"
        if len(name) > MAX_NAME:
            raise ValueError(f"a token name has at most {MAX_NAME} characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with begin(self._engine) as conn:
            result = await conn.execute(
                api_tokens.insert()
                .values(user_id=user_id, name=name, token_hash=token_hash(secret), created_at=self._clock())
                .returning(api_tokens)
            )
            return _token(result.one()), secret

    async def list_for_user(self, user_id: int) -> list[ApiToken]:
        """A user's tokens, revoked ones included, oldest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
            )
            return [_token(r) for r in result]

    async def get(self, token_id: int) -> ApiToken | None:
        """A token's record by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))).first()
        return None if row is None else _token(row)

    async def revoke(self, token_id: int) -> ApiToken | None:
        """Revoke a token (at once: the next request with it is refused); None if there is no such token.

        Revoking a revoked token keeps its first revocation time.
        """
        async with begin(self._engine) as conn:
            await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))).first()
        return None if row is None else _token(row)

    async def authenticate(self, token: str) -> User | None:
        """The active user of a live token, else None; notes when the token was last used."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
                    .join(api_tokens, api_tokens.c.user_id == users.c.id)
                    .where(api_tokens.c.token_hash == token_hash(token), api_tokens.c.revoked_at.is_(None))
                )
            ).first()
        if row is None or not row.active:
            return None
        now = self._clock()
        if row.last_used_at is None or now - as_utc(row.last_used_at) >= LAST_USED_STEP:
            async with begin(self._engine) as conn:
                await conn.execute(api_tokens.update().where(api_tokens.c.id == row.token_id).values(last_used_at=now))
        return rows.user(row)
