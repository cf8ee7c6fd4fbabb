"""The agents' staff API over a real hub with bearer tokens: the caller's status (GET/PUT /api/v1/agents/me/status),
roles, errors, the OpenAPI document listing and describing the operations, and the caller's assigned conversations
with their channel reference and contact."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from hub.intake import ContactHints, Inbound
from hub.models import ConversationStatus
from routing.switchboard import SWITCHBOARD
from tests.fixtures.hub import RunningHub
from tests.hub.api_v1_support import Reply, call, token_for, user_id

STATUS = "/api/v1/agents/me/status"


def check(doc: dict[str, Any], method: str, template: str, reply: Reply) -> None:
    """The answer has a documented status and satisfies its schema."""
    operation = doc["paths"][template][method]
    assert str(reply.status) in operation["responses"], (method, template, reply.status, reply.body)
    schema = operation["responses"][str(reply.status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {**schema, "components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(reply.body)]
    assert not errors, (method, template, errors[:5])


async def test_the_caller_sets_and_reads_their_status(live_hub: RunningHub) -> None:
    doc = (await call(live_hub, "GET", "/api/v1/openapi.json")).body
    validate(doc)
    operations = doc["paths"][STATUS]
    assert set(operations) == {"get", "put"}
    assert operations["put"]["x-roles"] == ["agent", "supervisor"] and operations["get"]["tags"] == ["agents"]
    assert operations["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentStatusUpdate"
    }
    agent = await token_for(live_hub, "agent1")
    supervisor = await token_for(live_hub, "supervisor")

    first = await call(live_hub, "GET", STATUS, agent)
    check(doc, "get", STATUS, first)
    assert (first.body["status"], first.body["presence"], first.body["name"]) == ("offline", "offline", "座席 张敏")

    reply = await call(live_hub, "PUT", STATUS, agent, json={"status": "break", "reason": "training"})
    check(doc, "put", STATUS, reply)
    assert (reply.status, reply.body["status"], reply.body["reason"], reply.body["reason_name"]) == (
        200,
        "break",
        "training",
        "培训",
    )
    assert datetime.fromisoformat(reply.body["since"]).utcoffset() == timedelta(hours=8)
    assert (reply.body["load"], reply.body["capacity"]) == (0, 3)
    board = live_hub.hub.app[SWITCHBOARD]
    assert board.router.agents[await user_id(live_hub, "agent1")].reason == "training"

    for body, code in [
        ({"status": "wrap_up"}, "unknown_status"),
        ({"status": "break", "reason": "nap"}, "unknown_reason"),
        ({"status": "break"}, "unknown_reason"),
    ]:
        wrong = await call(live_hub, "PUT", STATUS, agent, json=body)
        check(doc, "put", STATUS, wrong)
        assert (wrong.status, wrong.body["error"]) == (400, code), body
    assert (await call(live_hub, "PUT", STATUS, agent, data="[")).body["error"] == "invalid_json"

    mine = await call(live_hub, "PUT", STATUS, supervisor, json={"status": "available"})
    assert (mine.status, mine.body["status"], mine.body["name"]) == (200, "available", "班长 王强")
    for username in ("admin", "leader", "dept"):
        refused = await call(live_hub, "GET", STATUS, await token_for(live_hub, username))
        check(doc, "get", STATUS, refused)
        assert refused.status == 403, username
    assert (await call(live_hub, "PUT", STATUS, None, json={"status": "available"})).status == 401
    english = await call(live_hub, "GET", STATUS + "?lang=en", agent)
    assert (english.body["status_name"], english.body["reason_name"]) == ("Break", "Training")


async def test_my_assigned_conversations_carry_their_sender_and_contact(live_hub: RunningHub) -> None:
    doc = (await call(live_hub, "GET", "/api/v1/openapi.json")).body
    agent = await token_for(live_hub, "agent1")
    me = await user_id(live_hub, "agent1")
    assert (await call(live_hub, "PUT", STATUS, agent, json={"status": "available"})).status == 200
    stored = await live_hub.hub.service.receive(
        Inbound(
            "sms", "路灯不亮", ref="13700002001", hints=ContactHints(phone="13700002001", name="赵先生"), for_bot=False
        )
    )
    await live_hub.hub.service.queue(stored.conversation.id, "requested")
    store = live_hub.hub.service.store
    for _ in range(200):  # the switchboard assigns it to the only available agent
        current = await store.get(stored.conversation.id)
        if current.status is ConversationStatus.ASSIGNED:
            break
        await asyncio.sleep(0.05)
    assert current.assignee_id == me
    reply = await call(live_hub, "GET", "/api/v1/conversations?assignee=me", agent)
    check(doc, "get", "/api/v1/conversations", reply)
    [item] = reply.body["items"]
    assert (item["id"], item["external_ref"], item["assignee_id"]) == (stored.conversation.id, "13700002001", me)
    assert (item["contact"]["name"], item["contact"]["phone"]) == ("赵先生", "13700002001")
    other = await call(live_hub, "GET", "/api/v1/conversations?assignee=me", await token_for(live_hub, "agent2"))
    assert other.body["items"] == []
    detail = await call(live_hub, "GET", f"/api/v1/conversations/{stored.conversation.id}", agent)
    check(doc, "get", "/api/v1/conversations/{id}", detail)
    assert detail.body["external_ref"] == "13700002001"
