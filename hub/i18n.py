"""zh-CN first, English available: every user-facing string by key, from gettext catalogs.

Each package keeps its strings in its own catalog domain, ``<package>/locale/<ll_CC>/LC_MESSAGES/<domain>.po``
(key-based: the msgid is the key the code uses, e.g. ``bot.welcome``), and registers the folder here when it
is imported: ``register_domain("knowledge_base", Path(__file__).parent / "locale")``. The hub registers its own
domains (``hub``, ``work_orders``) below; it never imports the other packages. Lookups search every registered
domain; a key may live in one domain only.

The compiled ``.mo`` files are read at the first lookup (or :func:`load_catalogs`, which the web app calls when
it is built). A missing ``.mo``, or one older than its ``.po``, raises :class:`CatalogError` naming the command
that compiles them: the hub fails fast instead of showing raw keys.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
COMPILE_HINT = "run scripts/setup.sh, or: .venv/bin/python -m hub.i18n_build"

_domains: dict[str, Path] = {}
_texts: dict[str, dict[str, str]] | None = None  # locale -> key -> text, merged over the domains
_lock = threading.Lock()


class CatalogError(RuntimeError):
    """A catalog is missing, stale or conflicts with another domain."""


def gettext_locale(locale: str) -> str:
    """The folder name gettext uses for a locale tag (``zh-CN`` → ``zh_CN``)."""
    return locale.replace("-", "_")


def register_domain(domain: str, locale_dir: Path) -> None:
    """Make ``domain``'s catalogs (under ``locale_dir``) part of every lookup; registering twice is a no-op."""
    global _texts
    locale_dir = Path(locale_dir).resolve()
    with _lock:
        known = _domains.get(domain)
        if known == locale_dir:
            return
        if known is not None:
            raise CatalogError(f"i18n domain {domain!r} is already registered from {known}")
        _domains[domain] = locale_dir
        _texts = None  # merged again at the next lookup


def domains() -> dict[str, Path]:
    """The registered domains and their locale folders."""
    return dict(_domains)


def _read(domain: str, locale_dir: Path, locale: str) -> dict[str, str]:
    mo = locale_dir / gettext_locale(locale) / "LC_MESSAGES" / f"{domain}.mo"
    po = mo.with_suffix(".po")
    if not mo.exists():
        raise CatalogError(f"i18n catalog {mo} is missing: {COMPILE_HINT}")
    if po.exists() and po.stat().st_mtime > mo.stat().st_mtime:
        raise CatalogError(f"i18n catalog {mo} is older than {po.name}: {COMPILE_HINT}")
    with mo.open("rb") as fh:
        catalog = read_mo(fh)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def _merged() -> dict[str, dict[str, str]]:
    global _texts
    texts = _texts
    if texts is not None:
        return texts
    with _lock:
        if _texts is None:
            merged: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}
            owner: dict[str, str] = {}
            for domain, locale_dir in _domains.items():
                for locale in LOCALES:
                    for key, text in _read(domain, locale_dir, locale).items():
                        first = owner.setdefault(key, domain)
                        if first != domain:
                            raise CatalogError(f"i18n key {key!r} is defined in the domains {first!r} and {domain!r}")
                        merged[locale][key] = text
            _texts = merged
        return _texts


def load_catalogs() -> None:
    """Read every registered catalog now (raises :class:`CatalogError` if one is missing or stale)."""
    _merged()


def normalise_locale(value: str | None) -> str:
    """Map a requested locale (``en``, ``en-US``, ``zh``, ``zh_CN`` ...) to a supported one (zh-CN otherwise)."""
    if value:
        tag = value.strip().replace("_", "-").lower()
        for locale in LOCALES:
            if tag == locale.lower():
                return locale
        language = tag.split("-")[0]
        for locale in LOCALES:
            if locale.lower().split("-")[0] == language:
                return locale
    return DEFAULT_LOCALE


def lookup(key: str, locale: str = DEFAULT_LOCALE) -> str | None:
    """The text for ``key`` in ``locale`` (zh-CN when that locale lacks it), or None for an unknown key."""
    texts = _merged()
    found = texts[normalise_locale(locale)].get(key)
    return found if found is not None else texts[DEFAULT_LOCALE].get(key)


def t(key: str, locale: str = DEFAULT_LOCALE, **params: Any) -> str:
    """The text for ``key`` in ``locale`` (zh-CN fallback), formatted with ``params``; KeyError if unknown."""
    text = lookup(key, locale)
    if text is None:
        raise KeyError(key)
    return text.format(**params) if params else text


def keys(*prefixes: str) -> list[str]:
    """Every known key (starting with one of ``prefixes`` when given), sorted."""
    known = set().union(*(set(texts) for texts in _merged().values()))
    return sorted(k for k in known if not prefixes or k.startswith(prefixes))


def texts(locale: str, *prefixes: str) -> dict[str, str]:
    """``{key: text}`` in ``locale`` for the keys starting with one of ``prefixes``."""
    return {key: t(key, locale) for key in keys(*prefixes)} if prefixes else {}


register_domain("hub", Path(__file__).parent / "locale")
register_domain("work_orders", Path(__file__).parent / "work_orders" / "locale")
