"""The desk's SMS to the citizen after registration, through the real SMSC simulator: for a call and for a request
without a conversation, to a mainland mobile only; a chat is told in the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.intake import ContactHints
from tests.channels.sms.helpers import bound, sms_settings, until
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc
from tests.hub.test_registration import STREETLIGHT, citizen_says, desk_of, user


@pytest.fixture
async def sms_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **sms_settings(smsc)) as running:
        await bound(running)
        yield running


@pytest.mark.parametrize("source", ["walk_in", "letter"])
async def test_a_request_without_conversation_is_confirmed_by_sms(sms_hub: RunningHub, smsc: Smsc, source: str) -> None:
    mobile = "13900002222"
    order = await desk_of(sms_hub).register(replace(STREETLIGHT, source=source, phone=mobile), await user(sms_hub))
    expected = f"您的诉求已登记，工单号 {order.number}，已派发至【市路灯管理所】办理。"

    async def delivered() -> bool:
        return expected in await smsc.texts_to(mobile)

    await until(delivered)


async def test_a_call_is_confirmed_by_sms(sms_hub: RunningHub, smsc: Smsc) -> None:
    mobile = "13900003333"
    service = sms_hub.hub.service
    call = await service.open("voice", ref="call-7", hints=ContactHints(phone=mobile))
    await citizen_says(sms_hub, call, "幸福路12号路灯不亮")
    form = replace(STREETLIGHT, source="voice", conversation_id=call.id, phone=mobile, dispatch=False)
    order = await desk_of(sms_hub).register(form, await user(sms_hub))
    text = f"您的诉求已登记，工单号 {order.number}，我们将尽快安排办理。"
    assert (await service.reads.messages(call.id))[-1].text == text  # the agent sees it in the call's record

    async def delivered() -> bool:
        return text in await smsc.texts_to(mobile)

    await until(delivered)


@pytest.mark.parametrize(
    ("channel", "phone"),
    [(None, "01088886666"), ("web_chat", "13900004444")],  # a landline; a chat (told in the chat)
)
async def test_no_sms_to_a_landline_or_for_a_chat(sms_hub: RunningHub, channel: str | None, phone: str) -> None:
    service = sms_hub.hub.service
    conversation = await service.open(channel) if channel else None
    form = replace(
        STREETLIGHT,
        source=channel or "walk_in",
        phone=phone,
        conversation_id=conversation.id if conversation else None,
    )
    order = await desk_of(sms_hub).register(form, await user(sms_hub))
    assert order.phone == phone
    assert await service.store.find_open_by_ref("sms", phone) is None  # no SMS conversation was written to
