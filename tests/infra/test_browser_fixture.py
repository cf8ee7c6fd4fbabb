"""Headless Chromium loads a local page with Chinese text and renders it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page

from tests.fixtures.browser import new_context

pytestmark = pytest.mark.browser

HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>热线 12319</title></head>
<body><h1 id="greeting">您好，这里是城建服务热线</h1><p id="lang"></p>
<script>document.getElementById("lang").textContent = navigator.language;</script></body></html>"""


@pytest.fixture
async def local_site() -> AsyncIterator[str]:
    async def index(request: web.Request) -> web.Response:
        return web.Response(text=HTML, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_page_reads_chinese_and_screenshots(page: Page, local_site: str, tmp_path: Path) -> None:
    await page.goto(local_site)
    assert await page.title() == "热线 12319"
    assert await page.inner_text("#greeting") == "您好，这里是城建服务热线"
    assert await page.inner_text("#lang") == "zh-CN"
    shot = tmp_path / "page.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 1000


async def test_new_context_isolates_users(browser: Browser) -> None:
    async with new_context(browser) as citizen, new_context(browser, locale="en-US") as agent:
        a = await citizen.new_page()
        b = await agent.new_page()
        await a.goto("data:text/html;charset=utf-8,<p>市民</p>")
        await b.goto("data:text/html;charset=utf-8,<p>agent</p>")
        assert await a.inner_text("p") == "市民"
        assert await a.evaluate("navigator.language") == "zh-CN"
        assert await b.evaluate("navigator.language") == "en-US"
