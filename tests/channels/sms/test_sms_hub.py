"""The SMS channel end to end: a running hub bound to the SMSC simulator (npm ``smpp`` server) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

from channels.sms.bulk_web import STORE
from tests.channels.sms.helpers import (
    CITIZEN,
    bound,
    citizen_texts,
    conversation_of,
    health,
    notify,
    sms_settings,
    until,
)
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc


async def test_citizen_sms_bot_reply_handoff_and_agent_reply(sms_hub: RunningHub, smsc: Smsc) -> None:
    assert (await smsc.deliver("+8613812345678", "你好"))["statuses"] == [0]
    await until(lambda: _texts(smsc))
    conversation = await conversation_of(sms_hub)
    assert conversation.channel == "sms"
    contact = await sms_hub.hub.service.store.contact_by_phone(CITIZEN)
    assert contact is not None and conversation.contact_id == contact.id

    await smsc.deliver(CITIZEN, "转人工")

    async def queued() -> bool:
        return (await conversation_of(sms_hub)).status.value == "queued"

    await until(queued)
    agent, csrf = await sms_hub.login("agent1", "agent123")
    try:
        base = f"{sms_hub.url}/api/conversations/{conversation.id}"
        async with agent.post(f"{base}/claim", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
        reply = {"text": "您好，我是座席张敏"}
        async with agent.post(f"{base}/reply", json=reply, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status in (200, 201), await r.text()
    finally:
        await agent.close()

    async def agent_reply_arrived() -> bool:
        return "您好，我是座席张敏" in await smsc.texts_to(CITIZEN)

    await until(agent_reply_arrived)
    state = await health(sms_hub)
    assert (state["status"], state["pending"], state["session"]) == ("ok", 0, "bound")


def _texts(smsc: Smsc) -> Awaitable[bool]:
    async def check() -> bool:
        return len(await smsc.texts_to(CITIZEN)) >= 1

    return check()


async def test_gsm7_and_concatenated_ucs2_inbound_are_stored_whole(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "Hello @ 12319", encoding="SMSC_DEFAULT")
    long_text = "".join(chr(0x4E00 + i) for i in range(150))
    result = await smsc.deliver(CITIZEN, long_text, per_part=67, reverse=True)  # parts arrive last-first
    assert result["statuses"] == [0, 0, 0]

    async def stored() -> bool:
        return await citizen_texts(sms_hub) == ["Hello @ 12319", long_text]

    await until(stored)


async def test_resent_deliver_sm_is_processed_once(sms_hub: RunningHub, smsc: Smsc) -> None:
    for _ in range(2):
        assert (await smsc.deliver(CITIZEN, "路灯不亮了", user_message_reference=77))["statuses"] == [0]
    long_text = "停" * 100
    for _ in range(2):  # the same long message, all parts resent after it was stored
        await smsc.deliver(CITIZEN, long_text, per_part=67, ref=9, user_message_reference=78)
    await smsc.deliver(CITIZEN, "路灯不亮了", user_message_reference=79)  # a new message with the same words
    await sms_hub.hub.service.drain()
    assert await citizen_texts(sms_hub) == ["路灯不亮了", long_text, "路灯不亮了"]
    assert (await health(sms_hub))["inbound_duplicates"] == 3  # one short resend, two parts


async def test_long_reply_is_split_into_67_character_parts_and_receipts_tracked(
    sms_hub: RunningHub, smsc: Smsc
) -> None:
    await smsc.deliver(CITIZEN, "谢谢")
    await until(lambda: _texts(smsc))
    await smsc.call("POST", "/reset")
    conversation = await conversation_of(sms_hub)
    text = "".join(chr(0x4E00 + i) for i in range(150))
    message = await notify(sms_hub, conversation, text)

    async def reassembled() -> bool:
        return await smsc.texts_to(CITIZEN) == [text]

    await until(reassembled)
    submits = (await smsc.state())["submits"]
    assert [len(s["text"]) for s in submits] == [67, 67, 16]
    ref = message.id & 0xFF  # concatenation IE 00, length 3: ref, total, seq
    assert [s["udh"] for s in submits] == [f"0003{ref:02x}03{seq:02x}" for seq in (1, 2, 3)]
    assert {s["esm_class"] & 0x40 for s in submits} == {0x40}
    assert {s["data_coding"] for s in submits} == {8}
    assert {s["source"] for s in submits} == {"12319"}
    store = sms_hub.hub.app[STORE]

    async def delivered() -> bool:
        return (await store.delivery_status(message.id))["status"] == "delivered"

    await until(delivered)

    await smsc.call("POST", "/config", {"receiptStat": "UNDELIV"})
    failed = await notify(sms_hub, conversation, "短信")

    async def failed_receipt() -> bool:
        return (await store.delivery_status(failed.id))["status"] == "failed"

    await until(failed_receipt)


async def test_smsc_down_queues_outbound_until_it_is_back(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "你好")
    await until(lambda: _texts(smsc))
    conversation = await conversation_of(sms_hub)
    await smsc.call("POST", "/down")
    await notify(sms_hub, conversation, "您的工单已受理")

    async def degraded() -> bool:
        state = await health(sms_hub)
        return state["status"] == "degraded" and state["pending"] >= 1 and state["session"] != "bound"

    await until(degraded)
    await smsc.call("POST", "/up")

    async def arrived() -> bool:
        return "您的工单已受理" in await smsc.texts_to(CITIZEN)

    await until(arrived)

    async def recovered() -> bool:
        state = await health(sms_hub)
        return state["status"] == "ok" and state["pending"] == 0

    await until(recovered)


async def test_hub_restart_loses_neither_parts_nor_pending_replies(
    tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc
) -> None:
    long_text = "请问" * 60
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **sms_settings(smsc)) as first:
        await bound(first)
        await smsc.deliver(CITIZEN, "你好")
        await until(lambda: _texts(smsc))
        conversation = await conversation_of(first)
        # the first part of a long message is acknowledged (stored) before the hub stops
        assert (await smsc.deliver(CITIZEN, long_text, per_part=67, ref=5, only=[1]))["statuses"] == [0]
        await smsc.call("POST", "/down")
        await notify(first, conversation, "重启前的通知")

        async def pending() -> bool:
            return (await health(first))["pending"] >= 1

        await until(pending)
        await first.hub.service.drain()
    await smsc.call("POST", "/up")
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **sms_settings(smsc)) as second:

        async def notice_arrived() -> bool:
            return "重启前的通知" in await smsc.texts_to(CITIZEN)

        await until(notice_arrived)
        await bound(second)
        assert (await smsc.deliver(CITIZEN, long_text, per_part=67, ref=5, only=[2]))["statuses"] == [0]

        async def whole() -> bool:
            return long_text in await citizen_texts(second)

        await until(whole)


async def test_broken_pdu_from_the_smsc_resets_and_rebinds(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.call("POST", "/raw", {"hex": "00000003" + "00000000" * 3})

    async def rebound() -> bool:
        state = await health(sms_hub)
        return state["binds"] >= 2 and state["session"] == "bound"

    await until(rebound)
    await smsc.deliver(CITIZEN, "你好")
    await until(lambda: _texts(smsc))


async def test_healthz_shows_sms_disabled_without_settings(live_hub: RunningHub) -> None:
    assert await health(live_hub) == {"status": "ok", "enabled": False, "mode": "disabled"}
