"""The department portal and the centre's work-order pages over HTTP, and the citizen's side of the loop."""

from __future__ import annotations

import re
from datetime import date

import aiohttp
import pytest
from yarl import URL

from hub.storage.work_orders import WorkOrderStore
from hub.web.context import CTX
from hub.web.i18n_web import LANG_COOKIE
from tests.fixtures.hub import RunningHub


async def rest(hub: RunningHub, sender: str, text: str) -> list[str]:
    async with hub.session.post(hub.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200
        return [m["text"] for m in await r.json()]


async def file_order(hub: RunningHub, sender: str, problem: str, address: str, phone: str) -> str:
    await rest(hub, sender, problem)
    await rest(hub, sender, address)
    await rest(hub, sender, phone)  # the bot reads the order back
    reply = (await rest(hub, sender, "确认"))[-1]
    match = re.search(r"\d{12}", reply)
    assert match, reply
    return match.group(0)


async def act(
    session: aiohttp.ClientSession, hub: RunningHub, number: str, csrf: str, action: str, **fields: str
) -> str:
    async with session.post(f"{hub.url}/orders/{number}/act", data={"action": action, "csrf": csrf, **fields}) as r:
        assert r.status == 200
        return await r.text()


async def test_closed_loop_department_centre_citizen(live_hub: RunningHub) -> None:
    number = await file_order(live_hub, "loop", "路灯坏了<script>x</script>", "城东区幸福路12号", "13800000001")
    dept, dcsrf = await live_hub.login("dept", "dept123")
    agent, acsrf = await live_hub.login("agent1", "agent123")
    leader, lcsrf = await live_hub.login("leader", "leader123")
    async with dept, agent, leader:
        async with dept.get(live_hub.url + "/dept?tab=to_sign") as r:
            page = await r.text()
        assert number in page and "市路灯管理所" in page
        page = await act(leader, live_hub, number, lcsrf, "instruct", note="请于今晚前修复，注意安全<b>!</b>")
        assert "主任 陈建国" in page
        page = await act(dept, live_hub, number, dcsrf, "sign", note="已签收")
        assert 'id="flash"' in page and "已签收" in page
        assert '<span class="auto">按规则自动派单</span>' in page  # the dispatch by rule at registration
        assert "请于今晚前修复，注意安全&lt;b&gt;!&lt;/b&gt;" in page  # the department sees the instruction
        assert "路灯坏了&lt;script&gt;x&lt;/script&gt;" in page  # citizen text escaped
        page = await act(dept, live_hub, number, dcsrf, "close")
        assert 'id="error"' in page and "承办单位不能执行“办结”" in page  # the refusal in the user's language
        assert "not allowed" not in page
        dept.cookie_jar.update_cookies({LANG_COOKIE: "en"}, URL(live_hub.url))
        page = await act(dept, live_hub, number, dcsrf, "return")
        assert "a return needs a reason code, one of" in page and "not our jurisdiction" in page.lower(), page
        dept.cookie_jar.update_cookies({LANG_COOKIE: "zh-CN"}, URL(live_hub.url))
        # reply with a photo (multipart: the CSRF token travels in the query string)
        form = aiohttp.FormData()
        form.add_field("action", "reply")
        form.add_field("note", "已更换灯泡，恢复照明")
        form.add_field("files", b"\x89PNG fake photo", filename="../修复后照片.png", content_type="image/png")
        async with dept.post(f"{live_hub.url}/orders/{number}/act?csrf={dcsrf}", data=form) as r:
            page = await r.text()
        assert "已反馈" in page
        link = re.search(rf'href="(/orders/{number}/files/[^"]+)"', page)
        assert link and "修复后照片.png" in link.group(1) and ".." not in link.group(1)
        async with agent.get(live_hub.url + link.group(1)) as r:
            assert r.status == 200 and await r.read() == b"\x89PNG fake photo"
        page = await act(agent, live_hub, number, acsrf, "close", note="核实已修复")
        assert "已办结" in page
    # The citizen hears about it on their own channel and answers the satisfaction callback.
    notices = await rest(live_hub, "loop", "3")
    assert any("已办结" in n and "已更换灯泡" in n for n in notices)
    assert any("请您对工单" in n for n in notices) and "承办单位" in notices[-1]
    assert "重新办理" in (await rest(live_hub, "loop", "是"))[-1]
    found = await WorkOrderStore(live_hub.hub.engine).get_by_number(number)
    assert found is not None and found.state == "dispatched" and found.rehandles == 1
    assert found.satisfaction == "unsatisfied"


async def test_department_scope_on_pages_and_files(live_hub: RunningHub) -> None:
    water = await file_order(live_hub, "w", "停水了", "城西区长江路8号", "13800000002")
    dept, csrf = await live_hub.login("dept", "dept123")
    async with dept:
        async with dept.get(f"{live_hub.url}/orders/{water}") as r:
            assert r.status == 404
        async with dept.post(f"{live_hub.url}/orders/{water}/act", data={"action": "sign", "csrf": csrf}) as r:
            assert r.status == 404
        async with dept.get(f"{live_hub.url}/orders/{water}/files/x.png") as r:
            assert r.status == 404
        async with dept.get(live_hub.url + "/dept?tab=all") as r:
            assert water not in await r.text()
        async with dept.get(live_hub.url + "/orders") as r:
            assert r.status == 403  # the centre's list is not for departments
        async with dept.post(f"{live_hub.url}/orders/{water}/act", data={"action": "sign"}) as r:
            assert r.status == 403  # no CSRF token


@pytest.mark.parametrize("tab", ["unassigned", "supervision", "overdue", "returned", "replied", "extensions", "all"])
async def test_centre_tabs_render(live_hub: RunningHub, tab: str) -> None:
    number = await file_order(live_hub, "c", "井盖没了", "城南区黄河路1号", "13800000003")
    agent, _ = await live_hub.login("supervisor", "supervisor123")
    async with agent, agent.get(f"{live_hub.url}/orders?tab={tab}") as r:
        assert r.status == 200
        page = await r.text()
    assert 'id="kpis"' in page
    assert (number in page) == (tab == "all")


async def test_return_arbitration_and_extension_via_pages(live_hub: RunningHub) -> None:
    number = await file_order(live_hub, "r", "路灯不亮", "城北区人民路3号", "13800000004")
    dept, dcsrf = await live_hub.login("dept", "dept123")
    sup, scsrf = await live_hub.login("supervisor", "supervisor123")
    async with dept, sup:
        page = await act(dept, live_hub, number, dcsrf, "return", reason="ownership_unclear", note="小区内部路灯")
        assert "权属不清" in page
        async with sup.get(live_hub.url + "/orders?tab=returned") as r:
            assert number in await r.text()
        page = await act(sup, live_hub, number, scsrf, "arbitrate", unit="streetlight_office", note="市政道路")
        assert "仲裁" in page
        page = await act(dept, live_hub, number, dcsrf, "sign")
        assert 'id="form-return"' not in page  # arbitration is final
        page = await act(dept, live_hub, number, dcsrf, "request_extension", days="2", note="等待电力部门")
        async with sup.get(live_hub.url + "/orders?tab=extensions") as r:
            assert number in await r.text()
        page = await act(sup, live_hub, number, scsrf, "approve_extension", note="同意")
        assert "已同意" in page


async def test_likely_duplicates_are_suggested_and_merged(live_hub: RunningHub) -> None:
    first = await file_order(live_hub, "d1", "路灯坏了", "城东区幸福路12号", "13800000005")
    second = await file_order(live_hub, "d2", "路灯不亮了", "幸福路12号门口", "13800000006")
    elsewhere = await file_order(live_hub, "d3", "路灯不亮", "城西区长江路9号", "13800000007")
    sup, csrf = await live_hub.login("supervisor", "supervisor123")
    async with sup:
        async with sup.get(f"{live_hub.url}/orders/{second}") as r:
            page = await r.text()
        section = page.split('id="duplicates"')[1].split("</ul>")[0]
        assert first in section and elsewhere not in section
        page = await act(sup, live_hub, second, csrf, "merge", target=first, note="同一路灯")
        assert "已办结" in page and f"已合并至 {first}" in page
        page = await act(sup, live_hub, elsewhere, csrf, "merge", target=second, note="x")
        assert 'id="error"' in page  # cannot merge into a closed order


MATRIX = {
    # who: (/orders, /dept, /orders/{n}, POST /orders/{n}/act note)
    None: (302, 302, 302, 302),
    "agent1": (200, 403, 200, 303),
    "supervisor": (200, 403, 200, 303),
    "admin": (200, 403, 200, 303),
    "leader": (200, 403, 200, 303),
    "dept": (403, 200, 200, 303),
    "water1": (403, 200, 404, 404),
    "kb": (403, 403, 403, 403),
}
PASSWORDS = {"agent1": "agent123", "water1": "water123"}


@pytest.mark.parametrize("who", list(MATRIX), ids=lambda w: w or "anonymous")
async def test_authorization_matrix(live_hub: RunningHub, who: str | None) -> None:
    from hub.models import Role

    number = await file_order(live_hub, "m", "路灯坏了", "城东区幸福路12号", "13800000008")
    await live_hub.hub.app[CTX].users.create("water1", "water123", "供水 员工", Role.DEPARTMENT, "water_group")
    if who is None:
        session, csrf = aiohttp.ClientSession(), ""
    else:
        session, csrf = await live_hub.login(who, PASSWORDS.get(who, f"{who}123"))
    async with session:
        got = []
        for path in ("/orders", "/dept", f"/orders/{number}"):
            async with session.get(live_hub.url + path, allow_redirects=False) as r:
                got.append(r.status)
        async with session.post(
            f"{live_hub.url}/orders/{number}/act",
            data={"action": "note", "note": "记录", "csrf": csrf},
            allow_redirects=False,
        ) as r:
            got.append(r.status)
    assert tuple(got) == MATRIX[who]


async def test_holiday_calendar_is_editable_and_moves_deadlines(live_hub: RunningHub) -> None:
    service = live_hub.hub.app[CTX].orders
    assert service is not None
    before = service.calendar().add_working_days(date(2026, 12, 7), 1)
    assert before == date(2026, 12, 8)
    admin, csrf = await live_hub.login("admin", "admin123")
    dept, _ = await live_hub.login("dept", "dept123")
    async with admin, dept:
        async with admin.post(
            live_hub.url + "/admin/calendar",
            data={"day": "2026-12-08", "kind": "holiday", "name": "演示假日", "csrf": csrf},
        ) as r:
            assert r.status == 200 and "演示假日" in await r.text()
        assert service.calendar().add_working_days(date(2026, 12, 7), 1) == date(2026, 12, 9)
        async with admin.post(
            live_hub.url + "/admin/calendar", data={"day": "not-a-date", "kind": "holiday", "csrf": csrf}
        ) as r:
            assert 'id="error"' in await r.text()
        async with admin.post(
            live_hub.url + "/admin/calendar", data={"day": "2026-12-08", "kind": "normal", "csrf": csrf}
        ) as r:
            assert "演示假日" not in await r.text()
        assert service.calendar().add_working_days(date(2026, 12, 7), 1) == date(2026, 12, 8)
        async with dept.get(live_hub.url + "/admin/calendar") as r:
            assert r.status == 403
