"""Finding orders and citizens over HTTP: the centre's list and the department portal with GET filters, pages and
tab counts, the citizens' pages, and the printable 投诉单."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import aiohttp

from hub.models import SenderKind
from hub.web.context import CTX
from tests.fixtures.hub import RunningHub
from tests.fixtures.work_orders import register_streetlight

STREETLIGHTS = 55


async def fill(hub: RunningHub) -> tuple[list[str], list[str]]:
    """55 street-light orders (市路灯管理所) and 3 water orders (供水城西分公司, by letter), all dispatched by rule."""
    service = hub.hub.app[CTX].orders
    assert service is not None
    lights = [
        (await register_streetlight(service, address=f"城东区幸福路{i}号", phone=f"1390000{i:04d}")).number
        for i in range(STREETLIGHTS)
    ]
    water = []
    for i in range(3):
        order = await register_streetlight(
            service,
            request_type="repair",
            description="家里停水了",
            industry="water",
            category="water.outage",
            district="chengxi",
            address=f"城西区长江路{i}号",
            phone=f"1370000{i:04d}",
            unit="water_group.west",
            source="letter",
            citizen_name="欧阳娜",
        )
        water.append(order.number)
    return lights, water


async def page(session: aiohttp.ClientSession, url: str, status: int = 200) -> str:
    async with session.get(url) as r:
        assert r.status == status, url
        return await r.text()


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-number="(\d{12})">', html)


def count(html: str, tab: str) -> int:
    match = re.search(rf'id="count-{tab}">(\d+)<', html)
    assert match, tab
    return int(match.group(1))


def text_of(html: str) -> str:
    """What the reader sees (tags and attribute values dropped)."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


async def test_centre_list_searches_filters_and_pages(live_hub: RunningHub) -> None:
    lights, water = await fill(live_hub)
    agent, _ = await live_hub.login("agent1", "agent123")
    base = live_hub.url + "/orders"
    async with agent:
        html = await page(agent, base + "?tab=all")
        assert rows(html) == (water[::-1] + lights[::-1])[:50]
        assert "共 58 条" in html and "第 1 / 2 页" in html
        assert count(html, "all") == 58 and count(html, "unassigned") == 0 and count(html, "overdue") == 0
        nxt = re.search(r'id="page-next" rel="next" href="([^"]+)"|href="([^"]+)" id="page-next"', html)
        assert nxt
        html = await page(agent, base + unescape(nxt.group(1) or nxt.group(2)))
        assert rows(html) == lights[7::-1] and 'aria-current="page">2<' in html
        # search box + a filter, shown back in the form; labels in Chinese, not codes
        html = await page(agent, base + "?tab=all&q=长江路&source=letter")
        assert rows(html) == water[::-1] and count(html, "all") == 3
        assert 'value="长江路"' in html and '<option value="letter" selected>来信</option>' in html
        seen = text_of(html)
        assert "市供水集团城西分公司" in seen and "求助/报修" in seen and "停水" in seen
        assert "water_group" not in seen and "water.outage" not in seen and "repair" not in seen
        assert 'href="/contacts?q=13700000000"' in html  # the citizen's page from the row
        # by phone, by number, by name; unknown filter values are ignored, not trusted
        assert rows(await page(agent, base + "?tab=all&q=13900000007")) == [lights[7]]
        assert rows(await page(agent, base + f"?tab=all&q={water[1]}")) == [water[1]]
        assert rows(await page(agent, base + "?tab=all&q=欧阳娜&industry=water&unit=water_group.west")) == water[::-1]
        html = await page(agent, base + "?tab=all&state=bogus&unit=nowhere&q=长江路")
        assert rows(html) == water[::-1] and "selected" not in html.split('id="f-state"')[1].split("</select>")[0]
        # created dates are the city's local days
        today = live_hub.hub.app[CTX].city.today(live_hub.hub.app[CTX].orders.now())  # type: ignore[union-attr]
        html = await page(agent, base + f"?tab=all&from={today}&to={today}&type=repair")
        assert rows(html) == water[::-1] and f'value="{today}"' in html
        html = await page(agent, base + f"?tab=all&from={today + timedelta(days=1)}")
        assert rows(html) == [] and 'id="no-orders"' in html and count(html, "all") == 0
        # tabs keep the filters; the tab's count is what the tab lists
        html = await page(agent, base + "?tab=unassigned&industry=water")
        assert count(html, "unassigned") == 0 and rows(html) == [] and count(html, "all") == 3
        link = re.search(r'href="([^"]+)" class="" id="tab-all"', html)
        assert link and "industry=water" in link.group(1) and "page=" not in link.group(1)
        assert rows(await page(agent, base + unescape(link.group(1)))) == water[::-1]
        html = await page(agent, base + "?tab=all&sort=oldest&page=2")
        assert rows(html) == lights[50:] + water and '<option value="oldest" selected>' in html
        await page(agent, base + "?tab=nope", status=400)


