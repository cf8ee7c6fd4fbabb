"""The knowledge-base pages over HTTP: roles, CSRF, escaping, the workflow and the bot answering afterwards."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from knowledge_base.exchange import read_xlsx
from knowledge_base.store import KnowledgeStore
from tests.fixtures.hub import RunningHub


async def ask(hub: RunningHub, text: str, sender: str) -> str:
    async with hub.session.post(f"{hub.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as resp:
        assert resp.status == 200
        return "\n".join(m["text"] for m in await resp.json())


NEW = {
    "id": "kb-test-bike",
    "question": "共享单车乱停放<script>alert(1)</script>向哪里投诉？",
    "similar_questions": "单车堵在小区门口找谁\n共享单车停在盲道上谁管",
    "answer": "共享单车乱停放请拨打12319登记，运营企业将在2小时内清理（演示）。",
    "spoken_answer": "",
    "industry": "enforcement",
}


async def test_pages_need_the_right_role(live_hub: RunningHub) -> None:
    async with live_hub.session.get(f"{live_hub.url}/kb", allow_redirects=False) as resp:
        assert resp.status == 302 and "/login" in resp.headers["Location"]
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        async with agent.get(f"{live_hub.url}/kb/a/kb-gas-001") as resp:
            assert resp.status == 200  # agents read
            assert "kb-edit" not in await resp.text()
        async with agent.get(f"{live_hub.url}/kb/new") as resp:
            assert resp.status == 403
        async with agent.post(f"{live_hub.url}/kb/new", data={**NEW, "csrf": csrf}) as resp:
            assert resp.status == 403
        async with agent.post(f"{live_hub.url}/kb/a/kb-gas-001/archive", data={"csrf": csrf}) as resp:
            assert resp.status == 403 or "forbidden" in str(resp.url)
        async with agent.post(
            f"{live_hub.url}/kb/a/kb-gas-001/suggest", data={"csrf": csrf, "text": "营业时间已调整"}
        ) as resp:
            assert resp.status == 200 and "msg=suggest" in str(resp.url)
    kb, _csrf = await live_hub.login("kb", "kb123")
    async with kb:
        async with kb.post(f"{live_hub.url}/kb/new", data=NEW) as resp:
            assert resp.status == 403  # no CSRF token
        for path in ("/kb", "/kb/review", "/kb/io", "/kb/announcements", "/kb/gaps", "/kb/a/kb-gas-001/history"):
            async with kb.get(f"{live_hub.url}{path}?lang=en") as resp:
                assert resp.status == 200, path
        async with kb.get(f"{live_hub.url}/kb/review") as resp:
            assert "营业时间已调整" in await resp.text()


async def test_create_review_publish_then_the_bot_answers(live_hub: RunningHub) -> None:
    before = await ask(live_hub, "共享单车停在盲道上找谁", "citizen-1")
    assert "2小时内清理" not in before
    kb, csrf = await live_hub.login("kb", "kb123")
    async with kb:
        async with kb.post(f"{live_hub.url}/kb/new", data={**NEW, "csrf": csrf, "submit_review": "1"}) as resp:
            assert resp.status == 200
            assert str(resp.url).endswith("/kb/a/kb-test-bike?msg=saved")
            page = await resp.text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        assert 'data-status="in_review"' in page
        async with kb.post(f"{live_hub.url}/kb/a/kb-test-bike/publish", data={"csrf": csrf}) as resp:
            assert "err=forbidden" in str(resp.url)  # not their own change
        async with kb.get(f"{live_hub.url}/kb/export.xlsx") as resp:
            rows = read_xlsx(await resp.read())
        assert "kb-test-bike" in {r["id"] for _, r in rows}
    supervisor, csrf2 = await live_hub.login("supervisor", "supervisor123")
    async with supervisor:
        async with supervisor.get(f"{live_hub.url}/kb/review") as resp:
            assert "kb-test-bike" in await resp.text()
        async with supervisor.post(f"{live_hub.url}/kb/a/kb-test-bike/publish", data={"csrf": csrf2}) as resp:
            assert "msg=publish" in str(resp.url)
    article = await KnowledgeStore(live_hub.hub.engine).get("kb-test-bike")
    assert article is not None and article.status == "published"
    assert "2小时内清理" in await ask(live_hub, "共享单车停在盲道上找谁", "citizen-2")


async def test_import_upload_needs_csrf_header(live_hub: RunningHub, tmp_path: Path) -> None:
    kb, csrf = await live_hub.login("kb", "kb123")
    csv_text = (
        "id,question,similar_questions,answer,industry\n"
        "kb-up-1,古树名木归谁管？,,古树名木由园林部门管理。,landscaping\n"
    )
    async with kb:
        form = aiohttp.FormData()
        form.add_field("file", csv_text.encode(), filename="faq.csv", content_type="text/csv")
        async with kb.post(f"{live_hub.url}/kb/import", data=form) as resp:
            assert resp.status == 403
        form = aiohttp.FormData()
        form.add_field("file", csv_text.encode(), filename="faq.csv", content_type="text/csv")
        async with kb.post(f"{live_hub.url}/kb/import", data=form, headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200
            assert (await resp.json())["created"] == ["kb-up-1"]
