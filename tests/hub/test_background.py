"""hub.background.BackgroundTask: one task per service, started once, stopped cleanly."""

from __future__ import annotations

import asyncio

import pytest

from hub.background import BackgroundTask


async def test_started_once_and_stopped() -> None:
    runs: list[int] = []
    stopped = asyncio.Event()

    async def run() -> None:
        runs.append(1)
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    worker = BackgroundTask("test:worker", run)
    worker.start()
    worker.start()  # already running: no second task
    await asyncio.sleep(0)
    assert worker.running and runs == [1]
    await worker.stop()
    assert stopped.is_set() and not worker.running
    await worker.stop()  # idempotent


async def test_a_task_that_failed_is_logged_at_stop(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        raise RuntimeError("boom")

    worker = BackgroundTask("test:failing", run)
    worker.start()
    await asyncio.sleep(0)
    await worker.stop()
    assert "background task test:failing had failed" in caplog.text
