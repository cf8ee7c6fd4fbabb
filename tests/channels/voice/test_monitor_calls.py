"""Listen, whisper and barge on a live call, heard at three real softphones (baresip).

The caller (a baresip dialling the hub, sending a 440 Hz tone) presses 0 and is answered by agent1's softphone
(1000 Hz); a supervisor's softphone (1800 Hz) is then rung into the call through ``POST /api/floor/monitor``. What
each phone *receives* is read from baresip's decoded-audio dump as it grows, and an FFT tells which tones it carries
after every change: listen, a switch to whisper from the supervisor's keypad, barge from the API, and stop (the
caller and the agent relay directly again, the supervisor's phone is hung up).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.monitor import BridgedCall
from channels.voice.service import VoiceChannel
from channels.voice.sip_accounts import SipAccountStore
from hub.storage.users import UserStore
from routing.queue_log import QueueEvent
from routing.switchboard import SWITCHBOARD
from tests.channels.voice.sipp_calls import HOST, free_sip_port
from tests.channels.voice.test_mixer import AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ, heard
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.softphone import Softphone, SoftphoneFactory

CALLER = "13912345678"
RATE = 8000


def write_tone(path: Path, freq: float, seconds: float = 180.0) -> Path:
    """A long 8 kHz mono WAV sine (what a softphone sends as its microphone)."""
    import wave

    t = np.arange(int(RATE * seconds)) / RATE
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((7000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())
    return path


def received_so_far(phone: Softphone) -> bytes:
    """What the phone has decoded from the far end in its current call (baresip appends to the dump as it plays)."""
    files = phone.recordings()
    if not files:
        return b""
    data = files[-1].read_bytes()
    at = data.find(b"data")
    return data[at + 8 :] if at >= 0 else b""


async def hear_exactly(
    phones: dict[str, Softphone],
    expected: dict[str, set[float]],
    *,
    settle_s: float = 0.3,
    window_s: float = 0.6,
    confirm_s: float = 1.0,
    timeout_s: float = 20.0,
) -> None:
    """Wait until every phone's audio received after now (and ``settle_s`` for what was in flight) carries exactly
    the expected tones over ``window_s``, then check the next ``confirm_s`` of audio carries them too."""
    marks = {name: len(received_so_far(p)) // 2 + int(settle_s * RATE) for name, p in phones.items()}
    window, confirm = int(window_s * RATE), int(confirm_s * RATE)
    got: dict[str, Any] = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    matched: dict[str, int] = {}
    while asyncio.get_running_loop().time() < deadline:
        for name, phone in phones.items():
            samples = received_so_far(phone)[2 * marks[name] :]
            n = len(samples) // 2
            if name in matched:
                start = matched[name]
                if n >= start + confirm:
                    got[name] = heard(samples[2 * start : 2 * (start + confirm)])
                continue
            if n < window:
                got[name] = "waiting for audio"
                continue
            got[name] = heard(samples[2 * (n - window) : 2 * n])
            if got[name] == expected[name]:
                matched[name] = n
        if len(matched) == len(phones) and all(
            len(received_so_far(p)) // 2 - marks[name] >= matched[name] + confirm for name, p in phones.items()
        ):
            confirmed = {}
            for name, phone in phones.items():
                samples = received_so_far(phone)[2 * marks[name] :]
                start = matched[name]
                confirmed[name] = heard(samples[2 * start : 2 * (start + confirm)])
            assert confirmed == expected, f"expected {expected}, then heard {confirmed}"
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {expected}, heard {got} (matched: {sorted(matched)})")


async def always_open(hub: RunningHub) -> None:
    """The default flow, open around the clock (the caller must reach an agent whatever the time of day)."""
    flows = hub.hub.ivr_flows
    assert flows is not None
    active = await flows.active()
    assert active is not None
    document = re.sub(r'mon-fri: \["08:30-12:00", "13:00-17:30"\]', 'mon-sun: ["00:00-24:00"]', active.document)
    await flows.save(document.replace("holidays: true", "holidays: false"), user_id=None, comment="tests: always open")


@pytest.fixture
async def voice_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    """Voice on, keys only; espeak-ng says the few prompts these calls hear (nobody listens to them here)."""
    settings = VoiceSettings(sip_port=free_sip_port(), asr_engine="off", tts_engine="espeak", max_wait_s=60)
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=settings) as hub:
        await always_open(hub)
        yield hub


async def sip_secret(hub: RunningHub, username: str, password: str) -> tuple[int, str]:
    voice = hub.hub.voice
    assert voice is not None
    user = await UserStore(hub.hub.engine).authenticate(username, password)
    assert user is not None
    _, secret = await SipAccountStore(hub.hub.engine).reset(user.id, voice.settings.realm)
    await voice._refresh_credentials()
    return user.id, secret


async def post_monitor(hub: RunningHub, session: Any, csrf: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with session.post(f"{hub.url}/api/floor/monitor", json=body, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


async def bridged_conversation(voice: VoiceChannel, timeout_s: float = 60.0) -> str:
    """The conversation of the one call once its caller and agent legs are bridged."""
    assert voice.monitors is not None
    for _ in range(int(timeout_s * 10)):
        for pending in list(voice.calls.values()):
            session = pending.session
            if session is not None and voice.monitors.bridged(session.ctx.conversation.id):
                return session.ctx.conversation.id
        await asyncio.sleep(0.1)
    raise AssertionError("the caller was never bridged with the agent")


@dataclass
class BridgedPhones:
    """A caller's and an agent's softphones talking through the hub."""

    conversation_id: str
    call: BridgedCall
    caller: Softphone
    agent: Softphone
    agent_id: int


async def agent_talks_to_caller(hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory) -> BridgedPhones:
    """agent1's softphone (1000 Hz) answers a caller's softphone (440 Hz) that pressed 0, and both hear each other."""
    voice = hub.hub.voice
    assert voice is not None and voice.monitors is not None
    agent_id, agent_secret = await sip_secret(hub, "agent1", "agent123")
    registrar = (HOST, voice.port)
    agent = await softphone(
        user="agent1", password=agent_secret, registrar=registrar, play=write_tone(tmp_path / "agent.wav", AGENT_HZ)
    )
    await agent.wait_registered()
    caller = await softphone(
        user=CALLER, password="-", registrar=registrar, regint=0, play=write_tone(tmp_path / "caller.wav", CALLER_HZ)
    )
    await caller.dial(f"sip:12319@{HOST}:{voice.port}")
    await caller.wait_event("CALL_ESTABLISHED")
    await caller.command("sndcode", "0")  # 人工服务, pressed during the greeting
    await agent.wait_event("CALL_ESTABLISHED", 60)
    conversation_id = await bridged_conversation(voice)
    call = voice.monitors.call_of(conversation_id)
    assert call.agent_id == agent_id
    await hear_exactly({"caller": caller, "agent": agent}, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}})
    return BridgedPhones(conversation_id, call, caller, agent, agent_id)


async def supervisor_phone(
    hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory, *, answermode: str = "auto"
) -> tuple[int, Softphone]:
    """The supervisor's registered softphone, sending 1800 Hz."""
    voice = hub.hub.voice
    assert voice is not None
    supervisor_id, secret = await sip_secret(hub, "supervisor", "supervisor123")
    phone = await softphone(
        user="supervisor",
        password=secret,
        registrar=(HOST, voice.port),
        play=write_tone(tmp_path / "supervisor.wav", SUPERVISOR_HZ),
        answermode=answermode,
    )
    await phone.wait_registered()
    return supervisor_id, phone


