"""The department portal's live feed (/dept/live, /orders/live) and the units' alert settings page (/admin/units)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from hub.models import Role
from hub.web.context import CTX
from hub.work_orders.service import WorkOrderService
from tests.fixtures.browser import new_context, sign_in
from tests.fixtures.hub import RunningHub
from tests.fixtures.work_orders import register_streetlight

GAS_LEAK: dict[str, Any] = {
    "request_type": "repair",
    "description": "煤气味很重",
    "industry": "gas",
    "category": "gas.leak",
    "address": "城西区和平路8号",
    "unit": "gas_company.emergency",
    "urgent": True,
}


# the page's desktop notifications, recorded (headless Chromium shows none)
NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push([title, options.body]); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def orders(hub: RunningHub) -> WorkOrderService:
    service = hub.hub.app[CTX].orders
    assert service is not None
    return service


async def next_event(resp: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next ``event:``/``data:`` pair of an SSE stream (comments skipped)."""
    name = "message"
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            return name, json.loads(line[len("data: ") :])


async def open_feed(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    resp = await session.get(url, timeout=aiohttp.ClientTimeout(total=30))
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    assert (await resp.content.readline()).startswith(b"retry:")  # subscribed: events from now on reach us
    return resp


async def test_a_department_hears_of_orders_for_its_own_units_only(live_hub: RunningHub) -> None:
    dept, _csrf = await live_hub.login("dept", "dept123")
    async with dept:
        resp = await open_feed(dept, live_hub.url + "/dept/live")
        async with resp:
            await orders(live_hub).register(
                **GAS_LEAK, phone=None, district=None, conversation_id=None, contact_id=None
            )
            mine = await register_streetlight(orders(live_hub))  # 市路灯管理所: the dept user's unit
            name, data = await asyncio.wait_for(next_event(resp), 10)
    assert name == "order"
    assert data["number"] == mine.number and data["kind"] == "new" and data["url"] == f"/orders/{mine.number}"
    assert "路灯" in data["text"] and "城东区幸福路12号" in data["text"]
    assert data["counts"] == {"to_sign": 1}


async def test_urgent_and_escalated_orders_reach_the_unit_and_escalations_the_centre(live_hub: RunningHub) -> None:
    service = orders(live_hub)
    gas = await live_hub.hub.app[CTX].users.create("gas1", "gas12345", "抢修", Role.DEPARTMENT, "gas_company")
    assert gas is not None
    unit, _ = await live_hub.login("gas1", "gas12345")
    supervisor, _ = await live_hub.login("supervisor", "supervisor123")
    async with unit, supervisor:
        unit_feed = await open_feed(unit, live_hub.url + "/dept/live")
        centre_feed = await open_feed(supervisor, live_hub.url + "/orders/live")
        async with unit_feed, centre_feed:
            order = await service.register(**GAS_LEAK, phone=None, district=None, conversation_id=None, contact_id=None)
            assert (await asyncio.wait_for(next_event(unit_feed), 10))[1]["kind"] == "urgent"
            clock_now = service._clock

            def later() -> Any:
                return clock_now() + timedelta(minutes=16)

            service._clock = later  # the deadline watch runs 16 minutes after the dispatch
            assert (await service.watch_deadlines())["escalated"] == 1
            for feed in (unit_feed, centre_feed):
                name, data = await asyncio.wait_for(next_event(feed), 10)
                assert (name, data["kind"], data["number"]) == ("order", "escalated", order.number)
                assert "超时未签收" in data["text"]


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("agent1", "/orders/live", 403),
        ("dept", "/orders/live", 403),
        ("supervisor", "/dept/live", 403),
        (None, "/dept/live", 401),
    ],
)
async def test_feeds_need_the_right_role(live_hub: RunningHub, who: str | None, path: str, status: int) -> None:
    if who is None:
        async with live_hub.session.get(live_hub.url + path, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login")
        return
    session, _ = await live_hub.login(who, f"{'agent' if who == 'agent1' else who}123")
    async with session, session.get(live_hub.url + path) as resp:
        assert resp.status == status


async def test_administrators_set_a_units_alerts_and_supervisors_only_look(live_hub: RunningHub) -> None:
    admin, csrf = await live_hub.login("admin", "admin123")
    supervisor, scsrf = await live_hub.login("supervisor", "supervisor123")
    async with admin, supervisor:
        async with admin.get(live_hub.url + "/admin/units") as resp:
            page = await resp.text()
        assert resp.status == 200 and "市路灯管理所" in page and 'value="13800000000"' in page
        for fields, error in (
            ({"alert_channel": "sms", "alert_address": "12345"}, "手机号码"),
            ({"alert_channel": "email", "alert_address": "not-an-address"}, "电子邮件地址"),
            ({"alert_channel": "fax", "alert_address": "x"}, "通知方式"),
            ({"alert_channel": "", "emergency_sign_minutes": "0"}, "1 到 1440"),
        ):
            form = {"csrf": csrf, "unit": "water_group", **fields}
            async with admin.post(live_hub.url + "/admin/units", data=form) as resp:
                assert resp.status == 200 and error in await resp.text(), fields
        form = {"csrf": csrf, "unit": "water_group", "alert_channel": "sms", "alert_address": "+86 139-0000-1111",
                "emergency_sign_minutes": "20"}  # fmt: skip
        async with admin.post(live_hub.url + "/admin/units", data=form) as resp:
            assert resp.status == 200 and 'id="flash"' in await resp.text()
        unit = live_hub.hub.app[CTX].taxonomy().units["water_group"]  # the taxonomy was reloaded
        assert (unit.alert_channel, unit.alert_address, unit.emergency_sign_minutes) == ("sms", "13900001111", 20)
        async with admin.post(live_hub.url + "/admin/units", data={**form, "csrf": "wrong"}) as resp:
            assert resp.status == 403
        async with supervisor.get(live_hub.url + "/admin/units") as resp:
            page = await resp.text()
        assert resp.status == 200 and "13900001111" in page and 'name="alert_address"' not in page
        async with supervisor.post(live_hub.url + "/admin/units", data={**form, "csrf": scsrf}) as resp:
            assert resp.status == 403
    dept, _ = await live_hub.login("dept", "dept123")
    async with dept, dept.get(live_hub.url + "/admin/units") as resp:
        assert resp.status == 403


@pytest.mark.browser
async def test_the_portal_shows_a_banner_updates_the_count_and_notifies(browser: Browser, live_hub: RunningHub) -> None:
    async with new_context(browser) as context:
        await context.grant_permissions(["notifications"], origin=live_hub.url)
        await context.add_init_script(NOTIFICATIONS)
        page = await context.new_page()
        await sign_in(page, live_hub.url, "dept", "dept123", "/dept")
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        order = await register_streetlight(orders(live_hub), address="城东区幸福路<b>88</b>号")
        banner = page.locator("#live-banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text(order.number)
        await expect(banner).to_contain_text("城东区幸福路<b>88</b>号")  # shown as text, never as markup
        await expect(page.locator("#tab-to_sign .count")).to_have_text("1")
        await expect(banner.locator("a")).to_have_attribute("href", f"/orders/{order.number}")
        notes = await page.evaluate("window.__notes")
        assert notes and order.number in notes[0][1]
        await banner.locator("a").click()
        await expect(page.locator("#order-state")).to_have_text("已派单")
