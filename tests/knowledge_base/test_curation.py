"""Curation on both backends: workflow, permissions, versions, rollback, import/export, live index rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import utc_now
from hub.models import Role, User
from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.taxonomy import Taxonomy
from knowledge_base.exchange import ImportFormatError, read_csv, read_xlsx, write_csv, write_xlsx
from knowledge_base.hub_adapter import AnnouncementBoard, IndexedKnowledgeBase
from knowledge_base.service import (
    IllegalTransition,
    Invalid,
    KnowledgeService,
    PermissionDenied,
    StaleVersion,
)
from knowledge_base.store import KnowledgeStore
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    await migrate(eng)
    await load_demo(eng, UserStore(eng))
    try:
        yield eng
    finally:
        await eng.dispose()


class Env:
    def __init__(self, engine: AsyncEngine, taxonomy: Taxonomy) -> None:
        self.engine = engine
        self.kb = IndexedKnowledgeBase(engine)
        self.taxonomy = taxonomy
        self.reloads = 0

        async def changed() -> None:
            self.reloads += 1
            await self.kb.reload(taxonomy)

        self.service = KnowledgeService(KnowledgeStore(engine), lambda: taxonomy, changed)


@pytest.fixture
async def env(engine: AsyncEngine) -> Env:
    built = Env(engine, await load_taxonomy(engine))
    await built.kb.reload(built.taxonomy)
    return built


async def user(engine: AsyncEngine, username: str, role: Role = Role.KNOWLEDGE_MANAGER) -> User:
    users = UserStore(engine)
    found = await users.authenticate(username, "password123")
    return found or await users.create(username, "password123", username, role)


@pytest.fixture
async def people(engine: AsyncEngine) -> dict[str, User]:
    return {
        "km": await user(engine, "km_a"),
        "km2": await user(engine, "km_b"),
        "agent": await user(engine, "agent_x", Role.AGENT),
        "supervisor": await user(engine, "sup_x", Role.SUPERVISOR),
    }


ARTICLE: dict[str, Any] = {
    "question": "共享单车乱停放向哪里投诉？",
    "similar_questions": ["单车堵在小区门口找谁", "共享单车停在盲道上谁管"],
    "answer": "共享单车乱停放由市城管执法局牵头管理，可拨打12319登记，我们将转交运营企业在2小时内清理。",
    "industry": "enforcement",
    "commitments": "2小时内清理",
    "tags": ["共享单车"],
}


async def test_workflow_and_permissions(env: Env, people: dict[str, User]) -> None:
    svc, km, km2, agent = env.service, people["km"], people["km2"], people["agent"]
    with pytest.raises(PermissionDenied):
        await svc.create(agent, ARTICLE)
    article = await svc.create(km, ARTICLE, "kb-bike-001")
    assert (article.status, article.version) == ("draft", 1)
    assert article.content["spoken_answer"]  # derived from the written answer
    with pytest.raises(IllegalTransition):
        await svc.publish(km2, article.id)  # not in review yet
    await svc.submit(km, article.id)
    with pytest.raises(PermissionDenied, match="own change"):
        await svc.publish(km, article.id)
    with pytest.raises(PermissionDenied):
        await svc.publish(agent, article.id)
    with pytest.raises(PermissionDenied):
        await svc.update(agent, article.id, ARTICLE)
    assert env.kb.search("共享单车乱停放找谁投诉") == [] or env.kb.search("共享单车乱停放找谁投诉")[0].article_id != (
        "kb-bike-001"
    )
    published = await svc.publish(km2, article.id, "ok")
    assert (published.status, published.published_version) == ("published", 1)
    assert env.reloads == 1
    assert env.kb.search("共享单车乱停放找谁投诉")[0].article_id == "kb-bike-001"

    # An agent suggests an edit; the next draft does not take the published version off the air.
    assert await svc.suggest(agent, article.id, "请补充电动自行车的情况") > 0
    assert [s.text for s in await svc.store.suggestions(article_id=article.id)] == ["请补充电动自行车的情况"]
    edited = await svc.update(km, article.id, {**ARTICLE, "answer": "新答案：由城管执法局负责，24小时内清理。"}, 1)
    assert (edited.status, edited.version, edited.published_version) == ("draft", 2, 1)
    with pytest.raises(StaleVersion):
        await svc.update(km2, article.id, ARTICLE, base_version=1)
    await env.kb.reload(env.taxonomy)
    hit = env.kb.get("kb-bike-001")
    assert hit is not None and hit.answer == ARTICLE["answer"]

    archived = await svc.archive(km2, article.id)
    assert archived.status == "archived"
    assert env.kb.get("kb-bike-001") is None
    with pytest.raises(IllegalTransition):
        await svc.submit(km, article.id)
    events = [e.action for e in await svc.store.events(article.id)]
    assert events == ["submit", "publish", "archive"]


async def test_versions_diff_and_rollback(env: Env, people: dict[str, User]) -> None:
    svc, km, sup = env.service, people["km"], people["supervisor"]
    await svc.create(km, ARTICLE, "kb-bike-002")
    await svc.update(km, "kb-bike-002", {**ARTICLE, "answer": "第二版答案。"})
    await svc.update(km, "kb-bike-002", {**ARTICLE, "answer": "第三版答案。", "fees": "免费"})
    history = await svc.history(km, "kb-bike-002")
    assert [(v.version, v.action, v.author) for v in history] == [
        (1, "create", "km_a"),
        (2, "edit", "km_a"),
        (3, "edit", "km_a"),
    ]
    diff = await svc.diff(km, "kb-bike-002", 1, 3)
    assert any(d.kind == "-" and "共享单车乱停放由市城管执法局" in d.text for d in diff)
    assert any(d.kind == "+" and d.text == "答案: 第三版答案。" for d in diff)
    assert any(d.kind == "+" and d.text == "收费标准: 免费" for d in diff)

    rolled = await svc.rollback(km, "kb-bike-002", 1)
    assert (rolled.version, rolled.status, rolled.content["answer"]) == (4, "in_review", ARTICLE["answer"])
    assert (await svc.history(km, "kb-bike-002"))[-1].action == "rollback"
    await svc.publish(sup, "kb-bike-002")
    hit = env.kb.get("kb-bike-002")
    assert hit is not None and hit.answer == ARTICLE["answer"]


async def test_demo_article_gets_a_baseline_version_when_first_edited(env: Env, people: dict[str, User]) -> None:
    svc, km, km2 = env.service, people["km"], people["km2"]
    original = await svc.get(km, "kb-gas-001")
    assert (original.status, original.published_version) == ("published", 1)
    changed = {**original.content, "answer": original.content["answer"] + "\n（演示修改）"}
    await svc.update(km, "kb-gas-001", changed)
    versions = await svc.history(km, "kb-gas-001")
    assert [(v.version, v.action) for v in versions] == [(1, "baseline"), (2, "edit")]
    await env.kb.reload(env.taxonomy)
    live = env.kb.get("kb-gas-001")
    assert live is not None and "演示修改" not in live.answer  # the published version still answers
    await svc.submit(km, "kb-gas-001")
    await svc.publish(km2, "kb-gas-001")
    live = env.kb.get("kb-gas-001")
    assert live is not None and "演示修改" in live.answer


async def test_only_articles_inside_their_dates_answer(env: Env, people: dict[str, User]) -> None:
    svc, km, km2 = env.service, people["km"], people["km2"]
    now = utc_now()
    for article_id, start, end in (
        ("kb-bike-past", now - timedelta(days=10), now - timedelta(days=1)),
        ("kb-bike-future", now + timedelta(days=1), None),
        ("kb-bike-now", now - timedelta(days=1), now + timedelta(days=1)),
    ):
        await svc.create(km, {**ARTICLE, "effective_from": start, "expires_at": end}, article_id)
        await svc.submit(km, article_id)
        await svc.publish(km2, article_id)
    assert env.kb.get("kb-bike-past") is None
    assert env.kb.get("kb-bike-future") is None
    assert env.kb.get("kb-bike-now") is not None
    with pytest.raises(Invalid, match="expiry"):
        await svc.create(km, {**ARTICLE, "effective_from": now, "expires_at": now - timedelta(hours=1)})
    with pytest.raises(Invalid, match="industry"):
        await svc.create(km, {**ARTICLE, "industry": "no_such_industry"})


async def test_import_export_round_trip_csv_and_excel(env: Env, people: dict[str, User]) -> None:
    svc, km = env.service, people["km"]
    csv_text = (
        "id,question,similar_questions,answer,industry,tags\n"
        'kb-imp-1,井盖丢了找谁？,井盖不见了|窨井盖缺失,"请拨打12319报修，\n市政部门2小时内到场。",municipal,井盖|市政\n'
        "kb-imp-2,公园几点关门？,,公园开放时间为6:00-22:00。,landscaping,\n"
        "kb-imp-3,,没有问题的行,答案,water,\n"
    )
    report = await svc.import_rows(km, read_csv(csv_text.encode("utf-8-sig")), submit=True)
    assert report.created == ["kb-imp-1", "kb-imp-2"]
    assert len(report.errors) == 1 and "question" in report.errors[0][1]
    first = await svc.get(km, "kb-imp-1")
    assert first.status == "in_review"
    assert first.content["similar_questions"] == ["井盖不见了", "窨井盖缺失"]
    assert first.content["answer"] == "请拨打12319报修，\n市政部门2小时内到场。"

    exported = [a for a in await svc.export(km) if a.id.startswith("kb-imp")]
    for rows in (read_csv(write_csv(exported)), read_xlsx(write_xlsx(exported))):
        again = await svc.import_rows(km, rows)
        assert sorted(again.unchanged) == ["kb-imp-1", "kb-imp-2"], again
        assert again.created == again.updated == again.errors == []
    all_rows = read_csv(write_csv(await svc.export(km)))
    assert {r["id"] for _, r in all_rows} >= {"kb-gas-001", "kb-imp-1"}
    with pytest.raises(ImportFormatError):
        read_csv("question,answer\nx,y\n")
    with pytest.raises(ImportFormatError):
        read_xlsx(b"not a workbook")


async def test_announcements_by_industry_and_district(env: Env, people: dict[str, User]) -> None:
    store = env.service.store
    now = utc_now()
    district = next(iter(env.taxonomy.districts.values()))
    await store.add_announcement(
        "计划停水",
        "明日8:00-18:00检修管网",
        "water",
        district.code,
        now - timedelta(hours=1),
        now + timedelta(days=1),
        None,
    )
    await store.add_announcement(
        "旧公告", "已结束", "water", None, now - timedelta(days=3), now - timedelta(days=1), None
    )
    board = AnnouncementBoard(env.engine, env.taxonomy)
    await board.reload()
    assert [text for _, text in board.relevant("水费怎么交", "water")] == ["【公告】计划停水：明日8:00-18:00检修管网"]
    assert len(board.relevant(f"{district.name_zh}的路灯坏了", "municipal")) == 1
    assert board.relevant("路灯坏了", "municipal") == []
