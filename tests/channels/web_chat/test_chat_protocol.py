"""The citizen web chat over real HTTP and WebSocket on 127.0.0.1: photo uploads (stored before acknowledged, type
and size checked), the staff and citizen photo routes, shared locations, the page's language and the phone flag."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.web_chat.socket import LOCATION_PATTERN, asks_for_phone, location_text
from channels.web_chat.uploads import (
    CHAT_CONFIG,
    DEFAULT_MAX_UPLOAD_BYTES,
    image_type,
    max_upload_from_env,
)
from hub.i18n import t
from hub.models import SenderKind
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.reply_photos import png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next frame of ``kind`` (other frames are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            data = json.loads(await ws.receive_str())
            if data["type"] == kind:
                return data


async def open_chat(hub: RunningHub, lang: str = "zh-CN", conversation_id: str | None = None) -> tuple[Any, str]:
    ws = await hub.session.ws_connect(hub.ws_url(f"/chat/ws?lang={lang}"))
    await ws.send_json({"type": "hello", "conversation_id": conversation_id, "last_id": 0})
    ready = await recv(ws, "ready")
    return ws, ready["conversation_id"]


def photo_form(conversation_id: str, data: bytes, name: str, *, caption: str = "", client_id: str = "p-1") -> Any:
    form = aiohttp.FormData()
    form.add_field("conversation_id", conversation_id)
    form.add_field("client_id", client_id)
    form.add_field("caption", caption)
    form.add_field("file", io.BytesIO(data), filename=name, content_type="image/jpeg")
    return form


async def citizen_messages(hub: RunningHub, conversation_id: str) -> list[Any]:
    messages = await hub.hub.service.store.messages(conversation_id)
    return [m for m in messages if m.sender_kind is SenderKind.CITIZEN]


def test_images_are_recognised_by_content_not_by_name() -> None:
    assert image_type(png()) == "image/png"
    assert image_type(JPEG) == "image/jpeg"
    assert image_type(b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16) == "image/webp"
    assert image_type(HEIC) == "image/heic"
    assert image_type(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1" + b"\x00" * 8) == "image/heif"
    assert image_type(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41") is None  # an MP4 video
    assert image_type(b"GIF89a\x01\x00") is None
    assert image_type(b"%PDF-1.7\n") is None
    assert image_type(b"") is None


def test_the_upload_limit_is_configurable() -> None:
    assert max_upload_from_env({}) == DEFAULT_MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert max_upload_from_env({"REXIAN_CHAT_MAX_UPLOAD_MB": "2.5"}) == int(2.5 * 1024 * 1024)
    with pytest.raises(ValueError):
        max_upload_from_env({"REXIAN_CHAT_MAX_UPLOAD_MB": "0"})
    with pytest.raises(ValueError):
        max_upload_from_env({"REXIAN_CHAT_MAX_UPLOAD_MB": "lots"})


def test_location_text_is_readable_and_parseable() -> None:
    text = location_text(30.2746, 120.1551)
    assert text == "位置：纬度30.27460, 经度120.15510"
    match = LOCATION_PATTERN.search(text)
    assert match is not None and (float(match.group(1)), float(match.group(2))) == (30.2746, 120.1551)


def test_bot_messages_asking_for_a_phone_are_flagged() -> None:
    bot = {"sender": "bot"}
    assert asks_for_phone({**bot, "text": t("bot.ask_phone", "zh-CN")})
    assert asks_for_phone({**bot, "text": t("bot.ask_phone", "en")})
    assert asks_for_phone({**bot, "text": "好的"}, {"asking": "phone"})
    assert not asks_for_phone({**bot, "text": t("bot.ask_address", "zh-CN")}, {"asking": "address"})
    assert not asks_for_phone({"sender": "citizen", "text": "我的联系电话是13812345678"})


async def test_a_photo_is_stored_before_it_is_acknowledged_and_shown_to_staff(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub)
    photo = png(16, 16)
    form = photo_form(conversation_id, photo, "../现场照片.JPG", caption="幸福路12号的井盖坏了", client_id="up-1")
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=form) as resp:
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        # acknowledged: the row and the file exist now, not later
        message = await live_hub.hub.service.store.message(answer["id"])
        assert message is not None and message.conversation_id == conversation_id
        [record] = message.attachments
        path = live_hub.hub.app[CHAT_CONFIG].files.path_of(record["sha256"])
        assert path.read_bytes() == photo
    assert answer["client_id"] == "up-1"
    assert message.text == "幸福路12号的井盖坏了" and message.external_id == "up-1"
    assert record == {
        "kind": "photo", "source": "web_chat", "sha256": record["sha256"], "size": len(photo),
        "content_type": "image/png", "name": "现场照片.png",
    }  # fmt: skip
    assert path.parent.parent == live_hub.hub.settings.data_dir / "attachments" / "web_chat"

    pushed = await recv(ws, "message")  # the page hears it like any message, with its client id
    while pushed["message"]["id"] != answer["id"]:
        pushed = await recv(ws, "message")
    assert pushed["message"]["client_id"] == "up-1" and pushed["message"]["attachments"] == [record]

    # the same upload again (a retry) is stored once
    again = photo_form(conversation_id, photo, "现场照片.JPG", caption="幸福路12号的井盖坏了", client_id="up-1")
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=again) as resp:
        assert resp.status == 200 and (await resp.json())["id"] == answer["id"]
    assert [m.id for m in await citizen_messages(live_hub, conversation_id)] == [answer["id"]]

    # the citizen sees it with the conversation id; nobody else does
    own = f"{live_hub.url}/chat/photos/{answer['id']}/0"
    async with live_hub.session.get(own, params={"c": conversation_id}) as resp:
        assert resp.status == 200 and await resp.read() == photo
        assert resp.headers["Content-Type"] == "image/png" and resp.headers["X-Content-Type-Options"] == "nosniff"
    async with live_hub.session.get(own, params={"c": "someone-else"}) as resp:
        assert resp.status == 404

    staff = f"{live_hub.url}/api/web_chat/photos/{answer['id']}/0"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(staff, allow_redirects=False) as resp:
        assert resp.status in (401, 403)
    session, _csrf = await live_hub.login("agent1", "agent123")
    async with session:
        async with session.get(staff) as resp:
            assert resp.status == 200 and await resp.read() == photo
            assert "sandbox" in resp.headers["Content-Security-Policy"]
        async with session.get(f"{live_hub.url}/api/web_chat/photos/{answer['id']}/1") as resp:
            assert resp.status == 404
    await ws.close()


async def test_a_photo_without_caption_is_for_agents_and_heic_is_accepted(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub)
    form = photo_form(conversation_id, HEIC, "IMG_0001.HEIC", client_id="heic-1")
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=form) as resp:
        assert resp.status == 200, await resp.text()
    [message] = await citizen_messages(live_hub, conversation_id)
    assert message.text == "[图片]" and message.processed_at is not None  # not a bot turn
    assert message.attachments[0]["content_type"] == "image/heic"
    assert message.attachments[0]["name"] == "IMG_0001.heic"
    async with live_hub.session.get(
        f"{live_hub.url}/chat/photos/{message.id}/0", params={"c": conversation_id}
    ) as resp:  # browsers do not show HEIC: offered as a download
        assert resp.status == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    await ws.close()


async def test_what_is_not_an_image_or_not_a_chat_is_refused_and_nothing_is_stored(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub)
    fake = photo_form(conversation_id, b"this is not a picture at all", "photo.jpg")
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=fake) as resp:
        assert resp.status == 415
        assert await resp.json() == {"error": "not_an_image", "message": t("chat.upload.not_image", "zh-CN")}
    fake = photo_form(conversation_id, b"%PDF-1.7 ...", "photo.png")
    async with live_hub.session.post(live_hub.url + "/chat/upload?lang=en", data=fake) as resp:
        assert resp.status == 415 and (await resp.json())["message"] == t("chat.upload.not_image", "en")
    unknown = photo_form("no-such-conversation", png(), "a.png")
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=unknown) as resp:
        assert resp.status == 404 and (await resp.json())["error"] == "unknown_conversation"
    long_caption = photo_form(conversation_id, png(), "a.png", caption="长" * 2001)
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=long_caption) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_message"
    async with live_hub.session.post(live_hub.url + "/chat/upload", data=b"raw") as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_upload"
    assert await citizen_messages(live_hub, conversation_id) == []
    await ws.close()


@pytest.fixture
async def small_upload_hub(
    tmp_path: Path, scripted_nlu: ScriptedNlu, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningHub]:
    """A hub whose web chat accepts photos up to 0.01 MiB (10485 bytes), configured by the environment."""
    monkeypatch.setenv("REXIAN_CHAT_MAX_UPLOAD_MB", "0.01")
    async with running_hub(tmp_path / "data", nlu=scripted_nlu) as running:
        yield running


async def test_a_photo_over_the_configured_limit_is_refused_with_a_clear_error(small_upload_hub: RunningHub) -> None:
    hub = small_upload_hub
    assert hub.hub.app[CHAT_CONFIG].max_upload_bytes == 10485
    ws, conversation_id = await open_chat(hub)
    big = png(64, 64) + b"\x00" * 11000  # a PNG header and 11 KB
    async with hub.session.post(hub.url + "/chat/upload", data=photo_form(conversation_id, big, "big.png")) as resp:
        assert resp.status == 413
        body = await resp.json()
    assert body == {"error": "too_large", "message": t("chat.upload.too_large", "zh-CN", max_mib="0.01")}
    assert "0.01 MB" in body["message"]
    small = photo_form(conversation_id, png(), "small.png", client_id="small")
    async with hub.session.post(hub.url + "/chat/upload", data=small) as resp:
        assert resp.status == 200
    assert [m.external_id for m in await citizen_messages(hub, conversation_id)] == ["small"]
    assert not list((hub.hub.settings.data_dir / "attachments" / "web_chat").rglob("*.tmp"))
    await ws.close()


async def test_a_shared_location_is_a_message_with_coordinates(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub)
    await ws.send_json({"type": "location", "lat": 30.2746, "lon": 120.1551, "accuracy": 25.04, "client_id": "loc-1"})
    ack = await recv(ws, "ack")
    assert ack["client_id"] == "loc-1"
    message = await live_hub.hub.service.store.message(ack["id"])
    assert message is not None and message.conversation_id == conversation_id
    assert message.text == "位置：纬度30.27460, 经度120.15510"
    assert message.attachments == [{"kind": "location", "lat": 30.2746, "lon": 120.1551, "accuracy": 25.0}]
    await ws.send_json({"type": "location", "lat": 30.2746, "lon": 120.1551, "accuracy": 25, "client_id": "loc-1"})
    assert (await recv(ws, "ack"))["id"] == ack["id"]  # a resend after a reconnect is stored once
    for bad in ({"lat": 91, "lon": 120}, {"lat": "30", "lon": 120}, {"lat": 30, "lon": None}, {"lat": True, "lon": 1}):
        await ws.send_json({"type": "location", "client_id": "bad", **bad})
        error = await recv(ws, "error")
        assert (error["code"], error["client_id"]) == ("invalid_location", "bad")
    assert [m.id for m in await citizen_messages(live_hub, conversation_id)] == [ack["id"]]
    await ws.close()


async def test_the_conversation_follows_the_page_language(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub, lang="en")
    welcome = await recv(ws, "message")
    assert welcome["message"]["text"] == t("bot.welcome", "en")
    assert (await live_hub.hub.service.store.get(conversation_id)).locale == "en"
    await ws.close()
    ws, same = await open_chat(live_hub, lang="zh-CN", conversation_id=conversation_id)  # the page switched
    assert same == conversation_id
    assert (await live_hub.hub.service.store.get(conversation_id)).locale == "zh-CN"
    await ws.send_json({"type": "message", "text": "你好", "client_id": "hi"})
    ack = await recv(ws, "ack")
    while (frame := await recv(ws, "message"))["message"]["sender"] != "bot" or frame["message"]["id"] < ack["id"]:
        pass
    assert re.search(r"[\u4e00-\u9fff]", frame["message"]["text"])  # the bot answers in Chinese now
    await ws.close()


async def test_a_bot_message_asking_for_a_phone_carries_the_flag(live_hub: RunningHub) -> None:
    ws, conversation_id = await open_chat(live_hub)
    welcome = await recv(ws, "message")
    assert "asks_phone" not in welcome["message"]
    conversation = await live_hub.hub.service.store.get(conversation_id)
    await live_hub.hub.service.post(conversation, t("bot.ask_phone", "zh-CN"), sender=SenderKind.BOT)
    asked = await recv(ws, "message")
    assert asked["message"]["asks_phone"] is True
    await ws.close()


async def test_photos_larger_than_the_hubs_request_body_limit_are_accepted(live_hub: RunningHub) -> None:
    """The 1 MiB limit of ordinary requests does not apply: the upload is streamed up to its own limit."""
    ws, conversation_id = await open_chat(live_hub)
    photo = png(8, 8) + bytes(range(256)) * (3 * 4096)  # a PNG of 3 MiB
    async with live_hub.session.post(
        live_hub.url + "/chat/upload", data=photo_form(conversation_id, photo, "big.png", client_id="3mb")
    ) as resp:
        assert resp.status == 200, await resp.text()
        message = await live_hub.hub.service.store.message((await resp.json())["id"])
    assert message is not None and message.attachments[0]["size"] == len(photo)
    await ws.close()
