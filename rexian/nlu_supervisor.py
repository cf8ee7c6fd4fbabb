"""Starts (or connects to) the Rasa server and exposes it as the hub's NLU service.

While the Rasa server is starting or after it died, :meth:`SupervisedNlu.parse` raises
:class:`hub.nlu.NluUnavailable`, so the dialogue engine hands citizens to agents instead of losing them.

A model answers its first parse slowly (Rasa/TensorFlow builds its graph then: ~3.5 s, more than the 2 s parse
timeout), so a model is *warmed up* with a few parses (:data:`WARMUP_TEXTS`, :data:`WARMUP_TIMEOUT`) before the
hub calls it ready: an owned server after it loaded its model, and any server after a hot model switch. Meanwhile
``parse`` raises ``NluUnavailable`` and ``status`` reports ``starting``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from hub.nlu import NluResult, NluService, NluUnavailable

log = logging.getLogger(__name__)

WARMUP_TEXTS = ("燃气开户需要带什么材料", "我家楼下的路灯坏了三天了，在幸福路12号", "你好")
"""Parsed once each before a model is called ready (a request, an address, a greeting)."""

WARMUP_TIMEOUT = 60.0
"""Seconds allowed for each warm-up parse (the first one of a cold model is slow)."""


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
        model_source: Callable[[], Path | None] | None = None,
        poll_seconds: float | None = None,
        warmup_timeout: float = WARMUP_TIMEOUT,
    ) -> None:
        """Create the supervisor.

        Args:
            session: Shared aiohttp session.
            url: A running Rasa server to use; None to start one (``start``) or to run without NLU.
            start: Start and own a Rasa server when ``url`` is None.
            timeout: Seconds per parse.
            log_path: Log file of the owned server.
            model_source: Returns the model to serve (default :func:`nlu.runtime.current_model`, the model of
                the current training data, or None before it is trained).
            poll_seconds: How often to compare that model with the loaded one and switch (hot model switch).
                Default ``REXIAN_NLU_MODEL_POLL`` or 30 s for an owned server; 0 disables. A server given by
                ``url`` is only switched by :meth:`switch_model`, unless ``poll_seconds`` is set.
            warmup_timeout: Seconds per warm-up parse.
        """
        self._session = session
        self._url = url
        self._model_source = model_source
        env_poll = os.environ.get("REXIAN_NLU_MODEL_POLL")
        default_poll = float(env_poll) if env_poll else (30.0 if start and url is None else 0.0)
        self._poll_seconds = default_poll if poll_seconds is None else poll_seconds
        self._watch_task: asyncio.Task[None] | None = None
        self._project = Path(os.environ["REXIAN_NLU_PROJECT"]) if os.environ.get("REXIAN_NLU_PROJECT") else None
        self._retrain_task: asyncio.Task[None] | None = None
        self._retrain: dict[str, Any] = {"state": "idle"}
        self._timeout = timeout
        self._warmup_timeout = warmup_timeout
        self._start = start and url is None
        # An owned server gets its client only once warm; a given server's client serves from the start.
        self._client: NluService | None = self._connect(url) if url else None
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._warming: str | None = None  # the model being warmed after a hot switch (parses wait)
        self._state = "starting" if url or start else "disabled"
        self._error: str | None = None
        self._log_path = log_path

    def _connect(self, url: str) -> NluService:
        from nlu.client import RasaNLU

        return RasaNLU(url, self._session, timeout=self._timeout)

    def start(self) -> None:
        """Begin starting the owned Rasa server in the background (the hub serves meanwhile).

        A server given by ``url`` is warmed up in the background instead; it is not owned, so it may be warm
        already and parses go to it meanwhile (its status reads ``starting`` until the warm-up answered).
        """
        if self._start and self._task is None:
            self._task = asyncio.create_task(self._run_server())
        if self._url is not None and self._state == "starting" and self._warm_task is None:
            self._warm_task = asyncio.create_task(self._warm_given_server(self._url))
        if self._poll_seconds > 0 and self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch_models())

    @property
    def rasa_url(self) -> str | None:
        """The Rasa server in use (None while an owned server is starting)."""
        return self._url

    def _wanted_model(self) -> Path | None:
        if self._model_source is not None:
            return self._model_source()
        from nlu import runtime

        return runtime.current_model(self._project or runtime.PROJECT_DIR)

    def retrain_status(self) -> dict[str, Any]:
        """``{"state": "idle"|"training"|"switched"|"failed", "examples", "model", "error"}`` of the last retrain."""
        return dict(self._retrain)

    def start_retrain(self, examples: list[tuple[str, str, str | None]]) -> bool:
        """Write ``(text, type, industry)`` examples into the training data, train and switch, in the background.

        The Rasa project is ``REXIAN_NLU_PROJECT`` or ``nlu/rasa_project``; training is cached by hash (the
        previous model is kept) and the new model is loaded with ``PUT /model`` (no restart).

        Returns:
            False when a retrain is already running.
        """
        if self._retrain_task is not None and not self._retrain_task.done():
            return False
        self._retrain = {"state": "training", "examples": len(examples)}
        self._retrain_task = asyncio.create_task(self._do_retrain(examples))
        return True

    async def _do_retrain(self, examples: list[tuple[str, str, str | None]]) -> None:
        from nlu import feedback, runtime

        project = self._project or runtime.PROJECT_DIR
        try:
            await asyncio.to_thread(feedback.write, project, examples)
            model = await asyncio.to_thread(runtime.ensure_model, project)
            result = await self.switch_model(model)
        except Exception as exc:  # reported on the admin page; the old model keeps serving
            log.error("NLU retrain failed: %s: %s", type(exc).__name__, exc)
            self._retrain = {"state": "failed", "examples": len(examples), "error": f"{type(exc).__name__}: {exc}"}
            return
        self._retrain = {"state": "switched", "examples": len(examples), "model": result["model"]}
        log.info("NLU retrained with %d feedback examples: %s", len(examples), result["model"])

    async def wait_retrain(self) -> dict[str, Any]:
        """Wait for the running retrain (if any) and return its status."""
        if self._retrain_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrain_task
        return self.retrain_status()

    async def switch_model(self, model: Path | None = None) -> dict[str, Any]:
        """Load ``model`` (default: the model of the current training data) into the Rasa server, no restart.

        A newly loaded model is warmed up (:data:`WARMUP_TEXTS`) before this returns; meanwhile :meth:`parse`
        raises :class:`NluUnavailable` and :meth:`status` reports ``starting``.

        Returns:
            ``{"switched": bool, "model": name}``; ``switched`` is False when it was already loaded.

        Raises:
            NluUnavailable: No Rasa server (yet), no trained model, or Rasa failed to load it.
        """
        from nlu import runtime

        if self._url is None:
            raise NluUnavailable(f"NLU {self._state}")
        wanted = model or await asyncio.to_thread(self._wanted_model)
        if wanted is None:
            raise NluUnavailable("no trained model for the current training data: run `rexian nlu train`")
        status = await self._rasa_status()
        if Path(str(status.get("model_file", ""))).name == wanted.name:
            return {"switched": False, "model": wanted.name}
        try:  # Rasa keeps serving the old model while it loads the new one
            await runtime.load_model(self._session, self._url, wanted)
        except runtime.RasaSetupError as exc:
            raise NluUnavailable(str(exc)) from exc
        self._warming = wanted.name  # now it serves the new, cold model: parses wait until it is warm
        try:
            await self._warm_up(self._url)
        except NluUnavailable as exc:  # loaded all the same: its first parses may be slow
            log.warning("NLU model %s loaded but its warm-up parse failed: %s", wanted.name, exc)
        finally:
            self._warming = None
        return {"switched": True, "model": wanted.name}

    async def _warm_up(self, url: str) -> None:
        """Parse :data:`WARMUP_TEXTS` with the generous :data:`WARMUP_TIMEOUT`; raise NluUnavailable if one fails."""
        from nlu.client import RasaNLU

        client = RasaNLU(url, self._session, timeout=self._warmup_timeout)
        started = time.monotonic()
        for text in WARMUP_TEXTS:
            await client.parse(text)
        log.info("NLU warmed up at %s in %.1f s", url, time.monotonic() - started)

    async def _warm_until_answered(self, url: str, alive: Callable[[], bool]) -> bool:
        """Warm up until the warm-up parses answer, retrying while ``alive()``; False when it no longer is."""
        delay = 1.0
        while alive():
            try:
                await self._warm_up(url)
            except NluUnavailable as exc:
                self._error = f"warm-up parse failed: {exc}"
                log.warning("NLU warm-up at %s failed (%s); retrying in %.0f s", url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._error = None
            return True
        return False

    async def _warm_given_server(self, url: str) -> None:
        if await self._warm_until_answered(url, alive=lambda: True):
            self._state = "ok"

    async def _rasa_status(self) -> dict[str, Any]:
        assert self._url is not None
        try:
            async with self._session.get(
                f"{self._url.rstrip('/')}/status", timeout=aiohttp.ClientTimeout(total=self._timeout)
            ) as resp:
                data = await resp.json(content_type=None) if resp.status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise NluUnavailable(f"GET {self._url}/status: {exc}") from exc
        return data if isinstance(data, dict) else {}

    async def _watch_models(self) -> None:
        """Every ``poll_seconds``: switch to the model of the current training data once it exists."""
        while True:
            await asyncio.sleep(self._poll_seconds)
            if self._url is None:
                continue
            try:
                result = await self.switch_model()
            except NluUnavailable as exc:
                log.debug("model watch: %s", exc)
                continue
            if result["switched"]:
                log.info("NLU switched to the new model %s", result["model"])

    async def _run_server(self) -> None:
        from nlu import runtime

        try:
            venv = await asyncio.to_thread(runtime.ensure_venv)
            model = await asyncio.to_thread(runtime.ensure_model)
            server = runtime.RasaServer(model, venv=venv, log_path=self._log_path)
            self._server = server  # before it is launched: close() stops it whenever start-up is cut short
            await server.start()
        except Exception as exc:
            self._state, self._error = "down", f"{type(exc).__name__}: {exc}"
            log.error("Rasa server could not start (%s); citizens go straight to agents", self._error)
            return
        log.info("Rasa server up at %s; warming up its model before the hub uses it", server.base_url)
        if not await self._warm_until_answered(server.base_url, alive=lambda: server.running):
            self._state, self._error = "down", f"Rasa server exited while warming up; log {server.log_path}"
            log.error("%s; citizens go straight to agents", self._error)
            return
        self._url = server.base_url
        self._client = self._connect(server.base_url)
        self._state = "ok"
        log.info("Rasa NLU ready at %s", server.base_url)

    async def parse(self, text: str) -> NluResult:
        """Parse via Rasa, or raise :class:`NluUnavailable` while it is not there (or not warm yet)."""
        if self._client is None:
            raise NluUnavailable(f"NLU {self._state}")
        if self._warming is not None:
            raise NluUnavailable(f"NLU warming up the new model {self._warming}")
        return await self._client.parse(text)

    async def status(self) -> dict[str, Any]:
        """Health for /healthz: ``starting`` until the model answered its warm-up parse, then Rasa's own status."""
        if self._client is None:
            out: dict[str, Any] = {"status": "starting" if self._state == "starting" else "down", "state": self._state}
            if self._error:
                out["error"] = self._error
            if self._state == "starting":
                out["note"] = "citizens are handed to agents until the NLU model answered its warm-up parse"
            return out
        status = await self._client.status()
        if status.get("status") != "ok":
            status["status"] = "degraded"
            status["note"] = "citizens are handed to agents while NLU is unavailable"
        elif self._warming is not None or self._state == "starting":
            status["status"] = "starting"
            status["note"] = "the NLU model has not answered its warm-up parse yet"
            if self._error:
                status["error"] = self._error
        return status

    async def close(self) -> None:
        """Stop the model watcher, a running retrain and the owned server."""
        if self._retrain_task is not None and not self._retrain_task.done():
            self._retrain_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrain_task
        for task in (self._watch_task, self._warm_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        server, self._server = self._server, None
        if server is not None:  # also when it is still starting or warming up
            await asyncio.to_thread(server.stop)
