"""Every staff page in both languages, as served: no raw keys, no raw codes, Chinese or English labels, errors.

A demo hub (with the SMS channel, so the bulk-SMS pages exist) serves every GET page without path parameters
(found in the router, so a new page is checked without touching this file) plus pages of a work order, a
knowledge-base article and a bulk-SMS job, once with the ``zh-CN`` and once with the ``en`` language cookie.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import aiohttp
import pytest
import pytest_asyncio

import hub.web.i18n_web as i18n_web
from hub import i18n
from hub.web.i18n_web import LANG_COOKIE
from hub.work_orders.states import State
from tests.channels.sms.helpers import sms_settings
from tests.fixtures.hub import DEFAULT_RULES, RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc
from tests.hub.test_i18n import ENUMERATED

LOCALES = ("zh-CN", "en")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
SKIPPED_PREFIXES = ("/static", "/healthz", "/api/", "/open311/", "/webhooks/", "/dept/live", "/orders/live")  # feeds
# Every page here must be found in the router (so the enumeration cannot silently shrink).
EXPECTED_PAGES = {
    "/staff",
    "/agent",
    "/agent/softphone",
    "/calls",
    "/orders",
    "/dept",
    "/admin/calendar",
    "/admin/units",
    "/admin/nlu",
    "/admin/ivr",
    "/kb",
    "/kb/review",
    "/sms/bulk",
    "/login",
    "/chat",
}
# Text that is data, not a UI label, although it holds Chinese (en pages) or a code-like word (zh pages).
DATA_TAGS = {"script", "style", "textarea", "pre", "code", "template", "kbd"}  # kbd: key caps (Enter, s)
DATA_CLASS = "bubble"  # messages and answers: citizen, bot and article text (its own text, not a sender label)
UI_TAGS = {"title", "th", "button", "legend", "dt", "caption", "h2", "h3"}  # and a label's own text, the nav
# Codes a zh-CN page must never show as they are: work-order states (hub/work_orders/states.py), and the other
# codes the pages show by label (the enumerations of test_i18n). "admin" is left out: it is also the demo
# administrator's user name, which the softphone page shows.
CODE_PREFIXES = (
    *("action.", "status.", "role.", "orders.sender.", "type.", "reason.", "satisfaction.", "channel."),
    *("kb.status.", "voice.outcome.", "nlu.status.", "ivr.node."),
)
RAW_CODES = {s.value for s in State}.union(*(ENUMERATED[prefix] for prefix in CODE_PREFIXES)) - {"admin"}
ADMIN = ("admin", "admin123")
DEPARTMENT = ("dept", "dept123")
CITIZEN_PHONE = "13800000071"


@dataclass
class Text:
    text: str
    tags: tuple[str, ...]  # the open elements, outermost first
    marks: frozenset[str]  # "who" (the user's name), "switch" (the language switch), "data"


@dataclass
class Page:
    path: str
    locale: str
    html: str
    texts: list[Text] = field(default_factory=list)  # visible text nodes, data included (marked)
    attributes: list[str] = field(default_factory=list)  # placeholder, title, aria-label, alt, button values
    lang: str | None = None

    @property
    def title(self) -> str:
        return " ".join(t.text for t in self.texts if t.tags and t.tags[-1] == "title")

    def ui_texts(self) -> list[str]:
        """Text of elements that are labels by nature: headings, table heads, buttons, a label's own text, nav."""
        found = []
        for t in self.texts:
            if t.marks & {"who", "switch", "data"} or not t.tags or t.tags[-1] == "title":
                continue
            if t.tags[-1] in UI_TAGS or t.tags[-1] == "label" or "nav" in t.tags:
                found.append(t.text)
        return found

    def visible(self) -> list[str]:
        return [t.text for t in self.texts if "data" not in t.marks and t.tags and t.tags[-1] != "title"]


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.stack: list[tuple[str, frozenset[str], bool]] = []  # (tag, marks, its own text is data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.page.lang = values.get("lang")
        for name in ("placeholder", "title", "aria-label", "alt"):
            if values.get(name):
                self.page.attributes.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.page.attributes.append(values["value"])
        if tag in VOID:
            return
        classes = values.get("class", "").split()
        marks = set(self.stack[-1][1]) if self.stack else set()
        if "who" in classes:
            marks.add("who")
        if tag == "a" and values.get("href", "").startswith("?lang="):
            marks.add("switch")
        if tag in DATA_TAGS:
            marks.add("data")
        self.stack.append((tag, frozenset(marks), DATA_CLASS in classes))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if text:
            tags = tuple(t for t, _, _ in self.stack)
            marks = self.stack[-1][1] if self.stack else frozenset()
            if self.stack and self.stack[-1][2]:  # a message's own text (not its sender label)
                marks = marks | {"data"}
            self.page.texts.append(Text(text, tags, marks))


