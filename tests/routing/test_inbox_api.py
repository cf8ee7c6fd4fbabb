"""The inbox's JSON API and the canned-reply page over a real hub: views, read markers, notes, close outcomes,
canned replies with their variables, and who may manage which reply."""

from __future__ import annotations

import re
from datetime import datetime

import aiohttp
import pytest

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, ConversationStatus
from hub.web.context import CTX
from routing.canned import expand
from tests.fixtures.hub import RunningHub


async def held(hub: RunningHub, text: str, phone: str, name: str | None = None) -> Conversation:
    stored = await hub.hub.service.receive(
        Inbound("sms", text, ref=phone, hints=ContactHints(phone=phone, name=name), for_bot=False)
    )
    await hub.hub.service.queue(stored.conversation.id, "requested")
    agent = await hub.hub.app[CTX].users.authenticate("agent1", "agent123")
    assert agent is not None
    return await hub.hub.service.claim(stored.conversation.id, agent)


def test_variables_without_a_value_stay_as_written() -> None:
    values: dict[str, str | None] = {"name": "王先生", "order_number": None}
    assert (
        expand("{name}您好，工单号{order_number}，{unknown}", values) == "王先生您好，工单号{order_number}，{unknown}"
    )


async def test_views_read_markers_and_notes(live_hub: RunningHub) -> None:
    conversation = await held(live_hub, "井盖丢了", "13700003333", "李女士")
    session, csrf = await live_hub.login("agent1", "agent123")
    headers = {"X-CSRF-Token": csrf}
    base = f"{live_hub.url}/api/conversations/{conversation.id}"
    async with session:
        async with session.get(f"{live_hub.url}/api/inbox?view=mine") as r:
            data = await r.json()
        assert [i["id"] for i in data["items"]] == [conversation.id]
        assert data["items"][0]["unread"] == 1 and data["unread_total"] == 1
        assert data["items"][0]["contact_name"] == "李女士" and data["items"][0]["unanswered"] is True
        assert datetime.fromisoformat(data["items"][0]["waiting_since"]).utcoffset() is not None
        async with session.get(f"{live_hub.url}/api/inbox?view=nope") as r:
            assert r.status == 400
        async with session.get(f"{live_hub.url}/api/inbox") as r:  # the original form stays
            legacy = await r.json()
        assert [c["id"] for c in legacy["mine"]] == [conversation.id] and legacy["queue"] == []
        async with session.post(f"{base}/read", json={}) as r:
            assert r.status == 403  # CSRF
        async with session.post(f"{base}/read", json={"last_read_id": "x"}, headers=headers) as r:
            assert r.status == 400
        async with session.post(f"{base}/read", json={}, headers=headers) as r:
            assert (await r.json())["unread_total"] == 0
        async with session.post(f"{base}/notes", json={"text": "  "}, headers=headers) as r:
            assert r.status == 400
        async with session.post(f"{base}/notes", json={"text": "<b>内部</b>备注"}, headers=headers) as r:
            assert r.status == 201
            note = await r.json()
        assert (note["author_name"], note["text"]) == ("座席 张敏", "<b>内部</b>备注")
        async with session.get(base) as r:
            detail = await r.json()
        assert [n["text"] for n in detail["notes"]] == ["<b>内部</b>备注"]
        assert all("内部" not in m["text"] for m in detail["messages"])
    anonymous = aiohttp.ClientSession()
    async with anonymous, anonymous.post(f"{base}/notes", json={"text": "x"}) as r:
        assert r.status == 401


async def test_close_takes_an_outcome_and_detail_labels_are_names(live_hub: RunningHub) -> None:
    for text in ("路灯坏了", "转人工"):
        async with live_hub.session.post(
            live_hub.url + "/webhooks/rest/webhook", json={"sender": "n1", "message": text}
        ) as r:
            assert r.status == 200
    found = await live_hub.hub.service.store.find_open_by_ref("rest", "n1")
    assert found is not None
    session, csrf = await live_hub.login("agent1", "agent123")
    headers = {"X-CSRF-Token": csrf}
    base = f"{live_hub.url}/api/conversations/{found.id}"
    async with session:
        async with session.post(f"{base}/claim", headers=headers) as r:
            assert r.status == 200
        async with session.get(base) as r:
            detail = await r.json()
        shown = {row["field"]: row["value"] for row in detail["nlu_display"]}
        assert (shown["意图"], shown["诉求类型"], shown["行业"]) == ("投诉", "投诉", "市政设施")
        assert detail["unanswered"] is True
        labels = [m.get("labels") for m in detail["messages"] if m["sender"] == "citizen"]
        assert "投诉 · 市政设施" in labels
        async with session.post(f"{base}/close", json={"outcome": "solved"}, headers=headers) as r:
            assert r.status == 400 and (await r.json())["error"] == "unknown_outcome"
        async with session.post(f"{base}/close", json={"outcome": "resolved_by_answer"}, headers=headers) as r:
            assert r.status == 200 and (await r.json())["outcome"] == "resolved_by_answer"
    closed = await live_hub.hub.service.store.get(found.id)
    assert (closed.status, closed.outcome) == (ConversationStatus.CLOSED, "resolved_by_answer")


