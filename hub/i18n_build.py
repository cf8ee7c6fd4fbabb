"""Build tooling for the gettext catalogs: compile ``.po`` to ``.mo``, start a new language.

Every package keeps its strings in ``<package>/locale/<ll_CC>/LC_MESSAGES/<domain>.po`` (key-based: the msgid
is the key the code uses, e.g. ``kb.articles``). The ``.mo`` files are build artefacts (git-ignored):
``scripts/setup.sh`` and the Dockerfile run ``python -m hub.i18n_build``, which compiles every catalog whose
``.mo`` is missing or older than its ``.po``.

Usage::

    python -m hub.i18n_build [compile] [--force] [ROOT]   # ROOT: the project folder (default: this checkout)
    python -m hub.i18n_build init LOCALE [ROOT]           # e.g. init zh_TW: a .po per domain to translate

This module only reads files: it imports no other package of the project.
"""

from __future__ import annotations

import argparse
import os
import re
import string
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE_DIRS = ("hub", "channels", "nlu", "routing", "knowledge_base")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_LOCALE = "en"  # what ``init`` copies as the reference text of a new language
GLOB = "locale/*/LC_MESSAGES/*.po"


class CatalogBuildError(ValueError):
    """A catalog that cannot be compiled (syntax error, fuzzy or mismatched placeholders)."""


def find_catalogs(root: Path = PROJECT_ROOT) -> list[Path]:
    """Every ``.po`` file of the project's packages under ``root``, sorted."""
    found: set[Path] = set()
    for name in PACKAGE_DIRS:
        base = root / name
        if base.is_dir():
            found.update(p for p in base.rglob(GLOB) if "node_modules" not in p.parts)
    return sorted(found)


def mo_path(po: Path) -> Path:
    """The compiled file next to ``po``."""
    return po.with_suffix(".mo")


def is_stale(po: Path) -> bool:
    """True when ``po`` has no ``.mo`` or the ``.mo`` is older than it."""
    mo = mo_path(po)
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def _lint(po: Path) -> list[str]:
    """What Babel's reader lets through: an unterminated string, a key twice in one file."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(po.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        quoted = line.partition(" ")[2].strip() if line.startswith("msg") else line
        body = quoted[1:-1] if len(quoted) >= 2 and quoted[0] == quoted[-1] == '"' else None
        if body is None or (len(body) - len(body.rstrip("\\"))) % 2:  # no closing quote, or it is escaped
            problems.append(f"{po}:{number}: unterminated string")
        elif line.startswith("msgid ") and body:
            if body in seen:
                problems.append(f"{po}:{number}: key {body!r} again (first at line {seen[body]})")
            seen.setdefault(body, number)
    return problems


def read_catalog(po: Path) -> Catalog:
    """Parse ``po`` strictly (a syntax error raises :class:`CatalogBuildError`)."""
    problems = _lint(po)
    if problems:
        raise CatalogBuildError("\n".join(problems))
    with po.open("rb") as fh:
        try:
            return read_po(fh, abort_invalid=True)
        except Exception as exc:  # babel raises PoFileError (and ValueError for bad headers)
            raise CatalogBuildError(f"{po}: {exc}") from exc


def placeholders(text: str) -> set[str]:
    """The names a text is formatted with (``{number}``, ``{order.number}`` → ``order``; ``{}`` → ``""``).

    Raises:
        ValueError: A malformed brace.
    """
    return {
        re.split(r"[.\[]", name, maxsplit=1)[0] for _, name, _, _ in string.Formatter().parse(text) if name is not None
    }


def _reference(po: Path) -> Path | None:
    """The same domain's catalog in the source language (None for that catalog itself)."""
    if po.parent.parent.name == SOURCE_LOCALE:
        return None
    return po.parent.parent.parent / SOURCE_LOCALE / "LC_MESSAGES" / po.name


def _check(po: Path, catalog: Catalog) -> list[str]:
    problems = [f"{po}: {message.id}: {error}" for message, errors in catalog.check() for error in errors if message.id]
    problems += [f"{po}: {m.id}: fuzzy (review it, then remove the flag)" for m in catalog if m.id and m.fuzzy]
    reference = _reference(po)
    if reference is not None and reference.exists():
        source = read_catalog(reference)
        for message in catalog:
            theirs = source.get(message.id) if message.id else None
            if theirs is None or not message.string or not theirs.string:
                continue
            mine, expected = placeholders(str(message.string)), placeholders(str(theirs.string))
            if mine != expected:
                problems.append(
                    f"{po}: {message.id}: placeholders {sorted(mine)} differ from {reference.name} "
                    f"({SOURCE_LOCALE}): {sorted(expected)}"
                )
    return problems


def compile_catalog(po: Path) -> Path:
    """Compile ``po`` into its ``.mo`` (written atomically, so readers never see half a file)."""
    catalog = read_catalog(po)
    problems = _check(po, catalog)
    if problems:
        raise CatalogBuildError("\n".join(problems))
    mo = mo_path(po)
    fd, tmp = tempfile.mkstemp(prefix=mo.name, suffix=".tmp", dir=mo.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog)
        os.replace(tmp, mo)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mo


def compile_all(catalogs: Iterable[Path], *, force: bool = False) -> Iterator[Path]:
    """Compile the stale catalogs (every one with ``force``); yield each ``.mo`` written."""
    for po in catalogs:
        if force or is_stale(po):
            yield compile_catalog(po)


def init_locale(locale: str, root: Path = PROJECT_ROOT) -> list[Path]:
    """Create ``<locale>`` catalogs for every domain: empty translations, the English and Chinese as comments.

    Existing files are left alone. Returns the files created.
    """
    created: list[Path] = []
    for po in find_catalogs(root):
        if po.parent.parent.name != SOURCE_LOCALE:
            continue
        target = po.parent.parent.parent / locale / "LC_MESSAGES" / po.name
        if target.exists():
            continue
        english = read_catalog(po)
        chinese_po = po.parent.parent.parent / "zh_CN" / "LC_MESSAGES" / po.name
        chinese = read_catalog(chinese_po) if chinese_po.exists() else Catalog()
        fresh = Catalog(locale=locale, domain=english.domain, project=english.project, fuzzy=False)
        for message in english:
            if not message.id:
                continue
            zh = chinese.get(message.id)
            comments = [f"en: {message.string}"] + ([f"zh-CN: {zh.string}"] if zh is not None else [])
            fresh.add(message.id, "", auto_comments=comments).flags.update(message.flags)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            write_po(fh, fresh, width=0, include_lineno=False)
        created.append(target)
    return created


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m hub.i18n_build", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    comp = sub.add_parser("compile", help="compile stale catalogs (the default)")
    comp.add_argument("--force", action="store_true", help="compile every catalog")
    comp.add_argument("root", nargs="?", type=Path, default=PROJECT_ROOT)
    init = sub.add_parser("init", help="start a new language")
    init.add_argument("locale", help="gettext name, e.g. zh_TW")
    init.add_argument("root", nargs="?", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] or ["compile"])
    try:
        if args.command == "init":
            for path in init_locale(args.locale, args.root):
                print(f"created {path}")
            return 0
        catalogs = find_catalogs(args.root)
        written = list(compile_all(catalogs, force=args.force))
    except CatalogBuildError as exc:
        print(f"i18n: {exc}", file=sys.stderr)
        return 1
    print(f"i18n: {len(written)} of {len(catalogs)} catalogs compiled", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
