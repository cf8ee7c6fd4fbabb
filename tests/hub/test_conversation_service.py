"""The conversation gateway (ADR 0022) over a real store, on SQLite and PostgreSQL: how messages get in, what the
citizen's contact becomes, and the status changes the service alone makes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.conversation_service import ConversationNotFound, ConversationService, InvalidMessage
from hub.events import (
    ConversationAssigned,
    ConversationClosed,
    ConversationQueued,
    Event,
    EventBus,
    MessageStored,
    MessageUpdated,
)
from hub.i18n import t
from hub.intake import NO_HINTS, ContactHints, Inbound, Stored
from hub.models import Conversation, ConversationStatus, Message, Role, SenderKind, User
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.users import UserStore
from rexian.schema import migrate
from tests.fixtures.conversations import conversation_service
from tests.fixtures.postgres import fresh_database

PHONE = "13812345678"
OTHER_PHONE = "13900001111"
GREETING = t("bot.greet", "zh-CN")
STATUS_EVENTS = (ConversationQueued, ConversationAssigned, ConversationClosed)


@dataclass
class World:
    engine: AsyncEngine
    store: ConversationStore
    service: ConversationService
    events: list[Event]

    def status_events(self) -> list[tuple[type[Event], str]]:
        """The status events published so far, as (type, conversation id)."""
        return [(type(e), e.conversation.id) for e in self.events if isinstance(e, STATUS_EVENTS)]

    def stored_ids(self) -> list[int]:
        """Ids of the messages :class:`MessageStored` announced, in order."""
        return [e.message.id for e in self.events if isinstance(e, MessageStored)]

    async def messages(self, conversation_id: str) -> list[Message]:
        await self.service.drain()  # bot turns scheduled by receive() are done
        return await self.store.messages(conversation_id)

    async def agent(self, username: str = "agent1") -> User:
        return await UserStore(self.engine).create(username, "secret123", username.title(), Role.AGENT)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    bus = EventBus()
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    bus.subscribe(Event, record)
    store = ConversationStore(engine)
    service = conversation_service(store, bus)
    try:
        yield World(engine, store, service, events)
    finally:
        await service.drain()
        await engine.dispose()


def texts(messages: list[Message], direction: str) -> list[str]:
    return [m.text for m in messages if m.direction == direction]


# -- finding the conversation -----------------------------------------------------------------------------------


async def test_a_new_sender_gets_a_conversation_with_the_bot_and_its_next_message_joins_it(world: World) -> None:
    first = await world.service.receive(Inbound("sms", "你好", ref=PHONE, external_id="m1"))
    conversation = first.conversation
    assert first.created
    assert (conversation.channel, conversation.external_ref, conversation.status) == (
        "sms",
        PHONE,
        ConversationStatus.BOT,
    )
    assert first.message.direction == "in" and first.message.sender_kind is SenderKind.CITIZEN
    assert first.message.conversation_id == conversation.id

    second = await world.service.receive(Inbound("sms", "谢谢", ref=PHONE, external_id="m2"))
    assert second.created and second.conversation.id == conversation.id
    elsewhere = await world.service.receive(Inbound("telegram", "你好", ref=PHONE, external_id="m1"))
    assert elsewhere.created and elsewhere.conversation.id != conversation.id
    assert elsewhere.conversation.channel == "telegram"

    messages = await world.messages(conversation.id)
    assert texts(messages, "in") == ["你好", "谢谢"]
    assert GREETING in texts(messages, "out")  # the bot answered, in the background
    assert [m.id for m in messages if m.direction == "in"] == [first.message.id, second.message.id]
    assert {first.message.id, second.message.id, elsewhere.message.id} <= set(world.stored_ids())


async def test_a_sender_whose_conversation_was_closed_starts_a_new_one(world: World) -> None:
    first = await world.service.receive(Inbound("rest", "你好", ref="alice", for_bot=False))
    await world.service.close_if_with_bot(first.conversation.id)
    again = await world.service.receive(Inbound("rest", "你好", ref="alice", for_bot=False))
    assert again.conversation.id != first.conversation.id
    assert again.conversation.status is ConversationStatus.BOT
    assert (await world.store.get(first.conversation.id)).status is ConversationStatus.CLOSED


async def test_a_message_for_a_closed_conversation_reopens_it_with_the_bot(world: World) -> None:
    agent = await world.agent()
    conversation = await world.service.open("web_chat")
    await world.service.queue(conversation.id, "requested")
    await world.service.claim(conversation.id, agent)
    closed = await world.service.close(conversation.id, agent)
    assert closed.status is ConversationStatus.CLOSED and closed.closed_at is not None

    stored = await world.service.receive(Inbound("web_chat", "你好", conversation_id=conversation.id))
    reopened = stored.conversation
    assert reopened.id == conversation.id
    assert reopened.status is ConversationStatus.BOT
    assert reopened.closed_at is None and reopened.assignee_id is None and reopened.handoff_reason is None
    assert reopened.dialogue_state == {}
    kept = await world.store.get(conversation.id)
    assert (kept.status, kept.closed_at, kept.assignee_id) == (ConversationStatus.BOT, None, None)
    assert stored.message.processed_at is None  # for the bot, which answers it
    assert texts(await world.messages(conversation.id), "out")[-1] == GREETING


async def test_an_unknown_conversation_id_is_refused(world: World) -> None:
    with pytest.raises(ConversationNotFound):
        await world.service.receive(Inbound("web_chat", "你好", conversation_id="no-such-conversation"))
    with pytest.raises(ConversationNotFound):
        await world.service.exchange(Inbound("web_chat", "你好", conversation_id="no-such-conversation"))
    assert await world.store.count_by_status() == {}
    assert world.events == []


def test_an_inbound_names_its_sender_or_its_conversation() -> None:
    with pytest.raises(ValueError, match="ref or its conversation id"):
        Inbound("sms", "你好")


async def test_concurrent_first_messages_of_a_sender_open_one_conversation(world: World) -> None:
    results = await asyncio.gather(
        *[world.service.receive(Inbound("rest", f"你好 {i}", ref="bob", external_id=f"c{i}")) for i in range(20)]
    )
    assert len({r.conversation.id for r in results}) == 1
    assert all(r.created for r in results)
    assert await world.store.count_by_status() == {"bot": 1}
    messages = await world.messages(results[0].conversation.id)
    assert sorted(texts(messages, "in")) == sorted(f"你好 {i}" for i in range(20))
    assert await world.store.unprocessed_inbound() == []  # the bot handled every one


# -- storing the message ------------------------------------------------------------------------------------------


async def test_a_redelivery_is_stored_once(world: World) -> None:
    first = await world.service.receive(Inbound("telegram", "你好", ref="42", external_id="tg:7"))
    again = await world.service.receive(Inbound("telegram", "你好", ref="42", external_id="tg:7"))
    assert first.created and not again.created
    assert (again.message.id, again.message.text) == (first.message.id, first.message.text)
    assert again.conversation.id == first.conversation.id
    messages = await world.messages(first.conversation.id)
    assert [m.id for m in messages if m.direction == "in"] == [first.message.id]
    assert texts(messages, "out") == [GREETING]  # answered once
    assert world.stored_ids().count(first.message.id) == 1  # announced once


async def test_the_same_external_id_in_another_conversation_is_another_message(world: World) -> None:
    a = await world.service.receive(Inbound("rest", "你好", ref="a", external_id="1", for_bot=False))
    b = await world.service.receive(Inbound("rest", "你好", ref="b", external_id="1", for_bot=False))
    assert a.created and b.created and a.message.id != b.message.id


@pytest.mark.parametrize("text", ["", "   \n\t", "x" * 2001, None, 42])
async def test_invalid_text_is_refused_and_nothing_is_stored(world: World, text: Any) -> None:
    with pytest.raises(InvalidMessage):
        await world.service.receive(Inbound("sms", text, ref=PHONE, hints=ContactHints(phone=PHONE)))
    assert await world.store.find_open_by_ref("sms", PHONE) is None
    assert await world.store.contact_by_phone(PHONE) is None
    conversation = await world.service.open("web_chat")
    with pytest.raises(InvalidMessage):
        await world.service.receive(Inbound("web_chat", text, conversation_id=conversation.id))
    with pytest.raises(InvalidMessage):
        await world.service.exchange(Inbound("rest", text, ref="carol"))
    assert await world.messages(conversation.id) == []
    assert await world.store.find_open_by_ref("rest", "carol") is None
    assert world.events == []


async def test_text_is_stripped_and_may_be_as_long_as_the_limit(world: World) -> None:
    limit = world.service.limits.max_chars
    assert limit == 2000
    longest = await world.service.receive(Inbound("sms", "  " + "长" * limit + "\n", ref=PHONE, for_bot=False))
    assert longest.message.text == "长" * limit
    assert (await world.store.message(longest.message.id)) == longest.message


async def test_the_message_is_stored_before_on_stored_and_the_turn_follows(world: World) -> None:
    seen: list[tuple[Message | None, list[Message]]] = []

    async def on_stored(stored: Stored) -> None:
        assert stored.created and stored.message.id in world.stored_ids()  # announced already
        seen.append((await world.store.message(stored.message.id), await world.store.messages(stored.conversation.id)))

    stored = await world.service.receive(Inbound("sms", "你好", ref=PHONE), on_stored=on_stored)
    assert len(seen) == 1
    readable, at_that_time = seen[0]
    assert readable == stored.message and readable.processed_at is None
    assert [m.id for m in at_that_time] == [stored.message.id]  # the bot had not answered yet
    assert texts(await world.messages(stored.conversation.id), "out") == [GREETING]


async def test_the_turn_is_scheduled_even_if_on_stored_fails(world: World) -> None:
    async def broken(stored: Stored) -> None:
        raise RuntimeError("the channel could not acknowledge")

    with pytest.raises(RuntimeError, match="acknowledge"):
        await world.service.receive(Inbound("sms", "你好", ref=PHONE), on_stored=broken)
    conversation = await world.store.find_open_by_ref("sms", PHONE)
    assert conversation is not None
    messages = await world.messages(conversation.id)
    assert texts(messages, "in") == ["你好"] and texts(messages, "out") == [GREETING]
    assert await world.store.unprocessed_inbound() == []


async def test_a_message_not_for_the_bot_is_stored_as_handled_and_not_answered(world: World) -> None:
    called: list[Stored] = []

    async def on_stored(stored: Stored) -> None:
        called.append(stored)

    stored = await world.service.receive(
        Inbound("telegram", "[图片]", ref="42", attachments=({"kind": "photo"},), for_bot=False), on_stored=on_stored
    )
    assert called == [stored]
    assert stored.message.processed_at is not None and stored.message.attachments == [{"kind": "photo"}]
    assert await world.service.process_pending(stored.conversation.id) == []
    messages = await world.messages(stored.conversation.id)
    assert [m.id for m in messages] == [stored.message.id]
    assert await world.service.recover() == 0


async def test_a_message_in_a_queued_conversation_is_left_to_the_agents(world: World) -> None:
    first = await world.service.receive(Inbound("sms", "转人工", ref=PHONE))
    await world.service.drain()
    queued = await world.store.get(first.conversation.id)
    assert queued.status is ConversationStatus.QUEUED and queued.handoff_reason == "requested"
    assert world.status_events() == [(ConversationQueued, queued.id)]
    assert next(e.reason for e in world.events if isinstance(e, ConversationQueued)) == "requested"
    replies_before = texts(await world.messages(queued.id), "out")

    later = await world.service.receive(Inbound("sms", "你好", ref=PHONE))
    assert later.conversation.id == queued.id and later.message.processed_at is not None
    assert texts(await world.messages(queued.id), "out") == replies_before  # no bot reply
    assert (await world.store.get(queued.id)).status is ConversationStatus.QUEUED


async def test_recover_answers_messages_stored_but_never_handled(world: World) -> None:
    conversation = await world.service.open("web_chat")
    await world.store.add_message(  # a crash between storing and the turn
        conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text="你好", processed=False
    )
    assert await world.service.recover() == 1
    assert texts(await world.messages(conversation.id), "out") == [GREETING]
    assert await world.service.recover() == 0


# -- the citizen's contact ----------------------------------------------------------------------------------------


async def test_a_phone_finds_or_creates_the_contact(world: World) -> None:
    sms = await world.service.receive(Inbound("sms", "你好", ref=PHONE, hints=ContactHints(phone=PHONE, name="王女士")))
    contact = await world.store.contact_by_phone(PHONE)
    assert contact is not None and contact.name == "王女士"
    assert sms.conversation.contact_id == contact.id
    assert (await world.store.get(sms.conversation.id)).contact_id == contact.id

    hints = ContactHints(phone=PHONE, telegram_id="4242", name="someone else")
    telegram = await world.service.receive(Inbound("telegram", "你好", ref="4242", hints=hints))
    assert telegram.conversation.contact_id == contact.id  # the same citizen
    again = await world.store.get_contact(contact.id)
    assert again is not None and again.telegram_id == "4242" and again.name == "王女士"


async def test_an_email_address_finds_or_creates_the_contact(world: World) -> None:
    hints = ContactHints(email="Wang.Li@Example.org", name="王丽")
    first = await world.service.receive(Inbound("email", "你好", ref="wang.li@example.org", hints=hints))
    assert first.conversation.contact_id is not None
    contact = await world.store.get_contact(first.conversation.contact_id)
    assert contact is not None and (contact.email, contact.name, contact.phone) == ("wang.li@example.org", "王丽", None)
    other = await world.service.receive(
        Inbound("email", "你好", ref="x", hints=ContactHints(email="wang.li@example.org"))
    )
    assert other.conversation.contact_id == contact.id


async def test_hints_without_phone_or_address_name_no_contact(world: World) -> None:
    for hints in (ContactHints(telegram_id="4242", name="王"), ContactHints(email="not-an-address"), NO_HINTS):
        stored = await world.service.receive(Inbound("telegram", "你好", ref="4242", hints=hints, for_bot=False))
        assert stored.conversation.contact_id is None
    assert await world.service.link_contact(None, ContactHints(telegram_id="4242")) is None


async def test_a_conversation_found_by_ref_takes_the_contact_of_the_hints(world: World) -> None:
    anonymous = await world.service.receive(Inbound("telegram", "你好", ref="4242", for_bot=False))
    assert anonymous.conversation.contact_id is None
    shared = await world.service.receive(
        Inbound("telegram", PHONE, ref="4242", hints=ContactHints(phone=PHONE), for_bot=False)
    )
    contact = await world.store.contact_by_phone(PHONE)
    assert contact is not None
    assert shared.conversation.id == anonymous.conversation.id and shared.conversation.contact_id == contact.id
    # the sender's own conversation: a later contact replaces the earlier one
    changed = await world.service.receive(
        Inbound("telegram", OTHER_PHONE, ref="4242", hints=ContactHints(phone=OTHER_PHONE), for_bot=False)
    )
    other = await world.store.contact_by_phone(OTHER_PHONE)
    assert other is not None and changed.conversation.contact_id == other.id


async def test_a_conversation_named_by_id_keeps_its_contact(world: World) -> None:
    conversation = await world.service.open("voice", ref="call-1", hints=ContactHints(phone=PHONE))
    caller = await world.store.contact_by_phone(PHONE)
    assert caller is not None and conversation.contact_id == caller.id
    stored = await world.service.receive(
        Inbound("voice", "你好", conversation_id=conversation.id, hints=ContactHints(phone=OTHER_PHONE), for_bot=False)
    )
    assert stored.conversation.contact_id == caller.id
    anonymous = await world.service.open("web_chat")
    linked = await world.service.receive(
        Inbound("web_chat", "你好", conversation_id=anonymous.id, hints=ContactHints(phone=OTHER_PHONE), for_bot=False)
    )
    other = await world.store.contact_by_phone(OTHER_PHONE)
    assert other is not None and linked.conversation.contact_id == other.id


async def test_link_contact_links_only_a_conversation_without_one(world: World) -> None:
    anonymous = await world.service.open("web_chat")
    contact = await world.service.link_contact(anonymous.id, ContactHints(phone=PHONE))
    assert contact is not None and contact.phone == PHONE
    assert (await world.store.get(anonymous.id)).contact_id == contact.id

    other = await world.service.link_contact(anonymous.id, ContactHints(phone=OTHER_PHONE))
    assert other is not None and other.id != contact.id and other.phone == OTHER_PHONE  # created all the same
    assert (await world.store.get(anonymous.id)).contact_id == contact.id  # not replaced

    alone = await world.service.link_contact(None, ContactHints(phone="13700000000"))
    assert alone is not None and alone.phone == "13700000000"
    with pytest.raises(ConversationNotFound):
        await world.service.link_contact("no-such-conversation", ContactHints(phone=PHONE))


async def test_conversation_for_finds_the_open_conversation_at_an_address_and_links_the_contact(world: World) -> None:
    contact = await world.store.ensure_contact_by_phone(PHONE)
    sms = await world.service.receive(Inbound("sms", "你好", ref=PHONE, for_bot=False))
    found = await world.service.conversation_for("sms", PHONE, contact)
    assert found.id == sms.conversation.id and found.contact_id == contact.id
    fresh = await world.service.conversation_for("email", "wang@example.org", contact)
    assert fresh.id != sms.conversation.id and fresh.channel == "email" and fresh.contact_id == contact.id
    assert fresh.external_ref == "wang@example.org" and fresh.status is ConversationStatus.BOT


# -- messages the hub writes --------------------------------------------------------------------------------------


async def test_post_stores_an_outbound_message_once_per_external_id(world: World) -> None:
    conversation = await world.service.open("sms", ref=PHONE)
    first = await world.service.post(conversation, "已退订", external_id="sms:1:confirm")
    again = await world.service.post(conversation, "已退订", external_id="sms:1:confirm")
    assert first.created and not again.created and again.message == first.message
    assert (first.message.direction, first.message.sender_kind) == ("out", SenderKind.SYSTEM)
    bot = await world.service.post(conversation, "您好", sender=SenderKind.BOT)
    assert bot.message.sender_kind is SenderKind.BOT
    assert world.stored_ids() == [first.message.id, bot.message.id]


async def test_label_and_set_attachments(world: World) -> None:
    conversation = await world.service.open("voice", ref="call-2")
    stored = await world.service.receive(Inbound("voice", "路灯坏了", conversation_id=conversation.id, for_bot=False))
    labelled = await world.service.label(stored.message, {"intent": "complaint"}, request_type="complaint")
    assert labelled.request_type == "complaint" and labelled.industry is None
    kept = await world.store.message(stored.message.id)
    assert kept is not None and kept.nlu == {"intent": "complaint"} and kept.processed_at is not None

    records = [{"kind": "audio", "file": "voice/a.wav"}]
    updated = await world.service.set_attachments(stored.message.id, records)
    assert updated is not None and updated.attachments == records
    assert [e.message.id for e in world.events if isinstance(e, MessageUpdated)] == [stored.message.id]
    assert await world.service.set_attachments(10**9, records) is None


# -- status changes -----------------------------------------------------------------------------------------------


async def status_of(world: World, conversation: Conversation) -> ConversationStatus:
    return (await world.store.get(conversation.id)).status


async def test_queue_hands_a_conversation_with_the_bot_to_the_agents(world: World) -> None:
    conversation = await world.service.open("voice", ref="call-1")
    queued = await world.service.queue(conversation.id, "phone")
    assert queued is not None
    assert (queued.status, queued.handoff_reason) == (ConversationStatus.QUEUED, "phone")
    assert queued.queued_at is not None
    assert world.status_events() == [(ConversationQueued, conversation.id)]
    assert [e.reason for e in world.events if isinstance(e, ConversationQueued)] == ["phone"]

    assert await world.service.queue(conversation.id, "voicemail") is None  # already queued
    assert await world.store.get(conversation.id) == queued
    assert await world.service.queue("no-such-conversation", "phone") is None
    assert len(world.status_events()) == 1


async def test_assign_takes_a_queued_or_bot_conversation_only(world: World) -> None:
    agent = await world.agent()
    other = await world.agent("agent2")
    queued = await world.service.open("voice", ref="call-1")
    await world.service.queue(queued.id, "phone")
    assigned = await world.service.assign(queued.id, agent.id)
    assert assigned is not None
    assert (assigned.status, assigned.assignee_id) == (ConversationStatus.ASSIGNED, agent.id)
    assert assigned.assigned_at is not None

    with_bot = await world.service.open("voice", ref="call-2")
    direct = await world.service.assign(with_bot.id, other.id)
    assert direct is not None and (direct.status, direct.assignee_id) == (ConversationStatus.ASSIGNED, other.id)
    assert world.status_events() == [
        (ConversationQueued, queued.id),
        (ConversationAssigned, queued.id),
        (ConversationAssigned, with_bot.id),
    ]

    assert await world.service.assign(queued.id, other.id) is None  # an agent holds it
    assert (await world.store.get(queued.id)).assignee_id == agent.id
    closed = await world.service.open("voice", ref="call-3")
    await world.service.close_if_with_bot(closed.id)
    assert await world.service.assign(closed.id, agent.id) is None
    assert await status_of(world, closed) is ConversationStatus.CLOSED
    assert len(world.status_events()) == 4  # the last close only


async def test_close_if_with_bot_closes_only_what_the_bot_alone_served(world: World) -> None:
    agent = await world.agent()
    ivr = await world.service.open("voice", ref="call-1")
    closed = await world.service.close_if_with_bot(ivr.id)
    assert closed.status is ConversationStatus.CLOSED and closed.closed_at is not None
    assert world.status_events() == [(ConversationClosed, ivr.id)]
    assert await world.service.close_if_with_bot(ivr.id) == closed  # already closed: as it is, no new event

    queued = await world.service.open("voice", ref="call-2")
    await world.service.queue(queued.id, "voicemail")
    held = await world.service.open("voice", ref="call-3")
    await world.service.assign(held.id, agent.id)
    events_before = len(world.status_events())
    for conversation, status in ((queued, ConversationStatus.QUEUED), (held, ConversationStatus.ASSIGNED)):
        left = await world.service.close_if_with_bot(conversation.id)
        assert left.status is status and left.closed_at is None
        assert await status_of(world, conversation) is status
    assert len(world.status_events()) == events_before
    with pytest.raises(ConversationNotFound):
        await world.service.close_if_with_bot("no-such-conversation")


async def test_resume_bot_reopens_a_closed_conversation_and_leaves_an_agents_alone(world: World) -> None:
    agent = await world.agent()
    state = {"pending": "callback", "order": "20240101-0001"}
    done = await world.service.open("sms", ref=PHONE)
    await world.service.assign(done.id, agent.id)
    await world.service.close(done.id, agent)
    resumed = await world.service.resume_bot(done.id, state)
    assert (resumed.status, resumed.dialogue_state) == (ConversationStatus.BOT, state)
    assert resumed.closed_at is None and resumed.assignee_id is None
    assert await world.store.get(done.id) == resumed

    with_bot = await world.service.open("sms", ref=OTHER_PHONE)
    assert (await world.service.resume_bot(with_bot.id, state)).dialogue_state == state

    queued = await world.service.open("telegram", ref="4242")
    await world.service.queue(queued.id, "requested")
    held = await world.service.open("telegram", ref="4343")
    await world.service.assign(held.id, agent.id)
    events_before = len(world.status_events())
    for conversation, status in ((queued, ConversationStatus.QUEUED), (held, ConversationStatus.ASSIGNED)):
        left = await world.service.resume_bot(conversation.id, state)
        assert left.status is status and left.dialogue_state == {}
    assert (await world.store.get(held.id)).assignee_id == agent.id
    assert len(world.status_events()) == events_before
    with pytest.raises(ConversationNotFound):
        await world.service.resume_bot("no-such-conversation", state)


# -- the pull channel ---------------------------------------------------------------------------------------------


async def test_exchange_returns_what_the_sender_has_not_had_yet_once(world: World) -> None:
    stored, pending = await world.service.exchange(Inbound("rest", "你好", ref="dave", external_id="r1"))
    assert stored.created and stored.conversation.external_ref == "dave"
    assert [(m.text, m.sender_kind) for m in pending] == [(GREETING, SenderKind.BOT)]
    assert all(m.direction == "out" for m in pending)
    assert (await world.store.get(stored.conversation.id)).delivered_id == pending[-1].id

    notice = await world.service.post(stored.conversation, "您的工单已派发")  # between two requests
    again, pending_again = await world.service.exchange(Inbound("rest", "谢谢", ref="dave", external_id="r2"))
    assert again.conversation.id == stored.conversation.id
    assert pending_again[0].id == notice.message.id
    assert texts(pending_again, "out") == ["您的工单已派发", t("bot.thank", "zh-CN")]

    retry, nothing = await world.service.exchange(Inbound("rest", "谢谢", ref="dave", external_id="r2"))
    assert not retry.created and retry.message.id == again.message.id and nothing == []
    messages = await world.messages(stored.conversation.id)
    assert texts(messages, "in") == ["你好", "谢谢"]


async def test_exchange_hands_off_and_the_bot_then_stays_silent(world: World) -> None:
    stored, pending = await world.service.exchange(Inbound("rest", "转人工", ref="erin"))
    assert texts(pending, "out") == [t("bot.handoff", "zh-CN")]
    assert world.status_events() == [(ConversationQueued, stored.conversation.id)]
    later, nothing = await world.service.exchange(Inbound("rest", "有人吗", ref="erin"))
    assert later.conversation.id == stored.conversation.id and nothing == []
    assert later.message.processed_at is not None


async def test_a_bot_hand_off_does_not_undo_an_agent_who_took_the_conversation_meanwhile(world: World) -> None:
    agent = await world.agent()
    stored = await world.service.receive(Inbound("voice", "转人工", ref="call-9", for_bot=False))
    conversation = stored.conversation
    await world.service.assign(conversation.id, agent.id)  # an agent answers while the bot turn is running
    after, replies = await world.store.commit_turn(
        conversation.id,
        stored.message.id,
        replies=["正在为您转接人工"],
        nlu=None,
        updates={"dialogue_state": {"step": 2}, "status": "queued", "handoff_reason": "asked", "queued_at": None},
    )
    assert (after.status, after.assignee_id, after.handoff_reason) == (ConversationStatus.ASSIGNED, agent.id, None)
    assert after.dialogue_state == {"step": 2} and [r.text for r in replies] == ["正在为您转接人工"]


async def test_a_message_to_a_conversation_reopened_meanwhile_keeps_the_callback_question(world: World) -> None:
    first = await world.service.receive(Inbound("sms", "你好", ref=PHONE, for_bot=False))
    await world.service.close_if_with_bot(first.conversation.id)
    stale = await world.store.get(first.conversation.id)  # what a channel read before the notifier ran
    await world.service.resume_bot(stale.id, {"pending": "callback", "order": "202612080001"})
    store_get = world.store.get

    reads: list[str] = []

    async def stale_get(conversation_id: str) -> Conversation:  # the first read is the stale one
        reads.append(conversation_id)
        return stale if reads == [stale.id] else await store_get(conversation_id)

    world.store.get = stale_get  # type: ignore[method-assign]
    try:
        again = await world.service.receive(Inbound("sms", "满意", conversation_id=stale.id, for_bot=False))
    finally:
        world.store.get = store_get  # type: ignore[method-assign]
    assert again.conversation.status is ConversationStatus.BOT
    assert (await store_get(stale.id)).dialogue_state == {"pending": "callback", "order": "202612080001"}