async def test_the_department_finds_only_its_own_orders(live_hub: RunningHub) -> None:
    lights, water = await fill(live_hub)
    dept, _ = await live_hub.login("dept", "dept123")  # 市路灯管理所
    base = live_hub.url + "/dept"
    async with dept:
        html = await page(dept, base)
        assert count(html, "to_sign") == STREETLIGHTS and count(html, "all") == STREETLIGHTS
        assert "unassigned" not in html and "欧阳娜" not in html
        options = re.findall(r'<option value="([^"]*)"', html.split('id="f-unit"')[1].split("</select>")[0])
        assert options == ["", "streetlight_office"]  # its own units only
        for q in (water[0], "13700000000", "长江路", "欧阳娜"):
            html = await page(dept, base + f"?tab=all&q={q}")
            assert rows(html) == [] and count(html, "all") == 0, q
        html = await page(dept, base + "?tab=all&unit=water_group.west")  # not its choice: ignored
        assert len(rows(html)) == 50 and set(rows(html)) <= set(lights)
        html = await page(dept, base + "?tab=all&q=13900000042")
        assert rows(html) == [lights[42]] and 'href="/contacts' not in html  # no citizens' pages for departments
        await page(dept, f"{live_hub.url}/orders/{water[0]}/print", status=404)
        await page(dept, f"{live_hub.url}/contacts?q=13700000000", status=403)
        html = await page(dept, f"{live_hub.url}/orders/{lights[0]}/print")
        assert lights[0] in html and "市路灯管理所" in html


async def test_citizens_pages_show_every_conversation_and_order(live_hub: RunningHub) -> None:
    ctx = live_hub.hub.app[CTX]
    contact = await ctx.conversations.ensure_contact_by_phone("13612345678", "诸葛明")
    await ctx.conversations.update_contact(contact.id, email="Zhuge@Example.cn", telegram_id="4242", vip=True)
    chats = []
    for channel, text in (("sms", "路灯坏了<b>三天</b>"), ("telegram", "请问进度")):
        conversation = await ctx.conversations.create(channel, contact_id=contact.id)
        await ctx.conversations.add_message(conversation.id, direction="in", sender_kind=SenderKind.CITIZEN, text=text)
        chats.append(conversation.id)
    assert ctx.orders is not None
    mine = await register_streetlight(ctx.orders, contact_id=contact.id, phone="13612345678", citizen_name="诸葛明")
    by_phone = await register_streetlight(ctx.orders, phone="13612345678")  # registered without the contact
    other = await register_streetlight(ctx.orders, phone="13600000000")
    agent, _ = await live_hub.login("leader", "leader123")
    async with agent:
        for q in ("136 1234 5678", "zhuge@example", "诸葛", "4242", "@4242"):
            html = await page(agent, f"{live_hub.url}/contacts?q={q}")
            assert re.findall(r'data-contact="(\d+)"', html) == [str(contact.id)], q
        html = await page(agent, f"{live_hub.url}/contacts?q=没有这个人")
        assert 'id="no-contacts"' in html and "/orders?tab=all&amp;q=" in html
        html = await page(agent, f"{live_hub.url}/contacts/{contact.id}")
        assert {mine.number, by_phone.number} == set(re.findall(r'<tr data-number="(\d{12})">', html))
        assert other.number not in html
        assert "Zhuge@Example.cn" in html and "4242" in html and "重点市民" in html and "13612345678" in html
        assert re.findall(r'data-conversation="([^"]+)"', html) == chats[::-1]
        assert "短信" in html and "Telegram" in html and "路灯坏了&lt;b&gt;三天&lt;/b&gt;" in html
        await page(agent, f"{live_hub.url}/contacts/999999", status=404)
        await page(agent, f"{live_hub.url}/contacts/abc", status=404)
        order_page = await page(agent, f"{live_hub.url}/orders/{mine.number}")
        assert f'href="/contacts/{contact.id}"' in order_page and f'href="/orders/{mine.number}/print"' in order_page


async def test_the_printable_form_has_the_header_fields_history_and_signature_boxes(live_hub: RunningHub) -> None:
    ctx = live_hub.hub.app[CTX]
    assert ctx.orders is not None
    order = await register_streetlight(
        ctx.orders, citizen_name="王<i>芳</i>", forward_text="请尽快修复", source="walk_in", urgent=True
    )
    agent, _ = await live_hub.login("agent1", "agent123")
    async with agent:
        html = await page(agent, f"{live_hub.url}/orders/{order.number}/print")
    seen = text_of(html)
    assert "12319城建服务热线 工单（投诉单）" in seen and order.number in seen
    for shown in ("投诉", "来人", "市政设施", "是", "王<i>芳</i>", "13800000000", "城东区幸福路12号", "路灯不亮"):
        assert shown in seen, shown
    assert "请尽快修复" in seen and "市路灯管理所" in seen and "已派单" in seen and "按规则自动派单" in seen
    for box in ("受理人", "承办单位签收", "办理结果", "审核"):
        assert f"<h3>{box}</h3>" in html
    assert "王&lt;i&gt;芳&lt;/i&gt;" in html and "<script>" not in html.split("</article>")[0]
    assert re.search(r'href="/static/orders/print\.css\?v=', html)