def parse(path: str, locale: str, html: str) -> Page:
    page = Page(path, locale, html)
    reader = _Reader(page)
    reader.feed(html)
    reader.close()
    return page


def _norm(text: str) -> str:
    return text.strip(" *:：()（）·")


class Catalog:
    """The keys and texts the pages are checked against."""

    def __init__(self) -> None:
        self.keys = set(i18n.keys())
        self.namespaces = {key.split(".")[0] for key in self.keys if "." in key}
        texts = {locale: {key: i18n.t(key, locale) for key in self.keys} for locale in LOCALES}
        self.texts = {locale: {_norm(text) for text in texts[locale].values()} for locale in LOCALES}
        # a text of one language that is not also the text of the other (e.g. "ID", "Telegram")
        self.only = {
            locale: {_norm(texts[locale][k]) for k in self.keys if _norm(texts[locale][k]) != _norm(texts[other][k])}
            - {_norm(t) for t in texts[other].values()}
            for locale, other in (("zh-CN", "en"), ("en", "zh-CN"))
        }


DOTTED = re.compile(r"(?<![\w@/.\-])([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?![\w/\-])")
WORD = re.compile(r"[A-Za-z0-9_\-.]+")


def problems_of(page: Page, catalog: Catalog) -> list[str]:
    """Everything wrong with one page (empty: fine)."""
    found: list[str] = []
    where = f"{page.path} [{page.locale}]"
    if page.lang != page.locale:
        found.append(f"{where}: <html lang={page.lang!r}>")
    for text in page.visible() + page.attributes + [page.title]:
        for token in DOTTED.findall(text):
            if token in catalog.keys or token.split(".")[0] in catalog.namespaces:
                found.append(f"{where}: raw key {token!r} in {text[:80]!r}")
        if text in catalog.keys:
            found.append(f"{where}: raw key {text!r}")
    other = "en" if page.locale == "zh-CN" else "zh-CN"
    for text in page.visible() + page.attributes:
        if _norm(text) in catalog.only[other]:
            found.append(f"{where}: {other} text {text!r}")
    titles = [_norm(part) for part in page.title.split(" · ")]  # a label and data (an article's question ...)
    if not set(titles) & catalog.texts[page.locale] - catalog.texts[other]:
        found.append(f"{where}: no {page.locale} label in the title {page.title!r}")
    nav = [t.text for t in page.texts if "nav" in t.tags and not t.marks & {"who", "switch"}]
    if page.locale == "zh-CN":
        for text in page.visible() + page.attributes:
            raw = sorted(set(WORD.findall(text)) & RAW_CODES)
            if raw:
                found.append(f"{where}: raw codes {raw} in {text[:80]!r}")
        for text in nav:
            if not CJK.search(text):
                found.append(f"{where}: no Chinese in the label {text!r}")
        visible = "".join(page.visible())
        cjk, latin = len(CJK.findall(visible)), len(re.findall(r"[A-Za-z]", visible))
        if cjk <= latin:
            found.append(f"{where}: mostly not Chinese ({cjk} Chinese characters, {latin} Latin letters)")
    else:
        for text in page.ui_texts():
            if CJK.search(text):
                found.append(f"{where}: Chinese in the label {text!r}")
    return found


# --- the hub -------------------------------------------------------------------------------------------------------


@dataclass
class Site:
    running: RunningHub
    admin: aiohttp.ClientSession
    department: aiohttp.ClientSession
    pages: list[str]  # GET pages without path parameters
    samples: list[str]  # pages of records from the demo data
    department_samples: list[str]

    @property
    def url(self) -> str:
        return self.running.url


