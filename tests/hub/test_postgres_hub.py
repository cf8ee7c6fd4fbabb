"""The whole hub on PostgreSQL (the production backend): chat → work order → hand-off → agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.hub import ScriptedNlu, running_hub
from tests.fixtures.postgres import fresh_database

pytestmark = pytest.mark.postgres


async def test_hub_runs_on_postgres(tmp_path: Path, postgres_url: str, scripted_nlu: ScriptedNlu) -> None:
    url = fresh_database(postgres_url)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, database_url=url) as hub:

        async def post(text: str) -> list[str]:
            async with hub.session.post(
                hub.url + "/webhooks/rest/webhook", json={"sender": "pg", "message": text}
            ) as r:
                assert r.status == 200
                return [m["text"] for m in await r.json()]

        assert any("身份证" in t for t in await post("燃气开户需要带什么材料"))
        await post("路灯坏了")
        await post("城北区人民路100号")
        assert "请核对登记信息" in "".join(await post("13800138000"))  # the read-back (issue 15)
        assert "市路灯管理所" in (await post("确认"))[-1]
        assert "人工" in (await post("转人工"))[-1]
        session, csrf = await hub.login("agent1", "agent123")
        async with session:
            async with session.get(hub.url + "/api/inbox") as r:
                queue = (await r.json())["queue"]
            assert len(queue) == 1
            conv_id = queue[0]["id"]
            async with session.post(
                f"{hub.url}/api/conversations/{conv_id}/claim", headers={"X-CSRF-Token": csrf}
            ) as r:
                assert r.status == 200
            async with session.post(
                f"{hub.url}/api/conversations/{conv_id}/reply",
                json={"text": "已为您催办"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                assert r.status == 200
        assert "已为您催办" in await post("还在吗")  # the pull channel delivers the agent's reply
        async with hub.session.get(hub.url + "/healthz") as r:
            assert (await r.json())["components"]["database"]["backend"] == "postgresql"
