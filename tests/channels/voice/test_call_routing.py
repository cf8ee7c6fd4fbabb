"""Calls through the hub's one routing engine with real SIP peers: baresip softphones are the agents (and the
caller), the hub's switchboard decides. An offer rings; no answer or a refusal (486) is a missed offer and the call
goes to the next agent; too many misses put the agent on break "no_answer"; a caller hanging up while an agent's
phone rings cancels the offer and is logged as abandoned; a bridged call's end starts the wrap-up; a chat held by
the only agent keeps a call waiting (the caller hears position and estimated wait) until the chat closes."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.voice.agents import required_skills
from channels.voice.asr_whisper import WhisperRecognizer
from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.ivr.events import Enqueue
from channels.voice.prompt_check import character_error_rate
from channels.voice.sip_accounts import SipAccountStore
from channels.voice.spoken_text import speakable
from hub.i18n import t
from hub.intake import ContactHints, Inbound
from hub.models import Conversation
from hub.web.context import CTX
from routing.engine import AgentStatus
from routing.queue_log import LogEntry, QueueEvent
from routing.routing_settings import RoutingSettings
from routing.switchboard import SWITCHBOARD, Switchboard, call_item_id
from tests.channels.voice.sipp_calls import free_sip_port
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.softphone import BARESIP, HOST, Softphone, SoftphoneFactory, write_tone_wav

pytestmark = pytest.mark.skipif(BARESIP is None, reason="baresip (apt baresip) is not installed")

CALLER = "13912345678"


def quiet(directory: Path) -> Path:
    """What the phones send: a faint tone long enough for every call here (baresip hangs up when its file ends)."""
    path = directory / "quiet.wav"
    return path if path.exists() else write_tone_wav(path, 300.0, 90.0, amplitude=10)


def routing(**policy: Any) -> RoutingSettings:
    """Default queues with a short wrap-up after calls, and the given policy."""
    return RoutingSettings.from_mapping({"defaults": {"wrap_up_s": {"voice": 2}}, "policy": policy})


@pytest.fixture
async def hub_factory(
    tmp_path: Path, scripted_nlu: ScriptedNlu, prompt_cache: Path
) -> AsyncIterator[Callable[..., Awaitable[RunningHub]]]:
    """Start a hub whose flow sends callers straight to the agent queue (no menu, no business hours)."""
    contexts: list[Any] = []

    async def start(*, ring_s: float = 20.0, settings: RoutingSettings | None = None) -> RunningHub:
        voice = VoiceSettings(
            sip_port=free_sip_port(), asr_engine="off", prompt_cache_dir=prompt_cache, agent_ring_s=ring_s
        )
        context = running_hub(
            tmp_path / f"data{len(contexts)}", nlu=scripted_nlu, voice=voice, routing=settings or routing()
        )
        contexts.append(context)
        hub: RunningHub = await context.__aenter__()
        flows = hub.hub.ivr_flows
        assert flows is not None
        document = (await flows.active()).document  # type: ignore[union-attr]
        assert document.count("\nstart: welcome\n") == 1
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


async def agent_phone(
    hub: RunningHub, softphone: SoftphoneFactory, user: str, *, answermode: str = "auto"
) -> tuple[int, Softphone]:
    """``user``'s softphone registered to the hub; the router knows it (and signed the agent in)."""
    voice = hub.hub.voice
    assert voice is not None
    agent = await _user(hub, user)
    _, secret = await SipAccountStore(hub.hub.engine).reset(agent, voice.settings.realm)
    await voice._refresh_credentials()
    phone = await softphone(
        user=user,
        password=secret,
        registrar=(HOST, voice.port),
        answermode=answermode,
        play=quiet(hub.hub.settings.data_dir),
    )
    await phone.wait_registered()
    board = hub.hub.app[SWITCHBOARD]
    await until(lambda: board.router.agents[agent].registered, f"{user} registered in the router")
    assert board.router.agents[agent].presence is AgentStatus.AVAILABLE  # the registration signed them in
    return agent, phone


async def _user(hub: RunningHub, username: str) -> int:
    user = await hub.hub.app[CTX].users.authenticate(username, "agent123")
    assert user is not None
    return user.id


