"""Announcements reach citizens through the bot (once per conversation); gap mining groups unanswered questions."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from hub.clock import utc_now
from knowledge_base.gaps import mine_gaps
from knowledge_base.store import KnowledgeStore, UnansweredMessage
from tests.fixtures.hub import RunningHub


async def ask(hub: RunningHub, text: str, sender: str) -> str:
    async with hub.session.post(f"{hub.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as resp:
        return "\n".join(m["text"] for m in await resp.json())


async def test_the_bot_mentions_current_announcements_once(live_hub: RunningHub) -> None:
    store = KnowledgeStore(live_hub.hub.engine)
    now = utc_now()
    await store.add_announcement(
        "燃气价格调整", "自下月1日起第一阶梯气价调整为2.95元/立方米（演示）", "gas", None,
        now - timedelta(hours=1), now + timedelta(days=7), None,
    )  # fmt: skip
    kb, csrf = await _login(live_hub)
    # Any change through the page reloads the board; stopping an unknown id is harmless.
    async with kb, kb.post(f"{live_hub.url}/kb/announcements", data={"csrf": csrf, "stop": "999999"}) as resp:
        assert resp.status == 200
    first = await ask(live_hub, "燃气开户需要带什么材料", "c-ann")
    assert "房产证" in first and "【公告】燃气价格调整" in first
    again = await ask(live_hub, "天然气开户要什么证件", "c-ann")
    assert "【公告】" not in again
    other = await ask(live_hub, "燃气开户需要带什么材料", "c-ann-2")
    assert "【公告】燃气价格调整" in other


async def _login(hub: RunningHub) -> tuple[aiohttp.ClientSession, str]:
    return await hub.login("kb", "kb123")


async def test_unanswered_questions_are_grouped(live_hub: RunningHub) -> None:
    for text in ("空调外机滴水扰民找谁", "空调外机滴水扰民怎么办", "楼上空调外机滴水扰民", "养狗扰民谁来管"):
        await ask(live_hub, text, f"gap-{text}")
    gaps = mine_gaps(await KnowledgeStore(live_hub.hub.engine).unanswered())
    assert gaps and gaps[0].count >= 3 and "空调外机" in gaps[0].question
    kb, _ = await _login(live_hub)
    async with kb, kb.get(f"{live_hub.url}/kb/gaps") as resp:
        page = await resp.text()
    assert "空调外机滴水扰民" in page and "/kb/new?question=" in page


def test_mining_ignores_small_talk_and_keeps_examples() -> None:
    now = utc_now()
    items = [
        UnansweredMessage("c", t, "misunderstood", now)
        for t in ("你好", "井盖响声很大怎么办", "井盖响声大怎么办", "路边井盖一直响怎么办", "公园几点关门")
    ]
    gaps = mine_gaps(items)
    assert gaps[0].count >= 2 and "井盖" in gaps[0].question
    assert sum(g.count for g in gaps) == 4
    assert all(g.question != "你好" for g in gaps)
