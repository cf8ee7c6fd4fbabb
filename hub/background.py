"""A long-running service's background task: started once, cancelled and awaited on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTask:
    """Runs ``run()`` as one named asyncio task between :meth:`start` and :meth:`stop`.

    Args:
        name: the task's name (shows in asyncio debug output and task dumps).
        run: makes the coroutine to run (called on each start).
    """

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task was started and has not been stopped (it may have ended on its own)."""
        return self._task is not None

    def start(self) -> None:
        """Start the task unless it is already running."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait until it has finished (an error it had ended with is logged, not raised)."""
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait(task, self.name)


async def cancel_and_wait(task: asyncio.Task[Any], name: str) -> None:
    """Cancel ``task`` and wait until it has finished; an error it had ended with is logged, not raised.

    The task is cancelled again every second while it runs on: a cancellation can be swallowed on its way (Python
    3.11's ``asyncio.wait_for`` does when the awaited result arrives at the same moment), and a shutdown must end.
    """
    task.cancel()
    while not (await asyncio.wait({task}, timeout=1.0))[0]:
        log.warning("background task %s still runs after its cancellation; cancelling it again", name)
        task.cancel()
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background task %s had failed", name, exc_info=error)


class TaskSet:
    """One owner's fire-and-forget tasks: referenced until done, failures logged, cancelled together on close.

    Args:
        label: what the tasks are for, in the log line of a task that failed (e.g. "voice", "switchboard").
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of this set."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task failed", self.label, exc_info=task.exception())

    def cancel(self) -> None:
        """Cancel every running task (without waiting for them)."""
        for task in list(self._tasks):
            task.cancel()

    async def close(self, grace_s: float = 0.0) -> None:
        """Let running tasks finish for up to ``grace_s`` seconds, then cancel the rest and wait for them."""
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def wait_event(event: asyncio.Event, within_s: float | None) -> bool:
    """Wait until ``event`` is set or ``within_s`` seconds pass (None: no limit); True if it was set.

    Background loops wait for their wake-up with this, not ``asyncio.wait_for``: on Python 3.11, ``wait_for`` can
    swallow a cancellation that arrives while its timeout fires (CPython gh-86296), and the loop then runs on after
    ``stop()`` cancelled it — a shutdown that never ends (seen in CI: the e-mail outbox). ``asyncio.timeout`` tells
    its own expiry from an outside cancellation.
    """
    try:
        async with asyncio.timeout(within_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
