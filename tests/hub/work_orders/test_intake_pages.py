"""The registration pages over HTTP: the blank and the prefilled form, registering, refusals shown in the form,
the preview JSON, editing before dispatch (and the refusal after), roles and CSRF."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from hub.models import SenderKind
from hub.web.context import CTX
from hub.web.i18n_web import LANG_COOKIE
from tests.fixtures.hub import RunningHub
from tests.hub.test_pages_i18n import Catalog, parse, problems_of
from tests.hub.test_registration import citizen_says, labels

FORM = {
    "source": "walk_in",
    "request_type": "complaint",
    "industry": "municipal",
    "category": "municipal.streetlight",
    "address": "城东区幸福路12号",
    "phone": "13800001234",
    "citizen_name": "王女士",
    "description": "路灯不亮<script>alert(1)</script>",
    "forward_text": "",
    "urgent": "",
    "unit": "",
    "mode": "dispatch",
}


async def register(
    session: aiohttp.ClientSession, hub: RunningHub, csrf: str, **changes: str
) -> aiohttp.ClientResponse:
    async with session.post(f"{hub.url}/orders/new", data={**FORM, "csrf": csrf, **changes}) as resp:
        await resp.read()
        return resp


def number_in(url: str) -> str:
    match = re.search(r"/orders/(\d{12})\?done=receive$", url)
    assert match, url
    return match.group(1)


async def test_blank_form_offers_the_manual_sources_in_chinese(live_hub: RunningHub) -> None:
    agent, _ = await live_hub.login("agent1", "agent123")
    async with agent, agent.get(f"{live_hub.url}/orders/new") as resp:
        assert resp.status == 200
        page = await resp.text()
    for name in ("来电", "来人", "来信", "媒体", "领导交办", "网站"):
        assert f">{name}</option>" in page
    assert "网上咨询" not in page  # channel sources only come with their conversation
    assert 'src="/static/orders/order_form.js' in page and "<script>" not in page.replace("<script src", "")
    assert "市路灯管理所" in page and "路灯故障" in page  # units and categories by name


async def test_register_a_walk_in_and_see_the_order(live_hub: RunningHub) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        resp = await register(agent, live_hub, csrf)
        number = number_in(str(resp.url))
        async with agent.get(str(resp.url)) as r:
            page = await r.text()
    assert 'id="flash"' in page and "受理" in page
    assert re.search(r'id="order-source">来人<', page)
    assert re.search(r'id="order-unit">市路灯管理所<', page)
    assert "路灯不亮&lt;script&gt;" in page
    order = await live_hub.hub.app[CTX].work_orders.get_by_number(number)
    assert order is not None and (order.source, order.state) == ("walk_in", "dispatched")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone": "12345"}, "电话号码格式不正确"),
        ({"description": " "}, "请填写诉求内容"),
        ({"source": "web_chat"}, "没有会话时，来源只能是"),
        ({"category": "water.outage"}, "所选类别不属于所选行业"),
        ({"occurred_at": "yesterday"}, "日期"),
        ({"urgent": "maybe"}, "填写的值无效"),
    ],
)
async def test_refusals_come_back_in_the_form(live_hub: RunningHub, changes: dict[str, str], message: str) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent, agent.post(f"{live_hub.url}/orders/new", data={**FORM, "csrf": csrf, **changes}) as resp:
        assert resp.status == 422
        page = await resp.text()
    error = re.search(r'id="error">([^<]*)<', page)
    assert error and message in error.group(1), page
    assert 'aria-invalid="true"' in page
    assert 'value="城东区幸福路12号"' in page  # what was typed is kept


@pytest.mark.parametrize(
    ("who", "status"),
    [("dept", 403), ("kb", 403), ("leader", 200), ("supervisor", 200)],
)
async def test_roles(live_hub: RunningHub, who: str, status: int) -> None:
    password = {"dept": "dept123", "kb": "kb123", "leader": "leader123", "supervisor": "supervisor123"}[who]
    session, _ = await live_hub.login(who, password)
    async with session, session.get(f"{live_hub.url}/orders/new", allow_redirects=False) as resp:
        assert resp.status == status
        page = await resp.text()
    if who == "leader":
        assert "领导交办" in page and "来人" not in page


async def test_csrf_is_required(live_hub: RunningHub) -> None:
    agent, _ = await live_hub.login("agent1", "agent123")
    async with agent, agent.post(f"{live_hub.url}/orders/new", data=FORM) as resp:
        assert resp.status == 403
    async with live_hub.session.get(f"{live_hub.url}/api/orders/preview?industry=municipal") as resp:
        assert resp.status == 401


async def test_preview_json_names_the_target_and_links_duplicates(live_hub: RunningHub) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        number = number_in(str((await register(agent, live_hub, csrf)).url))
        query = {k: v for k, v in FORM.items() if k != "description"}
        async with agent.get(f"{live_hub.url}/api/orders/preview", params=query) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
        async with agent.get(f"{live_hub.url}/api/orders/preview", params={**query, "mode": "register_only"}) as resp:
            waiting = await resp.json()
        async with agent.get(f"{live_hub.url}/api/orders/preview", params={"message_id": "x"}) as resp:
            assert resp.status == 400
    assert (body["unit"], body["unit_name"], body["unit_from_label"]) == (
        "streetlight_office",
        "市路灯管理所",
        "按派单规则",
    )
    assert body["district_name"] == "城东区" and body["urgent"] is False
    assert [(d["number"], d["url"], d["state_label"]) for d in body["duplicates"]] == [
        (number, f"/orders/{number}", "已派单")
    ]
    assert (waiting["unit"], waiting["reason_text"]) == (None, "仅登记，不派单：工单留在“待派单”列表")


async def test_prefilled_from_a_conversation_with_the_transcript(live_hub: RunningHub) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat")
    first = await citizen_says(
        live_hub, conversation, "城东区幸福路12号路灯坏了<b>", **labels("complaint", "municipal")
    )
    await service.post(conversation, "请留下电话", sender=SenderKind.BOT)
    await citizen_says(live_hub, conversation, "13800005678", **labels(phone="13800005678"))
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        url = f"{live_hub.url}/orders/new?conversation={conversation.id}&message={first.id}"
        async with agent.get(url) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert re.search(r'<option value="web_chat" selected>网上咨询', page)
        assert re.search(r'<option value="municipal.streetlight" data-industry="municipal" selected>', page)
        assert 'value="13800005678"' in page
        assert f'data-message-id="{first.id}" aria-current="true"' in page  # the chosen message highlighted
        assert "路灯坏了&lt;b&gt;" in page and "请留下电话" in page
        assert "将派往" in page and "市路灯管理所" in page  # the preview, rendered with the page
        async with agent.get(f"{live_hub.url}/orders/new?conversation=nope") as resp:
            assert resp.status == 404
        data = {**FORM, "source": "web_chat", "conversation_id": conversation.id, "message_id": str(first.id)}
        async with agent.post(f"{live_hub.url}/orders/new", data={**data, "csrf": csrf}) as resp:
            number = number_in(str(resp.url))
    last = (await service.reads.messages(conversation.id))[-1]
    assert last.sender_kind is SenderKind.SYSTEM and number in last.text and "市路灯管理所" in last.text


async def test_edit_before_dispatch_shows_in_the_history(live_hub: RunningHub) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        number = number_in(str((await register(agent, live_hub, csrf, mode="register_only")).url))
        async with agent.get(f"{live_hub.url}/orders/{number}") as resp:
            assert f'href="/orders/{number}/edit" id="edit-link"' in await resp.text()
        async with agent.get(f"{live_hub.url}/orders/{number}/edit") as resp:
            assert resp.status == 200 and 'value="城东区幸福路12号"' in await resp.text()
        edit = {**FORM, "csrf": csrf, "request_type": "repair", "address": "城东区幸福路14号", "urgent": "yes"}
        async with agent.post(f"{live_hub.url}/orders/{number}/edit", data=edit) as resp:
            assert str(resp.url).endswith(f"/orders/{number}?done=edit")
            page = await resp.text()
        async with agent.post(f"{live_hub.url}/orders/{number}/edit", data={**edit, "phone": "1"}) as resp:
            assert resp.status == 422 and "电话号码格式不正确" in await resp.text()
    history = page[page.index('id="history"') :]
    assert "修改工单" in history and "诉求类型" in history and "<del>投诉</del> → <ins>求助/报修</ins>" in history
    assert "<del>城东区幸福路12号</del> → <ins>城东区幸福路14号</ins>" in history
    assert "<del>否</del> → <ins>是</ins>" in history
    assert "修改工单</strong>\n      · 座席 张敏" in history  # who changed it
    assert "complaint" not in history and "repair" not in history  # names, not codes


async def test_edit_after_dispatch_is_refused_clearly(live_hub: RunningHub) -> None:
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        number = number_in(str((await register(agent, live_hub, csrf)).url))
        async with agent.get(f"{live_hub.url}/orders/{number}") as resp:
            assert 'id="edit-link"' not in await resp.text()
        async with agent.get(f"{live_hub.url}/orders/{number}/edit") as resp:
            assert resp.status == 409
            page = await resp.text()
        assert "派单后不能再修改" in page and "<form" not in page.split('id="error"')[1].split("</section>")[0]
        data = {**FORM, "csrf": csrf, "description": "改"}
        async with agent.post(f"{live_hub.url}/orders/{number}/edit", data=data) as resp:
            assert resp.status == 409 and "派单后不能再修改" in await resp.text()
    order = await live_hub.hub.app[CTX].work_orders.get_by_number(number)
    assert order is not None and order.description == FORM["description"]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_the_pages_are_localised(live_hub: RunningHub, locale: str) -> None:
    service = live_hub.hub.service
    conversation = await service.open("web_chat")
    said = await citizen_says(live_hub, conversation, "幸福路12号路灯坏了", **labels("complaint", "municipal"))
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        waiting = number_in(str((await register(agent, live_hub, csrf, mode="register_only")).url))
        edit = {**FORM, "csrf": csrf, "request_type": "repair", "urgent": "yes"}
        async with agent.post(f"{live_hub.url}/orders/{waiting}/edit", data=edit) as resp:
            assert resp.status == 200
        dispatched = number_in(str((await register(agent, live_hub, csrf)).url))
        paths = [
            "/orders/new",
            f"/orders/new?conversation={conversation.id}&message={said.id}",
            f"/orders/{waiting}/edit",
            f"/orders/{waiting}",
            f"/orders/{dispatched}/edit",
        ]
        catalog = Catalog()
        found: list[str] = []
        for path in paths:
            async with agent.get(live_hub.url + path, cookies={LANG_COOKIE: locale}) as resp:
                assert resp.status in (200, 409), path
                found += problems_of(parse(path, locale, await resp.text()), catalog)
    assert found == []
