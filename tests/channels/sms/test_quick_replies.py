"""Quick replies by SMS over a real SMPP peer (the SMSC simulator): a bot message's choices are sent as a numbered
line after its text, segmented with it; the citizen's numbered reply reaches the bot as sent, and the same number
answering a later question is a new message, not a resend.

The bot message with choices is a real stored turn (``ConversationStore.commit_turn`` with ``choices``), published
as the conversation service publishes a bot turn's replies.
"""

from __future__ import annotations

from datetime import UTC, datetime

from channels.sms.sender import sms_text
from hub.events import MessageStored
from hub.models import Message, SenderKind
from tests.channels.sms.helpers import CITIZEN, citizen_texts, conversation_of, health, until
from tests.fixtures.hub import RunningHub
from tests.fixtures.smsc import Smsc

CHOICES = [
    {"label": "确认登记", "value": "确认"},
    {"label": "修改地址", "value": "修改地址"},
    {"label": "转人工", "value": "转人工"},
]
READBACK = "请核对您反映的问题：城东区幸福路12号3单元门口的路灯不亮已有三天。联系电话13812345678。"
LINE = "回复数字：1 确认登记；2 修改地址；3 转人工"


async def offer_choices(hub: RunningHub, text: str) -> Message:
    """A bot turn in the citizen's conversation whose reply offers CHOICES, handed to the outbox."""
    store = hub.hub.service.store
    conversation = await conversation_of(hub)
    said, _ = await store.add_message(
        conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="地址说完了"
    )
    conversation, [reply] = await store.commit_turn(
        conversation.id, said.id, replies=[text], nlu=None, updates={}, choices=CHOICES
    )
    await hub.hub.service.bus.publish(MessageStored(conversation, reply))
    return reply


async def test_choices_are_a_numbered_line_segmented_with_the_text_and_numbers_come_back(
    sms_hub: RunningHub, smsc: Smsc
) -> None:
    await smsc.deliver(CITIZEN, "你好")

    async def greeted() -> bool:
        return len(await smsc.texts_to(CITIZEN)) == 1

    await until(greeted)
    await smsc.call("POST", "/reset")
    await offer_choices(sms_hub, READBACK)
    sent = f"{READBACK}\n{LINE}"

    async def arrived() -> bool:
        return await smsc.texts_to(CITIZEN) == [sent]

    await until(arrived)
    submits = (await smsc.state())["submits"]
    assert len(sent) > 70 and [len(s["text"]) for s in submits] == [67, len(sent) - 67]  # UCS-2 long-SMS rules

    await smsc.deliver(CITIZEN, "1")  # no user_message_reference, as most phones send

    async def picked_once() -> bool:
        return await citizen_texts(sms_hub) == ["你好", "地址说完了", "1"]

    await until(picked_once)
    await sms_hub.hub.service.drain()

    async def answered() -> bool:  # the bot took its turn on "1" and its reply went out
        return len(await smsc.texts_to(CITIZEN)) >= 2

    await until(answered)
    await offer_choices(sms_hub, "请选择：")
    await until(lambda: _sent(smsc, f"请选择：\n{LINE}"))
    await smsc.deliver(CITIZEN, "1")  # the same number, answering the new question

    async def picked_twice() -> bool:
        return (await citizen_texts(sms_hub))[-2:] == ["地址说完了", "1"] and (await citizen_texts(sms_hub)).count(
            "1"
        ) == 2

    await until(picked_twice)


async def test_a_resent_number_before_any_new_question_is_stored_once(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "转人工")  # with people: the bot sends nothing more after its hand-off sentence

    async def queued() -> bool:
        return (await conversation_of(sms_hub)).status.value == "queued" and len(await smsc.texts_to(CITIZEN)) >= 1

    await until(queued)
    await until(lambda: _all_sent(sms_hub))  # the hand-off sentence and the no-agent notice
    for _ in range(2):
        assert (await smsc.deliver(CITIZEN, "2"))["statuses"] == [0]
    await sms_hub.hub.service.drain()

    async def deduplicated() -> bool:
        return (await health(sms_hub))["inbound_duplicates"] == 1

    await until(deduplicated)
    assert await citizen_texts(sms_hub) == ["转人工", "2"]


def test_the_numbered_line_follows_the_conversations_language() -> None:
    message = Message(1, "c", "out", SenderKind.BOT, None, "Please check:", datetime.now(UTC), choices=CHOICES[:2])
    assert sms_text(message, "en") == "Please check:\nReply with a number: 1 确认登记; 2 修改地址"
    assert sms_text(message, "zh-CN") == "Please check:\n回复数字：1 确认登记；2 修改地址"
    plain = Message(2, "c", "out", SenderKind.BOT, None, "您好", datetime.now(UTC))
    assert sms_text(plain, "zh-CN") == "您好"


async def _sent(smsc: Smsc, text: str) -> bool:
    return text in await smsc.texts_to(CITIZEN)


async def _all_sent(hub: RunningHub) -> bool:
    return (await health(hub))["pending"] == 0


async def test_the_fallbacks_numbered_transfer_choice_queues_the_conversation(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "啊啊啊啊")  # not understood: the bot offers choices

    async def offered() -> bool:
        return any("回复数字：" in text for text in await smsc.texts_to(CITIZEN))

    await until(offered)
    [sent] = [text for text in await smsc.texts_to(CITIZEN) if "回复数字：" in text]
    line = sent.rsplit("\n", 1)[-1].removeprefix("回复数字：")
    pairs = [part.split(" ", 1) for part in line.split("；")]  # "1 转人工；2 常见问题；…"
    numbered = {label: number for number, label in pairs}  # label → number
    await smsc.deliver(CITIZEN, numbered["转人工"])

    async def queued() -> bool:
        return (await conversation_of(sms_hub)).status.value == "queued"

    await until(queued)
    assert (await citizen_texts(sms_hub))[-1] == numbered["转人工"]