async def test_canned_replies_expand_for_the_conversation(live_hub: RunningHub) -> None:
    async def say(text: str) -> list[str]:
        async with live_hub.session.post(
            live_hub.url + "/webhooks/rest/webhook", json={"sender": "c9", "message": text}
        ) as r:
            return [m["text"] for m in await r.json()]

    await say("路灯坏了")
    await say("城南区黄河路1号")
    await say("13600001111")  # the bot reads the order back
    number = re.search(r"\d{12}", (await say("确认"))[-1])
    assert number
    await say("转人工")
    found = await live_hub.hub.service.store.find_open_by_ref("rest", "c9")
    assert found is not None
    session, csrf = await live_hub.login("agent1", "agent123")
    async with session:
        async with session.post(
            f"{live_hub.url}/api/canned",
            json={"shortcut": "no", "title": "工单号", "text": "{name}：{order_number}/{agent}/{hotline}/{date}"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 201
        async with session.get(f"{live_hub.url}/api/conversations/{found.id}/canned") as r:
            items = {i["shortcut"]: i for i in (await r.json())["items"]}
    assert {"nihao", "gongdan", "no"} <= set(items)  # the demo's shared replies and the agent's own
    expanded = items["no"]["expanded"]
    assert re.fullmatch(rf"市民：{number.group(0)}/座席 张敏/12319/\d{{4}}年\d{{1,2}}月\d{{1,2}}日", expanded), expanded
    assert items["nihao"]["shared"] and not items["nihao"]["editable"] and items["no"]["editable"]


@pytest.mark.parametrize(
    "fields,status,error",
    [
        ({"shortcut": "a b", "title": "t", "text": "x"}, 400, "shortcut"),
        ({"shortcut": "ab", "title": "", "text": "x"}, 400, "title"),
        ({"shortcut": "ab", "title": "t", "text": ""}, 400, "text"),
        ({"shortcut": "ab", "title": "t", "text": "x", "shared": True}, 403, "shared_forbidden"),
    ],
)
async def test_canned_api_refuses_bad_replies(
    live_hub: RunningHub, fields: dict[str, object], status: int, error: str
) -> None:
    session, csrf = await live_hub.login("agent1", "agent123")
    async with session, session.post(f"{live_hub.url}/api/canned", json=fields, headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == status and (await r.json())["error"] == error


async def test_canned_page_manages_own_and_shared_replies(live_hub: RunningHub) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    other, other_csrf = await live_hub.login("agent2", "agent123")
    supervisor, sup_csrf = await live_hub.login("supervisor", "supervisor123")
    page = f"{live_hub.url}/agent/canned"
    async with agent, other, supervisor:
        form = {"shortcut": "wo", "title": "我的", "text": "稍后回电", "csrf": csrf}
        async with agent.post(page, data={**form, "csrf": "wrong"}, allow_redirects=False) as r:
            assert r.status == 403
        async with agent.post(page, data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/agent/canned?msg=created"
        async with agent.post(page, data={**form, "shared": "on"}) as r:
            assert r.status == 403 and "只有班长或管理员可以管理共享回复" in await r.text()
        async with agent.get(f"{live_hub.url}/api/canned") as r:
            mine = next(i for i in (await r.json())["items"] if i["shortcut"] == "wo")
            shared = next(i for i in (await r.json())["items"] if i["shortcut"] == "nihao")
        async with other.post(f"{page}/{mine['id']}/delete", data={"csrf": other_csrf}) as r:
            assert r.status == 403  # not theirs
        async with agent.post(f"{page}/{shared['id']}", data={**form, "title": "改"}) as r:
            assert r.status == 403  # shared: supervisors only
        async with supervisor.post(
            f"{page}/{shared['id']}",
            data={**form, "csrf": sup_csrf, "shortcut": "nihao", "title": "问候语"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        async with agent.post(f"{page}/{mine['id']}", data={**form, "text": "马上回电"}, allow_redirects=False) as r:
            assert r.status == 303
        async with agent.get(page) as r:
            html = await r.text()
        assert "马上回电" in html and "问候语" in html and 'id="new-shared"' not in html
        async with supervisor.get(page) as r:
            assert 'id="new-shared"' in await r.text()
        async with agent.post(f"{page}/{mine['id']}/delete", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303
        async with agent.get(f"{live_hub.url}/api/canned") as r:
            assert "wo" not in [i["shortcut"] for i in (await r.json())["items"]]
