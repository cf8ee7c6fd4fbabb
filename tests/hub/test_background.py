"""hub.background.BackgroundTask: one task per service, started once, stopped cleanly."""

from __future__ import annotations

import asyncio

import pytest

from hub.background import BackgroundTask, wait_event


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


async def test_wait_event_returns_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0.01) is True
    assert await wait_event(event, None) is True


async def test_a_stop_that_coincides_with_a_wake_up_still_stops_the_loop() -> None:
    """A background loop cancelled in the same loop iteration as its wake-up stops (Python 3.11's wait_for kept it
    running: it returned the wake-up and swallowed the cancellation, and the hub's shutdown waited for ever)."""
    event, waiting = asyncio.Event(), asyncio.Event()

    async def loop_forever() -> None:
        while True:
            event.clear()
            waiting.set()
            await wait_event(event, 30)

    task = asyncio.create_task(loop_forever())
    await waiting.wait()
    await asyncio.sleep(0)  # the loop is inside wait_event now
    event.set()
    task.cancel()  # the wake-up and the stop in one iteration
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()


async def test_stop_ends_a_task_that_swallowed_its_cancellation() -> None:
    """Whatever swallows a cancellation on its way (a library, Python 3.11's wait_for), the stop still ends."""
    swallowed = asyncio.Event()

    async def run() -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()  # the first cancellation is lost

    task = BackgroundTask("stubborn", run)
    task.start()
    await asyncio.sleep(0)
    await task.stop()
    assert swallowed.is_set()
