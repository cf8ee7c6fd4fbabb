"""The queue event log is append-only: no code updates or deletes its rows, and what is appended is read back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD
from tests.fixtures.hub import RunningHub

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p for d in ("hub", "routing", "channels", "rexian", "knowledge_base", "nlu") for p in (ROOT / d).rglob("*.py")
]


def test_no_source_updates_or_deletes_queue_log_rows() -> None:
    pattern = re.compile(r"queue_log\s*\.\s*(update|delete)\b|(UPDATE|DELETE\s+FROM)\s+queue_log", re.IGNORECASE)
    offenders = [str(p.relative_to(ROOT)) for p in SOURCES if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


async def test_entries_are_written_and_read_back_in_order(live_hub: RunningHub) -> None:
    log = live_hub.hub.app[SWITCHBOARD].log
    now = datetime.now(UTC)
    log.append(LogEntry(now, QueueEvent.ENTER, "general", "c-1", None, "sms"))
    log.append(LogEntry(now, QueueEvent.ABANDON, "general", "c-1", None, "sms", wait_s=12.5))
    entries = await log.entries(now - timedelta(seconds=1), item_id="c-1")
    assert [(e.event, e.wait_s) for e in entries] == [(QueueEvent.ENTER, None), (QueueEvent.ABANDON, 12.5)]
    assert await log.entries(now - timedelta(seconds=1), item_id="c-1", events=frozenset({QueueEvent.ABANDON}))
    assert await log.entries(now + timedelta(seconds=1), item_id="c-1") == []