async def sign_in(running: RunningHub, username: str, password: str) -> tuple[aiohttp.ClientSession, str]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    form = {"username": username, "password": password}
    async with session.post(f"{running.url}/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
    async with session.get(f"{running.url}/staff") as resp:
        match = re.search(r'name="csrf-token" content="([^"]+)"', await resp.text())
    assert match, "csrf meta tag missing"
    return session, match.group(1)


async def _say(running: RunningHub, text: str) -> str:
    body = {"sender": "i18n-pages", "message": text}
    async with running.session.post(f"{running.url}/webhooks/rest/webhook", json=body) as resp:
        assert resp.status == 200
        return "\n".join(m["text"] for m in await resp.json())


def _pages(running: RunningHub) -> list[str]:
    found = set()
    for route in running.hub.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "GET" or "{" in path or path.startswith(SKIPPED_PREFIXES) or path.endswith("/ws"):
            continue
        found.add(path)
    return sorted(found)


@pytest_asyncio.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory, smsc_process: Smsc) -> AsyncIterator[Site]:
    await smsc_process.call("POST", "/reset")
    await smsc_process.call("POST", "/up")
    data = tmp_path_factory.mktemp("pages-i18n") / "data"
    async with running_hub(data, nlu=ScriptedNlu(list(DEFAULT_RULES)), **sms_settings(smsc_process)) as running:
        # a work order (filed through the bot, signed for by the department) and a bulk-SMS job
        await _say(running, "路灯坏了，晚上一片漆黑")
        await _say(running, "城东区幸福路12号")
        await _say(running, CITIZEN_PHONE)  # the bot reads the order back
        reply = await _say(running, "确认")
        number = re.search(r"\d{12}", reply)
        assert number, reply
        admin, admin_csrf = await sign_in(running, *ADMIN)
        department, department_csrf = await sign_in(running, *DEPARTMENT)
        try:
            form = {"action": "sign", "note": "收到，马上安排人员", "csrf": department_csrf}
            async with department.post(f"{running.url}/orders/{number.group(0)}/act", data=form) as resp:
                assert resp.status == 200
            body = {"numbers": "13900000071", "text": "停水通知：明日9时至17时停水"}
            headers = {"X-CSRF-Token": admin_csrf}
            async with admin.post(f"{running.url}/api/sms/bulk", json=body, headers=headers) as resp:
                assert resp.status == 201, await resp.text()
                job = (await resp.json())["id"]
            async with admin.get(f"{running.url}/kb") as resp:
                article = re.search(r'href="(/kb/a/[^"/?]+)"', await resp.text())
            assert article
            order = f"/orders/{number.group(0)}"
            samples = [order, "/orders?tab=all", article.group(1), f"{article.group(1)}/history"]
            samples += [f"{article.group(1)}/edit", f"/sms/bulk/{job}"]
            yield Site(running, admin, department, _pages(running), samples, [order, "/dept?tab=closed"])
        finally:
            await admin.close()
            await department.close()