async def dial(hub: RunningHub, softphone: SoftphoneFactory) -> Softphone:
    """A citizen's phone (baresip, not registered) calls the hotline."""
    voice = hub.hub.voice
    assert voice is not None
    phone = await softphone(
        user=CALLER, password="-", registrar=(HOST, voice.port), regint=0, play=quiet(hub.hub.settings.data_dir)
    )
    await phone.dial(f"sip:12319@{HOST}:{voice.port}")
    return phone


def call_item(board: Switchboard) -> str:
    """The item id of the one call the router knows (waiting or held)."""
    calls = [i for i in [*board.router.items, *board.router.held] if i.startswith("call:")]
    assert len(calls) == 1, calls
    return calls[0]


async def log_of(board: Switchboard, **filters: Any) -> list[LogEntry]:
    return await board.log.entries(datetime.now(UTC) - timedelta(hours=1), **filters)


async def events(board: Switchboard, item_id: str) -> list[tuple[str, int | None]]:
    return [(e.event.value, e.agent_id) for e in await log_of(board, item_id=item_id)]


async def wait_events(board: Switchboard, item_id: str, expected: list[tuple[str, int | None]]) -> None:
    async def logged() -> bool:
        return await events(board, item_id) == expected

    try:
        await until(logged, f"queue log of {item_id}")
    except AssertionError:
        raise AssertionError(f"{await events(board, item_id)} != {expected}") from None


async def finished_call(hub: RunningHub) -> Any:
    store = CallStore(hub.hub.engine)

    async def ended() -> bool:
        return any(c.ended_at is not None for c in await store.recent(5))

    await until(ended, "the call record is finished")
    (call,) = [c for c in await store.recent(5) if c.ended_at is not None]
    return call


@pytest.mark.parametrize("miss", ["no_answer", "decline"])
async def test_a_missed_offer_rings_the_next_agent_and_puts_the_first_on_a_no_answer_break(
    hub_factory: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory, miss: str
) -> None:
    hub = await hub_factory(ring_s=4.0, settings=routing(max_missed_offers=1))
    board = hub.hub.app[SWITCHBOARD]
    first, first_phone = await agent_phone(hub, softphone, "agent1", answermode="manual")  # idle longest
    second, second_phone = await agent_phone(hub, softphone, "agent2")
    caller = await dial(hub, softphone)
    await first_phone.wait_event("CALL_INCOMING")  # the offer rings the longest idle agent
    if miss == "decline":
        await first_phone.hangup()  # baresip refuses the incoming call: 486 Busy Here
    await first_phone.wait_event("CALL_CLOSED")  # refused, or CANCELled when the engine's offer timed out
    await second_phone.wait_event("CALL_ESTABLISHED")
    await caller.wait_event("CALL_ESTABLISHED")
    item = call_item(board)
    assert board.holder(item) == second
    assert board.router.agents[first].presence is AgentStatus.BREAK
    assert board.router.agents[first].reason == "no_answer"
    pauses = [e for e in await log_of(board, agent_id=first) if e.event is QueueEvent.PAUSE]
    assert [(e.reason, e.data) for e in pauses] == [("no_answer", {"missed": 1})]
    await caller.hangup()
    await second_phone.wait_event("CALL_CLOSED")  # the hub ended the agent's leg too
    expected = [("enter", None), ("offer", first), (miss, first), ("offer", second), ("connect", second)]
    await wait_events(board, item, [*expected, ("complete", second)])
    call = await finished_call(hub)
    assert call.agent_id == second and call.queue == "general" and call.wait_s is not None
    # the bridged call's end starts the queue's wrap-up (2 s for calls here), then the agent is free again
    status = [e.reason for e in await log_of(board, agent_id=second) if e.event is QueueEvent.STATUS]
    assert status[-2:] == ["busy", "wrap_up"] or status[-3:] == ["busy", "wrap_up", "available"], status

    async def wrapped_up() -> bool:
        return any(e.event is QueueEvent.WRAP_UP_END for e in await log_of(board, agent_id=second))

    await until(wrapped_up, "the wrap-up ended")
    assert board.router.agents[second].status is AgentStatus.AVAILABLE


