"""A hub that stops mid-call: at the next start the call is ended as interrupted and its recordings recovered."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from datetime import UTC, datetime

import numpy as np

from channels.voice.call_store import CallStore, calls
from channels.voice.hub_port import VoiceHub
from channels.voice.recording import _WRITER, CHUNK_BYTES, CallRecorder
from hub.models import ConversationStatus
from hub.storage.engine import begin
from hub.web.context import CTX
from tests.fixtures.hub import RunningHub


def voice_hub_of(hub: RunningHub) -> VoiceHub:
    ctx = hub.hub.app[CTX]
    return VoiceHub(
        conversations=ctx.service, work_orders=ctx.work_orders, calls=CallStore(hub.hub.engine),
        nlu=None, taxonomy=ctx.taxonomy, notices=None, data_dir=hub.hub.settings.data_dir,
    )  # type: ignore[arg-type]  # fmt: skip


def frames(value: int, seconds: float) -> list[bytes]:
    return [np.full(160, value, dtype="<i2").tobytes()] * int(seconds * 50)


async def test_an_interrupted_call_is_ended_and_its_recording_recovered(live_hub: RunningHub) -> None:
    port = voice_hub_of(live_hub)
    ctx = await port.call_arrived("crashed-call@192.0.2.10", "13800138000", "12319")
    recordings = port.voice_dir / "recordings"
    recorder = CallRecorder(recordings, ctx.sip_call_id)  # the process "dies" before close()
    for i, (caller, agent) in enumerate(zip(frames(1000, 10), frames(-300, 10), strict=True)):
        recorder.add("caller", caller, i * 0.02)
        recorder.add("agent", agent, i * 0.02)
    await asyncio.wrap_future(_WRITER.submit(lambda: None))  # what was spilled is on disk
    raws = sorted(recordings.glob(".*.raw"))
    assert len(raws) == 2
    crashed_at = time.time() - 120  # the call came in ten minutes ago; its files were last written two minutes ago
    async with begin(live_hub.hub.engine) as conn:
        arrived = datetime.fromtimestamp(crashed_at - 480, UTC)
        await conn.execute(calls.update().where(calls.c.id == ctx.record_id).values(arrived_at=arrived))
    for raw in raws:
        os.utime(raw, (crashed_at, crashed_at))
    on_disk = {raw.name.rsplit("-", 1)[1]: raw.stat().st_size for raw in raws}
    assert on_disk == {"caller.raw": on_disk["caller.raw"], "agent.raw": on_disk["agent.raw"]}
    assert all(CHUNK_BYTES <= size < 10 * 16000 for size in on_disk.values())  # spilled chunks; the rest was lost

    assert await port.recover_interrupted_calls() == 1

    record = await port.calls.get(ctx.record_id)
    assert record.hangup_cause == "interrupted" and record.ended_at is not None
    assert abs(record.ended_at.timestamp() - crashed_at) < 2  # ended when the files were last written
    assert len(record.recordings) == 3  # mixed + both legs
    assert not list(recordings.glob(".*"))  # the raw files are gone
    messages = await live_hub.hub.service.store.messages(ctx.conversation.id)
    audio = [a for m in messages for a in m.attachments if a.get("kind") == "audio"]
    assert sorted(a["label"] for a in audio) == ["agent", "caller", "mixed"]
    mixed = next(a for a in audio if a["label"] == "mixed")
    with wave.open(str(live_hub.hub.settings.data_dir / mixed["file"]), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert len(samples) == on_disk["caller.raw"] // 2 and set(samples.tolist()) == {700}
    assert any("系统重启，通话中断" in m.text for m in messages)
    conversation = await live_hub.hub.service.store.get(ctx.conversation.id)
    assert conversation.status is ConversationStatus.CLOSED  # it was with the IVR: nobody is left to answer
    assert await port.recover_interrupted_calls() == 0  # nothing left open


async def test_an_interrupted_call_without_recordings_is_ended_too(live_hub: RunningHub) -> None:
    port = voice_hub_of(live_hub)
    ctx = await port.call_arrived("short-call@192.0.2.10", None, "12319")
    assert await port.recover_interrupted_calls() == 1
    record = await port.calls.get(ctx.record_id)
    assert record.hangup_cause == "interrupted" and record.recordings == []
    assert record.ended_at == record.arrived_at  # nothing later was known
