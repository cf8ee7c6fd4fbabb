"""Quick replies on the Rasa-compatible REST channel: a bot message with choices carries Rasa's ``buttons``.

The bot message with choices is a real stored turn (``ConversationStore.commit_turn`` with ``choices``) in the live
hub's store; the citizen's pick (a button's payload, or its number) goes back through the webhook as is.
"""

from __future__ import annotations

from typing import Any

from hub.models import Message, SenderKind
from tests.fixtures.hub import RunningHub

WEBHOOK = "/webhooks/rest/webhook"
CHOICES = [{"label": "确认登记", "value": "确认"}, {"label": "修改地址", "value": "修改地址"}]
READBACK = "请核对：路灯不亮，地址城东区幸福路12号。确认登记吗？"


async def post(hub: RunningHub, sender: str, text: str) -> list[dict[str, Any]]:
    async with hub.session.post(hub.url + WEBHOOK, json={"sender": sender, "message": text}) as resp:
        assert resp.status == 200, await resp.text()
        body: list[dict[str, Any]] = await resp.json()
    return body


async def bot_turn_with_choices(hub: RunningHub, sender: str) -> Message:
    """Store a citizen message and the bot's read-back turn with choices in the sender's conversation."""
    store = hub.hub.service.store
    conversation = await store.find_open_by_ref("rest", sender)
    assert conversation is not None
    said, _ = await store.add_message(
        conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="城东区幸福路12号"
    )
    _, [readback] = await store.commit_turn(
        conversation.id, said.id, replies=[READBACK], nlu=None, updates={}, choices=CHOICES
    )
    return readback


async def test_a_reply_with_choices_carries_rasa_buttons_and_the_pick_comes_back(live_hub: RunningHub) -> None:
    greeting = await post(live_hub, "qr-1", "你好")
    assert greeting and all("buttons" not in item for item in greeting)  # no choices: Rasa's plain format
    readback = await bot_turn_with_choices(live_hub, "qr-1")

    answer = await post(live_hub, "qr-1", "确认")  # a button's payload, as Rasa clients send it
    assert len(answer) >= 2 and answer[0] == {  # undelivered messages in order: the read-back, then the answer
        "recipient_id": "qr-1",
        "text": READBACK,
        "buttons": [{"title": "确认登记", "payload": "确认"}, {"title": "修改地址", "payload": "修改地址"}],
    }
    store = live_hub.hub.service.store
    messages = await store.messages(readback.conversation_id, after_id=readback.id)
    picked = [m for m in messages if m.sender_kind is SenderKind.CITIZEN]
    assert [m.text for m in picked] == ["确认"]
    assert picked[0].processed_at is not None  # the bot took its turn on the pick


async def test_a_numbered_pick_is_stored_as_the_citizen_sent_it(live_hub: RunningHub) -> None:
    await post(live_hub, "qr-2", "你好")
    readback = await bot_turn_with_choices(live_hub, "qr-2")
    answer = await post(live_hub, "qr-2", "2")
    assert answer[0]["text"] == READBACK
    messages = await live_hub.hub.service.store.messages(readback.conversation_id, after_id=readback.id)
    assert [m.text for m in messages if m.sender_kind is SenderKind.CITIZEN] == ["2"]
    delivered_again = await post(live_hub, "qr-2", "谢谢")
    assert all(item["text"] != READBACK for item in delivered_again)  # the buttons are delivered once


async def test_the_read_back_of_a_real_dialogue_has_buttons_and_its_number_registers(live_hub: RunningHub) -> None:
    await post(live_hub, "qr-3", "路灯坏了")
    await post(live_hub, "qr-3", "城西区长江路5号")
    readback = (await post(live_hub, "qr-3", "13712345678"))[-1]
    payloads = [button["payload"] for button in readback["buttons"]]
    assert "确认" in payloads and all(button["title"] for button in readback["buttons"])
    registered = await post(live_hub, "qr-3", str(payloads.index("确认") + 1))  # as an SMS citizen would answer
    assert all("buttons" not in item for item in registered)
    conversation = await live_hub.hub.service.store.find_open_by_ref("rest", "qr-3")
    assert conversation is not None and conversation.dialogue_state.get("last_work_order")
    assert any(conversation.dialogue_state["last_work_order"] in item["text"] for item in registered)
