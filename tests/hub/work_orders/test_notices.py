"""Work-order notices and the satisfaction callback go to the citizen's preferred channel (hub/notices.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.events import EventBus, MessageStored
from hub.models import Contact, Conversation, SenderKind
from hub.notices import NoticeRoutes
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.calendar import calendar_from_rows
from hub.work_orders.notifier import CALLBACK_PENDING, CitizenNotifier
from hub.work_orders.service import Params, WorkOrderService
from hub.work_orders.states import Action
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.conversations import conversation_service
from tests.fixtures.postgres import fresh_database
from tests.fixtures.work_orders import register_streetlight

PHONE = "13912345678"


@dataclass
class World:
    engine: AsyncEngine
    conversations: ConversationStore
    routes: NoticeRoutes
    service: WorkOrderService
    users: UserStore
    stored: list[MessageStored]

    async def contact(self, *, email: str | None = None, telegram_id: str | None = None) -> Contact:
        contact = await self.conversations.ensure_contact_by_phone(PHONE, "王女士")
        return await self.conversations.update_contact(contact.id, email=email, telegram_id=telegram_id)

    async def order_from(self, conversation: Conversation, contact: Contact) -> str:
        order = await register_streetlight(
            self.service, request_type="repair", phone=PHONE, conversation_id=conversation.id, contact_id=contact.id
        )
        return order.number

    async def close(self, number: str) -> None:
        dept = await self.users.authenticate("dept", "dept123")
        agent = await self.users.authenticate("agent1", "agent123")
        assert dept is not None and agent is not None
        await self.service.act(number, Action.SIGN, dept, Params())
        await self.service.act(number, Action.REPLY, dept, Params(note="已更换灯泡"))
        await self.service.act(number, Action.CLOSE, agent, Params(note="核实办结"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    users = UserStore(engine)
    await load_demo(engine, users)
    taxonomy = await load_taxonomy(engine)
    orders = WorkOrderStore(engine)
    calendar = calendar_from_rows(await orders.calendar_days())
    bus = EventBus()
    conversations = ConversationStore(engine)
    talk = conversation_service(conversations, bus)
    routes = NoticeRoutes(talk)
    CitizenNotifier(talk, lambda: taxonomy, bus, routes).attach()
    stored: list[MessageStored] = []

    async def record(event: object) -> None:
        assert isinstance(event, MessageStored)
        stored.append(event)

    bus.subscribe(MessageStored, record)
    service = WorkOrderService(orders, lambda: taxonomy, lambda: calendar, bus)
    try:
        yield World(engine, conversations, routes, service, users, stored)
    finally:
        await engine.dispose()


def enable(routes: NoticeRoutes, *channels: str) -> None:
    addresses = {"sms": lambda c: c.phone, "email": lambda c: c.email, "telegram": lambda c: c.telegram_id}
    for channel in channels:
        routes.register(channel, addresses[channel])


async def test_a_phone_callers_closure_notice_and_callback_go_by_sms(world: World) -> None:
    enable(world.routes, "sms", "telegram")
    contact = await world.contact()
    call = await world.conversations.create("voice", external_ref="call-1", contact_id=contact.id)
    number = await world.order_from(call, contact)
    await world.close(number)
    sms = await world.conversations.find_open_by_ref("sms", PHONE)
    assert sms is not None and sms.contact_id == contact.id
    texts = [m.text for m in await world.conversations.messages(sms.id)]
    assert any(number in t and "办结" in t for t in texts)
    assert sms.dialogue_state == {"pending": CALLBACK_PENDING, "order": number}
    assert [e.conversation.channel for e in world.stored] == ["sms", "sms"]
    # nothing was written to the finished phone call
    assert await world.conversations.messages(call.id) == []


async def test_a_push_channel_keeps_its_own_notices(world: World) -> None:
    enable(world.routes, "sms", "telegram")
    contact = await world.contact(telegram_id="777")
    chat = await world.conversations.create("telegram", external_ref="777", contact_id=contact.id)
    number = await world.order_from(chat, contact)
    await world.close(number)
    assert {e.conversation.id for e in world.stored} == {chat.id}
    assert await world.conversations.find_open_by_ref("sms", PHONE) is None


async def test_an_explicit_preference_wins_over_the_original_channel(world: World) -> None:
    enable(world.routes, "sms", "email", "telegram")
    contact = await world.contact(email="wang@example.cn", telegram_id="777")
    await world.conversations.set_preferred_channel(contact.id, "email")
    chat = await world.conversations.create("telegram", external_ref="777", contact_id=contact.id)
    number = await world.order_from(chat, contact)
    await world.close(number)
    assert {e.conversation.channel for e in world.stored} == {"email"}
    mail = world.stored[-1].conversation
    assert mail.external_ref == "wang@example.cn" and mail.dialogue_state["order"] == number
    kinds = [m.sender_kind for m in await world.conversations.messages(mail.id)]
    assert kinds == [SenderKind.SYSTEM, SenderKind.BOT]


async def test_an_unreachable_preference_falls_back(world: World) -> None:
    enable(world.routes, "sms")  # email is preferred but the email channel is off
    contact = await world.contact(email="wang@example.cn")
    await world.conversations.set_preferred_channel(contact.id, "email")
    chat = await world.conversations.create("web_chat", contact_id=contact.id)
    number = await world.order_from(chat, contact)
    await world.close(number)
    assert {e.conversation.channel for e in world.stored} == {"sms"}


async def test_without_any_push_channel_the_notice_stays_in_the_original_conversation(world: World) -> None:
    contact = await world.contact()
    chat = await world.conversations.create("web_chat", contact_id=contact.id)
    number = await world.order_from(chat, contact)
    await world.close(number)
    assert {e.conversation.id for e in world.stored} == {chat.id}
    assert (await world.conversations.get(chat.id)).dialogue_state["order"] == number


async def test_an_open_sms_conversation_of_the_contact_is_reused(world: World) -> None:
    enable(world.routes, "sms")
    contact = await world.contact()
    earlier = await world.conversations.get_or_create_by_ref("sms", PHONE)
    call = await world.conversations.create("voice", external_ref="call-2", contact_id=contact.id)
    number = await world.order_from(call, contact)
    await world.close(number)
    assert {e.conversation.id for e in world.stored} == {earlier.id}
    assert (await world.conversations.get(earlier.id)).contact_id == contact.id
