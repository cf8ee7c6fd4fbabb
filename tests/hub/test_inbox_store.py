"""The inbox's store on SQLite and PostgreSQL: views, search, filters, counts, waiting times, unread markers, private
notes and canned replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import Conversation, ConversationStatus, Role, SenderKind, User
from hub.storage.canned import CannedStore
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.inbox_queries import InboxFilter, InboxQueries
from hub.storage.notes import NoteStore
from hub.storage.users import UserStore
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


@dataclass
class World:
    engine: AsyncEngine
    now: datetime
    agent: User
    other: User

    def store(self, at: datetime) -> ConversationStore:
        return ConversationStore(self.engine, clock=lambda: at)

    def queries(self) -> InboxQueries:
        return InboxQueries(self.engine, clock=lambda: self.now)

    async def conversation(
        self,
        text: str,
        *,
        at: datetime = T0,
        status: ConversationStatus = ConversationStatus.QUEUED,
        assignee: User | None = None,
        channel: str = "sms",
        phone: str | None = None,
        name: str | None = None,
        industry: str | None = None,
    ) -> Conversation:
        store = self.store(at)
        contact = await store.ensure_contact_by_phone(phone, name) if phone else None
        conversation = await store.create(
            channel, external_ref=phone or text, contact_id=contact.id if contact else None
        )
        await store.add_message(conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text=text)
        return await store.update(
            conversation.id,
            status=status.value,
            queued_at=at,
            assignee_id=assignee.id if assignee else None,
            industry=industry,
        )

    async def say(self, conversation: Conversation, at: datetime, sender: SenderKind, text: str) -> int:
        direction = "in" if sender is SenderKind.CITIZEN else "out"
        message, _ = await self.store(at).add_message(
            conversation.id, direction=direction, sender_kind=sender, text=text
        )
        return message.id


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    users = UserStore(engine)
    agent = await users.create("agent1", "secret123", "座席 张敏", Role.AGENT)
    other = await users.create("agent2", "secret123", "座席 李强", Role.AGENT)
    try:
        yield World(engine, T0 + timedelta(minutes=40), agent, other)
    finally:
        await engine.dispose()


async def ids(world: World, view: str, filters: InboxFilter | None = None) -> list[str]:
    items, total = await world.queries().items(view, world.agent.id, filters)
    assert total == len(items)
    return [i.conversation.id for i in items]


async def test_views_hold_what_their_names_say_and_count_it(world: World) -> None:
    early = await world.conversation("路灯坏了", at=T0)
    late = await world.conversation("停水了", at=T0 + timedelta(minutes=10))
    mine = await world.conversation("井盖丢了", status=ConversationStatus.ASSIGNED, assignee=world.agent)
    theirs = await world.conversation("噪音扰民", status=ConversationStatus.ASSIGNED, assignee=world.other)
    closed = await world.conversation("谢谢", status=ConversationStatus.CLOSED)
    bot = await world.conversation("你好", status=ConversationStatus.BOT)
    assert await ids(world, "unassigned") == [early.id, late.id]  # longest waiting first
    assert await ids(world, "mine") == [mine.id]
    assert set(await ids(world, "all")) == {early.id, late.id, mine.id, theirs.id, bot.id}
    assert await ids(world, "closed") == [closed.id]
    assert await world.queries().counts(world.agent.id) == {"mine": 1, "unassigned": 2, "all": 5, "closed": 1}
    assert await world.queries().counts(world.other.id) == {"mine": 1, "unassigned": 2, "all": 5, "closed": 1}
    item = (await world.queries().items("all", world.agent.id, InboxFilter(status="assigned")))[0]
    assert {i.assignee_name for i in item} == {"座席 张敏", "座席 李强"}
    with pytest.raises(ValueError):
        await world.queries().items("everything", world.agent.id)


@pytest.mark.parametrize(
    "filters,expected",
    [
        (InboxFilter(q="黄河路"), {"water"}),  # words in a message
        (InboxFilter(q="王"), {"lamp"}),  # the contact's name
        (InboxFilter(q="1390000"), {"water"}),  # part of the phone
        (InboxFilter(q="139-0000-2222"), {"water"}),  # the phone as people write it
        (InboxFilter(q="100%"), set()),  # LIKE wildcards are text
        (InboxFilter(channel="telegram"), {"lamp"}),
        (InboxFilter(industry="water"), {"water"}),
        (InboxFilter(q="坏了", channel="sms"), {"noise"}),
    ],
)
async def test_search_and_filters(world: World, filters: InboxFilter, expected: set[str]) -> None:
    made = {
        "lamp": await world.conversation("路灯坏了", channel="telegram", phone="13800001111", name="王先生"),
        "water": await world.conversation("黄河路8号停水", phone="13900002222", industry="water"),
        "noise": await world.conversation("空调外机坏了很吵", phone="13700003333", name="李女士"),
    }
    names = {v.id: k for k, v in made.items()}
    assert {names[i] for i in await ids(world, "unassigned", filters)} == expected
    counts = await world.queries().counts(world.agent.id, filters)
    assert counts["unassigned"] == counts["all"] == len(expected)


async def test_waiting_time_runs_from_the_queue_then_from_the_first_unanswered_message(world: World) -> None:
    queued = await world.conversation("路灯坏了", at=T0)  # queued 40 minutes ago
    fresh = await world.conversation("停水了", at=T0 + timedelta(minutes=37))  # 3 minutes ago
    held = await world.conversation("井盖丢了", at=T0, status=ConversationStatus.ASSIGNED, assignee=world.agent)
    answered = await world.conversation("噪音", at=T0, status=ConversationStatus.ASSIGNED, assignee=world.agent)
    await world.say(held, T0 + timedelta(minutes=1), SenderKind.AGENT, "您好，请讲")
    await world.say(held, T0 + timedelta(minutes=2), SenderKind.SYSTEM, "系统消息不算回复")
    await world.say(held, T0 + timedelta(minutes=30), SenderKind.CITIZEN, "在吗")  # 10 minutes ago
    await world.say(held, T0 + timedelta(minutes=35), SenderKind.CITIZEN, "还在吗")
    await world.say(answered, T0 + timedelta(minutes=5), SenderKind.AGENT, "已为您登记")
    items = {i.conversation.id: i for i in (await world.queries().items("all", world.agent.id))[0]}
    assert items[queued.id].waiting_since == T0
    assert items[fresh.id].waiting_since == T0 + timedelta(minutes=37)
    assert items[held.id].waiting_since == T0 + timedelta(minutes=30)
    assert (items[held.id].unanswered, items[answered.id].unanswered) == (True, False)
    assert items[answered.id].waiting_since is None
    assert items[held.id].last_text == "还在吗" and items[held.id].last_sender == "citizen"
    assert set(await ids(world, "all", InboxFilter(waiting_min=5))) == {queued.id, held.id}
    assert await ids(world, "all", InboxFilter(waiting_min=30)) == [queued.id]


async def test_unread_counts_per_user_and_read_markers_only_move_forward(world: World) -> None:
    mine = await world.conversation("路灯坏了", status=ConversationStatus.ASSIGNED, assignee=world.agent)
    queued = await world.conversation("停水了")
    await world.say(mine, T0, SenderKind.AGENT, "您好")
    second = await world.say(mine, T0, SenderKind.CITIZEN, "在吗")
    queries = world.queries()
    assert await queries.unread_total(world.agent.id) == 3  # 2 in mine + 1 in the queue; agent replies don't count
    await queries.mark_read(world.agent.id, mine.id, second)
    await queries.mark_read(world.agent.id, mine.id, 1)  # an older marker never moves it back
    assert await queries.read_marker(world.agent.id, mine.id) == second
    assert await queries.unread_total(world.agent.id) == 1
    assert await queries.unread_total(world.other.id) == 1  # another agent: only the queue counts, unread
    third = await world.say(mine, T0, SenderKind.CITIZEN, "请回复")
    item = await queries.item(mine.id, world.agent.id)
    assert item is not None and item.unread == 1
    await queries.mark_read(world.agent.id, queued.id, await queries.last_message_id(queued.id))
    await queries.mark_read(world.agent.id, mine.id, third)
    assert await queries.unread_total(world.agent.id) == 0


async def test_notes_are_kept_apart_from_the_messages(world: World) -> None:
    conversation = await world.conversation("路灯坏了")
    notes = NoteStore(world.engine)
    note = await notes.add(conversation.id, world.agent.id, "市民情绪激动，注意安抚")
    assert (note.author_name, note.text) == ("座席 张敏", "市民情绪激动，注意安抚")
    assert [n.id for n in await notes.for_conversation(conversation.id)] == [note.id]
    texts = [m.text for m in await world.store(T0).messages(conversation.id)]
    assert texts == ["路灯坏了"]


async def test_canned_replies_shared_and_personal(world: World) -> None:
    store = CannedStore(world.engine)
    shared = await store.create(None, "nihao", "问候", "{name}您好")
    own = await store.create(world.agent.id, "bye", "结束", "再见")
    await store.create(world.other.id, "theirs", "别人的", "不给你看")
    assert [r.id for r in await store.visible_to(world.agent.id)] == [shared.id, own.id]
    assert shared.shared and not own.shared
    assert await store.count_shared() == 1
    changed = await store.update(own.id, shortcut="zaijian", title="结束语", text="再见，{agent}")
    assert changed is not None and (changed.shortcut, changed.text) == ("zaijian", "再见，{agent}")
    assert await store.delete(own.id) and not await store.delete(own.id)
    assert await store.update(own.id, shortcut="x", title="x", text="x") is None
