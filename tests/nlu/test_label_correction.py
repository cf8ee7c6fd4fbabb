"""A label correction is about the message the agent chose: the candidate example is that message with its own
predicted labels, and the order of that request is corrected before dispatch (only recorded after)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp

from hub.models import Conversation, SenderKind
from hub.web.context import CTX
from nlu.web import FEEDBACK
from tests.fixtures.hub import RunningHub
from tests.hub.test_registration import STREETLIGHT, citizen_says, desk_of, labels, user


async def correct(
    session: aiohttp.ClientSession, hub: RunningHub, csrf: str, conversation_id: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{hub.url}/api/conversations/{conversation_id}/labels"
    async with session.post(url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


async def two_requests(hub: RunningHub) -> tuple[Conversation, int, int]:
    """A chat with a water request, then a street-light request (the NLU got the second one wrong)."""
    conversation = await hub.hub.service.open("web_chat")
    water = await citizen_says(hub, conversation, "我家停水了", **labels("repair", "water"))
    await hub.hub.service.post(conversation, "已为您记录", sender=SenderKind.BOT)
    light = await citizen_says(hub, conversation, "幸福路的路灯坏了", **labels("consult", "municipal"))
    await citizen_says(hub, conversation, "谢谢", intent={"name": "thank", "confidence": 0.9})
    return conversation, water.id, light.id


async def test_the_chosen_message_becomes_the_example(live_hub: RunningHub) -> None:
    conversation, _water, light = await two_requests(live_hub)
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        status, item = await correct(agent, live_hub, csrf, conversation.id, request_type="complaint", message_id=light)
    assert status == 201
    assert (item["text"], item["message_id"]) == ("幸福路的路灯坏了", light)
    assert item["predicted"] == {"request_type": "consult", "industry": "municipal"}  # its own labels
    assert (item["request_type"], item["industry"]) == ("complaint", "municipal")
    stored = await live_hub.hub.app[FEEDBACK].get(item["id"])
    assert stored.message_id == light and stored.text == "幸福路的路灯坏了"
    assert (await live_hub.hub.service.reads.get(conversation.id)).request_type == "complaint"


async def test_without_a_message_the_latest_request_never_the_first(live_hub: RunningHub) -> None:
    conversation, _water, light = await two_requests(live_hub)
    await citizen_says(live_hub, conversation, "转人工")
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        status, item = await correct(agent, live_hub, csrf, conversation.id, industry="municipal")
        assert status == 201 and item["message_id"] == light and item["text"] == "幸福路的路灯坏了"
        unlabelled = await live_hub.hub.service.open("sms", ref="13800001111")
        await citizen_says(live_hub, unlabelled, "你好")
        later = await citizen_says(live_hub, unlabelled, "幸福路12号门口的路灯坏了好几天")
        status, item = await correct(agent, live_hub, csrf, unlabelled.id, industry="municipal")
    assert status == 201 and item["message_id"] == later.id  # nothing labelled: the latest citizen message


async def test_a_message_of_another_conversation_or_not_from_the_citizen_is_refused(live_hub: RunningHub) -> None:
    conversation, water, _light = await two_requests(live_hub)
    _other, their_water, _ = await two_requests(live_hub)
    bot = await live_hub.hub.service.post(conversation, "机器人回复", sender=SenderKind.BOT)
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        status, body = await correct(agent, live_hub, csrf, conversation.id, industry="water", message_id=their_water)
        assert (status, body["error"]) == (404, "unknown_message") and body["message"] == "所选消息不属于该会话"
        status, body = await correct(
            agent, live_hub, csrf, conversation.id, industry="water", message_id=bot.message.id
        )
        assert (status, body["error"]) == (400, "message_not_citizen")
        status, body = await correct(agent, live_hub, csrf, conversation.id, industry="water", message_id="1")
        assert (status, body["error"]) == (400, "unknown_message")
        status, _ = await correct(agent, live_hub, csrf, conversation.id, industry="water", message_id=water)
        assert status == 201
    assert [i.message_id for i in await live_hub.hub.app[FEEDBACK].list_by_status()] == [water]


async def test_the_order_before_dispatch_is_corrected_with_an_audit(live_hub: RunningHub) -> None:
    conversation, water, light = await two_requests(live_hub)
    desk, agent_user = desk_of(live_hub), await user(live_hub)
    form = replace(STREETLIGHT, source="web_chat", conversation_id=conversation.id, request_type="consult")
    order = await desk.register(replace(form, dispatch=False, message_id=light), agent_user)
    store = live_hub.hub.app[CTX].work_orders
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        # the water request came before, and the street-light request after it: that order is not the water one's
        status, item = await correct(agent, live_hub, csrf, conversation.id, request_type="consult", message_id=water)
        assert status == 201 and item["work_order"] is None
        assert len(await store.history(order.id)) == 1
        status, item = await correct(agent, live_hub, csrf, conversation.id, request_type="complaint", message_id=light)
        assert status == 201 and item["work_order"] == {"number": order.number, "action": "edit"}
    fixed = await store.get_by_number(order.number)
    assert fixed is not None and fixed.request_type == "complaint"
    events = await store.history(fixed.id)
    assert events[-1]["action"] == "edit" and events[-1]["actor_id"] == agent_user.id
    assert events[-1]["data"] == {"changes": {"request_type": ["consult", "complaint"]}}


async def test_after_dispatch_the_correction_is_only_recorded(live_hub: RunningHub) -> None:
    conversation, _water, light = await two_requests(live_hub)
    form = replace(STREETLIGHT, source="web_chat", conversation_id=conversation.id, request_type="consult")
    order = await desk_of(live_hub).register(form, await user(live_hub))
    assert order.state == "dispatched"
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        status, item = await correct(agent, live_hub, csrf, conversation.id, request_type="complaint", message_id=light)
    assert status == 201 and item["work_order"] == {"number": order.number, "action": "relabel"}
    store = live_hub.hub.app[CTX].work_orders
    kept = await store.get_by_number(order.number)
    assert kept is not None and kept.request_type == "consult"  # the department's order is not changed
    relabel = [e for e in await store.history(kept.id) if e["action"] == "relabel"]
    assert [e["data"] for e in relabel] == [{"changes": {"request_type": ["consult", "complaint"]}}]
