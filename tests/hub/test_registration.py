"""The desk's registration service (受理) on a demo hub: validation, dispatch target, duplicates, the citizen's
notice, editing before dispatch with its audit, and the form prefilled from conversations of every channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, Message, Role, SenderKind, User
from hub.web.context import CTX, HubContext
from hub.work_orders.registration import DeskRegistration, RegistrationError, RegistrationForm
from hub.work_orders.service import NotFound, WorkOrderError
from tests.fixtures.hub import RunningHub

STREETLIGHT = RegistrationForm(
    source="walk_in",
    request_type="complaint",
    description="幸福路12号门口路灯不亮三天了",
    industry="municipal",
    category="municipal.streetlight",
    address="城东区幸福路12号",
    phone="138-0000-1234",
    citizen_name="王女士",
)
PASSWORDS = {"agent1": "agent123", "leader": "leader123", "dept": "dept123", "supervisor": "supervisor123"}


def ctx_of(hub: RunningHub) -> HubContext:
    return hub.hub.app[CTX]


def desk_of(hub: RunningHub) -> DeskRegistration:
    desk = ctx_of(hub).registration
    assert desk is not None
    return desk


async def user(hub: RunningHub, name: str = "agent1") -> User:
    found = await ctx_of(hub).users.authenticate(name, PASSWORDS[name])
    assert found is not None
    return found


async def history(hub: RunningHub, number: str) -> list[dict[str, Any]]:
    ctx = ctx_of(hub)
    order = await ctx.work_orders.get_by_number(number)
    assert order is not None
    return await ctx.work_orders.history(order.id)


async def citizen_says(hub: RunningHub, conversation: Conversation, text: str, **nlu: Any) -> Message:
    """A citizen message stored for agents (no bot turn), with the NLU labels given."""
    service = hub.hub.service
    stored = await service.receive(Inbound(conversation.channel, text, conversation_id=conversation.id, for_bot=False))
    if nlu:
        await service.label(stored.message, {"text": text, **nlu})
    message = await service.reads.message(stored.message.id)
    assert message is not None
    return message


def labels(kind: str | None = None, industry: str | None = None, **entities: str) -> dict[str, Any]:
    return {
        "intent": {"name": kind or "inform", "confidence": 0.9},
        "type": {"name": kind, "confidence": 0.9} if kind else None,
        "industry": {"name": industry, "confidence": 0.9} if industry else None,
        "category": None,
        "entities": [{"entity": k, "value": v, "start": 0, "end": len(v)} for k, v in entities.items()],
    }


# -- registering --------------------------------------------------------------------------------------------------


async def test_walk_in_is_registered_and_dispatched_by_rule_as_the_agent(live_hub: RunningHub) -> None:
    agent = await user(live_hub)
    order = await desk_of(live_hub).register(STREETLIGHT, agent)
    assert (order.state, order.unit, order.source) == ("dispatched", "streetlight_office", "walk_in")
    assert (order.phone, order.citizen_name, order.created_by, order.district) == (
        "13800001234",
        "王女士",
        agent.id,
        "chengdong",
    )
    contact = await ctx_of(live_hub).conversations.contact_by_phone("13800001234")
    assert contact is not None and order.contact_id == contact.id and contact.name == "王女士"
    events = [e for e in await history(live_hub, order.number) if e["action"] in ("receive", "dispatch")]
    assert [(e["action"], e["actor_id"]) for e in events] == [("receive", agent.id), ("dispatch", agent.id)]
    assert not (events[1]["data"] or {}).get("auto")  # the agent's own dispatch, not the rule's


@pytest.mark.parametrize(
    ("changes", "state", "unit"),
    [
        ({"dispatch": False}, "received", None),  # register only: the centre's to-dispatch list
        ({"unit": "municipal_office"}, "dispatched", "municipal_office"),  # the agent overrides the rule
        ({"unit": "municipal_office", "dispatch": False}, "received", None),
    ],
)
async def test_register_only_and_the_agents_unit(
    live_hub: RunningHub, changes: dict[str, Any], state: str, unit: str | None
) -> None:
    order = await desk_of(live_hub).register(replace(STREETLIGHT, **changes), await user(live_hub))
    assert (order.state, order.unit) == (state, unit)


@pytest.mark.parametrize(
    ("category", "urgent", "expected"),
    [("water.outage", None, True), ("water.outage", False, False), ("water.quality", None, False), (None, True, True)],
)
async def test_urgent_from_the_category_unless_the_agent_says(
    live_hub: RunningHub, category: str | None, urgent: bool | None, expected: bool
) -> None:
    form = replace(STREETLIGHT, industry="water", category=category, urgent=urgent, description="停水了")
    assert (await desk_of(live_hub).preview(form, await user(live_hub))).urgent is expected
    assert (await desk_of(live_hub).register(form, await user(live_hub))).urgent is expected


async def test_the_time_it_happened_goes_into_the_description(live_hub: RunningHub) -> None:
    desk = desk_of(live_hub)
    when = desk.orders.now() - timedelta(hours=3)
    order = await desk.register(replace(STREETLIGHT, occurred_at=when), await user(live_hub))
    assert order.description.startswith(STREETLIGHT.description + "\n发生时间：")
    assert ctx_of(live_hub).city.format(when) in order.description
    with pytest.raises(RegistrationError) as refused:
        await desk.register(replace(STREETLIGHT, occurred_at=when + timedelta(days=1)), await user(live_hub))
    assert (refused.value.code, refused.value.field) == ("occurred_in_future", "occurred_at")


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"source": "fax"}, "unknown_source", "source"),
        ({"source": "web_chat"}, "manual_source_only", "source"),
        ({"request_type": "gossip"}, "unknown_request_type", "request_type"),
        ({"industry": "bakery"}, "unknown_industry", "industry"),
        ({"category": "municipal.nothing"}, "unknown_category", "category"),
        ({"industry": "water"}, "category_mismatch", "category"),
        ({"description": "  \n "}, "description_required", "description"),
        ({"description": "长" * 4001}, "field_too_long", "description"),
        ({"address": "路" * 201}, "field_too_long", "address"),
        ({"citizen_name": "名" * 51}, "field_too_long", "citizen_name"),
        ({"phone": "12345"}, "phone_format", "phone"),
        ({"phone": "2345678901"}, "phone_format", "phone"),
        ({"unit": "centre"}, "unknown_unit", "unit"),
        ({"unit": "nowhere"}, "unknown_unit", "unit"),
        ({"conversation_id": "no-such-conversation"}, "unknown_conversation", "conversation_id"),
    ],
)
async def test_refusals_say_what_and_where(
    live_hub: RunningHub, changes: dict[str, Any], code: str, field: str
) -> None:
    ctx = ctx_of(live_hub)
    before = await ctx.work_orders.count_by_state()
    with pytest.raises(RegistrationError) as refused:
        await desk_of(live_hub).register(replace(STREETLIGHT, **changes), await user(live_hub))
    assert (refused.value.code, refused.value.field) == (code, field)
    assert "wo.error" not in refused.value.text("zh-CN") and refused.value.text("zh-CN") != refused.value.text("en")
    assert await ctx.work_orders.count_by_state() == before  # nothing registered


@pytest.mark.parametrize(
    ("who", "source", "allowed"),
    [
        ("leader", "leader", True),
        ("leader", "walk_in", False),
        ("dept", "walk_in", False),
        ("supervisor", "media", True),
    ],
)
async def test_who_may_register_with_which_source(live_hub: RunningHub, who: str, source: str, allowed: bool) -> None:
    form = replace(STREETLIGHT, source=source)
    if allowed:
        assert (await desk_of(live_hub).register(form, await user(live_hub, who))).source == source
        return
    with pytest.raises(RegistrationError) as refused:
        await desk_of(live_hub).register(form, await user(live_hub, who))
    assert refused.value.code in ("leader_source_only", "role_not_allowed")


# -- the preview --------------------------------------------------------------------------------------------------


async def test_preview_shows_the_rules_target_and_likely_duplicates(live_hub: RunningHub) -> None:
    desk, agent = desk_of(live_hub), await user(live_hub)
    first = await desk.register(STREETLIGHT, agent)
    shown = await desk.preview(replace(STREETLIGHT, address="城东区幸福路12号3单元"), agent)
    assert (shown.unit, shown.unit_from, shown.reason, shown.district) == (
        "streetlight_office",
        "rule",
        None,
        "chengdong",
    )
    assert [(d.number, d.state) for d in shown.duplicates] == [(first.number, "dispatched")]
    elsewhere = await desk.preview(replace(STREETLIGHT, address="城西区长江路8号"), agent)
    assert (elsewhere.duplicates, elsewhere.district) == ((), "chengxi")


@pytest.mark.parametrize(
    ("changes", "unit", "reason"),
    [
        ({"dispatch": False}, None, "register_only"),
        ({"industry": None, "category": None}, None, "no_industry"),
        ({"unit": "gas_company"}, "gas_company", None),
        ({"industry": "bakery", "category": "nonsense"}, None, "no_industry"),  # unfinished forms never fail
    ],
)
async def test_preview_reasons(live_hub: RunningHub, changes: dict[str, Any], unit: str | None, reason: str) -> None:
    shown = await desk_of(live_hub).preview(replace(STREETLIGHT, **changes), await user(live_hub))
    assert (shown.unit, shown.reason) == (unit, reason)


async def test_no_matching_rule_leaves_the_order_received(live_hub: RunningHub) -> None:
    ctx = ctx_of(live_hub)
    assert ctx.orders is not None
    desk = DeskRegistration(ctx.orders, ctx.service, ctx.taxonomy, lambda industry, category, district: None)
    assert (await desk.preview(STREETLIGHT, await user(live_hub))).reason == "no_rule"
    order = await desk.register(STREETLIGHT, await user(live_hub))
    assert (order.state, order.unit) == ("received", None)


# -- telling the citizen ------------------------------------------------------------------------------------------


async def test_the_citizen_is_told_once_in_the_conversation(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat")
    said = await citizen_says(live_hub, conversation, "幸福路12号路灯坏了", **labels("complaint", "municipal"))
    form = replace(STREETLIGHT, source="web_chat", conversation_id=conversation.id, message_id=said.id)
    order = await desk_of(live_hub).register(form, await user(live_hub))
    await service.drain()
    notices = [m for m in await service.reads.messages(conversation.id) if order.number in m.text]
    assert [(m.sender_kind, m.text) for m in notices] == [
        (SenderKind.SYSTEM, f"您的诉求已登记，工单号 {order.number}，已派发至【市路灯管理所】办理。")
    ]
    linked = await service.reads.get(conversation.id)
    assert linked.contact_id == order.contact_id is not None  # the phone given links the citizen


async def test_register_only_tells_the_number_without_a_unit(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat", locale="en")
    await citizen_says(live_hub, conversation, "street light broken")
    form = replace(STREETLIGHT, source="web_chat", conversation_id=conversation.id, dispatch=False)
    order = await desk_of(live_hub).register(form, await user(live_hub))
    last = (await service.reads.messages(conversation.id))[-1]
    assert (
        last.text
        == f"Your request has been registered as work order {order.number}; we will arrange for it to be handled soon."
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"source": "walk_in"}, "source_not_channel"),
        ({"message_id": 10**9}, "unknown_message"),
        ({"message_id": "bot"}, "message_not_citizen"),
        ({"message_id": "other"}, "unknown_message"),
    ],
)
async def test_conversation_refusals(live_hub: RunningHub, changes: dict[str, Any], code: str) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat")
    other = await service.open("web_chat")
    await citizen_says(live_hub, conversation, "路灯坏了")
    bot = await service.post(conversation, "您好", sender=SenderKind.BOT)
    theirs = await citizen_says(live_hub, other, "另一个会话")
    ids = {"bot": bot.message.id, "other": theirs.id}
    changes = {k: ids.get(v, v) if isinstance(v, str) and k == "message_id" else v for k, v in changes.items()}
    form = replace(STREETLIGHT, **{"source": "web_chat", "conversation_id": conversation.id, **changes})
    with pytest.raises(RegistrationError) as refused:
        await desk_of(live_hub).register(form, await user(live_hub))
    assert refused.value.code == code


# -- editing before dispatch --------------------------------------------------------------------------------------


async def test_edit_before_dispatch_is_audited(live_hub: RunningHub) -> None:
    desk, agent = desk_of(live_hub), await user(live_hub)
    order = await desk.register(replace(STREETLIGHT, dispatch=False), agent)
    edited = await desk.edit(
        order.number,
        {"request_type": "repair", "address": "城西区长江路8号", "phone": "13800001234", "industry": "water"},
        agent,
    )
    assert (edited.request_type, edited.address, edited.district, edited.industry, edited.category) == (
        "repair",
        "城西区长江路8号",
        "chengxi",
        "water",
        None,  # the streetlight category does not belong to water
    )
    events = await history(live_hub, order.number)
    assert events[-1]["action"] == "edit" and events[-1]["actor_id"] == agent.id
    assert events[-1]["data"] == {
        "changes": {
            "request_type": ["complaint", "repair"],
            "address": ["城东区幸福路12号", "城西区长江路8号"],
            "district": ["chengdong", "chengxi"],
            "industry": ["municipal", "water"],
            "category": ["municipal.streetlight", None],
        }
    }  # the unchanged phone is not recorded
    assert await desk.edit(order.number, {"phone": "13800001234"}, agent) == edited  # nothing changed: no event
    assert len(await history(live_hub, order.number)) == len(events)


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"description": ""}, "description_required"), ({"category": "water.outage"}, "category_mismatch")],
)
async def test_edit_validates_like_the_form(live_hub: RunningHub, changes: dict[str, Any], code: str) -> None:
    desk, agent = desk_of(live_hub), await user(live_hub)
    order = await desk.register(replace(STREETLIGHT, dispatch=False), agent)
    with pytest.raises(RegistrationError) as refused:
        await desk.edit(order.number, changes, agent)
    assert refused.value.code == code


async def test_edit_after_dispatch_is_refused(live_hub: RunningHub) -> None:
    desk, agent = desk_of(live_hub), await user(live_hub)
    order = await desk.register(STREETLIGHT, agent)
    with pytest.raises(WorkOrderError) as refused:
        await desk.edit(order.number, {"description": "改了"}, agent)
    assert refused.value.code == "edit_after_dispatch"
    assert "派单后不能再修改" in refused.value.text("zh-CN") and "已派单" in refused.value.text("zh-CN")
    after = await ctx_of(live_hub).work_orders.get_by_number(order.number)
    assert after is not None and (after.description, after.state) == (order.description, "dispatched")


async def test_a_department_cannot_edit(live_hub: RunningHub) -> None:
    desk, dept = desk_of(live_hub), await user(live_hub, "dept")
    assert dept.role is Role.DEPARTMENT
    waiting = await desk.register(replace(STREETLIGHT, dispatch=False), await user(live_hub))
    with pytest.raises(NotFound):  # before dispatch the order is no department's
        await desk.edit(waiting.number, {"description": "改了"}, dept)
    theirs = await desk.register(STREETLIGHT, await user(live_hub))
    with pytest.raises(RegistrationError) as refused:
        await desk.edit(theirs.number, {"description": "改了"}, dept)
    assert refused.value.code == "role_not_allowed" and "修改工单" in refused.value.text("zh-CN")


# -- prefilled from conversations ---------------------------------------------------------------------------------


async def test_prefill_from_a_chat_takes_the_nlu_and_the_citizens_words(live_hub: RunningHub) -> None:
    service, desk = live_hub.hub.service, desk_of(live_hub)
    conversation = await service.open("web_chat")
    await citizen_says(live_hub, conversation, "你好", intent={"name": "greet", "confidence": 0.9})
    first = await citizen_says(live_hub, conversation, "我家停水了", **labels("repair", "water"))
    await service.post(conversation, "请问您的地址？", sender=SenderKind.BOT)
    await citizen_says(live_hub, conversation, "城西区长江路8号", **labels(address="城西区长江路8号"))
    await citizen_says(live_hub, conversation, "13800009999", **labels(phone="13800009999"))
    later = await citizen_says(
        live_hub, conversation, "另外幸福路的路灯昨天晚上也坏了", **labels("complaint", "municipal", time="昨天晚上")
    )
    draft = await desk.draft_from_conversation(conversation.id, None, await user(live_hub))
    assert draft["message_id"] == later.id  # the latest message the NLU classified
    assert (draft["request_type"], draft["industry"], draft["category"]) == (
        "complaint",
        "municipal",
        "municipal.streetlight",
    )
    assert (draft["description"], draft["time"], draft["source"]) == (
        "另外幸福路的路灯昨天晚上也坏了",
        "昨天晚上",
        "web_chat",
    )

    chosen = await desk.draft_from_conversation(conversation.id, first.id, await user(live_hub))
    assert (chosen["request_type"], chosen["industry"], chosen["category"]) == ("repair", "water", "water.outage")
    assert (chosen["address"], chosen["phone"]) == ("城西区长江路8号", "13800009999")
    assert chosen["description"] == "我家停水了；城西区长江路8号"  # no greeting, no bare phone, not the next request
    assert chosen["forward_text"] == "我家停水了\n城西区长江路8号"
    assert later.id not in chosen["segment_ids"]


async def test_prefill_refuses_a_message_of_another_conversation(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    mine, other = await service.open("web_chat"), await service.open("web_chat")
    theirs = await citizen_says(live_hub, other, "别人的消息")
    with pytest.raises(RegistrationError) as refused:
        await desk_of(live_hub).draft_from_conversation(mine.id, theirs.id, await user(live_hub))
    assert refused.value.code == "unknown_message"


async def test_prefill_uses_the_conversations_corrected_labels(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat")
    await citizen_says(live_hub, conversation, "路灯坏了", **labels("consult", "municipal"))
    await service.store.update(conversation.id, request_type="complaint", industry="municipal")  # an agent's fix
    draft = await desk_of(live_hub).draft_from_conversation(conversation.id, None, await user(live_hub))
    assert draft["request_type"] == "complaint"


@pytest.mark.parametrize("channel", ["voice", "sms", "email", "telegram", "web_chat"])
async def test_prefill_works_for_every_channel(live_hub: RunningHub, channel: str) -> None:
    service = live_hub.hub.service
    refs = {"sms": "13800007777", "email": "citizen@example.com", "telegram": "4711", "voice": "call-1"}
    hints = {"voice": ContactHints(phone="13800006666"), "email": ContactHints(email="citizen@example.com")}
    conversation = await service.open(channel, ref=refs.get(channel), hints=hints.get(channel, ContactHints()))
    text = "留言：长江路8号水管爆了，一直在冒水" if channel == "voice" else "长江路8号水管爆了，一直在冒水"
    await citizen_says(live_hub, conversation, text, **labels("repair", "water", address="长江路8号"))
    draft = await desk_of(live_hub).draft_from_conversation(conversation.id, None, await user(live_hub))
    assert (draft["source"], draft["industry"], draft["category"], draft["address"]) == (
        channel,
        "water",
        "water.pipe_burst",
        "长江路8号",
    )
    assert draft["description"] == text
    phones = {"voice": "13800006666", "sms": "13800007777"}
    assert draft["phone"] == phones.get(channel)


async def test_a_voicemail_without_labels_still_fills_the_description(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    conversation = await service.open("voice", hints=ContactHints(phone="13800005555"))
    await citizen_says(live_hub, conversation, "我是幸福路的，楼道灯坏了，麻烦派人来修")
    draft = await desk_of(live_hub).draft_from_conversation(conversation.id, None, await user(live_hub))
    assert draft["description"] == "我是幸福路的，楼道灯坏了，麻烦派人来修"
    assert (draft["phone"], draft["request_type"], draft["source"]) == ("13800005555", None, "voice")


@pytest.mark.parametrize("confidence", [0.33, 0.9])
async def test_an_answer_to_the_bots_question_is_not_a_new_request(live_hub: RunningHub, confidence: float) -> None:
    """The real NLU labels an address reply too (repair/municipal at 0.33 here): unsure labels, or a text that is
    mostly the address, neither make it the request nor end the request's messages."""
    conversation = await live_hub.hub.service.open("web_chat")
    first = await citizen_says(
        live_hub, conversation, "我家楼下路灯坏了三天了", **labels("complaint", "municipal", time="三天")
    )
    answer = labels("repair", "water", address="城东区幸福路12号3单元")
    answer["type"]["confidence"] = answer["industry"]["confidence"] = answer["intent"]["confidence"] = confidence
    await citizen_says(live_hub, conversation, "城东区幸福路12号3单元门口", **answer)
    draft = await desk_of(live_hub).draft_from_conversation(conversation.id, None, await user(live_hub))
    assert draft["message_id"] == first.id
    assert (draft["request_type"], draft["industry"], draft["category"], draft["time"]) == (
        "complaint",
        "municipal",
        "municipal.streetlight",
        "三天",
    )
    assert draft["description"] == "我家楼下路灯坏了三天了；城东区幸福路12号3单元门口"
