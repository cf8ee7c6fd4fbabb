"""Starts (or connects to) the Rasa server and exposes it as the hub's NLU service.

While the Rasa server is starting or after it died, :meth:`SupervisedNlu.parse` raises
:class:`hub.nlu.NluUnavailable`, so the dialogue engine hands citizens to agents instead of losing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from hub.nlu import NluResult, NluService, NluUnavailable

log = logging.getLogger(__name__)


class SupervisedNlu:
    """An :class:`hub.nlu.NluService` over a Rasa server that this process may own."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str | None,
        start: bool,
        timeout: float,
        log_path: Path | None = None,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._start = start and url is None
        self._client: NluService | None = self._connect(url) if url else None
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._state = "connecting" if url else ("starting" if start else "disabled")
        self._error: str | None = None
        self._log_path = log_path

    def _connect(self, url: str) -> NluService:
        from nlu.client import RasaNLU

        return RasaNLU(url, self._session, timeout=self._timeout)

    def start(self) -> None:
        """Begin starting the owned Rasa server in the background (the hub serves meanwhile)."""
        if self._start and self._task is None:
            self._task = asyncio.create_task(self._run_server())

    async def _run_server(self) -> None:
        from nlu import runtime

        try:
            venv = await asyncio.to_thread(runtime.ensure_venv)
            model = await asyncio.to_thread(runtime.ensure_model)
            server = runtime.RasaServer(model, venv=venv, log_path=self._log_path)
            await server.start()
        except Exception as exc:
            self._state, self._error = "down", f"{type(exc).__name__}: {exc}"
            log.error("Rasa server could not start (%s); citizens go straight to agents", self._error)
            return
        self._server = server
        self._client = self._connect(server.base_url)
        self._state = "ok"
        log.info("Rasa NLU ready at %s", server.base_url)

    async def parse(self, text: str) -> NluResult:
        """Parse via Rasa, or raise :class:`NluUnavailable` while it is not there."""
        if self._client is None:
            raise NluUnavailable(f"NLU {self._state}")
        return await self._client.parse(text)

    async def status(self) -> dict[str, Any]:
        """Health for /healthz."""
        if self._client is None:
            out: dict[str, Any] = {
                "status": "degraded" if self._state == "starting" else "down",
                "state": self._state,
            }
            if self._error:
                out["error"] = self._error
            return out
        status = await self._client.status()
        if status.get("status") != "ok":
            status["status"] = "degraded"
            status["note"] = "citizens are handed to agents while NLU is unavailable"
        return status

    async def close(self) -> None:
        """Stop the owned server."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
