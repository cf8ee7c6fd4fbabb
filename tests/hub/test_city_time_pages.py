"""Server-rendered pages, staff APIs, date filters, forms and exports of a running hub show and read the configured
city's local time (docs/adr/0024-time-zones.md): the default Asia/Shanghai, and other zones given by --timezone."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

import channels.voice.web as voice_web
from hub.web.context import CTX
from knowledge_base.store import KnowledgeStore
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.hub.city_time_helpers import queued_conversation_at, signed_order_at

AFTER_MIDNIGHT = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # Tue 12-08 00:30 in Shanghai, Mon 12-07 17:30 in Berlin
LATE = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # 12-08 01:30 in Shanghai, 12-07 18:30 in Berlin


@pytest.fixture
async def berlin_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "berlin", nlu=scripted_nlu, timezone="Europe/Berlin") as hub:
        yield hub


@pytest.fixture
async def new_york_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "new-york", nlu=scripted_nlu, timezone="America/New_York") as hub:
        yield hub


async def text_of(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        assert resp.status == 200, url
        return await resp.text()


def order_row(page: str, number: str) -> str:
    match = re.search(rf'<tr data-number="{number}">(.*?)</tr>', page, re.S)
    assert match, number
    return match.group(1)


def field(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)', page)
    assert match, element_id
    return match.group(1).strip()


# -- the configured zone reaches everything ----------------------------------------------------------------------


async def test_the_hub_is_wired_with_the_configured_zone(live_hub: RunningHub, berlin_hub: RunningHub) -> None:
    for hub, name in ((live_hub, "Asia/Shanghai"), (berlin_hub, "Europe/Berlin")):
        ctx = hub.hub.app[CTX]
        assert hub.hub.settings.timezone == name and ctx.city.name == name
        assert ctx.orders is not None and ctx.orders.tz == ZoneInfo(name)
        agent, _csrf = await hub.login("agent1", "agent123")
        async with agent:
            page = await text_of(agent, hub.url + "/agent")
        assert f'data-timezone="{name}"' in page  # what agent.js hands Intl.DateTimeFormat


# -- work-order pages --------------------------------------------------------------------------------------------


async def test_order_pages_show_a_deadline_counted_and_shown_in_local_days(live_hub: RunningHub) -> None:
    order = await signed_order_at(live_hub, AFTER_MIDNIGHT)
    assert order.number.startswith("20261208")  # the local day, not UTC's 12-07
    # signed Tue 12-08 00:30 local: 2 working days -> Thu 12-10, ending 23:59:59 local (15:59:59 UTC)
    assert order.due_at == datetime(2026, 12, 10, 15, 59, 59, tzinfo=UTC)
    agent, _csrf = await live_hub.login("agent1", "agent123")
    dept, _csrf = await live_hub.login("dept", "dept123")
    async with agent, dept:
        detail = await text_of(agent, f"{live_hub.url}/orders/{order.number}")
        centre = await text_of(agent, f"{live_hub.url}/orders?tab=all")
        department = await text_of(dept, f"{live_hub.url}/dept?tab=in_progress")
        dept_detail = await text_of(dept, f"{live_hub.url}/orders/{order.number}")
    for page in (detail, dept_detail):
        assert field(page, "order-due").startswith("2026-12-10 23:59")
        history = re.findall(r'<span class="when">([^<]*)</span>', page)
        assert history and set(history) == {"2026-12-08 00:30"}  # receive, dispatch, sign
        assert "<dd>2026-12-08 00:30</dd>" in page  # created
        assert "2026-12-07 16:30" not in page and "15:59" not in page  # never the UTC wall clock
    for page in (centre, department):
        row = order_row(page, order.number)
        assert "<td>2026-12-08 00:30</td>" in row and "<td>2026-12-10 23:59</td>" in row


async def test_a_city_west_of_utc_shows_its_own_date_for_the_deadline(new_york_hub: RunningHub) -> None:
    evening = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # Mon 12-07 22:00 EST
    order = await signed_order_at(new_york_hub, evening)
    assert order.number.startswith("20261207")
    # Mon 12-07 + 2 working days = Wed 12-09 23:59:59 EST, which is already 12-10 04:59:59 in UTC
    assert order.due_at == datetime(2026, 12, 10, 4, 59, 59, tzinfo=UTC)
    agent, _csrf = await new_york_hub.login("agent1", "agent123")
    async with agent:
        detail = await text_of(agent, f"{new_york_hub.url}/orders/{order.number}")
        centre = await text_of(agent, f"{new_york_hub.url}/orders?tab=all")
    assert field(detail, "order-due").startswith("2026-12-09 23:59")
    assert "<dd>2026-12-07 22:00</dd>" in detail
    row = order_row(centre, order.number)
    assert "<td>2026-12-07 22:00</td>" in row and "<td>2026-12-09 23:59</td>" in row
    assert "2026-12-10" not in field(detail, "order-due") and "2026-12-08 03:00" not in detail


async def test_berlin_order_pages_show_berlin_time(berlin_hub: RunningHub) -> None:
    order = await signed_order_at(berlin_hub, AFTER_MIDNIGHT)  # Mon 12-07 17:30 CET
    assert order.number.startswith("20261207")
    agent, _csrf = await berlin_hub.login("agent1", "agent123")
    async with agent:
        detail = await text_of(agent, f"{berlin_hub.url}/orders/{order.number}")
    assert "<dd>2026-12-07 17:30</dd>" in detail
    assert field(detail, "order-due").startswith("2026-12-09 23:59")  # Mon + 2 working days, Berlin's evening


# -- staff JSON APIs ---------------------------------------------------------------------------------------------


async def inbox_times(hub: RunningHub, conversation_id: str) -> list[str]:
    agent, _csrf = await hub.login("agent1", "agent123")
    async with agent:
        async with agent.get(hub.url + "/api/inbox") as resp:
            queue = (await resp.json())["queue"]
        async with agent.get(f"{hub.url}/api/conversations/{conversation_id}") as resp:
            detail = await resp.json()
    [summary] = [c for c in queue if c["id"] == conversation_id]
    [message] = detail["messages"]
    return [summary["queued_at"], summary["updated_at"], detail["conversation"]["queued_at"], message["created_at"]]


async def test_staff_apis_give_times_with_the_city_offset(live_hub: RunningHub, berlin_hub: RunningHub) -> None:
    shanghai = await inbox_times(live_hub, await queued_conversation_at(live_hub, LATE, "路灯坏了"))
    assert shanghai == ["2026-12-08T01:30:00+08:00"] * 4
    berlin = await inbox_times(berlin_hub, await queued_conversation_at(berlin_hub, LATE, "路灯坏了"))
    assert berlin == ["2026-12-07T18:30:00+01:00"] * 4
    for value in shanghai + berlin:  # the same instant either way
        assert datetime.fromisoformat(value) == LATE


async def test_orders_in_the_inbox_detail_carry_the_city_offset(live_hub: RunningHub) -> None:
    conversation_id = await queued_conversation_at(live_hub, LATE, "路灯坏了")
    await signed_order_at(live_hub, AFTER_MIDNIGHT, conversation_id)
    agent, _csrf = await live_hub.login("agent1", "agent123")
    async with agent, agent.get(f"{live_hub.url}/api/conversations/{conversation_id}") as resp:
        detail = await resp.json()
    assert [o["created_at"] for o in detail["work_orders"]] == ["2026-12-08T00:30:00+08:00"]


# -- date filters ------------------------------------------------------------------------------------------------


async def test_call_records_are_filtered_by_local_days(live_hub: RunningHub) -> None:
    calls = live_hub.hub.app[voice_web.STATE].calls
    before = await calls.start_call(
        sip_call_id="before@tz",
        caller="13800000001",
        called="12319",
        arrived_at=datetime(2026, 12, 7, 15, 59, tzinfo=UTC),
    )
    after = await calls.start_call(
        sip_call_id="after@tz", caller="13800000002", called="12319", arrived_at=AFTER_MIDNIGHT
    )
    sup, _csrf = await live_hub.login("supervisor", "supervisor123")
    async with sup:
        on_8th = await text_of(sup, f"{live_hub.url}/calls?from=2026-12-08&to=2026-12-08")
        on_7th = await text_of(sup, f"{live_hub.url}/calls?from=2026-12-07&to=2026-12-07")
    ids = lambda page: [int(n) for n in re.findall(r'<tr id="call-(\d+)"', page)]  # noqa: E731
    assert ids(on_8th) == [after.id]  # 00:30 local on 12-08, though UTC says 12-07
    assert ids(on_7th) == [before.id]  # 23:59 local on 12-07
    assert "<td>2026-12-08 00:30:00</td>" in on_8th and "<td>2026-12-07 23:59:00</td>" in on_7th


# -- forms and the export ----------------------------------------------------------------------------------------

ARTICLE = {
    "question": "时区测试：冬季供暖什么时候开始？",
    "similar_questions": "",
    "answer": "供暖开始时间以通知为准（演示）。",
    "spoken_answer": "",
    "industry": "heating",
}


async def export_rows(session: aiohttp.ClientSession, hub: RunningHub) -> dict[str, dict[str, Any]]:
    async with session.get(f"{hub.url}/kb/export.csv") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        text = (await resp.read()).decode("utf-8").lstrip("\ufeff")
    return {row["id"]: row for row in csv.DictReader(io.StringIO(text))}


async def test_kb_forms_are_read_and_the_csv_export_written_in_local_time(live_hub: RunningHub) -> None:
    kb, csrf = await live_hub.login("kb", "kb123")
    async with kb:
        form = {**ARTICLE, "id": "kb-tz-1", "effective_from": "2026-12-08T01:30", "expires_at": "2026-12-31T23:59"}
        async with kb.post(f"{live_hub.url}/kb/new", data={**form, "csrf": csrf}) as resp:
            assert resp.status == 200 and str(resp.url).endswith("/kb/a/kb-tz-1?msg=saved"), await resp.text()
            page = await resp.text()
        assert "2026-12-08 01:30" in page and "2026-12-31 23:59" in page  # the article page
        editor = await text_of(kb, f"{live_hub.url}/kb/a/kb-tz-1/edit")
        assert 'name="effective_from" value="2026-12-08T01:30"' in editor
        assert 'name="expires_at" value="2026-12-31T23:59"' in editor
        rows = await export_rows(kb, live_hub)
    article = await KnowledgeStore(live_hub.hub.engine).get("kb-tz-1")
    assert article is not None
    assert datetime.fromisoformat(article.content["effective_from"]) == LATE  # typed local, stored UTC
    assert datetime.fromisoformat(article.content["expires_at"]) == datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
    assert rows["kb-tz-1"]["effective_from"] == "2026-12-08 01:30"
    assert rows["kb-tz-1"]["expires_at"] == "2026-12-31 23:59"


async def test_kb_import_reads_local_times_and_the_export_writes_them_back(live_hub: RunningHub) -> None:
    kb, csrf = await live_hub.login("kb", "kb123")
    table = (
        "id,question,similar_questions,answer,industry,effective_from,expires_at\n"
        "kb-tz-2,时区测试：导入的问题？,,导入的答案（演示）。,heating,2026-12-08 01:30,2026-12-09T09:00+00:00\n"
    )
    async with kb:
        upload = aiohttp.FormData()
        upload.add_field("file", table.encode(), filename="faq.csv", content_type="text/csv")
        async with kb.post(f"{live_hub.url}/kb/import", data=upload, headers={"X-CSRF-Token": csrf}) as resp:
            report = await resp.json()
        assert report["created"] == ["kb-tz-2"], report
        rows = await export_rows(kb, live_hub)
    article = await KnowledgeStore(live_hub.hub.engine).get("kb-tz-2")
    assert article is not None
    assert datetime.fromisoformat(article.content["effective_from"]) == LATE  # no offset: local
    assert datetime.fromisoformat(article.content["expires_at"]) == datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    assert rows["kb-tz-2"]["effective_from"] == "2026-12-08 01:30"
    assert rows["kb-tz-2"]["expires_at"] == "2026-12-09 17:00"  # 09:00 UTC is 17:00 in Shanghai


async def test_berlin_forms_and_export_use_berlin_time(berlin_hub: RunningHub) -> None:
    kb, csrf = await berlin_hub.login("kb", "kb123")
    async with kb:
        form = {**ARTICLE, "id": "kb-tz-3", "effective_from": "2026-12-07T18:30", "expires_at": ""}
        async with kb.post(f"{berlin_hub.url}/kb/new", data={**form, "csrf": csrf}) as resp:
            assert resp.status == 200, await resp.text()
        rows = await export_rows(kb, berlin_hub)
    article = await KnowledgeStore(berlin_hub.hub.engine).get("kb-tz-3")
    assert article is not None and datetime.fromisoformat(article.content["effective_from"]) == LATE
    assert rows["kb-tz-3"]["effective_from"] == "2026-12-07 18:30" and rows["kb-tz-3"]["expires_at"] == ""


async def test_announcement_periods_are_typed_and_shown_in_local_time(live_hub: RunningHub) -> None:
    kb, csrf = await live_hub.login("kb", "kb123")
    notice = {
        "title": "时区测试：停气通知",
        "body": "幸福路一带夜间停气（演示）。",
        "industry": "gas",
        "starts_at": "2026-12-08T01:30",
        "ends_at": "2026-12-08T23:59",
        "csrf": csrf,
    }
    async with kb, kb.post(f"{live_hub.url}/kb/announcements", data=notice) as resp:
        assert resp.status == 200 and "msg=saved" in str(resp.url), str(resp.url)
        page = await resp.text()
    assert "2026-12-08 01:30 – 2026-12-08 23:59" in page
    [stored] = [n for n in await KnowledgeStore(live_hub.hub.engine).announcements() if n.title == notice["title"]]
    assert stored.starts_at == LATE and stored.ends_at == datetime(2026, 12, 8, 15, 59, tzinfo=UTC)
