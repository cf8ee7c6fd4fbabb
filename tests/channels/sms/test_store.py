"""The SMS tables on SQLite and PostgreSQL: parts, dedupe keys, receipts (also early ones), opt-outs, bulk jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.sms.store import SmsStore
from hub.storage.engine import create_engine, sqlite_url
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SmsStore]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine: AsyncEngine = create_engine(url)
    await migrate(engine)
    try:
        yield SmsStore(engine)
    finally:
        await engine.dispose()


async def test_parts_complete_once_and_resent_parts_are_duplicates(store: SmsStore) -> None:
    assert await store.add_part("138", 4, 2, 2, "b", 600) == (False, None)
    assert await store.add_part("138", 4, 2, 2, "b", 600) == (True, None)
    duplicate, parts = await store.add_part("138", 4, 2, 1, "a", 600)
    assert not duplicate and parts is not None and [(p.seq, p.text) for p in parts] == [(1, "a"), (2, "b")]
    await store.mark_parts_done("138", 4, 2)
    assert await store.add_part("138", 4, 2, 1, "a", 600) == (True, None)  # resent after assembly
    assert await store.stale_parts(0) == []
    await store.add_part("139", 1, 3, 1, "x", 600)
    stale = await store.stale_parts(-1)
    assert [(s, r, t, [p.text for p in ps]) for s, r, t, ps in stale] == [("139", 1, 3, ["x"])]


async def test_dedupe_keys_within_and_after_the_window(store: SmsStore) -> None:
    assert await store.check_key("k", 600) == (False, 1)
    await store.remember_key("k", 1)
    assert await store.check_key("k", 600) == (True, 1)
    assert await store.check_key("k", -1) == (False, 2)  # outside the window: a new message
    await store.remember_key("k", 2)
    assert await store.check_key("k", -1) == (False, 3)


async def test_receipts_update_parts_even_when_they_overtake_the_submit(store: SmsStore) -> None:
    await store.record_submit("m1", part=1, total=2, destination="138", message_id=10)
    assert not await store.apply_receipt("m2", "delivered", "DELIVRD")  # arrives before its submit is recorded
    await store.record_submit("m2", part=2, total=2, destination="138", message_id=10)
    assert (await store.delivery_status(10))["status"] == "submitted"
    assert await store.apply_receipt("m1", "delivered", "DELIVRD")
    assert (await store.delivery_status(10))["status"] == "delivered"
    assert await store.submitted_parts(10) == {1, 2}
    assert (await store.delivery_status(11))["status"] == "unsent"


async def test_bulk_job_counts_and_optouts(store: SmsStore) -> None:
    await store.set_opted_out("138", True)
    assert await store.is_opted_out("138")
    job_id = await store.create_job(1, "通知", ["138", "139"])
    pending = await store.pending_recipients()
    assert [p[2] for p in pending] == ["138", "139"]
    await store.set_recipient(pending[0][0], "skipped", "opted out")
    await store.record_submit("b1", part=1, total=1, destination="139", recipient_id=pending[1][0])
    await store.apply_receipt("b1", "failed", "UNDELIV")
    await store.finish_idle_jobs()
    job = await store.job(job_id)
    assert job is not None and job.status == "done" and job.total == 2
    assert (job.counts["skipped"], job.counts["failed"], job.counts["pending"]) == (1, 1, 0)
    await store.set_opted_out("138", False)
    assert not await store.is_opted_out("138")
