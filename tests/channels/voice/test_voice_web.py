"""The voice channel's web side on a real hub (127.0.0.1): audio route, call records in the inbox, ringing over the
inbox WebSocket, the /calls page, softphone accounts (page and CLI) and, in headless Chromium, the ringing banner
and a voicemail player."""

from __future__ import annotations

import asyncio
import html
import json
import re
import sys
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, expect

from channels.voice import web as voice_web
from channels.voice.call_store import CallStore
from channels.voice.config import VoiceSettings
from channels.voice.sip_accounts import SipAccountStore, ha1
from hub.events import CallFinished, CallOffered
from hub.models import Conversation, Message, SenderKind
from hub.storage.schema import users
from hub.web.context import CTX
from tests.fixtures.browser import new_context
from tests.fixtures.browser import sign_in as browser_sign_in
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.postgres import fresh_database
from tests.hub.test_web_channels import recv

CALLER = "13812345678"
MASKED = "138****5678"
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, 2026-11-20


def write_wav(path: Path, seconds: float = 3.0) -> bytes:
    """An 8 kHz mono 16-bit WAV of a 440 Hz-ish square tone; returns the file's bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join((b"\xff\x3f" if (i // 9) % 2 else b"\x01\xc0") for i in range(int(8000 * seconds)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return path.read_bytes()


async def voice_conversation(hub: RunningHub) -> Conversation:
    ctx = hub.hub.app[CTX]
    contact = await ctx.conversations.ensure_contact_by_phone(CALLER)
    return await ctx.conversations.create("voice", external_ref="call-1@test", contact_id=contact.id)


async def add_voicemail(hub: RunningHub, conv: Conversation, attachments: list[dict[str, Any]], text: str) -> Message:
    message, _created = await hub.hub.app[CTX].conversations.add_message(
        conv.id, direction="in", sender_kind=SenderKind.CITIZEN, text=text, attachments=attachments
    )
    return message


def audio(file: str, label: str = "voicemail") -> dict[str, Any]:
    return {"kind": "audio", "source": "voice", "file": file, "mime": "audio/wav", "duration_s": 3.0, "label": label}


async def user_id(hub: RunningHub, username: str) -> int:
    async with hub.hub.engine.connect() as conn:
        found = await conn.scalar(sa.select(users.c.id).where(users.c.username == username))
    assert found is not None, username
    return int(found)


# -- access ---------------------------------------------------------------------------------------------------------


async def test_anonymous_visitors_are_sent_to_login(live_hub: RunningHub) -> None:
    for path in ("/voice/audio/1/0", "/voice/calls/1/audio/0"):
        async with live_hub.session.get(live_hub.url + path) as resp:
            assert resp.status == 401, path
    for method, path in (("GET", "/calls"), ("GET", "/agent/softphone"), ("POST", "/agent/softphone")):
        async with live_hub.session.request(method, live_hub.url + path, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login"), path


@pytest.mark.parametrize(
    "username,password,audio_status,calls_status,softphone_status",
    [
        ("agent1", "agent123", 200, 200, 200),
        ("supervisor", "supervisor123", 200, 200, 200),
        ("leader", "leader123", 200, 200, 403),
        ("admin", "admin123", 200, 200, 200),
        ("dept", "dept123", 404, 403, 403),
        ("kb", "kb123", 404, 403, 403),
    ],
)
async def test_role_matrix(
    live_hub: RunningHub, username: str, password: str, audio_status: int, calls_status: int, softphone_status: int
) -> None:
    data_dir = live_hub.hub.settings.data_dir
    write_wav(data_dir / "voice" / "vm" / "a.wav")
    message = await add_voicemail(live_hub, await voice_conversation(live_hub), [audio("voice/vm/a.wav")], "[语音留言]")
    session, _csrf = await live_hub.login(username, password)
    async with session:
        async with session.get(f"{live_hub.url}/voice/audio/{message.id}/0") as resp:
            assert resp.status == audio_status
        async with session.get(live_hub.url + "/calls", allow_redirects=False) as resp:
            assert resp.status == calls_status
        async with session.get(live_hub.url + "/agent/softphone", allow_redirects=False) as resp:
            assert resp.status == softphone_status
        async with session.get(live_hub.url + "/staff?lang=zh-CN") as resp:
            page = await resp.text()
        assert ('href="/calls"' in page) == (calls_status == 200)
        assert ('href="/agent/softphone"' in page) == (softphone_status == 200)


# -- the audio route ------------------------------------------------------------------------------------------------


async def test_audio_is_served_only_from_the_voice_folder(live_hub: RunningHub, tmp_path: Path) -> None:
    data_dir = live_hub.hub.settings.data_dir
    wav = write_wav(data_dir / "voice" / "vm" / "ok.wav")
    outside = tmp_path / "secret.wav"
    write_wav(outside)
    (data_dir / "voice" / "vm" / "link.wav").symlink_to(outside)
    (data_dir / "voice" / "dirlink").symlink_to(tmp_path)
    (data_dir / "other.wav").write_bytes(wav)
    conv = await voice_conversation(live_hub)
    attachments = [
        audio("voice/vm/ok.wav"),
        {"kind": "file", "source": "email", "file": "voice/vm/ok.wav", "name": "x.wav"},  # not audio
        audio("voice/../../../../../../etc/passwd"),
        audio("/etc/passwd"),
        audio(str(data_dir / "voice" / "vm" / "ok.wav")),  # absolute, even inside the folder
        audio("voice/vm/link.wav"),  # symlink pointing outside
        audio("voice/dirlink/secret.wav"),  # through a directory symlink
        audio("other.wav"),  # in the data dir but not under voice/
        audio("voice/vm/missing.wav"),
        audio("voice/vm"),  # a directory
        {"kind": "audio", "file": 12},
    ]
    message = await add_voicemail(live_hub, conv, attachments, "[语音留言]")
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session:
        url = f"{live_hub.url}/voice/audio/{message.id}"
        async with session.get(url + "/0") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav"
            assert await resp.read() == wav
        async with session.get(url + "/0", headers={"Range": "bytes=0-43"}) as resp:
            assert resp.status == 206 and await resp.read() == wav[:44]
        for index in range(1, len(attachments) + 2):  # every bad one, then a wrong index
            async with session.get(f"{url}/{index}") as resp:
                assert resp.status == 404, attachments[index] if index < len(attachments) else index
        async with session.get(f"{live_hub.url}/voice/audio/{message.id + 1000}/0") as resp:
            assert resp.status == 404


def test_resolver_refuses_escapes(tmp_path: Path) -> None:
    write_wav(tmp_path / "voice" / "a.wav")
    assert voice_web.resolve_audio(tmp_path, "voice/a.wav") == (tmp_path / "voice" / "a.wav").resolve()
    for bad in ["voice/../voice/a.wav", "voice\\a.wav", "voice/a.wav\x00", "", str(tmp_path / "voice" / "a.wav")]:
        assert voice_web.resolve_audio(tmp_path, bad) is None, bad
    assert voice_web.resolve_audio(tmp_path, str(tmp_path / "voice" / "a.wav"), allow_absolute=True) is not None


# -- call records in the inbox and on /calls ------------------------------------------------------------------------


async def record_call(
    store: CallStore,
    name: str,
    *,
    minutes: float,
    conversation_id: str | None = None,
    agent_id: int | None = None,
    wait: float | None = None,
    talk: float = 0.0,
    cause: str = "caller_bye",
    voicemail: str | None = None,
    recordings: tuple[str, ...] = (),
    caller: str = CALLER,
) -> int:
    start = T0 + timedelta(minutes=minutes)
    call = await store.start_call(
        sip_call_id=f"{name}@test", caller=caller, called="12319", arrived_at=start, conversation_id=conversation_id
    )
    path = [
        {"node": "welcome", "at": start.isoformat(), "via": None},
        {"node": "main", "at": start.isoformat(), "via": "dtmf:0"},
    ]
    await store.update(call.id, answered_at=start + timedelta(seconds=1), ivr_path=path)
    end = start + timedelta(seconds=5)
    if wait is not None:
        entered = start + timedelta(seconds=5)
        await store.update(call.id, queue="general", queue_entered_at=entered)
        end = entered + timedelta(seconds=wait)
        if agent_id is not None:
            await store.update(call.id, agent_id=agent_id, agent_answered_at=end, queue_left_at=end)
            end += timedelta(seconds=talk)
    for file in recordings:
        await store.add_recording(call.id, file)
    await store.finish(call.id, cause=cause, ended_at=end, voicemail_path=voicemail)
    return call.id


async def test_detail_lists_the_conversation_calls_and_plays_their_recordings(live_hub: RunningHub) -> None:
    data_dir = live_hub.hub.settings.data_dir
    mixed = write_wav(data_dir / "voice" / "rec" / "c1-abc-mixed.wav")
    write_wav(data_dir / "voice" / "rec" / "c1-abc-caller.wav")
    conv = await voice_conversation(live_hub)
    store = live_hub.hub.app[voice_web.STATE].calls
    agent1 = await user_id(live_hub, "agent1")
    call_id = await record_call(
        store,
        "c1",
        minutes=0,
        conversation_id=conv.id,
        agent_id=agent1,
        wait=12,
        talk=60,
        recordings=("voice/rec/c1-abc-mixed.wav", str(data_dir / "voice" / "rec" / "c1-abc-caller.wav")),
    )
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session:
        async with session.get(f"{live_hub.url}/api/conversations/{conv.id}") as resp:
            detail = await resp.json()
        [call] = detail["calls"]
        assert call["id"] == call_id and call["caller"] == CALLER  # agents call back: the full number
        assert call["outcome"] == "answered" and call["wait_s"] == 12 and call["talk_s"] == 60
        assert call["agent_name"] == "座席 张敏" and call["queue"] == "general"
        assert [s["node"] for s in call["ivr_path"]] == ["welcome", "main"]
        assert [r["label"] for r in call["recordings"]] == ["mixed", "caller"]
        async with session.get(live_hub.url + call["recordings"][0]["url"]) as resp:
            assert resp.status == 200 and await resp.read() == mixed
        async with session.get(live_hub.url + call["recordings"][1]["url"]) as resp:
            assert resp.status == 200  # an absolute path the call session wrote, inside the voice folder
        async with session.get(f"{live_hub.url}/voice/calls/{call_id}/audio/2") as resp:
            assert resp.status == 404
    other, _csrf = await live_hub.login("agent2", "agent123")  # did not answer this call
    async with other, other.get(live_hub.url + call["recordings"][0]["url"]) as resp:
        assert resp.status == 404
    leader, _csrf = await live_hub.login("leader", "leader123")
    async with leader, leader.get(live_hub.url + call["recordings"][0]["url"]) as resp:
        assert resp.status == 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_hub(
    request: pytest.FixtureRequest, tmp_path: Path, scripted_nlu: ScriptedNlu
) -> AsyncIterator[RunningHub]:
    url = None if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, database_url=url) as hub:
        yield hub


def kpi(page: str, name: str) -> str:
    match = re.search(rf'id="kpi-{name}">([^<]*)<', page)
    assert match, name
    return match.group(1)


def row_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="call-(\d+)"', page)]


async def test_calls_page_kpis_filters_and_agent_scope(any_hub: RunningHub) -> None:
    hub = any_hub
    store = hub.hub.app[voice_web.STATE].calls
    agent1 = await user_id(hub, "agent1")
    conv = await voice_conversation(hub)
    answered = await record_call(
        store, "a", minutes=0, conversation_id=conv.id, agent_id=agent1, wait=10, talk=60, cause="agent_bye"
    )
    abandoned = await record_call(store, "b", minutes=10, wait=30, cause="abandoned")
    voicemail = await record_call(store, "c", minutes=20, wait=300, cause="ivr_end", voicemail="voice/vm/c.wav")
    rejected = await record_call(store, "d", minutes=30, cause="rejected", caller="<b>13900001111</b>")
    ivr_only = await record_call(store, "e", minutes=40, cause="caller_bye")
    await record_call(store, "f", minutes=60 * 24 * 3, agent_id=agent1, wait=5, talk=10)  # another day
    day = "from=2026-11-20&to=2026-11-20"

    sup, _csrf = await hub.login("supervisor", "supervisor123")
    async with sup:
        async with sup.get(f"{hub.url}/calls?{day}&lang=zh-CN") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert row_ids(page) == [ivr_only, rejected, voicemail, abandoned, answered]  # newest first
        figures = await store.kpis(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
        assert figures.calls == 5 and figures.answered == 1 and figures.abandoned == 1
        assert kpi(page, "calls") == "5" and kpi(page, "answered") == "1" and kpi(page, "abandoned") == "1"
        assert kpi(page, "voicemail") == "1"
        assert figures.abandon_rate is not None and kpi(page, "abandon-rate") == f"{figures.abandon_rate * 100:.1f}%"
        assert figures.service_level is not None and kpi(page, "service-level") == f"{figures.service_level * 100:.1f}%"
        assert figures.avg_wait_s is not None and kpi(page, "avg-wait") == str(round(figures.avg_wait_s, 1))
        assert kpi(page, "avg-talk") == "60.0"
        assert MASKED in page and CALLER not in page  # the overview masks numbers
        assert "&lt;b&gt;139****1111&lt;/b&gt;" in page and "<b>139" not in page  # escaped
        assert "welcome → main (dtmf:0)" in page and "排队放弃" in page
        for outcome, expected in [
            ("answered", [answered]),
            ("abandoned", [abandoned]),
            ("voicemail", [voicemail]),
            ("rejected", [rejected]),
        ]:
            async with sup.get(f"{hub.url}/calls?{day}&outcome={outcome}") as resp:
                assert row_ids(await resp.text()) == expected, outcome
        async with sup.get(f"{hub.url}/calls?from=2026-11-20&to=2026-11-23") as resp:
            assert len(row_ids(await resp.text())) == 6
        for bad, message in [
            ("from=2026-13-01", "日期格式应为 YYYY-MM-DD"),
            ("from=2026-11-21&to=2026-11-20", "结束日期不能早于开始日期"),
            ("from=2024-01-01&to=2026-01-01", "范围不超过366天"),
            ("outcome=<script>", "未知的通话结果"),
        ]:
            async with sup.get(f"{hub.url}/calls?{bad}&lang=zh-CN") as resp:
                assert resp.status == 400 and message in await resp.text(), bad

    agent, _csrf = await hub.login("agent1", "agent123")
    async with agent:
        async with agent.get(f"{hub.url}/calls?{day}&lang=zh-CN") as resp:
            page = await resp.text()
        assert row_ids(page) == [answered] and 'id="mine-only"' in page
        assert kpi(page, "answered") == "1" and kpi(page, "avg-talk") == "60.0" and 'id="kpi-calls"' not in page
        assert page.count('href="/agent#c=') == 1 and f'href="/agent#c={conv.id}"' in page
    other, _csrf = await hub.login("agent2", "agent123")
    async with other, other.get(f"{hub.url}/calls?{day}") as resp:
        assert row_ids(await resp.text()) == []


# -- ringing --------------------------------------------------------------------------------------------------------


async def test_call_offered_reaches_only_the_rung_agent(live_hub: RunningHub) -> None:
    conv = await voice_conversation(live_hub)
    agent1 = await user_id(live_hub, "agent1")
    bus = live_hub.hub.app[CTX].bus
    s1, _c1 = await live_hub.login("agent1", "agent123")
    s2, _c2 = await live_hub.login("agent2", "agent123")
    async with (
        s1,
        s2,
        s1.ws_connect(live_hub.ws_url("/agent/ws")) as ws1,
        s2.ws_connect(live_hub.ws_url("/agent/ws")) as ws2,
    ):
        await recv(ws1, "hello")
        await recv(ws2, "hello")
        await bus.publish(CallOffered(conv, agent1, CALLER))
        await bus.publish(CallFinished(conv, 7, "agent_bye"))
        offered = await recv(ws1, "call_offered")
        assert offered["conversation"]["id"] == conv.id and offered["caller"] == MASKED
        assert (await recv(ws1, "call_finished"))["conversation_id"] == conv.id
        # agent2's first voice frame is the finish: the offer was never sent to it
        frame = json.loads(await asyncio.wait_for(ws2.receive_str(), 10))
        assert frame == {"type": "call_finished", "conversation_id": conv.id, "call_id": 7, "cause": "agent_bye"}


# -- softphone accounts ---------------------------------------------------------------------------------------------


async def test_softphone_page_when_voice_is_off(live_hub: RunningHub) -> None:
    session, csrf = await live_hub.login("agent1", "agent123")
    async with session:
        async with session.get(live_hub.url + "/agent/softphone?lang=zh-CN") as resp:
            page = await resp.text()
        assert resp.status == 200 and "语音通道未启用" in page and 'id="sp-reset"' not in page
        async with session.post(live_hub.url + "/agent/softphone", data={"csrf": csrf}) as resp:
            assert resp.status == 409 and 'id="sp-secret"' not in await resp.text()
    agent1 = await user_id(live_hub, "agent1")
    assert await SipAccountStore(live_hub.hub.engine).get(agent1) is None


async def test_softphone_secret_is_shown_once_and_registers(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    voice = VoiceSettings(
        sip_host="127.0.0.1", sip_port=0, public_host="sip.hotline.test", realm="12319.test", tcp=True,
        tts_engine="espeak", asr_engine="off",  # no call is made: the start-up prompt warm-up stays cheap
    )  # fmt: skip
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, voice=voice) as hub:
        session, csrf = await hub.login("agent1", "agent123")
        async with session:
            async with session.get(hub.url + "/agent/softphone?lang=zh-CN") as resp:
                page = await resp.text()
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
            assert 'id="sp-server">sip.hotline.test:0<' in page and "UDP / TCP" in page
            assert ">12319.test<" in page and ">agent1<" in page and "尚未生成密码" in page
            async with session.post(hub.url + "/agent/softphone", data={}) as resp:
                assert resp.status == 403  # no CSRF token
            async with session.post(hub.url + "/agent/softphone", data={"csrf": csrf}) as resp:
                page = await resp.text()
                assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
            match = re.search(r'<code id="sp-secret">([^<]+)</code>', page)
            assert match
            secret = html.unescape(match.group(1))
            found = await SipAccountStore(hub.hub.engine).credentials("agent1", "12319.test", "MD5")
            assert found is not None and found[1] == ha1("MD5", "agent1", "12319.test", secret)
            async with session.get(hub.url + "/agent/softphone?lang=zh-CN") as resp:
                later = await resp.text()
            assert secret not in later and 'id="sp-secret"' not in later and "密码生成于" in later


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rexian.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_sip_secret(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    data = tmp_path / "data"
    code, _out, err = await run_cli("demo", "load", "--data-dir", str(data))
    assert code == 0, err
    code, out, err = await run_cli("user", "sip-secret", "agent2", "--realm", "r.test", "--data-dir", str(data))
    assert code == 0, err
    secret = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9]{16}", secret)
    code, _out, err = await run_cli("user", "sip-secret", "nobody", "--data-dir", str(data))
    assert code != 0 and "nobody" in err
    async with running_hub(data, nlu=scripted_nlu) as hub:
        found = await SipAccountStore(hub.hub.engine).credentials("agent2", "r.test", "SHA-256")
        assert found is not None and found[1] == ha1("SHA-256", "agent2", "r.test", secret)


# -- in the browser -------------------------------------------------------------------------------------------------


@pytest.mark.browser
async def test_agent_sees_the_ringing_banner_and_plays_the_voicemail(browser: Browser, live_hub: RunningHub) -> None:
    data_dir = live_hub.hub.settings.data_dir
    write_wav(data_dir / "voice" / "vm" / "v1.wav", seconds=3.0)
    conv = await voice_conversation(live_hub)
    text = "路灯坏了<b>快修</b>"
    await add_voicemail(live_hub, conv, [audio("voice/vm/v1.wav"), audio("voice/vm/v1.wav", "<img src=x>")], text)
    agent1 = await user_id(live_hub, "agent1")
    async with new_context(browser) as context:
        page = await context.new_page()
        await browser_sign_in(page, live_hub.url, "agent1", "agent123")
        await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        await live_hub.hub.app[CTX].bus.publish(CallOffered(conv, agent1, CALLER))
        banner = page.locator("#ringing")
        await expect(banner).to_have_text(f"来电 {MASKED} — 请接听软电话")
        await expect(page.locator("#detail-title")).to_contain_text("电话")
        bubble = page.locator("#agent-transcript li.citizen .bubble").first
        await expect(bubble).to_contain_text(text)  # markup stays text
        captions = page.locator("#agent-transcript figure.audio figcaption")
        await expect(captions).to_have_text(["留言录音 0:03", "<img src=x> 0:03"])
        player = page.locator("#agent-transcript audio").first
        await expect(player).to_have_attribute("preload", "none")
        duration = await player.evaluate(
            """a => new Promise((ok, fail) => { a.onloadedmetadata = () => ok(a.duration); a.onerror = () => fail(
                 String(a.error && a.error.code)); a.load(); })"""
        )
        assert abs(duration - 3.0) < 0.05
        await expect(page.locator("#contact")).to_contain_text(CALLER)
        await live_hub.hub.app[CTX].bus.publish(CallFinished(conv, 1, "agent_bye"))
        await expect(banner).to_be_hidden()
