"""Call records and IVR flow versions on both backends (embedded SQLite and a real PostgreSQL 15)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.voice.call_store import CallNotFound, CallStore, HangupCause
from channels.voice.ivr import DEFAULT_FLOW_PATH, FlowError, IvrSession
from channels.voice.ivr.events import Dtmf, PromptDone, VoicemailDone
from channels.voice.ivr.flow_store import FlowVersionNotFound
from channels.voice.ivr.store import IvrFlows
from hub.models import ConversationStatus
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    await migrate(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


async def test_a_call_answered_by_an_agent(engine: AsyncEngine) -> None:
    conversations = ConversationStore(engine)
    conv = await conversations.create("voice", external_ref="sip-1")
    store = CallStore(engine)
    call = await store.start_call(
        sip_call_id="abc@10.0.0.1", caller="13800001111", called="12319", arrived_at=at(0), conversation_id=conv.id
    )
    assert call.ivr_path == [] and call.recordings == [] and call.ended_at is None and call.routing == "normal"
    again = await store.start_call(sip_call_id="abc@10.0.0.1", caller="13800001111", called="12319")
    assert again.id == call.id  # a retransmitted INVITE does not make a second record
    path = [{"node": "main", "at": at(2).isoformat(), "via": None}]
    await store.update(call.id, answered_at=at(1), ivr_path=path, queue="general", priority=0, queue_entered_at=at(10))
    await store.update(call.id, queue_left_at=at(25), agent_id=None, agent_answered_at=at(25))
    await store.add_recording(call.id, "/rec/a.wav")
    await store.add_recording(call.id, "/rec/b.wav")
    done = await store.finish(call.id, cause=HangupCause.AGENT_BYE, ended_at=at(85), transcript="你好")
    assert (done.wait_s, done.talk_s, done.ivr_s, done.total_s) == (15.0, 60.0, 9.0, 85.0)
    assert done.hangup_cause == "agent_bye" and done.recordings == ["/rec/a.wav", "/rec/b.wav"]
    assert done.ivr_path == path and done.transcript == "你好" and done.arrived_at == at(0)
    later = await store.finish(call.id, cause=HangupCause.CALLER_BYE, ended_at=at(90))
    assert later.hangup_cause == "agent_bye" and later.ended_at == at(85)  # first finish wins
    assert [c.id for c in await store.for_conversation(conv.id)] == [call.id]
    assert (await conversations.get(conv.id)).status is ConversationStatus.BOT


async def test_an_abandoned_call_gets_its_wait_from_the_end(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    call = await store.start_call(sip_call_id="x1", caller=None, called="12319", arrived_at=at(0))
    await store.update(call.id, answered_at=at(0), queue="general", queue_entered_at=at(5))
    done = await store.finish(call.id, cause=HangupCause.ABANDONED, ended_at=at(47))
    assert done.queue_left_at == at(47) and done.wait_s == 42.0 and done.talk_s is None and done.ivr_s == 5.0


async def test_bad_input_is_refused_clearly(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    with pytest.raises(ValueError, match="cannot update hangup_cause"):
        await store.update(1, hangup_cause="x")
    with pytest.raises(CallNotFound):
        await store.update(999, queue="general")
    with pytest.raises(CallNotFound):
        await store.finish(999, cause="error")
    with pytest.raises(ValueError, match="SIP Call-ID"):
        await store.start_call(sip_call_id="", caller=None, called=None)


async def test_recent_and_kpis(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    # answered after 10 s and 30 s of waiting, one abandoned after 50 s, one rejected, one voicemail without queue
    for n, (wait, cause) in enumerate([(10, "agent_bye"), (30, "caller_bye"), (50, "abandoned")]):
        call = await store.start_call(sip_call_id=f"k{n}", caller="13800001111", called="12319", arrived_at=at(n * 100))
        await store.update(call.id, answered_at=at(n * 100), queue="general", queue_entered_at=at(n * 100))
        if cause != "abandoned":
            await store.update(call.id, queue_left_at=at(n * 100 + wait), agent_answered_at=at(n * 100 + wait))
        await store.finish(call.id, cause=cause, ended_at=at(n * 100 + wait + 60 * (cause != "abandoned")))
    rejected = await store.start_call(sip_call_id="k3", caller="17000000000", called="12319", arrived_at=at(400))
    await store.finish(rejected.id, cause="rejected", ended_at=at(405))
    vm = await store.start_call(sip_call_id="k4", caller="13900000000", called="12319", arrived_at=at(500))
    await store.finish(vm.id, cause="ivr_end", ended_at=at(560), voicemail_path="/vm/k4.wav")
    outside = await store.start_call(sip_call_id="k5", caller=None, called="12319", arrived_at=at(-3600))
    await store.finish(outside.id, cause="caller_bye", ended_at=at(-3590))

    kpis = await store.kpis(at(0), at(1000), service_level_s=20)
    assert (kpis.calls, kpis.queued, kpis.answered, kpis.abandoned, kpis.rejected, kpis.voicemail) == (5, 3, 2, 1, 1, 1)
    assert kpis.answered_within_sl == 1 and kpis.avg_wait_s == 30.0 and kpis.max_wait_s == 50.0
    assert kpis.avg_talk_s == 60.0 and kpis.abandon_rate == pytest.approx(1 / 3)
    empty = await store.kpis(at(5000), at(6000))
    assert empty.calls == 0 and empty.avg_wait_s is None and empty.abandon_rate is None
    assert [c.sip_call_id for c in await store.recent(3)] == ["k4", "k3", "k2"]


async def test_a_call_record_from_an_ivr_session(engine: AsyncEngine) -> None:
    """The IVR path and voicemail of a real walk through the default flow land in the record as JSON."""
    flows = await IvrFlows.open(engine)
    clock = iter(at(s) for s in range(100))
    ivr = IvrSession(flows.holder(), caller="13800001111", now=lambda: next(clock))
    ivr.start()
    ivr.handle(PromptDone())
    ivr.handle(Dtmf("9"))
    ivr.handle(PromptDone())
    ivr.handle(VoicemailDone("/vm/1.wav"))
    ivr.handle(PromptDone())
    store = CallStore(engine)
    call = await store.start_call(sip_call_id="ivr-1", caller=ivr.caller, called="12319", arrived_at=at(0))
    done = await store.finish(
        call.id,
        cause=ivr.hangup_cause or "error",
        ended_at=at(120),
        ivr_path=ivr.path_json(),
        voicemail_path=ivr.voicemail_path,
    )
    assert [s["node"] for s in done.ivr_path] == ["welcome", "hours", "main", "voicemail", "goodbye"]
    assert done.voicemail_path == "/vm/1.wav" and done.hangup_cause == "ivr_end"


async def test_flow_versions_default_install_save_activate(engine: AsyncEngine) -> None:
    flows = await IvrFlows.open(engine)
    history = await flows.history()
    assert [(v.version, v.active, v.created_by) for v in history] == [(1, True, None)]
    assert flows.holder().start == "welcome" and flows.holder.version_id == history[0].id
    again = await IvrFlows.open(engine)  # a restart does not install the default twice
    assert len(await again.history()) == 1

    edited = DEFAULT_FLOW_PATH.read_text(encoding="utf-8").replace("您好，这里是12319", "您好！这里是12319")
    v2 = await flows.save(edited, user_id=None, comment="greeting")
    assert v2.version == 2 and v2.active and flows.holder().node("welcome").prompt.zh.startswith("您好！")  # type: ignore[attr-defined]
    with pytest.raises(FlowError):
        await flows.save("start: nowhere\nnodes: {}\n", user_id=None)
    assert [v.version for v in await flows.history()] == [2, 1]  # the invalid document was not stored

    assert await again.refresh_if_changed() is True  # the other process sees version 2
    assert again.holder().node("welcome").prompt.zh.startswith("您好！")  # type: ignore[attr-defined]
    assert await again.refresh_if_changed() is False

    await flows.activate(history[0].id, user_id=None)
    assert flows.holder().node("welcome").prompt.zh.startswith("您好，")  # type: ignore[attr-defined]
    assert [(v.version, v.active) for v in await flows.history()] == [(2, False), (1, True)]
    with pytest.raises(FlowVersionNotFound):
        await flows.activate(9999, user_id=None)


async def test_concurrent_first_starts_install_one_default(engine: AsyncEngine) -> None:
    opened = await asyncio.gather(*(IvrFlows.open(engine) for _ in range(3)))
    assert len(await opened[0].history()) == 1
    assert all(f.holder.version_id == opened[0].holder.version_id for f in opened)
