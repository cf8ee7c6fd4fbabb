"""The NLU learning loop: an agent corrects labels → candidate → admin accepts → retrain → the hub switches model."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from nlu import feedback, runtime
from tests.fixtures.hub import RunningHub, running_hub


async def _say(hub: RunningHub, sender: str, text: str) -> None:
    async with hub.session.post(f"{hub.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200


async def _conversation_id(hub: RunningHub, sender: str) -> str:
    conversation = await hub.hub.service.store.find_open_by_ref("rest", sender)
    assert conversation is not None
    return conversation.id


async def _login(hub: RunningHub, username: str, password: str, page: str) -> tuple[aiohttp.ClientSession, str]:
    """Log in as someone who may not open /agent; the CSRF token comes from ``page``."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(
        f"{hub.url}/login", data={"username": username, "password": password, "next": page}, allow_redirects=False
    ) as r:
        assert r.status == 302
    return session, await _page_csrf(session, hub.url + page)


async def _page_csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as r:
        assert r.status == 200
        page = await r.text()
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    return match.group(1)


async def test_correction_permissions_and_review(live_hub: RunningHub) -> None:
    await _say(live_hub, "c1", "路灯坏了")
    conv_id = await _conversation_id(live_hub, "c1")
    url = f"{live_hub.url}/api/conversations/{conv_id}/labels"
    body = {"request_type": "repair", "industry": "municipal"}

    async with live_hub.session.post(url, json=body) as r:  # not logged in
        assert r.status == 401
    kb, kb_csrf = await _login(live_hub, "kb", "kb123", "/kb")
    async with kb, kb.post(url, json=body, headers={"X-CSRF-Token": kb_csrf}) as r:  # not an inbox role
        assert r.status == 403

    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        async with agent.post(url, json=body) as r:  # CSRF enforced
            assert r.status == 403
            assert (await r.json())["error"] == "csrf"
        async with agent.post(url, json={"request_type": "nonsense"}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 400
        async with agent.post(url, json=body, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 201
            item = await r.json()
        assert item["text"] == "路灯坏了"
        assert item["predicted"] == {"request_type": "complaint", "industry": "municipal"}  # the scripted NLU
        assert (item["request_type"], item["industry"], item["status"]) == ("repair", "municipal", "candidate")
        conversation = await live_hub.hub.service.store.get(conv_id)
        assert conversation.request_type == "repair"

        async with agent.get(f"{live_hub.url}/admin/nlu", allow_redirects=False) as r:  # admins only
            assert r.status == 403
        async with agent.post(f"{live_hub.url}/admin/nlu/{item['id']}/accept", data={"csrf": csrf}) as r:
            assert r.status == 403

    admin, admin_csrf = await live_hub.login("admin", "admin123")
    async with admin:
        async with admin.get(f"{live_hub.url}/admin/nlu") as r:
            page = await r.text()
        assert r.status == 200 and "语义理解训练" in page and "路灯坏了" in page and "待审核" in page
        accept = f"{live_hub.url}/admin/nlu/{item['id']}/accept"
        async with admin.post(accept, data={"csrf": "wrong"}, allow_redirects=False) as r:
            assert r.status == 403
        async with admin.post(accept, data={"csrf": admin_csrf}, allow_redirects=False) as r:
            assert r.status == 303
        async with admin.get(f"{live_hub.url}/api/admin/nlu") as r:
            status = await r.json()
        assert [i["status"] for i in status["items"]] == ["accepted"]
        assert status["retrain"]["state"] == "idle"


def test_feedback_yaml_is_rasa_training_data(tmp_path: Path) -> None:
    path = feedback.write(tmp_path, [("燃气 漏气了\n快来 [x](y)", "repair", "gas"), ("你们真好", "praise", None)])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["nlu"] == [
        {"intent": "praise", "examples": "- 你们真好\n"},
        {"intent": "repair", "metadata": {"industry": "gas"}, "examples": "- 燃气 漏气了 快来 【x】(y)\n"},
    ]


@pytest.mark.rasa
async def test_retrain_from_accepted_corrections_switches_the_hub(
    rasa_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "rasa_project"
    shutil.copytree(runtime.PROJECT_DIR, project, ignore=shutil.ignore_patterns("__pycache__", ".rasa", "feedback.yml"))
    monkeypatch.setenv("REXIAN_NLU_PROJECT", str(project))
    async with aiohttp.ClientSession() as client:
        original = (await _rasa_status(client, rasa_server))["model_file"]
        try:
            async with running_hub(tmp_path / "data", rasa_url=rasa_server) as hub:
                await _say(hub, "learn", "小区门口那个垃圾中转站天天往外淌臭水")
                conv_id = await _conversation_id(hub, "learn")
                agent, csrf = await hub.login("agent1", "agent123")
                async with (
                    agent,
                    agent.post(
                        f"{hub.url}/api/conversations/{conv_id}/labels",
                        json={"request_type": "complaint", "industry": "sanitation"},
                        headers={"X-CSRF-Token": csrf},
                    ) as r,
                ):
                    assert r.status == 201
                    item = await r.json()
                admin, _ = await hub.login("admin", "admin123")
                async with admin:
                    admin_csrf = await _page_csrf(admin, f"{hub.url}/admin/nlu")
                    for path in (f"/admin/nlu/{item['id']}/accept", "/admin/nlu/retrain"):
                        async with admin.post(hub.url + path, data={"csrf": admin_csrf}, allow_redirects=False) as r:
                            assert r.status == 303, path
                    status = await hub.hub.nlu.wait_retrain()
                    assert status["state"] == "switched", status
                    async with admin.get(f"{hub.url}/admin/nlu") as r:
                        assert "已切换到新模型" in await r.text()
                    async with admin.get(f"{hub.url}/api/admin/nlu") as r:
                        assert [i["status"] for i in (await r.json())["items"]] == ["trained"]
            trained = yaml.safe_load((project / feedback.FEEDBACK_FILE).read_text(encoding="utf-8"))
            assert trained["nlu"] == [
                {
                    "intent": "complaint",
                    "metadata": {"industry": "sanitation"},
                    "examples": "- 小区门口那个垃圾中转站天天往外淌臭水\n",
                }
            ]
            now = (await _rasa_status(client, rasa_server))["model_file"]
            assert now == f"{runtime.training_hash(project)}.tar.gz" == status["model"] != original
        finally:
            await _put_model(client, rasa_server, runtime.models_dir() / original)


async def _rasa_status(client: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with client.get(f"{url}/status") as r:
        data = await r.json()
    assert isinstance(data, dict)
    return data


async def _put_model(client: aiohttp.ClientSession, url: str, model: Path) -> None:
    if (await _rasa_status(client, url))["model_file"] != model.name:
        await runtime.load_model(client, url, model)
    await asyncio.sleep(0)
