"""The /admin/ivr page on a real hub: roles, CSRF, validation errors with paths, save → active, history, escaping."""

from __future__ import annotations

import html
import re

import aiohttp

from channels.voice.ivr import DEFAULT_FLOW_PATH
from channels.voice.ivr.flow import PlayNode
from tests.fixtures.hub import RunningHub

DEFAULT = DEFAULT_FLOW_PATH.read_text(encoding="utf-8")


async def post(session: aiohttp.ClientSession, url: str, **form: str) -> tuple[int, str, str]:
    async with session.post(url, data=form, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers.get("Location", "")


def welcome(hub: RunningHub) -> str:
    assert hub.hub.ivr_flows is not None
    node = hub.hub.ivr_flows.holder().node("welcome")
    assert isinstance(node, PlayNode) and node.prompt is not None
    return node.prompt.zh


async def versions(session: aiohttp.ClientSession, hub: RunningHub) -> list[tuple[int, bool]]:
    async with session.get(hub.url + "/api/admin/ivr") as resp:
        assert resp.status == 200
        body = await resp.json()
    return [(v["version"], v["active"]) for v in body["history"]]


async def test_only_administrators_reach_the_page(live_hub: RunningHub) -> None:
    async with live_hub.session.get(live_hub.url + "/admin/ivr", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    async with live_hub.session.get(live_hub.url + "/api/admin/ivr") as resp:
        assert resp.status == 401
    agent, csrf = await live_hub.login("agent1", "agent123")
    async with agent:
        async with agent.get(live_hub.url + "/admin/ivr") as resp:
            assert resp.status == 403
        status, _text, _loc = await post(agent, live_hub.url + "/admin/ivr/save", document=DEFAULT, csrf=csrf)
        assert status == 403
    admin, _csrf = await live_hub.login("admin", "admin123")
    async with admin:
        status, _text, _loc = await post(admin, live_hub.url + "/admin/ivr/save", document=DEFAULT)  # no CSRF
        assert status == 403
        async with admin.get(live_hub.url + "/staff") as resp:
            assert 'href="/admin/ivr"' in await resp.text()


async def test_the_page_shows_the_active_default_flow(live_hub: RunningHub) -> None:
    admin, _csrf = await live_hub.login("admin", "admin123")
    async with admin:
        async with admin.get(live_hub.url + "/admin/ivr?lang=zh-CN") as resp:
            page = await resp.text()
        assert resp.status == 200 and "语音导航流程" in page and 'id="version-1"' in page
        assert html.escape("您好，这里是12319城建服务热线。") in page and "当前生效版本：v1" in page
        assert "系统（默认流程）" in page
        async with admin.get(live_hub.url + "/admin/ivr?lang=en") as resp:
            english = await resp.text()
        assert "IVR flow" in english and "Active version: v1" in english and "system (default flow)" in english


async def test_an_invalid_document_shows_its_errors_and_changes_nothing(live_hub: RunningHub) -> None:
    admin, csrf = await live_hub.login("admin", "admin123")
    bad = DEFAULT.replace("next: ask_kb}", "next: <b>nowhere</b>}", 1).replace("key: 2,", "key: 1,", 1)
    async with admin:
        status, page, _loc = await post(admin, live_hub.url + "/admin/ivr/save", document=bad, csrf=csrf, comment="x")
        assert status == 422
        assert "nodes.main.options[0].next" in page and "没有名为“&lt;b&gt;nowhere&lt;/b&gt;”的节点" in page
        assert "nodes.main.options[1].key" in page and 'data-code="duplicate_dtmf_key"' in page
        assert "按键“1”重复（options[0] 也使用了它）" in page
        assert "<b>nowhere</b>" not in page  # the textarea keeps the text, escaped
        assert html.escape("next: <b>nowhere</b>}") in page
        status, page, _loc = await post(admin, live_hub.url + "/admin/ivr/save", document="a: [", csrf=csrf)
        assert status == 422 and 'data-code="yaml_syntax"' in page and "YAML 格式错误：第 " in page
        assert await versions(admin, live_hub) == [(1, True)]
    assert welcome(live_hub) == "您好，这里是12319城建服务热线。"


async def test_validate_only_checks(live_hub: RunningHub) -> None:
    admin, csrf = await live_hub.login("admin", "admin123")
    extra = DEFAULT + "  spare:\n    type: hangup\n"
    async with admin:
        status, page, _loc = await post(admin, live_hub.url + "/admin/ivr/validate", document=extra, csrf=csrf)
        assert status == 200 and "校验通过" in page and "nodes.spare" in page and 'data-code="unreachable"' in page
        assert "从起始节点无法到达" in page
        assert await versions(admin, live_hub) == [(1, True)]


async def test_a_valid_edit_becomes_active_then_an_older_version_again(live_hub: RunningHub) -> None:
    admin, csrf = await live_hub.login("admin", "admin123")
    edited = DEFAULT.replace("您好，这里是12319城建服务热线。", "您好，这里是12319热线<script>alert(1)</script>", 1)
    async with admin:
        status, _page, location = await post(
            admin, live_hub.url + "/admin/ivr/save", document=edited, csrf=csrf, comment="新欢迎语 <i>"
        )
        assert status == 303 and location == "/admin/ivr?msg=saved"
        assert welcome(live_hub) == "您好，这里是12319热线<script>alert(1)</script>"  # the next call hears it
        assert await versions(admin, live_hub) == [(2, True), (1, False)]
        async with admin.get(live_hub.url + location) as resp:
            page = await resp.text()
        assert "已保存并生效" in page and "当前生效版本：v2 · 新欢迎语 &lt;i&gt;" in page
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "系统管理员 周磊" in page  # the author of version 2

        v1 = live_hub.hub.ivr_flows.holder.version_id  # type: ignore[union-attr]
        history = live_hub.hub.ivr_flows.store  # type: ignore[union-attr]
        first = (await history.history("main"))[-1]
        assert first.version == 1 and first.id != v1
        status, _page, location = await post(
            admin, live_hub.url + f"/admin/ivr/versions/{first.id}/activate", csrf=csrf
        )
        assert status == 303 and location == "/admin/ivr?msg=activated"
        assert welcome(live_hub) == "您好，这里是12319城建服务热线。"
        assert await versions(admin, live_hub) == [(2, False), (1, True)]
        async with admin.get(live_hub.url + f"/admin/ivr?version={first.id + 1}") as resp:
            assert "&lt;script&gt;" in await resp.text()  # viewing version 2 in the editor
        status, _page, _loc = await post(admin, live_hub.url + "/admin/ivr/versions/999/activate", csrf=csrf)
        assert status == 404


INVALID_FLOW = """\
start: main
nodes:
  main:
    type: menu
    prompt: 请按1
    timeout_s: soon
    colour: red
    options:
      - {key: 1, next: "<b>nowhere</b>"}
      - {key: 1, next: bye}
  bye: {type: hangup}
  hours: {type: hours, weekly: {mon-fri: [], "<i>wed</i>": []}, open: bye, closed: bye}
  listed: [1, 2]
"""
INVALID_YAML = {  # document → (code, zh-CN text, English text)
    "nodes:\n  a: [": (
        "yaml_syntax",
        "YAML 格式错误：第 3 行，第 1 列：缺少应有的内容（值）",
        "did not find expected node content",
    ),
    "a: b: c": ("yaml_syntax", "这里不能出现“键: 值”", "mapping values are not allowed here"),
    "a: @x": ("yaml_syntax", "出现了不能用在开头的字符", "found a character that cannot start any token"),
    "a: b\nc": ("yaml_syntax", "缺少应有的冒号“:”", "could not find expected &#39;:&#39;"),
    "a: 1\na: 2": ("yaml_syntax", "键“a”重复", "found duplicate key &#39;a&#39;"),
    "%YAML 2.0\n---\na: 1": (
        "yaml_syntax_other",
        "YAML 格式错误：第 1 行，第 1 列（",
        "YAML syntax error at line 1, column 1 (",
    ),
}


def problems(page: str) -> list[tuple[str, str]]:
    """(code, text without tags) of each issue listed on the page."""
    found = re.findall(r'<li data-code="([a-z_]+)">(.*?)</li>', page, re.S)
    return [(code, re.sub(r"<[^>]+>", "", text)) for code, text in found]


async def test_problems_are_shown_in_the_admins_language(live_hub: RunningHub) -> None:
    chinese, csrf_zh = await live_hub.login("admin", "admin123")
    english, csrf_en = await live_hub.login("admin", "admin123")
    async with chinese, english:
        async with english.get(live_hub.url + "/admin/ivr?lang=en") as resp:  # remembered in the lang cookie
            assert resp.status == 200
        url = live_hub.url + "/admin/ivr/validate"

        status, page, _loc = await post(chinese, url, document=INVALID_FLOW, csrf=csrf_zh)
        assert status == 422 and "流程有错误，未保存" in page
        listed = problems(page)
        assert ("expected_number", "nodes.main.timeout_s: 应为数字，实际是文本") in listed
        assert ("expected_mapping", "nodes.listed: 应为映射（键: 值），实际是列表") in listed
        assert ("duplicate_dtmf_key", "nodes.main.options[1].key: 按键“1”重复（options[0] 也使用了它）") in listed
        assert "未知字段（允许: agent, back, description," in page and 'data-code="unknown_field"' in page
        assert "没有名为“&lt;b&gt;nowhere&lt;/b&gt;”的节点" in page  # the admin's text, escaped
        assert "<code>nodes.hours.weekly.&lt;i&gt;wed&lt;/i&gt;</code>: 未知的星期" in page
        assert "<b>nowhere</b>" not in page and "<i>wed</i>" not in page
        for _code, text in listed:  # nothing English but the paths and the names typed in the document
            assert not re.search(r"\b(expected|got|unknown|field|node|named|duplicate|weekday)\b", text), text

        status, page, _loc = await post(english, url, document=INVALID_FLOW, csrf=csrf_en)
        assert status == 422 and "The flow has errors and was not saved" in page
        listed = problems(page)
        assert ("expected_number", "nodes.main.timeout_s: expected a number, got text") in listed
        assert ("expected_mapping", "nodes.listed: expected a mapping, got a list") in listed
        assert "no node named &#39;&lt;b&gt;nowhere&lt;/b&gt;&#39;" in page and "unknown field (allowed: " in page
        assert not re.search(r"[\u4e00-\u9fff]", "".join(text for _code, text in listed))

        for document, (code, zh, en) in INVALID_YAML.items():
            status, page, _loc = await post(chinese, url, document=document, csrf=csrf_zh)
            [(found, text)] = problems(page)
            assert status == 422 and found == code and zh in page, (document, text)
            assert text.startswith("(yaml): YAML 格式错误："), text
            outside = re.sub(r"（[^（）]*）$", "", text[len("(yaml): ") :])  # the fallback keeps PyYAML's text in （）
            assert not re.search(r"[A-Za-z]{2,}", outside.replace("YAML", "")), text
            status, page, _loc = await post(english, url, document=document, csrf=csrf_en)
            [(found, text)] = problems(page)
            assert (
                status == 422 and found == code and en in page and text.startswith("(yaml): YAML syntax error at line ")
            )

        # the status API: each warning with its code, params and the message in the request's language
        extra = DEFAULT + "  spare:\n    type: hangup\n"
        status, _page, _loc = await post(english, live_hub.url + "/admin/ivr/save", document=extra, csrf=csrf_en)
        assert status == 303
        async with chinese.get(live_hub.url + "/api/admin/ivr") as resp:
            assert (await resp.json())["warnings"] == [
                {"path": "nodes.spare", "code": "unreachable", "params": {}, "message": "从起始节点无法到达"}
            ]
        async with english.get(live_hub.url + "/api/admin/ivr") as resp:
            [warning] = (await resp.json())["warnings"]
            assert warning["message"] == "unreachable from the start node"
