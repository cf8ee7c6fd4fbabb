"""Locale selection for pages (``?lang=`` → cookie → Accept-Language → zh-CN) and UI strings.

The strings live in the gettext catalogs of their packages (see :mod:`hub.i18n`); these helpers look them up
across every registered domain.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.i18n import lookup, normalise_locale, texts

log = logging.getLogger(__name__)

LANG_COOKIE = "lang"
LABEL_PREFIXES = ("channel.", "handoff.", "status.", "state.")
_reported: set[str] = set()


def labels(locale: str, *prefixes: str) -> dict[str, str]:
    """Labels a page script needs: channels, statuses, hand-off reasons, work-order states (and ``prefixes``)."""
    return texts(locale, *LABEL_PREFIXES, *prefixes)


def locale_of(request: web.Request) -> str:
    """The page locale of this request."""
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if not chosen:
        accept = request.headers.get("Accept-Language", "")
        chosen = accept.split(",")[0].split(";")[0] or None
    return normalise_locale(chosen)


def ui(key: str, locale: str, **params: Any) -> str:
    """A UI string from any registered catalog, formatted with ``params``.

    An unknown key is returned as it is and logged once (a page test fails on raw keys).
    """
    text = lookup(key, locale)
    if text is None:
        if key not in _reported:
            _reported.add(key)
            log.warning("no UI string for %r", key)
        return key
    return text.format(**params) if params else text
