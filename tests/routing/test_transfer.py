"""Transferring a conversation over a real hub: to another agent (it leaves one "mine" for the other's), back into a
queue (it waits, then the next available agent gets it), to a department's contact through the real SMSC simulator
and SMTP server (the transcript masked on an SMS), and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, ConversationStatus
from hub.web.context import CTX
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD, Switchboard
from routing.transfer import mask_phones
from tests.channels.email.helpers import body, email_settings, mail_hub, replies
from tests.channels.sms.helpers import bound, sms_settings
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.mail import Mailbox, MailServer
from tests.fixtures.smsc import Smsc

UNIT_PHONE = "13800000000"  # demo: 市路灯管理所 (streetlight_office) is alerted by SMS
UNIT_MAIL = "qiangxian@gas.example.com"  # demo: 市燃气集团抢险抢修中心 (gas_company.emergency) by e-mail


async def until(check: Callable[[], Awaitable[object]], rounds: int = 300) -> None:
    """Poll (bounded, never timed) until ``check`` holds."""
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def user_id(hub: RunningHub, username: str, password: str = "agent123") -> int:
    user = await hub.hub.app[CTX].users.authenticate(username, password)
    assert user is not None
    return user.id


async def held_by(hub: RunningHub, agent: str, text: str, phone: str) -> Conversation:
    """An SMS conversation queued for a human and assigned by the router to ``agent`` (the only one available)."""
    board = hub.hub.app[SWITCHBOARD]
    service = hub.hub.service
    stored = await service.receive(Inbound("sms", text, ref=phone, hints=ContactHints(phone=phone), for_bot=False))
    await service.queue(stored.conversation.id, "requested")
    board.set_status(await user_id(hub, agent), "available")
    holder = await user_id(hub, agent)

    async def assigned() -> bool:
        current = await service.store.get(stored.conversation.id)
        return current.status is ConversationStatus.ASSIGNED and current.assignee_id == holder

    await until(assigned)
    return await service.store.get(stored.conversation.id)


async def post(
    session: aiohttp.ClientSession, csrf: str, url: str, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=payload, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


async def mine(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(f"{url}/api/inbox?view=mine") as resp:
        assert resp.status == 200
        return [item["id"] for item in (await resp.json())["items"]]


async def log_of(board: Switchboard, item_id: str) -> list[LogEntry]:
    return await board.log.entries(datetime.now(UTC) - timedelta(hours=1), item_id=item_id)


async def kinds_of(board: Switchboard, item_id: str) -> list[str]:
    return [e.event.value for e in await log_of(board, item_id)]


async def test_a_conversation_moves_to_another_agent_with_its_note(live_hub: RunningHub) -> None:
    hub = live_hub.hub
    board = hub.app[SWITCHBOARD]
    conversation = await held_by(live_hub, "agent1", "路灯不亮，在幸福路12号", "13700001111")
    agent1, agent2 = await user_id(live_hub, "agent1"), await user_id(live_hub, "agent2")
    board.set_status(agent2, "available")
    first, csrf1 = await live_hub.login("agent1", "agent123")
    second, _ = await live_hub.login("agent2", "agent123")
    try:
        assert await mine(first, live_hub.url) == [conversation.id]
        status, targets = await _get(first, f"{live_hub.url}/api/transfer/targets?conversation_id={conversation.id}")
        assert status == 200 and targets["routed"] is True and targets["call"] is None
        assert [(a["id"], a["name"], a["status"]) for a in targets["agents"]] == [(agent2, "座席 李娜", "available")]
        assert {"name": "general", "label": "综合队列"} in targets["queues"]
        units = {u["code"]: u for u in targets["units"]}
        assert units["streetlight_office"]["channel"] == "sms" and units["streetlight_office"]["ready"] is False
        assert units["streetlight_office"]["address"] == "138****0000"

        status, done = await post(
            first,
            csrf1,
            f"{live_hub.url}/api/conversations/{conversation.id}/transfer",
            {"to": "agent", "agent_id": agent2, "note": "市民要求回电，已核实地址"},
        )
        assert status == 200, done
        assert done["note"]["text"] == "已转接给座席 李娜\n转接说明：市民要求回电，已核实地址"

        async def moved() -> bool:
            return (await hub.service.store.get(conversation.id)).assignee_id == agent2

        await until(moved)
        assert board.holder(conversation.id) == agent2
        assert await mine(first, live_hub.url) == []
        assert await mine(second, live_hub.url) == [conversation.id]
        detail = await _get(second, f"{live_hub.url}/api/conversations/{conversation.id}")
        assert detail[0] == 200
        assert "转接说明：市民要求回电，已核实地址" in [n["text"].split("\n")[-1] for n in detail[1]["notes"]]
        assert "路灯不亮，在幸福路12号" in [m["text"] for m in detail[1]["messages"]]
        texts = [m.text for m in await hub.service.store.messages(conversation.id)]
        assert any("李娜" in text for text in texts), texts  # the citizen is told who serves them now

        async def logged() -> bool:
            return (await kinds_of(board, conversation.id))[-2:] == ["transfer", "connect"]

        await until(logged)
        entries = await log_of(board, conversation.id)
        transfer, connect = entries[-2:]
        assert transfer.agent_id == agent1 and transfer.data == {"to_agent": agent2, "to_queue": None}
        assert connect.agent_id == agent2 and connect.reason == "transferred"
    finally:
        await first.close()
        await second.close()


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as resp:
        return resp.status, await resp.json()


async def test_a_conversation_sent_back_to_a_queue_waits_then_goes_to_the_next_available_agent(
    live_hub: RunningHub,
) -> None:
    hub = live_hub.hub
    board = hub.app[SWITCHBOARD]
    conversation = await held_by(live_hub, "agent1", "家里停水了", "13700002222")
    agent1, agent2 = await user_id(live_hub, "agent1"), await user_id(live_hub, "agent2")
    board.set_status(agent1, "break", "meal")  # keeps what is in hand, gets nothing new
    session, csrf = await live_hub.login("agent1", "agent123")
    try:
        status, done = await post(
            session,
            csrf,
            f"{live_hub.url}/api/conversations/{conversation.id}/transfer",
            {"to": "queue", "queue": "general", "note": "我要去开会"},
        )
        assert status == 200, done
        assert done["note"]["text"] == "已转回队列：综合队列\n转接说明：我要去开会"
        waiting = await hub.service.store.get(conversation.id)
        assert waiting.status is ConversationStatus.QUEUED and waiting.assignee_id is None
        assert board.position(conversation.id) == (1, None)  # nobody available: it waits
        assert await mine(session, live_hub.url) == []
        board.set_status(agent2, "available")

        async def assigned() -> bool:
            current = await hub.service.store.get(conversation.id)
            return current.status is ConversationStatus.ASSIGNED and current.assignee_id == agent2

        await until(assigned)

        async def logged() -> bool:
            return len(await kinds_of(board, conversation.id)) == 5

        await until(logged)
        first, connect, *moved, again = await log_of(board, conversation.id)
        assert (first.event, connect.event, again.event) == (QueueEvent.ENTER, QueueEvent.CONNECT, QueueEvent.CONNECT)
        [transfer] = [e for e in moved if e.event is QueueEvent.TRANSFER]  # logged at the same instant as the enter
        [enter] = [e for e in moved if e.event is QueueEvent.ENTER]
        assert transfer.agent_id == agent1 and transfer.data == {"to_agent": None, "to_queue": "general"}
        assert enter.reason == "transfer" and enter.queue == "general" and again.agent_id == agent2
    finally:
        await session.close()


async def test_refusals(live_hub: RunningHub) -> None:
    hub = live_hub.hub
    board = hub.app[SWITCHBOARD]
    conversation = await held_by(live_hub, "agent1", "井盖丢了", "13700003333")
    agent2 = await user_id(live_hub, "agent2")
    first, csrf1 = await live_hub.login("agent1", "agent123")
    second, csrf2 = await live_hub.login("agent2", "agent123")
    boss, csrf_boss = await live_hub.login("supervisor", "supervisor123")
    url = f"{live_hub.url}/api/conversations/{conversation.id}/transfer"
    try:
        status, refused = await post(first, csrf1, url, {"to": "agent", "agent_id": agent2})
        assert (status, refused["error"], refused["message"]) == (409, "agent_offline", "座席 李娜未签入，无法转接")
        status, refused = await post(first, csrf1, url, {"to": "department", "unit": "streetlight_office"})
        assert (status, refused["error"]) == (409, "channel_off")  # this hub has no SMSC
        assert refused["message"] == "短信渠道未启用，无法转给该部门"
        status, refused = await post(first, csrf1, url, {"to": "department", "unit": "water_group"})
        assert (status, refused["error"]) == (409, "unit_no_contact")
        status, refused = await post(first, csrf1, url, {"to": "queue", "queue": "outbound"})
        assert (status, refused["error"]) == (400, "unknown_queue")
        status, refused = await post(first, csrf1, url, {"to": "elsewhere"})
        assert (status, refused["error"]) == (400, "invalid_target")
        status, refused = await post(first, csrf1, url, {"to": "agent", "agent_id": await user_id(live_hub, "agent1")})
        assert (status, refused["error"]) == (409, "same_agent")
        board.set_status(agent2, "available")
        status, refused = await post(second, csrf2, url, {"to": "queue", "queue": "general"})
        assert (status, refused["error"]) == (403, "not_holder")  # agent2 does not hold it
        async with first.post(url, json={"to": "queue", "queue": "general"}) as resp:  # no CSRF token
            assert resp.status == 403
        status, refused = await post(first, "", url, {"to": "queue", "queue": "general"})
        assert status == 403
        assert (await hub.service.store.get(conversation.id)).assignee_id == await user_id(live_hub, "agent1")
        # a supervisor may move an agent's conversation
        status, done = await post(boss, csrf_boss, url, {"to": "agent", "agent_id": agent2})
        assert status == 200, done

        async def moved() -> bool:
            return (await hub.service.store.get(conversation.id)).assignee_id == agent2

        await until(moved)
        # a conversation that is not being handled cannot be transferred
        await hub.service.close(conversation.id, await hub.app[CTX].users.get(agent2))  # type: ignore[arg-type]
        status, refused = await post(boss, csrf_boss, url, {"to": "agent", "agent_id": agent2})
        assert (status, refused["error"], refused["message"]) == (409, "not_assigned", "只能转接正在处理中的会话")
    finally:
        for session in (first, second, boss):
            await session.close()


async def test_to_a_department_by_sms_the_unit_gets_the_masked_transcript_and_the_agent_keeps_it(
    tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc
) -> None:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **sms_settings(smsc)) as running:
        await bound(running)
        hub = running.hub
        board = hub.app[SWITCHBOARD]
        conversation = await held_by(running, "agent1", "幸福路12号路灯不亮，我电话13912345678", "13700004444")
        agent1 = await user_id(running, "agent1")
        session, csrf = await running.login("agent1", "agent123")
        try:
            status, note = await post(
                session,
                csrf,
                f"{running.url}/api/conversations/{conversation.id}/notes",
                {"text": "市民说已经坏了三天"},
            )
            assert status == 201, note
            status, done = await post(
                session,
                csrf,
                f"{running.url}/api/conversations/{conversation.id}/transfer",
                {"to": "department", "unit": "streetlight_office", "note": "请尽快派人"},
            )
            assert status == 200, done
            assert done["note"]["text"] == "已转给市路灯管理所（短信 138****0000）\n转接说明：请尽快派人"

            async def sent() -> bool:
                return bool(await smsc.texts_to(UNIT_PHONE))

            await until(sent)
            [text] = await smsc.texts_to(UNIT_PHONE)
            assert "13912345678" not in text and "139****5678" in text, text
            assert "幸福路12号路灯不亮" in text and "请尽快派人" in text and "市民说已经坏了三天" in text
            assert "张敏" in text and "关联工单：无" in text
            current = await hub.service.store.get(conversation.id)
            assert current.status is ConversationStatus.ASSIGNED and current.assignee_id == agent1
            assert board.holder(conversation.id) == agent1

            async def logged() -> bool:
                return "transfer" in await kinds_of(board, conversation.id)

            await until(logged)
            [entry] = [e for e in await log_of(board, conversation.id) if e.event is QueueEvent.TRANSFER]
            assert entry.reason == "department" and entry.agent_id == agent1
            assert entry.data == {"unit": "streetlight_office", "via": "sms"}
        finally:
            await session.close()


async def test_to_a_department_by_email_the_unit_gets_the_whole_transcript(
    mail_server: MailServer, mailbox: Mailbox, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    before = len(replies(mail_server, UNIT_MAIL))
    async with mail_hub(tmp_path / "data", scripted_nlu, email_settings(mail_server, mailbox)) as running:
        conversation = await held_by(running, "agent2", "楼道里有煤气味，电话13912345678", "13700005555")
        session, csrf = await running.login("agent2", "agent123")
        try:
            status, done = await post(
                session,
                csrf,
                f"{running.url}/api/conversations/{conversation.id}/transfer",
                {"to": "department", "unit": "gas_company.emergency"},
            )
            assert status == 200, done
            assert done["note"]["text"] == "已转给市燃气集团抢险抢修中心（邮件 q***@gas.example.com）"

            async def sent() -> bool:
                return len(replies(mail_server, UNIT_MAIL)) > before

            await until(sent)
            [mail] = replies(mail_server, UNIT_MAIL)[before:]
            assert mail["Subject"] == "【12319转办】市燃气集团抢险抢修中心：无"
            text = body(mail)
            assert "楼道里有煤气味，电话13912345678" in text and "李娜" in text
        finally:
            await session.close()


def test_only_phone_numbers_are_masked() -> None:
    assert (
        mask_phones("电话13912345678，座机010-62345678，幸福路12号") == "电话139****5678，座机010-****5678，幸福路12号"
    )
