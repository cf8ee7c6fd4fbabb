"""Storage on both backends: the embedded SQLite default and a real PostgreSQL 15 server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import ConversationStatus, Role, SenderKind
from hub.storage.conversations import ConversationNotFound, ConversationStore
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    await migrate(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


async def test_migrate_is_idempotent_and_creates_tables(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {"conversations", "messages", "work_orders", "users", "articles", "alembic_version"} <= names


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    eng = create_engine(sqlite_url(tmp_path))
    await migrate(eng)
    async with eng.connect() as conn:
        mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar()
    await eng.dispose()
    assert mode == "wal"


async def test_messages_are_deduplicated_by_external_id(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    conv = await store.create("web_chat")
    first, created = await store.add_message(
        conv.id,
        direction="in",
        sender_kind=SenderKind.CITIZEN,
        text="你好",
        external_id="c-1",
        processed=False,
    )
    again, created_again = await store.add_message(
        conv.id,
        direction="in",
        sender_kind=SenderKind.CITIZEN,
        text="你好",
        external_id="c-1",
        processed=False,
    )
    assert created and not created_again
    assert again.id == first.id
    assert [m.id for m in await store.messages(conv.id)] == [first.id]
    assert [m.id for m in await store.unprocessed_inbound()] == [first.id]
    await store.mark_processed(first.id, {"intent": {"name": "greet", "confidence": 1.0}})
    assert await store.unprocessed_inbound() == []
    stored = (await store.messages(conv.id))[0]
    assert stored.nlu == {"intent": {"name": "greet", "confidence": 1.0}}
    assert stored.processed_at is not None


async def test_chinese_text_round_trips(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    conv = await store.create("rest", external_ref="u1")
    text = "我家楼下路灯坏了三天了😀 <script>alert(1)</script>"
    msg, _ = await store.add_message(conv.id, direction="in", sender_kind=SenderKind.CITIZEN, text=text)
    assert (await store.messages(conv.id))[0].text == text
    assert msg.created_at.tzinfo is not None


async def test_conversation_status_transition_is_atomic(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    users = UserStore(engine)
    a = await users.create("a1", "secret123", "A", Role.AGENT)
    b = await users.create("b1", "secret123", "B", Role.AGENT)
    conv = await store.create("web_chat")
    await store.update(conv.id, status=ConversationStatus.QUEUED.value)
    results = await asyncio.gather(
        *[
            store.transition(conv.id, {ConversationStatus.QUEUED}, status="assigned", assignee_id=who.id)
            for who in (a, b)
        ]
    )
    assert sum(r is not None for r in results) == 1
    with pytest.raises(ConversationNotFound):
        await store.get("no-such-id")


async def test_open_conversation_by_sender(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    first = await store.get_or_create_by_ref("rest", "alice")
    assert (await store.get_or_create_by_ref("rest", "alice")).id == first.id
    await store.update(first.id, status=ConversationStatus.CLOSED.value)
    second = await store.get_or_create_by_ref("rest", "alice")
    assert second.id != first.id and second.status is ConversationStatus.BOT


async def test_work_order_numbers_are_unique_and_readable(engine: AsyncEngine) -> None:
    users = UserStore(engine)
    await load_demo(engine, users)
    orders = WorkOrderStore(engine)

    async def make(i: int) -> str:
        order = await orders.create(
            request_type="complaint",
            description=f"路灯不亮 {i}",
            industry="municipal",
            category=None,
            district=None,
            address="幸福路12号",
            phone="13812345678",
            urgent=False,
            conversation_id=None,
            contact_id=None,
        )
        return order.number

    numbers = [await make(i) for i in range(5)]
    assert len(set(numbers)) == 5
    assert all(len(n) == 12 and n.isdigit() for n in numbers)
    assert [int(n[-4:]) for n in numbers] == [1, 2, 3, 4, 5]
    found = await orders.get_by_number(numbers[1])
    # the store only registers (受理); dispatching is the work-order service's (tests/hub/work_orders)
    assert found is not None and found.state == "received" and found.unit is None
    history = await orders.history(found.id)
    assert [(h["action"], h["from_state"], h["to_state"]) for h in history] == [("receive", None, "received")]


async def test_users_sessions_and_passwords(engine: AsyncEngine) -> None:
    users = UserStore(engine)
    created = await users.create("agent9", "pässwörd-9", "座席 九", Role.AGENT, None)
    assert await users.authenticate("agent9", "wrong") is None
    assert await users.authenticate("nobody", "pässwörd-9") is None
    user = await users.authenticate("agent9", "pässwörd-9")
    assert user is not None and user.id == created.id and user.role is Role.AGENT
    token, csrf = await users.create_session(user.id)
    found = await users.session_user(token)
    assert found is not None and found[0].username == "agent9" and found[1] == csrf
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT token_hash FROM sessions"))).scalar()
    assert stored != token  # only a hash of the token is stored
    await users.delete_session(token)
    assert await users.session_user(token) is None


async def test_demo_data_loads_once(engine: AsyncEngine) -> None:
    users = UserStore(engine)
    assert await load_demo(engine, users)
    assert not await load_demo(engine, users)
    tax = await load_taxonomy(engine)
    assert len(tax.industries) == 15 and len(tax.request_types) == 5
    assert len(tax.categories) >= 150
    assert tax.detect_district("城东区幸福路12号") == "chengdong"
    for role in ("agent", "supervisor", "leader", "department", "knowledge_manager", "admin"):
        async with engine.connect() as conn:
            count = (await conn.execute(sa.text("SELECT count(*) FROM users WHERE role = :r"), {"r": role})).scalar()
        assert count and count >= 1, role


async def test_work_order_numbers_use_the_centres_local_day(engine: AsyncEngine) -> None:
    from datetime import UTC, datetime

    await load_demo(engine, UserStore(engine))
    late_utc = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 01:30 on the 26th in Beijing
    orders = WorkOrderStore(engine, clock=lambda: late_utc)
    order = await orders.create(
        request_type="consult",
        description="x",
        industry=None,
        category=None,
        district=None,
        address=None,
        phone=None,
        urgent=False,
        conversation_id=None,
        contact_id=None,
    )
    assert order.number == "202611260001"


async def test_migrations_match_the_schema(engine: AsyncEngine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from rexian.schema import metadata

    def diff(sync_conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def test_migrations_have_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    from rexian.schema import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"merge the migration branches: {heads}"
