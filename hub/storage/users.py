"""Staff accounts and login sessions."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.models import Role, User
from hub.passwords import hash_password, verify_password
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import sessions, users

SESSION_TTL = timedelta(hours=12)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Accounts, password checks and server-side sessions (only a hash of the token is stored)."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(
        self, username: str, password: str, display_name: str, role: Role, unit: str | None = None
    ) -> User:
        """Create an account; the password is hashed off the event loop."""
        pw_hash = await asyncio.to_thread(hash_password, password)
        async with begin(self._engine) as conn:
            result = await conn.execute(
                users.insert()
                .values(
                    username=username,
                    password_hash=pw_hash,
                    display_name=display_name,
                    role=role.value,
                    unit=unit,
                    active=True,
                    created_at=self._clock(),
                )
                .returning(users)
            )
            return rows.user(result.one())

    async def get(self, user_id: int) -> User | None:
        """An account by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return None if row is None else rows.user(row)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The active account if the password matches, else None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.username == username))).first()
        if row is None or not row.active:
            return None
        ok = await asyncio.to_thread(verify_password, password, row.password_hash)
        return rows.user(row) if ok else None

    async def create_session(self, user_id: int) -> tuple[str, str]:
        """Open a session; returns ``(token, csrf_token)``. Only the token's hash is stored."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self._clock()
        async with begin(self._engine) as conn:
            await conn.execute(
                sessions.insert().values(
                    token_hash=_token_hash(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_TTL,
                )
            )
        return token, csrf

    async def session_user(self, token: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session, else None."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users, sessions.c.csrf_token, sessions.c.expires_at)
                    .join(sessions, sessions.c.user_id == users.c.id)
                    .where(sessions.c.token_hash == _token_hash(token))
                )
            ).first()
        if row is None or not row.active or as_utc(row.expires_at) <= self._clock():
            return None
        return rows.user(row), row.csrf_token

    async def delete_session(self, token: str) -> None:
        """Log out."""
        async with begin(self._engine) as conn:
            await conn.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))