async def test_an_agent_missing_offers_in_a_row_is_put_on_break_and_the_call_waits(
    hub_factory: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory
) -> None:
    hub = await hub_factory(ring_s=3.0)  # the default policy: 2 missed offers in a row
    board = hub.hub.app[SWITCHBOARD]
    agent, phone = await agent_phone(hub, softphone, "agent1", answermode="manual")
    caller = await dial(hub, softphone)
    await until(lambda: board.router.agents[agent].presence is AgentStatus.BREAK, "the no-answer break", 30.0)
    assert board.router.agents[agent].reason == "no_answer"
    assert [e["type"] for e in phone.events].count("CALL_INCOMING") == 2  # the only agent was offered it twice
    item = call_item(board)
    assert item in board.router.items and not board.router.items[item].offers  # the call waits for someone
    await caller.hangup()
    offers = [("enter", None), ("offer", agent), ("no_answer", agent), ("offer", agent), ("no_answer", agent)]
    await wait_events(board, item, [*offers, ("abandon", None)])
    pauses = [e for e in await log_of(board, agent_id=agent) if e.event is QueueEvent.PAUSE]
    assert [(e.reason, e.data) for e in pauses] == [("no_answer", {"missed": 2})]
    call = await finished_call(hub)
    assert call.hangup_cause == "abandoned" and call.agent_id is None and call.wait_s is not None


async def test_a_caller_hanging_up_while_the_agent_phone_rings_cancels_the_offer(
    hub_factory: Callable[..., Awaitable[RunningHub]], softphone: SoftphoneFactory
) -> None:
    hub = await hub_factory(ring_s=30.0)
    board = hub.hub.app[SWITCHBOARD]
    agent, phone = await agent_phone(hub, softphone, "agent1", answermode="manual")
    caller = await dial(hub, softphone)
    await phone.wait_event("CALL_INCOMING")
    item = call_item(board)
    await caller.hangup()
    await phone.wait_event("CALL_CLOSED")  # the hub CANCELled the ringing phone
    await wait_events(board, item, [("enter", None), ("offer", agent), ("withdraw", agent), ("abandon", None)])
    assert board.router.agents[agent].status is AgentStatus.AVAILABLE  # not a miss: the caller left
    assert board.router.agents[agent].missed_offers == 0
    call = await finished_call(hub)
    assert call.hangup_cause == "abandoned" and call.agent_id is None


async def queued_chat(hub: RunningHub, phone: str) -> Conversation:
    stored = await hub.hub.service.receive(
        Inbound("sms", "路灯不亮", ref=phone, hints=ContactHints(phone=phone), for_bot=False)
    )
    conversation = await hub.hub.service.queue(stored.conversation.id, "requested")
    assert conversation is not None
    return conversation