async def monitor_log(hub: RunningHub, since: datetime, count: int) -> list[tuple[str | None, int | None, Any]]:
    """(mode, supervisor, agent) of the queue log's monitor entries (waits until ``count`` are written)."""
    switchboard = hub.hub.app[SWITCHBOARD]
    got: list[tuple[str | None, int | None, Any]] = []
    for _ in range(100):
        entries = await switchboard.log.entries(since, events=frozenset({QueueEvent.MONITOR}))
        got = [(e.reason, e.agent_id, (e.data or {}).get("agent_id")) for e in entries]
        if len(got) >= count:
            break
        await asyncio.sleep(0.1)
    return got


async def test_listen_whisper_barge_and_stop_as_heard_by_each_party(
    voice_hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory
) -> None:
    since = datetime.now(UTC)
    bridged = await agent_talks_to_caller(voice_hub, tmp_path, softphone)
    conversation_id, call, caller, agent, agent_id = (
        bridged.conversation_id, bridged.call, bridged.caller, bridged.agent, bridged.agent_id
    )  # fmt: skip

    session, csrf = await voice_hub.login("supervisor", "supervisor123")
    try:
        status, body = await post_monitor(
            voice_hub, session, csrf, {"conversation_id": conversation_id, "mode": "listen"}
        )
        assert (status, body["error"]) == (409, "not_registered"), body
        assert "软电话" in body["message"]

        supervisor_id, supervisor = await supervisor_phone(voice_hub, tmp_path, softphone, answermode="manual")
        status, body = await post_monitor(
            voice_hub, session, csrf, {"conversation_id": conversation_id, "mode": "listen"}
        )
        assert (status, body) == (200, {"mode": "listen", "state": "ringing"})
        await supervisor.wait_event("CALL_INCOMING")
        assert "监听 座席 张敏" in supervisor.log(), "the supervisor's phone shows whose call it is"
        await supervisor.command("accept")
        await supervisor.wait_event("CALL_ESTABLISHED")
        phones = {"caller": caller, "agent": agent, "supervisor": supervisor}
        await hear_exactly(phones, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": {CALLER_HZ, AGENT_HZ}})

        await supervisor.command("sndcode", "2")  # the keypad: whisper to the agent
        await hear_exactly(
            phones, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ, SUPERVISOR_HZ}, "supervisor": {CALLER_HZ, AGENT_HZ}}
        )

        status, body = await post_monitor(
            voice_hub, session, csrf, {"conversation_id": conversation_id, "mode": "barge"}
        )
        assert (status, body) == (200, {"mode": "barge", "state": "connected"})
        await hear_exactly(
            phones,
            {
                "caller": {AGENT_HZ, SUPERVISOR_HZ},
                "agent": {CALLER_HZ, SUPERVISOR_HZ},
                "supervisor": {CALLER_HZ, AGENT_HZ},
            },
        )

        admin, admin_csrf = await voice_hub.login("admin", "admin123")
        try:
            status, body = await post_monitor(
                voice_hub, admin, admin_csrf, {"conversation_id": conversation_id, "mode": "listen"}
            )
            assert (status, body["error"]) == (409, "monitored"), body
            status, body = await post_monitor(
                voice_hub, admin, admin_csrf, {"conversation_id": conversation_id, "mode": "stop"}
            )
            assert (status, body["error"]) == (409, "not_monitoring"), body
        finally:
            await admin.close()

        status, body = await post_monitor(
            voice_hub, session, csrf, {"conversation_id": conversation_id, "mode": "stop"}
        )
        assert (status, body) == (200, {"mode": "stop", "state": "ended"})
        await supervisor.wait_event("CALL_CLOSED")
        assert call.caller.takeover is None and call.agent.takeover is None and call.caller.peer is call.agent
        await hear_exactly({"caller": caller, "agent": agent}, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}})
    finally:
        await session.close()

    await caller.hangup()
    store = CallStore(voice_hub.hub.engine)
    for _ in range(300):
        records = [c for c in await store.recent(5) if c.ended_at is not None]
        if records:
            break
        await asyncio.sleep(0.1)
    (record,) = records
    assert record.agent_id == agent_id
    assert any("supervisor" in Path(p).name for p in record.recordings), "the whisper and barge were recorded"

    assert await monitor_log(voice_hub, since, 4) == [
        ("listen", supervisor_id, agent_id),
        ("whisper", supervisor_id, agent_id),
        ("barge", supervisor_id, agent_id),
        ("stop", supervisor_id, agent_id),
    ]
    entries = await voice_hub.hub.app[SWITCHBOARD].log.entries(since, events=frozenset({QueueEvent.MONITOR}))
    assert {(e.conversation_id, e.channel) for e in entries} == {(conversation_id, "voice")}


