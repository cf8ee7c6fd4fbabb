"""Quick replies on Telegram, end to end against the local Bot API server: a bot message offering choices is sent
with an inline keyboard; a press (``callback_query``) is stored as the citizen's message, once per callback query id,
and answered (answerCallbackQuery) after it is stored; by webhook and by polling.

The bot message with choices is a real stored turn (``ConversationStore.commit_turn`` with ``choices``), published
as the conversation service publishes a bot turn's replies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.events import MessageStored
from hub.models import Message, SenderKind
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.test_polling import polling_settings
from tests.channels.telegram.test_telegram import CHAT, conversation_of, message_update, post, tg_hub, until
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub

__all__ = ["tg_hub"]  # the fixture of the webhook tests

LONG_VALUE = "我要修改联系电话并且把地址改成城东区幸福路12号3单元"  # over 64 bytes in UTF-8
CHOICES = [
    {"label": "确认登记", "value": "确认"},
    {"label": "修改地址", "value": "修改地址"},
    {"label": "改电话和地址", "value": LONG_VALUE},
]
READBACK = "请核对：路灯不亮，地址城东区幸福路12号。确认登记吗？"


async def offer_choices(hub: RunningHub) -> Message:
    store = hub.hub.service.store
    conversation = await conversation_of(hub)
    said, _ = await store.add_message(
        conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="幸福路12号"
    )
    conversation, [reply] = await store.commit_turn(
        conversation.id, said.id, replies=[READBACK], nlu=None, updates={}, choices=CHOICES
    )
    await hub.hub.service.bus.publish(MessageStored(conversation, reply))
    return reply


def press(update_id: int, query_id: str, data: str) -> dict[str, Any]:
    user = {"id": CHAT, "is_bot": False, "first_name": "王", "last_name": "芳"}
    shown = {"message_id": 77, "date": 1764000000, "chat": {"id": CHAT, "type": "private"}, "text": READBACK}
    query = {"id": query_id, "from": user, "chat_instance": "ci-1", "data": data, "message": shown}
    return {"update_id": update_id, "callback_query": query}


async def citizen_texts_after(hub: RunningHub, message: Message) -> list[str]:
    messages = await hub.hub.service.store.messages(message.conversation_id, after_id=message.id)
    return [m.text for m in messages if m.sender_kind is SenderKind.CITIZEN]


async def test_choices_are_an_inline_keyboard_and_a_press_is_the_citizens_message(
    tg_hub: RunningHub, bot_api: FakeBotApi
) -> None:
    assert await post(tg_hub, message_update(1, text="你好")) == 200
    await until(lambda: len(bot_api.sent) == 1)
    assert bot_api.sent[0].reply_markup is None  # no choices, no keyboard
    readback = await offer_choices(tg_hub)
    await until(lambda: len(bot_api.sent) == 2)
    sent = bot_api.sent[1]
    assert sent.text == READBACK
    assert sent.reply_markup == {
        "inline_keyboard": [
            [{"text": "确认登记", "callback_data": "确认"}],
            [{"text": "修改地址", "callback_data": "修改地址"}],
            [{"text": "改电话和地址", "callback_data": "3"}],  # its value is over 64 bytes: the number instead
        ]
    }

    assert await post(tg_hub, press(10, "cbq-1", "确认")) == 200
    assert bot_api.answered == ["cbq-1"]  # answered by the time the webhook call returns: after storing
    assert await citizen_texts_after(tg_hub, readback) == ["确认"]
    assert await post(tg_hub, press(11, "cbq-1", "确认")) == 200  # the same press delivered again
    assert await post(tg_hub, press(12, "cbq-2", "3")) == 200
    await tg_hub.hub.service.drain()
    assert await citizen_texts_after(tg_hub, readback) == ["确认", "3"]
    messages = await tg_hub.hub.service.store.messages(readback.conversation_id, after_id=readback.id)
    assert all(m.processed_at is not None for m in messages if m.sender_kind is SenderKind.CITIZEN)  # the bot's turn


async def test_a_press_without_data_is_answered_and_ignored(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    assert await post(tg_hub, message_update(1, text="你好")) == 200
    update = press(2, "cbq-game", "")
    del update["callback_query"]["data"]
    update["callback_query"]["game_short_name"] = "g"
    assert await post(tg_hub, update) == 200
    assert bot_api.answered == ["cbq-game"]
    await tg_hub.hub.service.drain()
    texts = [m.text for m in await tg_hub.hub.service.store.messages((await conversation_of(tg_hub)).id)]
    assert "g" not in texts and texts[0] == "你好"


async def test_a_press_arrives_by_polling_too(tmp_path: Path, scripted_nlu: ScriptedNlu, bot_api: FakeBotApi) -> None:
    settings: dict[str, Any] = dict(polling_settings(bot_api))
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **settings) as hub:
        bot_api.push(message_update(701, text="你好"))
        await until(lambda: len(bot_api.sent) == 1)
        readback = await offer_choices(hub)
        await until(lambda: len(bot_api.sent) == 2)
        bot_api.push(press(702, "cbq-poll", "修改地址"))
        await until(lambda: bot_api.answered == ["cbq-poll"])
        assert await citizen_texts_after(hub, readback) == ["修改地址"]


async def test_pressing_the_fallbacks_transfer_button_queues_the_chat(tg_hub: RunningHub, bot_api: FakeBotApi) -> None:
    assert await post(tg_hub, message_update(1, text="啊啊啊啊")) == 200  # not understood: the bot offers choices
    await until(lambda: any(m.reply_markup for m in bot_api.sent))
    [offer] = [m for m in bot_api.sent if m.reply_markup]
    assert offer.reply_markup is not None
    buttons = [row[0] for row in offer.reply_markup["inline_keyboard"]]
    [transfer] = [b for b in buttons if b["text"] == "转人工"]
    assert await post(tg_hub, press(2, "cbq-fallback", transfer["callback_data"])) == 200
    assert bot_api.answered == ["cbq-fallback"]
    await tg_hub.hub.service.drain()
    conversation = await conversation_of(tg_hub)
    assert conversation.status.value == "queued" and conversation.handoff_reason == "requested"
