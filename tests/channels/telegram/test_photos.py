"""Citizens' Telegram photos: fetched with getFile after the update is stored, shown to inbox staff only."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Bot

from channels.telegram.photos import PhotoDownloader, image_type, is_pending
from hub.file_store import ContentStore
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.channels.telegram.test_telegram import conversation_of, health, message_update, post, tg_settings, until
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub


def png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG of a flat colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def photo_update(update_id: int, file_id: str, caption: str | None = None) -> dict[str, Any]:
    sizes = [
        {"file_id": f"{file_id}-thumb", "file_unique_id": "t", "width": 90, "height": 60, "file_size": 900},
        {"file_id": file_id, "file_unique_id": f"u{update_id}", "width": 1280, "height": 960, "file_size": 90000},
    ]
    fields: dict[str, Any] = {"photo": sizes}
    if caption:
        fields["caption"] = caption
    return message_update(update_id, **fields)


async def photo_record(hub: RunningHub) -> tuple[int, dict[str, Any]]:
    conversation = await conversation_of(hub)
    message = (await hub.hub.service.store.messages(conversation.id))[0]
    return message.id, message.attachments[0]


def settled(hub: RunningHub) -> Any:
    async def check() -> bool:
        _, record = await photo_record(hub)
        return record["download"] != "pending"

    return check


@pytest.fixture
async def photo_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi) -> Any:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as running:
        yield running


async def test_a_photo_is_downloaded_and_shown_to_agents_only(photo_hub: RunningHub, bot_api: FakeBotApi) -> None:
    image = png()
    bot_api.files["big"] = image
    assert await post(photo_hub, photo_update(100, "big", caption="路灯杆倒了")) == 200
    await until(settled(photo_hub))
    message_id, record = await photo_record(photo_hub)
    digest = hashlib.sha256(image).hexdigest()
    assert record["download"] == "ready" and record["sha256"] == digest and record["size"] == len(image)
    assert record["content_type"] == "image/png" and record["name"] == "photo-u100.png"
    assert bot_api.downloads == ["photos/big.jpg"]  # the largest size only
    assert (photo_hub.hub.settings.data_dir / "attachments" / "telegram" / digest[:2] / digest).read_bytes() == image
    assert (await health(photo_hub))["photos_downloaded"] == 1

    url = f"{photo_hub.url}/api/telegram/photos/{message_id}/0"
    agent, _csrf = await photo_hub.login("agent1", "agent123")
    async with agent, agent.get(url) as resp:
        assert resp.status == 200
        assert await resp.read() == image
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
    async with photo_hub.session.get(url, allow_redirects=False) as resp:
        assert resp.status == 401  # not logged in
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as dept:
        async with dept.post(
            f"{photo_hub.url}/login", data={"username": "dept", "password": "dept123"}, allow_redirects=False
        ) as resp:
            assert resp.status == 302
        async with dept.get(url) as resp:
            assert resp.status == 403  # a department never sees citizens' chats
    agent, _csrf = await photo_hub.login("agent1", "agent123")
    async with agent:
        for wrong in (f"/api/telegram/photos/{message_id}/1", f"/api/telegram/photos/{message_id + 999}/0"):
            async with agent.get(photo_hub.url + wrong) as resp:
                assert resp.status == 404


async def test_the_inbox_hears_when_a_photo_is_ready(photo_hub: RunningHub, bot_api: FakeBotApi) -> None:
    supervisor, _csrf = await photo_hub.login("supervisor", "supervisor123")
    async with supervisor, supervisor.ws_connect(photo_hub.ws_url("/agent/ws")) as ws:
        assert json.loads((await ws.receive()).data)["type"] == "hello"
        bot_api.files["p1"] = png()
        assert await post(photo_hub, photo_update(101, "p1")) == 200
        kinds: list[tuple[str, str]] = []
        while not any(kind == "message_updated" for kind, _ in kinds):
            frame = json.loads((await ws.receive(timeout=30)).data)
            if "message" in frame:
                kinds.append((frame["type"], frame["message"]["attachments"][0]["download"]))
    assert kinds == [("message", "pending"), ("message_updated", "ready")]


@pytest.mark.parametrize(
    ("content", "error"),
    [(None, "unavailable"), (b"<html><script>alert(1)</script></html>", "not_an_image")],
    ids=["unknown-file-id", "not-an-image"],
)
async def test_a_photo_that_cannot_be_had_is_marked_failed_and_never_served(
    photo_hub: RunningHub, bot_api: FakeBotApi, content: bytes | None, error: str
) -> None:
    if content is not None:
        bot_api.files["odd"] = content
    assert await post(photo_hub, photo_update(102, "odd")) == 200
    await until(settled(photo_hub))
    message_id, record = await photo_record(photo_hub)
    assert record["download"] == "failed" and record["error"] == error and "sha256" not in record
    agent, _csrf = await photo_hub.login("agent1", "agent123")
    async with agent, agent.get(f"{photo_hub.url}/api/telegram/photos/{message_id}/0") as resp:
        assert resp.status == 404 and (await resp.json())["error"] == "not_downloaded"
    assert (await health(photo_hub))["photos_failed"] == 1


async def test_a_photo_too_large_is_refused_before_downloading(photo_hub: RunningHub, bot_api: FakeBotApi) -> None:
    bot_api.files["huge"] = b"\xff\xd8\xff" + bytes(10 * 1024 * 1024)
    assert await post(photo_hub, photo_update(103, "huge")) == 200
    await until(settled(photo_hub))
    _, record = await photo_record(photo_hub)
    assert record["download"] == "failed" and record["error"] == "too_large"
    assert bot_api.downloads == []


async def test_bot_api_down_keeps_the_photo_pending_until_it_is_back(
    photo_hub: RunningHub, bot_api: FakeBotApi
) -> None:
    bot_api.files["later"] = png()
    await bot_api.stop()
    assert await post(photo_hub, photo_update(104, "later", caption="积水")) == 200

    async def failed_once() -> bool:
        state = await health(photo_hub)
        return state["photos_pending"] == 1 and state["last_photo_error"] is not None

    await until(failed_once)
    assert (await photo_record(photo_hub))[1]["download"] == "pending"
    await bot_api.start()
    await until(settled(photo_hub))
    assert (await photo_record(photo_hub))[1]["download"] == "ready"


async def test_a_photo_pending_at_shutdown_is_fetched_after_the_restart(
    tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi
) -> None:
    bot_api.files["kept"] = png()
    await bot_api.stop()
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as first:
        assert await post(first, photo_update(105, "kept")) == 200
        assert (await photo_record(first))[1]["download"] == "pending"
    await bot_api.start()
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **tg_settings(bot_api)) as second:
        await until(settled(second))
        assert (await photo_record(second))[1]["download"] == "ready"


def test_image_types_are_recognised_by_their_magic_bytes() -> None:
    assert image_type(png()) == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    for other in (b"", b"GIF89a", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"RIFF\x10\x00\x00\x00WAVE"):
        assert image_type(other) is None


def test_only_telegram_photos_still_to_fetch_are_pending() -> None:
    photo = {"kind": "photo", "source": "telegram", "file_id": "x", "download": "pending"}
    assert is_pending(photo)
    assert not is_pending({**photo, "download": "ready"})
    assert not is_pending({**photo, "source": "email"})
    assert not is_pending({k: v for k, v in photo.items() if k != "file_id"})
    assert not is_pending("photo")


async def test_a_photo_failing_for_too_long_is_given_up(photo_hub: RunningHub, bot_api: FakeBotApi) -> None:
    await bot_api.stop()
    assert await post(photo_hub, photo_update(106, "gone")) == 200
    message_id, _ = await photo_record(photo_hub)
    bot = Bot(TOKEN, base_url=bot_api.base_url, base_file_url=bot_api.base_url.replace("/bot", "/file/bot"))
    files = ContentStore(photo_hub.hub.settings.data_dir / "attachments" / "telegram")
    impatient = PhotoDownloader(bot, photo_hub.hub.service, files, token=TOKEN, give_up_after_s=0.0)
    await impatient._attempt(message_id)  # connection refused, and no patience left
    _, record = await photo_record(photo_hub)
    assert record["download"] == "failed" and record["error"] == "gave_up"
    assert impatient.last_error is not None and TOKEN not in impatient.last_error