async def test_the_supervisor_hanging_up_restores_the_relay_and_the_end_of_the_call_hangs_them_up(
    voice_hub: RunningHub, tmp_path: Path, softphone: SoftphoneFactory
) -> None:
    since = datetime.now(UTC)
    bridged = await agent_talks_to_caller(voice_hub, tmp_path, softphone)
    supervisor_id, supervisor = await supervisor_phone(voice_hub, tmp_path, softphone)
    phones = {"caller": bridged.caller, "agent": bridged.agent, "supervisor": supervisor}
    session, csrf = await voice_hub.login("supervisor", "supervisor123")
    try:
        body = {"conversation_id": bridged.conversation_id, "mode": "barge"}
        assert await post_monitor(voice_hub, session, csrf, body) == (200, {"mode": "barge", "state": "ringing"})
        await supervisor.wait_event("CALL_ESTABLISHED")
        await hear_exactly(
            phones,
            {
                "caller": {AGENT_HZ, SUPERVISOR_HZ},
                "agent": {CALLER_HZ, SUPERVISOR_HZ},
                "supervisor": {CALLER_HZ, AGENT_HZ},
            },
        )
        closed = len(supervisor.events)
        await supervisor.hangup()
        await supervisor.wait_event("CALL_CLOSED", after=closed)
        await hear_exactly(
            {"caller": bridged.caller, "agent": bridged.agent}, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}}
        )
        assert bridged.call.caller.takeover is None and bridged.call.agent.takeover is None

        after = len(supervisor.events)
        body = {"conversation_id": bridged.conversation_id, "mode": "listen"}
        assert await post_monitor(voice_hub, session, csrf, body) == (200, {"mode": "listen", "state": "ringing"})
        await supervisor.wait_event("CALL_ESTABLISHED", after=after)
        await hear_exactly(phones, {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": {CALLER_HZ, AGENT_HZ}})
        after = len(supervisor.events)
        await bridged.caller.hangup()  # the citizen hangs up: the supervisor's phone is hung up too
        await supervisor.wait_event("CALL_CLOSED", after=after)
    finally:
        await session.close()
    agent_id = bridged.agent_id
    assert await monitor_log(voice_hub, since, 4) == [
        ("barge", supervisor_id, agent_id),
        ("stop", supervisor_id, agent_id),
        ("listen", supervisor_id, agent_id),
        ("stop", supervisor_id, agent_id),
    ]
