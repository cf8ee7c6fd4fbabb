"""群发 bulk SMS and TD opt-out against the SMSC simulator; authorisation of the page and API."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from channels.sms.bulk_web import STORE
from tests.channels.sms.helpers import CITIZEN, until
from tests.fixtures.hub import RunningHub
from tests.fixtures.smsc import Smsc

OTHER = "13900001111"


async def _job(session: aiohttp.ClientSession, hub: RunningHub, job_id: int) -> dict[str, Any]:
    async with session.get(f"{hub.url}/api/sms/bulk/{job_id}") as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_opted_out_number_is_skipped_by_a_bulk_job(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "TD")

    async def confirmed() -> bool:
        return any("已退订" in t for t in await smsc.texts_to(CITIZEN))

    await until(confirmed)
    supervisor, csrf = await sms_hub.login("supervisor", "supervisor123")
    try:
        body = {"numbers": f"{CITIZEN}\n{OTHER}, +86 139 0000 2222", "text": "停水通知：明日9时至17时停水"}
        async with supervisor.post(f"{sms_hub.url}/api/sms/bulk", json=body, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 201, await r.text()
            job_id = (await r.json())["id"]

        async def finished() -> bool:
            job = await _job(supervisor, sms_hub, job_id)
            return bool(job["counts"]["delivered"] == 2 and job["counts"]["skipped"] == 1 and job["status"] == "done")

        await until(finished)
        job = await _job(supervisor, sms_hub, job_id)
        statuses = {r["phone"]: r["status"] for r in job["recipients"]}
        assert statuses == {CITIZEN: "skipped", OTHER: "delivered", "13900002222": "delivered"}
        assert job["total"] == 3
        for number in (OTHER, "13900002222"):
            assert await smsc.texts_to(number) == ["停水通知：明日9时至17时停水 回复TD退订"]
        assert not any("停水通知" in t for t in await smsc.texts_to(CITIZEN))
        async with supervisor.get(f"{sms_hub.url}/sms/bulk/{job_id}?lang=en") as resp:
            page = await resp.text()
            assert resp.status == 200
            assert "skipped (opted out)" in page and "delivered" in page
    finally:
        await supervisor.close()

    await smsc.deliver(CITIZEN, "订阅")

    async def resubscribed() -> bool:
        return any("重新订阅" in t for t in await smsc.texts_to(CITIZEN))

    await until(resubscribed)
    store = sms_hub.hub.app[STORE]
    assert not await store.is_opted_out(CITIZEN)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/sms/bulk", 302), ("GET", "/api/sms/bulk/1", 401), ("POST", "/api/sms/bulk", 401)],
)
async def test_bulk_needs_a_login(sms_hub: RunningHub, method: str, path: str, status: int) -> None:
    async with sms_hub.session.request(method, sms_hub.url + path, json={}, allow_redirects=False) as resp:
        assert resp.status == status


async def test_agents_may_not_send_bulk_and_csrf_is_checked(sms_hub: RunningHub) -> None:
    agent, csrf = await sms_hub.login("agent1", "agent123")
    try:
        body = {"numbers": [OTHER], "text": "x"}
        async with agent.post(f"{sms_hub.url}/api/sms/bulk", json=body, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 403
        async with agent.get(f"{sms_hub.url}/sms/bulk") as r:
            assert r.status == 403
    finally:
        await agent.close()
    admin, _csrf = await sms_hub.login("admin", "admin123")
    try:
        async with admin.post(f"{sms_hub.url}/api/sms/bulk", json={"numbers": [OTHER], "text": "x"}) as r:
            assert r.status == 403  # no CSRF token
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"numbers": ["12345", OTHER], "text": "通知"}, "invalid_numbers"),
        ({"numbers": [], "text": "通知"}, "no_numbers"),
        ({"numbers": [OTHER], "text": "  "}, "no_text"),
        ({"numbers": [OTHER], "text": "长" * 700}, "too_long"),
        ({"numbers": 5, "text": "通知"}, "no_numbers"),
    ],
)
async def test_bad_bulk_input_is_rejected(sms_hub: RunningHub, body: dict[str, Any], error: str) -> None:
    admin, csrf = await sms_hub.login("admin", "admin123")
    try:
        async with admin.post(f"{sms_hub.url}/api/sms/bulk", json=body, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 400
            assert (await r.json())["error"] == error
    finally:
        await admin.close()


async def test_bulk_form_creates_a_job_and_escapes_the_text(sms_hub: RunningHub, smsc: Smsc) -> None:
    admin, csrf = await sms_hub.login("admin", "admin123")
    try:
        form = {"csrf": csrf, "numbers": OTHER, "text": "<script>alert(1)</script>"}
        async with admin.post(f"{sms_hub.url}/sms/bulk", data=form, allow_redirects=False) as r:
            assert r.status == 303
            location = r.headers["Location"]
        async with admin.get(sms_hub.url + location) as r:
            page = await r.text()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        async with admin.get(f"{sms_hub.url}/sms/bulk") as r:
            listing = await r.text()
        assert "短信群发" in listing and "&lt;script&gt;" in listing
        bad = {"csrf": csrf, "numbers": "abc", "text": "通知"}
        async with admin.post(f"{sms_hub.url}/sms/bulk", data=bad) as r:
            assert r.status == 400
            assert "abc" in await r.text()
    finally:
        await admin.close()

    async def arrived() -> bool:
        return len(await smsc.texts_to(OTHER)) == 1

    await until(arrived)