@pytest.fixture
def ui_warnings(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The "no UI string" warnings of hub.web.i18n_web.ui (each key is reported once per process: reset)."""
    monkeypatch.setattr(i18n_web, "_reported", set())
    caplog.set_level(logging.WARNING, logger=i18n_web.log.name)
    return caplog


async def fetch(session: aiohttp.ClientSession, site: Site, path: str, locale: str) -> tuple[int, str, str]:
    async with session.get(f"{site.url}{path}", cookies={LANG_COOKIE: locale}) as resp:
        return resp.status, resp.content_type, await resp.text()


# --- the pages -----------------------------------------------------------------------------------------------------


def test_the_router_lists_the_staff_pages(site: Site) -> None:
    assert set(site.pages) >= EXPECTED_PAGES, sorted(EXPECTED_PAGES - set(site.pages))


@pytest.mark.parametrize("locale", LOCALES)
async def test_every_page_is_localised(site: Site, locale: str, ui_warnings: pytest.LogCaptureFixture) -> None:
    catalog = Catalog()
    found: list[str] = []
    visits = [(site.admin, p) for p in site.pages + site.samples]
    visits += [(site.department, p) for p in site.department_samples]
    for session, path in visits:
        status, content_type, html = await fetch(session, site, path, locale)
        if status == 403 and session is site.admin:  # a page for another role (the department portal)
            status, content_type, html = await fetch(site.department, site, path, locale)
        if status != 200 or content_type != "text/html":
            found.append(f"{path} [{locale}]: {status} {content_type}")
            continue
        found += problems_of(parse(path, locale, html), catalog)
    missing = [r.getMessage() for r in ui_warnings.records if r.name == i18n_web.log.name]
    assert not found + missing, "\n".join(found + missing)


def test_the_checks_catch_what_they_look_for() -> None:
    """The checker itself: raw keys and states, English on a zh-CN page, Chinese labels on an en page."""
    catalog = Catalog()
    base = '<html lang="{lang}"><head><title>{title}</title></head><body><nav><a href="/x">{nav}</a></nav>{body}'
    zh_title, en_title = (i18n.t("orders.title", locale) for locale in LOCALES)
    fine = base.format(lang="zh-CN", title=zh_title, nav=i18n.t("nav.calls"), body="<p>路灯坏了</p>")
    assert problems_of(parse("/x", "zh-CN", fine), catalog) == []
    body = f"<p>状态：dispatched</p><p>kb.articles</p><th>{i18n.t('kb.field.industry', 'en')}</th>"
    zh = base.format(lang="zh-CN", title="Rexian", nav="Calls", body=body)
    problems = "\n".join(problems_of(parse("/x", "zh-CN", zh), catalog))
    for expected in ("raw codes ['dispatched']", "raw key 'kb.articles'", "en text 'Industry'", "in the title"):
        assert expected in problems
    assert "no Chinese in the label 'Calls'" in problems and "mostly not Chinese" in problems
    body = '<table><th>行业</th></table><div class="bubble"><small>Bot</small> 请留下您的联系电话。</div>'
    en = base.format(lang="en", title=en_title, nav="Calls", body=body)
    problems = "\n".join(problems_of(parse("/x", "en", en), catalog))
    assert "Chinese in the label '行业'" in problems and "请留下" not in problems  # a message is data
    assert problems_of(parse("/x", "en", en.replace("行业", "Industry")), catalog) == []


def test_a_missing_ui_string_is_reported(site: Site, ui_warnings: pytest.LogCaptureFixture) -> None:
    """What test_every_page_is_localised relies on: ui() logs an unknown key, and the log reaches the test."""
    assert i18n_web.ui("i18ntest.no_such_key", "en") == "i18ntest.no_such_key"
    assert [r.getMessage() for r in ui_warnings.records] == ["no UI string for 'i18ntest.no_such_key'"]


# --- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
async def test_an_unknown_page_is_a_styled_localised_404(site: Site, locale: str) -> None:
    title = i18n.t("error.not_found", locale)
    anonymous = aiohttp.ClientSession()
    async with anonymous:
        for session in (anonymous, site.admin):
            status, content_type, html = await fetch(session, site, "/nope<script>alert(1)</script>", locale)
            assert (status, content_type) == (404, "text/html")
            page = parse("/nope", locale, html)
            assert page.lang == locale and page.title.startswith(title)
            assert 'id="error-page"' in html and f"<h1>{title}</h1>" in html
            assert re.search(r'<link rel="stylesheet" href="/static/style\.css', html)
            assert "<script>alert(1)" not in html
            assert problems_of(page, Catalog()) == []


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_sign_in_link_of_a_401_page_escapes_the_address(site: Site, locale: str) -> None:
    async with aiohttp.ClientSession() as anonymous:
        path = '/voice/audio/1/0?x="><script>alert(1)</script>'
        status, _type, html = await fetch(anonymous, site, path, locale)
    assert status == 401
    assert f"<h1>{i18n.t('error.login_required', locale)}</h1>" in html and 'id="error-login"' in html
    assert "<script>alert(1)" not in html and '"><script' not in html


@pytest.mark.parametrize("locale", LOCALES)
async def test_an_unknown_api_path_answers_localised_json(site: Site, locale: str) -> None:
    for session in (site.running.session, site.admin):
        async with session.get(f"{site.url}/api/nope", headers={"Accept-Language": locale}) as resp:
            assert resp.status == 404 and resp.content_type == "application/json"
            body = json.loads(await resp.text())
        assert body == {"error": "not_found", "message": i18n.t("error.not_found", locale)}


@pytest.mark.parametrize("locale", LOCALES)
async def test_a_department_user_is_refused_admin_pages_in_their_language(site: Site, locale: str) -> None:
    title = i18n.t("error.forbidden", locale)
    for path in ("/orders", "/admin/nlu", "/admin/ivr", "/admin/calendar", "/kb", "/sms/bulk"):
        status, content_type, html = await fetch(site.department, site, path, locale)
        assert (status, content_type) == (403, "text/html"), path
        page = parse(path, locale, html)
        assert page.title.startswith(title) and f"<h1>{title}</h1>" in html, path
        assert problems_of(page, Catalog()) == [], path
    headers = {"Accept-Language": locale}
    async with site.department.get(f"{site.url}/api/admin/nlu", headers=headers) as resp:
        assert resp.status == 403
        assert await resp.json() == {"error": "forbidden", "message": title}
