"""Call transfer with real SIP peers: baresip softphones are the agents and the caller (each plays its own tone), the
hub transfers the bridged call blind to an agent or a queue, after a consultation (complete and cancel), or when
the agent's softphone sends a REFER; sipp is the carrier trunk for a transfer to an outside number. What each party
hears is checked on the audio baresip recorded, and the router's state and queue log follow every step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.voice.config import VoiceSettings
from channels.voice.session import CallSession
from channels.voice.sip_accounts import SipAccountStore
from channels.voice.transfer import CallTransfers, mainland_number
from hub.models import ConversationStatus
from hub.web.context import CTX
from routing.engine import AgentStatus
from routing.queue_log import LogEntry, QueueEvent
from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD, Switchboard
from tests.channels.voice.sipp_calls import free_sip_port, tone_pcm, write_rtp_pcap
from tests.channels.voice.sipp_trunk import TRUNK_PASSWORD, TRUNK_USER, answering_trunk, start_trunk
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.softphone import BARESIP, HOST, Softphone, SoftphoneFactory, tone_power, write_tone_wav

pytestmark = pytest.mark.skipif(BARESIP is None, reason="baresip (apt baresip) is not installed")

CALLER = "13912345678"
CALLER_HZ, FIRST_HZ, SECOND_HZ, OUTSIDE_HZ = 440.0, 1000.0, 1800.0, 700.0
HEARD = 0.05  # share of a recording's energy at a tone's frequency that means "this party was heard"
RELAYED = 150  # RTP packets (3 s) relayed to a leg before its audio is judged


@pytest.fixture
async def start_hub(
    tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path
) -> AsyncIterator[Callable[..., Awaitable[RunningHub]]]:
    """A hub whose flow sends callers straight to the agent queue; 2 s wrap-up after calls."""
    contexts: list[Any] = []

    async def start(**voice: Any) -> RunningHub:
        settings = VoiceSettings(
            sip_port=free_sip_port(), asr_engine="off", prompt_cache_dir=prompt_cache, agent_ring_s=15.0, **voice
        )
        routing = RoutingSettings.from_mapping({"defaults": {"wrap_up_s": {"voice": 2}}})
        context = running_hub(tmp_path / f"data{len(contexts)}", nlu=scripted_nlu, voice=settings, routing=routing)
        contexts.append(context)
        hub: RunningHub = await context.__aenter__()
        flows = hub.hub.ivr_flows
        assert flows is not None
        document = (await flows.active()).document  # type: ignore[union-attr]
        await flows.save(document.replace("\nstart: welcome\n", "\nstart: to_agent\n"), user_id=None, comment="tests")
        return hub

    yield start
    for context in reversed(contexts):
        await context.__aexit__(None, None, None)


async def until(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 40.0) -> None:
    """Poll ``check`` until it holds (a deadline, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        assert loop.time() < end, f"not in time: {what}"
        await asyncio.sleep(0.05)


async def user_id(hub: RunningHub, username: str) -> int:
    user = await hub.hub.app[CTX].users.authenticate(username, "agent123")
    assert user is not None
    return user.id


async def agent_phone(hub: RunningHub, softphone: SoftphoneFactory, user: str, hz: float, tmp: Path) -> Softphone:
    """``user``'s softphone (answers at once, plays a tone of ``hz``), registered; the router knows it."""
    voice = hub.hub.voice
    assert voice is not None
    agent = await user_id(hub, user)
    _, secret = await SipAccountStore(hub.hub.engine).reset(agent, voice.settings.realm)
    await voice._refresh_credentials()
    tone = write_tone_wav(tmp / f"{user}.wav", hz, 60.0)
    phone = await softphone(user=user, password=secret, registrar=(HOST, voice.port), play=tone)
    await phone.wait_registered()
    board = hub.hub.app[SWITCHBOARD]
    await until(lambda: board.router.agents[agent].registered, f"{user} registered in the router")
    return phone


async def call_in(hub: RunningHub, softphone: SoftphoneFactory, tmp: Path) -> Softphone:
    """The citizen (baresip, a 440 Hz tone) calls the hotline."""
    voice = hub.hub.voice
    assert voice is not None
    tone = write_tone_wav(tmp / "caller.wav", CALLER_HZ, 60.0)
    phone = await softphone(user=CALLER, password="-", registrar=(HOST, voice.port), regint=0, play=tone)
    await phone.dial(f"sip:12319@{HOST}:{voice.port}")
    return phone


def transfers(hub: RunningHub) -> CallTransfers:
    voice = hub.hub.voice
    assert voice is not None and voice.transfers is not None
    return voice.transfers


def session_of(hub: RunningHub) -> CallSession:
    voice = hub.hub.voice
    assert voice is not None and voice.desk is not None
    (session,) = voice.desk.sessions.values()
    return session


async def bridged_to(hub: RunningHub, agent: int) -> CallSession:
    """Wait until the caller is bridged to ``agent`` and ``RELAYED`` packets of the caller reached that agent."""
    board = hub.hub.app[SWITCHBOARD]

    def bridged() -> bool:
        voice = hub.hub.voice
        sessions = list(voice.desk.sessions.values()) if voice is not None and voice.desk is not None else []
        if len(sessions) != 1:
            return False
        session = sessions[0]
        leg = session.agent_leg
        item = f"call:{session.sip_call_id}"
        return leg is not None and session.leg.peer is leg and session.agent_id == agent and board.holder(item) == agent

    await until(bridged, f"the caller bridged to agent {agent}")
    session = session_of(hub)
    leg = session.agent_leg
    assert leg is not None
    start = leg.sent
    await until(lambda: leg.sent - start >= RELAYED, "the caller's audio relayed to the agent")
    return session


async def log_of(board: Switchboard, item_id: str) -> list[LogEntry]:
    return await board.log.entries(datetime.now(UTC) - timedelta(hours=1), item_id=item_id)


async def login(hub: RunningHub, username: str, password: str = "agent123") -> tuple[aiohttp.ClientSession, str]:
    return await hub.login(username, password)


async def post(
    session: aiohttp.ClientSession, csrf: str, url: str, payload: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=payload or {}, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


def heard(phone: Softphone, hz: float) -> float:
    return tone_power(phone.received_pcm(), hz)


async def test_blind_transfer_to_an_agent_rings_the_second_softphone_and_bridges_the_caller(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    board = hub.hub.app[SWITCHBOARD]
    agent1, agent2 = await user_id(hub, "agent1"), await user_id(hub, "agent2")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    conversation_id = session.ctx.conversation.id
    item = f"call:{session.sip_call_id}"
    second = await agent_phone(hub, softphone, "agent2", SECOND_HZ, tmp_path)  # signed in by the registration
    http, csrf = await login(hub, "agent1")
    try:
        async with http.get(f"{hub.url}/api/transfer/targets?conversation_id={conversation_id}") as resp:
            targets = await resp.json()
        assert targets["call"] == {"state": "bridged", "ringing": False, "mode": None, "target": None, "trunk": False}
        assert agent2 in [a["id"] for a in targets["agents"]]
        status, refused = await post(
            http, csrf, f"{hub.url}/api/conversations/{conversation_id}/transfer", {"to": "agent", "agent_id": agent2}
        )
        assert (status, refused["error"]) == (409, "live_call")  # a live call is transferred as a call
        status, done = await post(
            http,
            csrf,
            f"{hub.url}/api/calls/{conversation_id}/transfer",
            {"mode": "blind", "to": "agent", "agent_id": agent2},
        )
        assert status == 200 and done == {"state": "transferring", "target": "座席 李娜"}, done
    finally:
        await http.close()
    await first.wait_event("CALL_CLOSED")  # the hub hung up the first agent's leg
    await second.wait_event("CALL_ESTABLISHED")
    session = await bridged_to(hub, agent2)
    conversation = await hub.hub.service.store.get(conversation_id)
    assert conversation.status is ConversationStatus.ASSIGNED and conversation.assignee_id == agent2
    assert board.router.agents[agent1].status in (AgentStatus.WRAP_UP, AgentStatus.AVAILABLE)
    await caller.hangup()
    await second.wait_event("CALL_CLOSED")
    assert heard(second, CALLER_HZ) > HEARD, "the second agent heard the caller"
    assert heard(first, CALLER_HZ) > HEARD, "the first agent heard the caller before the transfer"
    await caller.wait_event("CALL_CLOSED")
    assert heard(caller, SECOND_HZ) > 0.01 and heard(caller, FIRST_HZ) > 0.01, "the caller heard both agents"

    async def logged() -> bool:
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    kinds = [(e.event.value, e.agent_id) for e in await log_of(board, item)]
    assert kinds == [
        ("enter", None),
        ("offer", agent1),
        ("connect", agent1),
        ("transfer", agent1),
        ("connect", agent2),
        ("complete", agent2),
    ], kinds
    [transfer] = [e for e in await log_of(board, item) if e.event is QueueEvent.TRANSFER]
    assert transfer.data == {"to_agent": agent2, "to_queue": None}
    messages = [m.text for m in await hub.hub.service.store.messages(conversation_id)]
    assert "通话由座席 张敏转接给座席 李娜" in messages


async def test_blind_transfer_to_a_queue_waits_then_rings_the_next_available_agent(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    board = hub.hub.app[SWITCHBOARD]
    agent1, agent2 = await user_id(hub, "agent1"), await user_id(hub, "agent2")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    conversation_id = session.ctx.conversation.id
    item = f"call:{session.sip_call_id}"
    second = await agent_phone(hub, softphone, "agent2", SECOND_HZ, tmp_path)
    board.set_status(agent2, "break", "meal")  # nobody can take it yet: it waits
    board.set_status(agent1, "break", "meeting")  # agent1 keeps the call through the break, then gets nothing new
    http, csrf = await login(hub, "agent1")
    try:
        status, done = await post(
            http,
            csrf,
            f"{hub.url}/api/calls/{conversation_id}/transfer",
            {"mode": "blind", "to": "queue", "queue": "general"},
        )
        assert status == 200 and done["state"] == "queued", done
    finally:
        await http.close()
    await first.wait_event("CALL_CLOSED")
    await until(lambda: item in board.router.items, "the call waits in the queue again")
    waiting = await hub.hub.service.store.get(conversation_id)
    assert waiting.status is ConversationStatus.QUEUED and waiting.handoff_reason == "phone"
    assert session.agent_leg is None and session.leg.peer is None  # the caller hears hold music
    board.set_status(agent2, "available")
    await second.wait_event("CALL_ESTABLISHED")
    await bridged_to(hub, agent2)
    assert (await hub.hub.service.store.get(conversation_id)).assignee_id == agent2
    await caller.hangup()
    await second.wait_event("CALL_CLOSED")
    assert heard(second, CALLER_HZ) > HEARD

    async def logged() -> bool:
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    entries = await log_of(board, item)
    kinds = [(e.event.value, e.agent_id) for e in entries]
    assert kinds[:3] == [("enter", None), ("offer", agent1), ("connect", agent1)]
    assert sorted(kinds[3:5], key=str) == [("enter", None), ("transfer", agent1)]  # logged at the same instant
    assert kinds[5:] == [("offer", agent2), ("connect", agent2), ("complete", agent2)], kinds
    assert [e.data for e in entries if e.event is QueueEvent.TRANSFER] == [{"to_agent": None, "to_queue": "general"}]


async def test_a_call_sent_back_to_a_queue_that_nobody_takes_leaves_it_at_the_maximum_wait(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub(max_wait_s=4)
    board = hub.hub.app[SWITCHBOARD]
    agent1 = await user_id(hub, "agent1")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    item = f"call:{session.sip_call_id}"
    board.set_status(agent1, "break", "meeting")
    assert transfers(hub).queues() == ["general"]
    started = await transfers(hub).start(session.ctx.conversation.id, agent1, "blind", "queue", "general")
    assert started.state == "queued"
    await first.wait_event("CALL_CLOSED")
    await caller.wait_event("CALL_CLOSED")  # overflowed: back to the IVR, whose flow then says goodbye

    async def logged() -> bool:
        return any(e.event is QueueEvent.OVERFLOW for e in await log_of(board, item))

    await until(logged, "the overflow in the log")
    assert item not in board.router.items and board.holder(item) is None


async def consulting(hub: RunningHub, softphone: SoftphoneFactory, tmp_path: Path) -> tuple[Any, ...]:
    """A caller bridged to agent1, who consults agent2 (answered): both agents talk, the caller is on hold."""
    agent1, agent2 = await user_id(hub, "agent1"), await user_id(hub, "agent2")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    second = await agent_phone(hub, softphone, "agent2", SECOND_HZ, tmp_path)
    http, csrf = await login(hub, "agent1")
    conversation_id = session.ctx.conversation.id
    base = f"{hub.url}/api/calls/{conversation_id}/transfer"
    status, done = await post(http, csrf, base, {"mode": "attended", "to": "agent", "agent_id": agent2})
    assert status == 200 and done == {"state": "consulting", "target": "座席 李娜"}, done
    await second.wait_event("CALL_ESTABLISHED")
    active = transfers(hub).active[conversation_id]
    await until(lambda: active.state == "consulting", "the agents are bridged")
    assert active.first_leg is not None and active.leg is not None and active.first_leg.peer is active.leg
    board = hub.hub.app[SWITCHBOARD]
    assert board.router.agents[agent2].status is AgentStatus.BUSY  # reserved: offered nothing while consulting
    assert session.leg.peer is None and session.agent_leg is None  # the caller is on hold
    start = active.leg.sent
    await until(lambda: active.leg is not None and active.leg.sent - start >= RELAYED, "agent1 heard by agent2")
    assert transfers(hub).info(conversation_id) == {
        "state": "consulting",
        "ringing": False,
        "mode": "attended",
        "target": "座席 李娜",
        "trunk": False,
    }
    return agent1, agent2, first, second, caller, session, http, csrf, base


async def test_attended_transfer_completed_bridges_the_caller_with_the_consulted_agent(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    board = hub.hub.app[SWITCHBOARD]
    agent1, agent2, first, second, caller, session, http, csrf, base = await consulting(hub, softphone, tmp_path)
    try:
        status, done = await post(http, csrf, base + "/complete")
        assert status == 200 and done == {"state": "connected"}, done
        status, refused = await post(http, csrf, base + "/cancel")
        assert (status, refused["error"]) == (409, "not_consulting")
    finally:
        await http.close()
    await first.wait_event("CALL_CLOSED")
    await bridged_to(hub, agent2)
    item = f"call:{session.sip_call_id}"
    assert (await hub.hub.service.store.get(session.ctx.conversation.id)).assignee_id == agent2
    await caller.hangup()
    await second.wait_event("CALL_CLOSED")
    assert heard(second, FIRST_HZ) > 0.01, "the consulted agent heard the first agent"
    assert heard(second, CALLER_HZ) > 0.01, "then the caller"
    assert heard(first, SECOND_HZ) > HEARD, "the first agent heard the consulted agent"

    async def logged() -> bool:
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    kinds = [(e.event.value, e.agent_id) for e in await log_of(board, item)]
    assert kinds[-3:] == [("transfer", agent1), ("connect", agent2), ("complete", agent2)], kinds


async def test_attended_transfer_cancelled_resumes_the_call_with_the_first_agent(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    board = hub.hub.app[SWITCHBOARD]
    agent1, agent2, first, second, caller, session, http, csrf, base = await consulting(hub, softphone, tmp_path)
    try:
        status, done = await post(http, csrf, base + "/cancel")
        assert status == 200 and done == {"state": "bridged"}, done
    finally:
        await http.close()
    await second.wait_event("CALL_CLOSED")  # the hub hung up the consulted agent
    await bridged_to(hub, agent1)
    conversation_id = session.ctx.conversation.id
    assert transfers(hub).info(conversation_id)["state"] == "bridged"  # type: ignore[index]
    assert (await hub.hub.service.store.get(conversation_id)).assignee_id == agent1
    assert not board.router.agents[agent2].voice_items  # no longer reserved for the consultation
    await until(lambda: board.router.agents[agent2].status is AgentStatus.AVAILABLE, "agent2 free (after wrap-up)")
    await caller.hangup()
    await first.wait_event("CALL_CLOSED")
    assert heard(first, CALLER_HZ) > HEARD
    item = f"call:{session.sip_call_id}"

    async def logged() -> bool:
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    kinds = [(e.event.value, e.agent_id) for e in await log_of(board, item)]
    assert kinds == [("enter", None), ("offer", agent1), ("connect", agent1), ("complete", agent1)], kinds


async def test_a_refer_from_the_agents_softphone_transfers_the_call_blind(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    voice = hub.hub.voice
    assert voice is not None
    board = hub.hub.app[SWITCHBOARD]
    agent1, agent2 = await user_id(hub, "agent1"), await user_id(hub, "agent2")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    second = await agent_phone(hub, softphone, "agent2", SECOND_HZ, tmp_path)
    await first.command("transfer", f"sip:agent2@{HOST}:{voice.port}")
    await second.wait_event("CALL_ESTABLISHED")
    await first.wait_event("CALL_CLOSED")
    await bridged_to(hub, agent2)
    assert (await hub.hub.service.store.get(session.ctx.conversation.id)).assignee_id == agent2
    await caller.hangup()
    await second.wait_event("CALL_CLOSED")
    assert heard(second, CALLER_HZ) > HEARD
    item = f"call:{session.sip_call_id}"

    async def logged() -> bool:
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    kinds = [(e.event.value, e.agent_id) for e in await log_of(board, item)]
    assert kinds[-3:] == [("transfer", agent1), ("connect", agent2), ("complete", agent2)], kinds


async def test_a_refer_to_an_unknown_target_is_refused_with_404(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    voice = hub.hub.voice
    assert voice is not None
    board = hub.hub.app[SWITCHBOARD]
    agent1 = await user_id(hub, "agent1")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    item = f"call:{session.sip_call_id}"
    seen = len(first.events)
    await first.command("transfer", f"sip:nobody@{HOST}:{voice.port}")
    failed = await first.wait_event("TRANSFER_FAILED", after=seen)
    assert failed["param"] == "404 Not Found"  # the final NOTIFY's status line
    assert transfers(hub).active == {}

    async def logged() -> bool:  # baresip 1.0 hangs up after a failed transfer (its choice): the hub sees the BYE
        return any(e.event is QueueEvent.COMPLETE for e in await log_of(board, item))

    await until(logged, "the call completed in the log")
    kinds = [(e.event.value, e.agent_id) for e in await log_of(board, item)]
    assert kinds == [("enter", None), ("offer", agent1), ("connect", agent1), ("complete", agent1)], kinds


async def test_blind_transfer_to_a_department_number_through_the_trunk(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    number = "13800000000"  # demo: 市路灯管理所 is alerted by SMS at this phone
    outside = write_rtp_pcap(tmp_path / "outside.pcap", tone_pcm((OUTSIDE_HZ,), 6000))
    trunk = await start_trunk(answering_trunk(number, outside), tmp_path)
    try:
        hub = await start_hub(trunk=trunk.address, trunk_user=TRUNK_USER, trunk_password=TRUNK_PASSWORD)
        board = hub.hub.app[SWITCHBOARD]
        agent1 = await user_id(hub, "agent1")
        first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
        caller = await call_in(hub, softphone, tmp_path)
        session = await bridged_to(hub, agent1)
        conversation_id = session.ctx.conversation.id
        http, csrf = await login(hub, "agent1")
        try:
            status, done = await post(
                http,
                csrf,
                f"{hub.url}/api/calls/{conversation_id}/transfer",
                {"mode": "blind", "to": "unit", "unit": "streetlight_office"},
            )
            assert status == 200 and done["target"] == "市路灯管理所 138****0000", done
        finally:
            await http.close()
        await first.wait_event("CALL_CLOSED")

        def outside_bridged() -> bool:
            leg = session.agent_leg
            return leg is not None and leg.name == "outside" and session.leg.peer is leg and leg.sent >= RELAYED

        await until(outside_bridged, "the caller bridged to the outside number through the trunk")
        item = f"call:{session.sip_call_id}"
        assert board.holder(item) is None  # the agent's work on it is over
        await caller.hangup()
        code, output = await trunk.result()
        assert code == 0, output  # challenged, dialled the number, answered, got the BYE
        await caller.wait_event("CALL_CLOSED")
        assert heard(caller, OUTSIDE_HZ) > 0.01, "the caller heard the outside party"
        entries = await log_of(board, item)
        [entry] = [e for e in entries if e.event is QueueEvent.TRANSFER]
        assert entry.agent_id == agent1 and entry.data == {"number": "138****0000"} and entry.reason == "blind"
        assert [e.event for e in entries][-2:] == [QueueEvent.TRANSFER, QueueEvent.COMPLETE]
        messages = [m.text for m in await hub.hub.service.store.messages(conversation_id)]
        assert "通话由座席 张敏转接至外线 市路灯管理所 138****0000" in messages
    finally:
        await trunk.stop()


async def test_without_a_trunk_a_number_is_refused_with_a_clear_error(
    start_hub: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, tmp_path: Path
) -> None:
    hub = await start_hub()
    agent1 = await user_id(hub, "agent1")
    first = await agent_phone(hub, softphone, "agent1", FIRST_HZ, tmp_path)
    caller = await call_in(hub, softphone, tmp_path)
    session = await bridged_to(hub, agent1)
    http, csrf = await login(hub, "agent1")
    base = f"{hub.url}/api/calls/{session.ctx.conversation.id}/transfer"
    other, other_csrf = await login(hub, "agent2")
    try:
        status, refused = await post(http, csrf, base, {"mode": "blind", "to": "number", "number": "13912340000"})
        assert (status, refused["error"]) == (409, "no_trunk")
        assert refused["message"] == "未配置外线中继（--sip-trunk），无法转接到外部号码"
        status, refused = await post(http, csrf, base, {"mode": "blind", "to": "number", "number": "12345"})
        assert (status, refused["error"]) == (400, "invalid_number")
        status, refused = await post(http, csrf, base, {"mode": "attended", "to": "queue", "queue": "general"})
        assert (status, refused["error"]) == (400, "attended_queue")
        status, refused = await post(http, csrf, base, {"mode": "blind", "to": "agent", "agent_id": agent1})
        assert (status, refused["error"]) == (409, "same_agent")
        agent2 = await user_id(hub, "agent2")
        status, refused = await post(http, csrf, base, {"mode": "blind", "to": "agent", "agent_id": agent2})
        assert (status, refused["error"], refused["message"]) == (409, "agent_offline", "座席 李娜未签入，无法转接")
        status, refused = await post(other, other_csrf, base, {"mode": "blind", "to": "queue", "queue": "general"})
        assert (status, refused["error"]) == (403, "not_holder")
        status, refused = await post(http, csrf, base + "/complete")
        assert (status, refused["error"]) == (409, "not_consulting")
    finally:
        await http.close()
        await other.close()
    await bridged_to(hub, agent1)  # nothing changed
    await caller.hangup()
    await first.wait_event("CALL_CLOSED")


def test_mainland_numbers() -> None:
    assert mainland_number("+86 139-1234-5678") == "13912345678"
    assert mainland_number("010-62345678") == "01062345678"
    assert mainland_number("0755 8888 6666") == "075588886666"
    assert [mainland_number(n) for n in ("12345", "23912345678", "1391234567", None)] == [None] * 4
