"""The switchboard over a real hub: text conversations are assigned (not claimed), every step is in the queue log,
presence survives a restart, and a conversation taken outside the router leaves its queue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.intake import ContactHints, Inbound
from hub.models import Conversation, ConversationStatus
from hub.web.context import CTX
from routing.queue_log import QueueEvent
from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD, Switchboard
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub


async def queued(hub: RunningHub, text: str, phone: str) -> Conversation:
    stored = await hub.hub.service.receive(
        Inbound("sms", text, ref=phone, hints=ContactHints(phone=phone), for_bot=False)
    )
    conversation = await hub.hub.service.queue(stored.conversation.id, "requested")
    assert conversation is not None
    return conversation


async def user_id(hub: RunningHub, username: str) -> int:
    user = await hub.hub.app[CTX].users.authenticate(username, "agent123")
    assert user is not None
    return user.id


async def until(check: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.05)


async def events_of(board: Switchboard, item_id: str) -> list[str]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return [e.event.value for e in await board.log.entries(since, item_id=item_id)]


async def test_a_waiting_sms_is_assigned_to_the_available_agent_and_logged(live_hub: RunningHub) -> None:
    board = live_hub.hub.app[SWITCHBOARD]
    store = live_hub.hub.service.store
    conversation = await queued(live_hub, "路灯不亮", "13700001111")
    assert board.position(conversation.id) is not None  # nobody is available yet: it waits
    agent = await user_id(live_hub, "agent1")
    board.set_status(agent, "available")

    async def assigned() -> bool:
        return (await store.get(conversation.id)).status is ConversationStatus.ASSIGNED

    await until(assigned)
    current = await store.get(conversation.id)
    assert current.assignee_id == agent and board.holder(conversation.id) == agent
    mine = await store.list_assigned_to(agent)
    assert [c.id for c in mine] == [conversation.id]
    await live_hub.hub.service.close(conversation.id, (await live_hub.hub.app[CTX].users.get(agent)))  # type: ignore[arg-type]
    await until(lambda: _true(board.holder(conversation.id) is None))
    assert await events_of(board, conversation.id) == ["enter", "connect", "complete"]
    entries = await board.log.entries(datetime.now(UTC) - timedelta(hours=1), agent_id=agent)
    assert QueueEvent.LOGIN in {e.event for e in entries}


async def _true(value: bool) -> bool:
    return value


async def test_a_claim_outside_the_router_takes_the_item_out_of_the_queue(live_hub: RunningHub) -> None:
    board = live_hub.hub.app[SWITCHBOARD]
    conversation = await queued(live_hub, "水管爆了", "13700002222")
    agent = await live_hub.hub.app[CTX].users.authenticate("agent2", "agent123")
    assert agent is not None
    await live_hub.hub.service.claim(conversation.id, agent)
    assert board.position(conversation.id) is None
    assert board.router.items == {}


async def test_presence_and_waiting_conversations_survive_a_restart(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    data = tmp_path / "data"
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = hub.hub.app[SWITCHBOARD]
        agent = await user_id(hub, "agent1")
        board.set_status(agent, "break", "meal")
        conversation = await queued(hub, "燃气味道很大", "13700003333")
        assert board.position(conversation.id) == (1, None)
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = hub.hub.app[SWITCHBOARD]
        assert board.router.agents[agent].presence.value == "break"
        assert board.router.agents[agent].reason == "meal"
        assert board.position(conversation.id) is not None
        board.set_status(agent, "available")
        store = hub.hub.service.store

        async def assigned() -> bool:
            return (await store.get(conversation.id)).assignee_id == agent

        await until(assigned)
        kinds = await events_of(board, conversation.id)
        assert kinds == ["enter", "connect"]  # entered once, before the restart


async def test_last_agent_strategy_sends_a_returning_citizen_to_the_agent_who_served_them(
    tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    routing = RoutingSettings.from_mapping({"defaults": {"strategy": "last_agent"}})
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, routing=routing) as hub:
        board = hub.hub.app[SWITCHBOARD]
        store = hub.hub.service.store
        first, second = await user_id(hub, "agent1"), await user_id(hub, "agent2")
        board.set_status(second, "available")
        earlier = await queued(hub, "小区停水了", "13700004444")

        async def served() -> bool:
            return (await store.get(earlier.id)).assignee_id == second

        await until(served)
        board.set_status(first, "available")  # now the longest idle agent is agent1 ...
        user = await hub.hub.app[CTX].users.get(second)
        assert user is not None
        await hub.hub.service.close(earlier.id, user)
        await until(lambda: _true(board.holder(earlier.id) is None))
        again = await queued(hub, "又停水了", "13700004444")
        assert again.id != earlier.id

        async def back_to_second() -> bool:
            return (await store.get(again.id)).assignee_id is not None

        await until(back_to_second)
        assert (await store.get(again.id)).assignee_id == second  # ... but the citizen's last agent gets it


async def test_an_available_agent_keeps_their_conversations_across_a_restart(
    tmp_path: Path, scripted_nlu: ScriptedNlu
) -> None:
    data = tmp_path / "data"
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = hub.hub.app[SWITCHBOARD]
        agent = await user_id(hub, "agent1")
        board.set_status(agent, "available")
        held = await queued(hub, "路面塌陷", "13700005555")
        await until(lambda: _true(board.holder(held.id) == agent))
    async with running_hub(data, nlu=scripted_nlu) as hub:
        board = hub.hub.app[SWITCHBOARD]
        assert board.router.agents[agent].presence.value == "available"
        assert board.holder(held.id) == agent and held.id in board.router.agents[agent].load
        since = datetime.now(UTC) - timedelta(hours=1)
        entries = [(e.event.value, e.reason) for e in await board.log.entries(since, item_id=held.id)]
        assert entries == [("enter", None), ("connect", "auto")], entries  # restoring writes nothing


async def test_a_softphone_signs_its_agent_in_and_out_unless_they_chose_a_status(live_hub: RunningHub) -> None:
    board = live_hub.hub.app[SWITCHBOARD]
    agent = await user_id(live_hub, "agent1")
    presence = lambda: board.router.agents[agent].presence.value  # noqa: E731
    board.set_registered(agent, True)
    assert presence() == "available"
    board.set_registered(agent, False)
    assert presence() == "offline"  # signed in by the phone, signed out by it
    board.set_registered(agent, True)
    board.set_status(agent, "break", "meeting")  # the agent's own choice ...
    board.set_registered(agent, False)
    assert presence() == "break"  # ... outlasts the phone
    board.set_status(agent, "available")
    board.set_registered(agent, True)
    assert board.router.agents[agent].registered and presence() == "available"
    since = datetime.now(UTC) - timedelta(hours=1)
    kinds = [e.event for e in await board.log.entries(since, agent_id=agent)]
    assert kinds.count(QueueEvent.LOGIN) == 2 and kinds.count(QueueEvent.LOGOUT) == 1
