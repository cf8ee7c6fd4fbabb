"""Hot model switch: SupervisedNlu asks Rasa to load the current model with ``PUT /model`` (no restart)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.nlu import NluUnavailable
from nlu import runtime
from nlu.runtime import free_port
from rexian.nlu_supervisor import SupervisedNlu


class FakeRasa:
    """GET /status and PUT /model like ``rasa run --enable-api``; records the loads."""

    def __init__(self, model_file: str) -> None:
        self.model_file = model_file
        self.loads: list[str] = []
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET" and request.path == "/status":
            return web.json_response({"model_file": self.model_file, "num_active_training_jobs": 0})
        if request.method == "PUT" and request.path == "/model":
            body = await request.json()
            self.loads.append(body["model_file"])
            self.model_file = Path(body["model_file"]).name
            self.changed.set()
            return web.Response(status=204)
        return web.Response(status=404)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeRasa, str]]:
    rasa = FakeRasa("old.tar.gz")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rasa.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield rasa, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_switch_model_loads_the_current_model_once(fake: tuple[FakeRasa, str], tmp_path: Path) -> None:
    rasa, url = fake
    new = tmp_path / "new.tar.gz"
    async with aiohttp.ClientSession() as session:
        nlu = SupervisedNlu(session, url=url, start=False, timeout=2.0, model_source=lambda: new)
        assert await nlu.switch_model() == {"switched": True, "model": "new.tar.gz"}
        assert await nlu.switch_model() == {"switched": False, "model": "new.tar.gz"}
        await nlu.close()
    assert rasa.loads == [str(new)]


async def test_watcher_switches_when_a_new_model_appears(fake: tuple[FakeRasa, str], tmp_path: Path) -> None:
    rasa, url = fake
    wanted: list[Path | None] = [None]  # not trained yet
    async with aiohttp.ClientSession() as session:
        nlu = SupervisedNlu(
            session, url=url, start=False, timeout=2.0, model_source=lambda: wanted[0], poll_seconds=0.01
        )
        nlu.start()
        await asyncio.sleep(0.05)
        assert rasa.loads == []  # nothing trained: keeps the loaded model
        wanted[0] = tmp_path / "retrained.tar.gz"
        await asyncio.wait_for(rasa.changed.wait(), 30)
        await nlu.close()
    assert rasa.model_file == "retrained.tar.gz"


async def test_switch_model_without_server_or_model(fake: tuple[FakeRasa, str]) -> None:
    _, url = fake
    async with aiohttp.ClientSession() as session:
        down = SupervisedNlu(session, url=None, start=False, timeout=2.0)
        with pytest.raises(NluUnavailable, match="disabled"):
            await down.switch_model()
        untrained = SupervisedNlu(session, url=url, start=False, timeout=2.0, model_source=lambda: None)
        with pytest.raises(NluUnavailable, match="rexian nlu train"):
            await untrained.switch_model()


@pytest.mark.rasa
async def test_real_rasa_switches_model_without_restart(rasa_server: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        before = await _status(session, rasa_server)
        original = runtime.models_dir() / str(before["model_file"])
        if not original.is_file():
            pytest.skip(f"the session's model {original} is not in this machine's model directory")
        copy = tmp_path / "switched-copy.tar.gz"
        shutil.copyfile(original, copy)
        nlu = SupervisedNlu(session, url=rasa_server, start=False, timeout=10.0)
        try:
            assert await nlu.switch_model(copy) == {"switched": True, "model": copy.name}
            after = await _status(session, rasa_server)
            assert after["model_file"] == copy.name
            result = await nlu.parse("燃气泄漏 快来人")
            assert result.industry is not None and result.industry.name == "gas"
        finally:
            await nlu.switch_model(original)  # leave the session's server as it was
        assert (await _status(session, rasa_server))["model_file"] == original.name


async def _status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/status") as resp:
        data = await resp.json()
    assert isinstance(data, dict)
    return data
