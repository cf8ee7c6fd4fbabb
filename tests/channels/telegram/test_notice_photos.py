"""A department's photo reaches a Telegram citizen with the closure notice (sendPhoto on the local Bot API)."""

from __future__ import annotations

from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.test_telegram import CHAT, message_update, post, tg_hub, until
from tests.fixtures.hub import RunningHub
from tests.fixtures.reply_photos import PHOTO, close_with_photo

__all__ = ["tg_hub"]  # the fixture, shared with the channel's other tests


async def test_the_closure_notice_is_followed_by_the_departments_photo(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    assert await post(tg_hub, message_update(1, text="你好")) == 200
    await until(lambda: len(bot_api.texts(CHAT)) >= 1)
    chat = await tg_hub.hub.service.store.find_open_by_ref("telegram", str(CHAT))
    assert chat is not None
    number = await close_with_photo(tg_hub, chat)
    await until(lambda: len(bot_api.photos) >= 1)
    [notice] = [t for t in bot_api.texts(CHAT) if number in t and "已办结" in t]
    assert "附办理现场照片1张" in notice
    [photo] = bot_api.photos  # the PDF of the reply is not sent
    assert (photo.chat_id, photo.filename, photo.data) == (CHAT, "修复后.png", PHOTO)
    await until(lambda: "满意" in bot_api.texts(CHAT)[-1])
    assert bot_api.calls[-3:] == ["sendMessage", "sendPhoto", "sendMessage"]  # notice, its photo, the callback
