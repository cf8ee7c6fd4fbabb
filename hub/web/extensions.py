"""Scripts that other packages add to a page of another package (e.g. the voice channel's call-back buttons in the
inbox and on an order), without the page's package importing them.

A page's template renders ``{% for src in extension_scripts('agent') %}<script src="{{ src }}"></script>{% endfor %}``
after its own script; a package adds its script with :func:`add_page_script` while the app is being wired.
"""

from __future__ import annotations

from aiohttp import web

PAGE_SCRIPTS: web.AppKey[dict[str, list[str]]] = web.AppKey("page_scripts", dict)

# Pages that take extension scripts
INBOX_PAGE = "agent"
ORDER_PAGE = "order_detail"


def add_page_script(app: web.Application, page: str, url: str) -> None:
    """Load the script at ``url`` on ``page`` (after the page's own scripts)."""
    scripts = app.setdefault(PAGE_SCRIPTS, {})
    if url not in scripts.setdefault(page, []):
        scripts[page].append(url)


def page_scripts(app: web.Application, page: str) -> list[str]:
    """The extension scripts of ``page``."""
    return list(app.get(PAGE_SCRIPTS, {}).get(page, []))
