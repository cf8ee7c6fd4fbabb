"""Conversations, contacts and search through the staff API: an agent finds a waiting citizen, claims, replies
(the citizen gets it on their channel), closes with an outcome; the citizen's page lists every conversation and
order."""

from __future__ import annotations

from tests.fixtures.hub import RunningHub
from tests.hub.api_v1_support import call, token_for, user_id

PHONE = "13800138000"


async def rest(hub: RunningHub, sender: str, text: str) -> list[str]:
    async with hub.session.post(hub.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200
        return [m["text"] for m in await r.json()]


async def waiting_citizen(hub: RunningHub) -> None:
    """A citizen who reported a broken streetlight (an order, a contact by phone), then asked for an agent."""
    await rest(hub, "api-citizen", "路灯坏了")
    await rest(hub, "api-citizen", "城北区人民路100号")
    assert "请核对" in (await rest(hub, "api-citizen", PHONE))[-1]  # the read-back
    assert "市路灯管理所" in (await rest(hub, "api-citizen", "确认"))[-1]
    assert "人工" in (await rest(hub, "api-citizen", "转人工"))[-1]


async def test_an_agent_works_a_conversation_through_the_api(live_hub: RunningHub) -> None:
    await waiting_citizen(live_hub)
    agent = await token_for(live_hub, "agent1")
    other = await token_for(live_hub, "agent2")
    queued = await call(live_hub, "GET", "/api/v1/conversations", agent, params={"status": "queued"})
    assert queued.status == 200 and queued.body["total"] == 1, queued.body
    conversation = queued.body["items"][0]
    cid = conversation["id"]
    assert conversation["channel"] == "rest" and conversation["status_name"] == "排队中"
    assert conversation["queued_at"].endswith("+08:00") and conversation["assignee_id"] is None
    for params in ({"q": PHONE}, {"q": "人民路100号"}, {"q": cid}, {"assignee": "none"}, {"channel": "rest"}):
        found = await call(live_hub, "GET", "/api/v1/conversations", agent, params=params)
        assert [c["id"] for c in found.body["items"]] == [cid], params
    for params in ({"q": "燃气"}, {"status": "closed"}, {"assignee": "me"}, {"channel": "sms"}):
        assert (await call(live_hub, "GET", "/api/v1/conversations", agent, params=params)).body["total"] == 0, params
    bad = await call(live_hub, "GET", "/api/v1/conversations", agent, params={"assignee": "someone"})
    assert bad.status == 400 and bad.body["parameter"] == "assignee"

    detail = (await call(live_hub, "GET", f"/api/v1/conversations/{cid}", agent)).body
    assert detail["contact"]["phone"] == PHONE
    assert [o["unit_name"] for o in detail["work_orders"]] == ["市路灯管理所"]
    messages = (await call(live_hub, "GET", f"/api/v1/conversations/{cid}/messages", agent)).body
    citizen = [m["text"] for m in messages["items"] if m["sender"] == "citizen"]
    assert citizen == ["路灯坏了", "城北区人民路100号", PHONE, "确认", "转人工"]
    assert messages["total"] == len(messages["items"])
    after = messages["items"][-2]["id"]
    tail = await call(live_hub, "GET", f"/api/v1/conversations/{cid}/messages", agent, params={"after_id": after})
    assert [m["id"] for m in tail.body["items"]] == [messages["items"][-1]["id"]] and tail.body["total"] == 1

    early = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/messages", agent, json={"text": "您好"})
    assert early.status == 409 and early.body["error"] == "conflict"
    claimed = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/claim", agent)
    assert claimed.status == 200 and claimed.body["status"] == "assigned"
    assert claimed.body["assignee_id"] == await user_id(live_hub, "agent1")
    assert (await call(live_hub, "POST", f"/api/v1/conversations/{cid}/claim", other)).status == 409
    mine = await call(live_hub, "GET", "/api/v1/conversations", agent, params={"assignee": "me"})
    assert [c["id"] for c in mine.body["items"]] == [cid]
    assert (await call(live_hub, "GET", "/api/v1/conversations", other, params={"assignee": "me"})).body["total"] == 0

    empty = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/messages", agent, json={"text": "  "})
    assert empty.status == 400 and empty.body["error"] == "invalid_message"
    taken = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/messages", other, json={"text": "我来"})
    assert taken.status == 409
    sent = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/messages", agent, json={"text": "已为您催办路灯"})
    assert sent.status == 201 and sent.body["sender"] == "agent" and sent.body["text"] == "已为您催办路灯"
    assert "已为您催办路灯" in await rest(live_hub, "api-citizen", "还在吗")  # delivered on the citizen's channel

    wrong = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/close", agent, json={"outcome": "bored"})
    assert wrong.status == 400 and wrong.body["field"] == "outcome"
    closed = await call(
        live_hub, "POST", f"/api/v1/conversations/{cid}/close", agent, json={"outcome": "resolved_by_answer"}
    )
    assert closed.status == 200, closed.body
    assert closed.body["status"] == "closed" and closed.body["outcome"] == "resolved_by_answer"
    assert closed.body["outcome_name"] == "已解答"
    again = await call(live_hub, "POST", f"/api/v1/conversations/{cid}/close", agent)
    assert again.status == 409
    for path in ("", "/messages"):
        missing = await call(live_hub, "GET", f"/api/v1/conversations/no-such-id{path}", agent)
        assert missing.status == 404 and missing.body["error"] == "not_found"


async def test_contacts_and_search(live_hub: RunningHub) -> None:
    await waiting_citizen(live_hub)
    agent = await token_for(live_hub, "agent1")
    found = await call(live_hub, "GET", "/api/v1/contacts", agent, params={"q": "1380013"})
    assert found.status == 200 and [c["phone"] for c in found.body["items"]] == [PHONE]
    contact = found.body["items"][0]
    assert (await call(live_hub, "GET", "/api/v1/contacts", agent, params={"q": "13999"})).body["total"] == 0
    page = await call(live_hub, "GET", f"/api/v1/contacts/{contact['id']}", agent)
    assert page.status == 200 and page.body["phone"] == PHONE
    assert [c["channel"] for c in page.body["conversations"]] == ["rest"]
    assert [o["address"] for o in page.body["work_orders"]] == ["城北区人民路100号"]
    for bad in ("999999", "abc", "0"):
        assert (await call(live_hub, "GET", f"/api/v1/contacts/{bad}", agent)).status == 404, bad
    hits = await call(live_hub, "GET", "/api/v1/search", agent, params={"q": PHONE})
    assert hits.status == 200
    assert hits.body["work_orders"]["total"] == 1 and hits.body["contacts"]["total"] == 1
    assert hits.body["conversations"]["total"] == 1
    assert hits.body["conversations"]["items"][0]["id"] == page.body["conversations"][0]["id"]
    nothing = await call(live_hub, "GET", "/api/v1/search", agent, params={"q": " "})
    assert nothing.status == 400 and nothing.body["error"] == "missing_parameter"
