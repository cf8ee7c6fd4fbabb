"""An aiosqlite connection that runs each SQLite call in the event-loop thread.

aiosqlite hands every call (execute, fetch, commit, cursor close ...) to a worker thread and back; for the
embedded store that hand-off, not SQLite, dominated a bot turn (py-spy: queue wake-ups and GIL switches; about ten
statements per turn at ~1 ms each on 2 cores). SQLite on a local WAL file answers in tens of microseconds, so the
hub runs the calls inline instead: the loop is blocked only for that long. Writers are already queued on an
asyncio lock (``hub.storage.engine.begin``), so a busy wait can only come from another process writing at the
same moment (a CLI command), bounded by the busy timeout. ADR 0011 has the measurements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's API without its worker thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return partial(fn, *args, **kwargs)()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the SQLite connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_creator(path: str, timeout: float) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy's aiosqlite dialect that opens inline connections to ``path``."""

    async def create() -> InlineConnection:
        return await InlineConnection(partial(sqlite3.connect, path, timeout=timeout, check_same_thread=False))

    return create