async def test_a_call_waits_while_the_only_agent_chats_hears_position_and_wait_then_gets_the_agent(
    hub_factory: Callable[..., Awaitable[RunningHub]],
    softphone: SoftphoneFactory,
    tmp_path: Path,
    whisper_recognizer: WhisperRecognizer,
) -> None:
    hub = await hub_factory()  # call_while_chatting is off by default: a call needs an agent with nothing in hand
    board = hub.hub.app[SWITCHBOARD]
    voice = hub.hub.voice
    assert voice is not None and voice.desk is not None
    agent, phone = await agent_phone(hub, softphone, "agent1")
    chat = await queued_chat(hub, "13700001111")
    await until(lambda: board.holder(chat.id) == agent, "the chat is assigned to the agent")
    caller = await dial(hub, softphone)
    await caller.wait_event("CALL_ESTABLISHED")
    await until(lambda: any(i.startswith("call:") for i in board.router.items), "the call waits in the queue")
    item = call_item(board)
    await until(lambda: voice.desk.waiting[item].announced == 1, "the caller is told their position")  # type: ignore[union-attr]
    assert not board.router.items[item].offers and "CALL_INCOMING" not in [e["type"] for e in phone.events]
    # one staffed agent, no call finished yet: the queue's default handle time (180 s) per caller ahead and this one
    assert board.position(item) == (1, 180.0)
    async with hub.session.get(hub.url + "/healthz") as r:
        queue = (await r.json())["components"]["channels"]["voice"]["queue"]
    assert queue["waiting"] == {"general": 1} and queue["ringing"] == 0 and queue["agents"]["busy"] == 1
    session = voice.desk.sessions[item]
    await until(lambda: session.leg.playing, "the announcement plays")
    await until(lambda: not session.leg.playing, "the announcement ended")
    user = await hub.hub.app[CTX].users.get(agent)
    assert user is not None
    await hub.hub.service.close(chat.id, user)  # the agent is free: the waiting call is offered to them
    await phone.wait_event("CALL_ESTABLISHED")
    await until(lambda: board.holder(item) == agent, "the agent holds the call")
    await caller.hangup()
    await phone.wait_event("CALL_CLOSED")
    await wait_events(board, item, [("enter", None), ("offer", agent), ("connect", agent), ("complete", agent)])
    chat_done = [e.at for e in await log_of(board, item_id=chat.id) if e.event is QueueEvent.COMPLETE]
    offered = [e.at for e in await log_of(board, item_id=item) if e.event is QueueEvent.OFFER]
    assert len(chat_done) == 1 and chat_done[0] <= offered[0]  # offered only once the chat was over
    call = await finished_call(hub)
    assert call.agent_id == agent and call.caller == CALLER
    # what the caller heard while waiting: their place in the queue and the estimated wait
    await caller.wait_event("CALL_CLOSED")
    heard = tmp_path / "caller-heard.wav"
    with wave.open(str(heard), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(caller.received_pcm())
    transcript = await whisper_recognizer.transcribe_wav(heard)
    expected = speakable(t("voice.queue_next_wait", "zh-CN", minutes=3))
    assert expected == "您是下一位，预计等待约三分钟，请稍候。"
    best = min(character_error_rate(expected, transcript[i : i + len(expected)])[0] for i in range(len(transcript)))
    assert best <= 0.35, transcript


@pytest.mark.parametrize(
    ("strategy", "skill", "industry", "required"),
    [
        ("longest_idle", None, "gas", {}),  # a default install: the industry never strands a caller
        ("longest_idle", "dialect_wu", "gas", {"dialect_wu": 1}),
        ("skills", None, "gas", {"industry:gas": 1}),
        ("skills", "dialect_wu", "water", {"dialect_wu": 1, "industry:water": 1}),
        ("skills", None, None, {}),
    ],
)
def test_a_call_needs_the_node_skill_and_its_industry_only_in_a_skills_queue(
    strategy: str, skill: str | None, industry: str | None, required: dict[str, int]
) -> None:
    settings = RoutingSettings.from_mapping({"queues": {"hotline": {"strategy": strategy}}})
    assert required_skills(settings, Enqueue("hotline", 0, skill, industry)) == required


async def test_an_agent_dialling_out_is_busy_and_offered_nothing_until_the_call_back_ends(
    live_hub: RunningHub,
) -> None:
    board = live_hub.hub.app[SWITCHBOARD]
    agent = await _user(live_hub, "agent1")
    board.router.agents[agent].registered = True  # as a softphone registration would (no SIP in this test)
    board.set_status(agent, "available")
    item = call_item_id("callback-leg-1")
    board.occupy(agent, item, "conversation-of-the-call-back")
    assert board.holder(item) == agent and board.router.agents[agent].status is AgentStatus.BUSY
    assert item not in board.router.items and board.OUTBOUND not in board.router.agents[agent].queues
    chat = await queued_chat(live_hub, "13700002222")
    assert board.position(chat.id) is not None and board.holder(chat.id) is None  # waits while the agent dials
    board.finish(item)  # the call-back ended: after-call work first (the queue's wrap-up for calls)
    assert board.router.agents[agent].status is AgentStatus.WRAP_UP and board.holder(chat.id) is None
    board.end_wrap_up(agent)
    await until(lambda: board.holder(chat.id) == agent, "the chat goes to the agent after the call-back")
    entries = await log_of(board, item_id=item)
    assert [(e.event.value, e.queue, e.reason) for e in entries if e.event is not QueueEvent.STATUS] == [
        ("connect", "outbound", "outbound"),
        ("complete", "outbound", None),
    ]
