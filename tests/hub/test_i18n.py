"""The gettext catalogs: complete in both languages, used keys defined, and the build tooling's failure modes.

Every package that has user-facing strings registers one catalog domain when it is imported (ADR 0023). These
tests read the ``.po`` sources with Babel (what translators edit) and the compiled catalogs through
:mod:`hub.i18n` (what the hub shows), and scan the code, the page templates and the page scripts for the keys they
use.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from hub import i18n
from hub.i18n import CatalogError, gettext_locale
from hub.i18n_build import (
    PACKAGE_DIRS,
    PROJECT_ROOT,
    CatalogBuildError,
    compile_all,
    compile_catalog,
    find_catalogs,
    placeholders,
)

# Every package that registers a catalog domain when imported (hub registers ``hub`` and ``work_orders``).
PACKAGES = (
    "hub",
    "knowledge_base",
    "nlu",
    "routing",
    "channels.sms",
    "channels.email",
    "channels.telegram",
    "channels.voice",
    "channels.web_chat",
)
DOMAINS = {"hub", "work_orders", "knowledge_base", "nlu", "routing", "sms", "email", "telegram", "voice", "web_chat"}
for _package in PACKAGES:
    importlib.import_module(_package)

from channels.email.ingest import CHANNEL_EMAIL  # noqa: E402  (after the domains are registered, on purpose)
from channels.rest.webhook import CHANNEL_REST  # noqa: E402
from channels.sms.inbound import CHANNEL_SMS  # noqa: E402
from channels.telegram.ingest import CHANNEL_TELEGRAM  # noqa: E402
from channels.voice import CHANNEL_VOICE  # noqa: E402
from channels.voice.call_store import HangupCause  # noqa: E402
from channels.voice.hub_port import _cause_key  # noqa: E402
from channels.voice.ivr.flow import Node  # noqa: E402
from channels.voice.web import OUTCOMES  # noqa: E402
from channels.web_chat.socket import CHANNEL_WEB  # noqa: E402
from hub.models import ConversationStatus, Role, SenderKind  # noqa: E402
from hub.web import errors  # noqa: E402
from hub.web.i18n_web import LABEL_PREFIXES  # noqa: E402
from hub.work_orders.actions import RETURN_REASONS, SATISFACTION  # noqa: E402
from hub.work_orders.portal import CENTRE_TABS, DEPT_TABS  # noqa: E402
from hub.work_orders.states import Action, Side, State  # noqa: E402
from knowledge_base.service import FIELD_LABELS as KB_FIELDS  # noqa: E402
from knowledge_base.service import STATUSES as KB_STATUSES  # noqa: E402
from nlu.feedback_store import FeedbackStatus  # noqa: E402

LANGS = ("zh_CN", "en")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
COMPILE_COMMAND = "python -m hub.i18n_build"

# zh-CN texts that rightly contain no Chinese character (names, codes, units), with the reason.
ZH_WITHOUT_CJK = {
    "channel.telegram": "a product name, written the same in Chinese",
    "colon": "the full-width colon after a label (：), punctuation only",
    "sms.choices_separator": "the full-width semicolon between numbered quick replies, punctuation only",
    "voice.choice_separator": "the full-width comma between spoken key choices, punctuation only",
    "email.choice": "a numbered quick reply: number and label placeholders only",
    "sms.choice": "a numbered quick reply: number and label placeholders only",
    "voice.choice_keys": "the spoken key choices placeholder and a full stop",
}
# English texts that rightly contain Chinese: what citizens must type or read as it is.
EN_WITH_CJK = {
    "sms.opted_out": "the keyword 订阅 a citizen texts to subscribe again",
    "sms.bulk.optout_hint": "the opt-out suffix 回复TD退订 that bulk SMS carry",
}

SKIPPED_PARTS = {"node_modules", "rasa_project", "__pycache__", "locale"}
# The lookup functions themselves take their key as a parameter.
IMPLEMENTATION = {Path("hub/i18n.py"), Path("hub/web/i18n_web.py")}
# Call sites whose key is computed by a helper: where its values are enumerated (tests below).
COMPUTED_KEYS = {
    ("hub/web/app.py", "key"): "the templates' ui(): test_templates_use_defined_keys_only",
    ("channels/voice/hub_port.py", "_cause_key(cause)"): "test_computed_keys_exist: voice.cause.*",
    ("channels/voice/ivr/flow.py", "key"): "test_ivr_issue_codes_have_messages: ivr.issue.*, ivr.kind.*, ivr.yaml.*",
    ("hub/work_orders/refusals.py", "f'{prefix}{item}'"): "refusals.LABELLED prefixes: ENUMERATED side. state. ...",
}
# Template variables holding a whole key, and the keys their handlers put there.
TEMPLATE_VARIABLE_KEYS: dict[str, tuple[str, ...]] = {
    "title_key": tuple(f"error.{code}" for code in sorted({*errors.KNOWN_CODES, "other"})),
    "hint_key": tuple(f"error.{code}.hint" for code in sorted({*errors.KNOWN_CODES, "other"})),
    "back_key": ("error.back_staff", "error.back_home"),
    "error": ("login.failed",),  # login.html
}


def _request_types() -> list[str]:
    data = yaml.safe_load((PROJECT_ROOT / "hub" / "demo_data" / "taxonomy.yaml").read_text(encoding="utf-8"))
    return [row["code"] for row in data["request_types"]]


# Prefixes of keys built from a code at run time, and every code the hub can show there.
ENUMERATED: dict[str, list[str]] = {
    "state.": [s.value for s in State],
    "action.": [a.value for a in Action],
    "status.": [s.value for s in ConversationStatus],
    "role.": [r.value for r in Role],
    "orders.sender.": [s.value for s in SenderKind],
    "orders.tab.": sorted({*CENTRE_TABS, *DEPT_TABS}),
    "type.": _request_types(),
    "bot.type.": _request_types(),
    "reason.": list(RETURN_REASONS),
    "satisfaction.": list(SATISFACTION),
    "channel.": [CHANNEL_WEB, CHANNEL_REST, CHANNEL_SMS, CHANNEL_EMAIL, CHANNEL_TELEGRAM, CHANNEL_VOICE],
    "kb.status.": list(KB_STATUSES),
    "kb.field.": list(KB_FIELDS),
    "voice.outcome.": list(OUTCOMES),
    "nlu.status.": [s.value for s in FeedbackStatus],
    "ivr.node.": sorted(cls.type for cls in Node.__subclasses__()),
    "error.": sorted({*errors.CODES.values(), *errors.KNOWN_CODES, "other"}),
    "bot.": ["greet", "thank", "goodbye"],
    "side.": [s.value for s in Side],  # DialogueEngine._route: t(f"bot.{intent}")
}


# --- the catalogs -----------------------------------------------------------------------------------------------


@cache
def _catalog(domain: str, lang: str) -> dict[str, Message]:
    po = i18n.domains()[domain] / lang / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as fh:
        return {str(m.id): m for m in read_po(fh, abort_invalid=True) if m.id}


def _all_texts(lang: str) -> Iterator[tuple[str, str, str]]:
    for domain in sorted(DOMAINS):
        for key, message in _catalog(domain, lang).items():
            yield domain, key, str(message.string)


@cache
def _known_keys() -> frozenset[str]:
    return frozenset(i18n.keys())


def test_every_package_registers_its_domain() -> None:
    registered = i18n.domains()
    assert set(registered) == DOMAINS
    folders = {path.resolve() for path in registered.values()}
    for po in find_catalogs():
        locale_dir = po.parent.parent.parent.resolve()
        assert locale_dir in folders, f"{po} belongs to no registered domain (register_domain in its package)"
        assert registered[po.stem].resolve() == locale_dir, f"{po}: its file name must be its domain's name"
    for domain, folder in registered.items():
        for lang in LANGS:
            assert (folder / lang / "LC_MESSAGES" / f"{domain}.po").is_file(), f"{domain} has no {lang} catalog"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_both_languages_translate_every_key(domain: str) -> None:
    zh, en = _catalog(domain, "zh_CN"), _catalog(domain, "en")
    assert sorted(set(zh) - set(en)) == [], f"{domain}: keys only in zh_CN"
    assert sorted(set(en) - set(zh)) == [], f"{domain}: keys only in en"
    for lang, catalog in (("zh_CN", zh), ("en", en)):
        empty = sorted(key for key, m in catalog.items() if not str(m.string).strip())
        fuzzy = sorted(key for key, m in catalog.items() if m.fuzzy)
        assert empty == [], f"{domain}/{lang}: untranslated keys"
        assert fuzzy == [], f"{domain}/{lang}: fuzzy translations (the compiled catalog would drop them)"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_placeholders_are_the_same_in_both_languages(domain: str) -> None:
    zh, en = _catalog(domain, "zh_CN"), _catalog(domain, "en")
    problems = []
    for key in sorted(set(zh) & set(en)):
        try:
            names = {lang: placeholders(str(c[key].string)) for lang, c in (("zh_CN", zh), ("en", en))}
        except ValueError as exc:
            problems.append(f"{key}: malformed braces ({exc})")
            continue
        if names["zh_CN"] != names["en"]:
            problems.append(f"{key}: zh_CN {sorted(names['zh_CN'])} != en {sorted(names['en'])}")
        positional = sorted(n for n in names["zh_CN"] | names["en"] if not n.isidentifier())
        if positional:
            problems.append(f"{key}: positional placeholders {positional} (t() and ui() pass names)")
    assert problems == []


def test_no_key_twice_in_a_catalog() -> None:
    """Babel keeps the first of two entries with one msgid and drops the other without a word."""
    twice = {}
    for po in find_catalogs():
        ids = re.findall(r'^msgid "(.+)"$', po.read_text(encoding="utf-8"), flags=re.MULTILINE)
        if repeated := sorted({key for key in ids if ids.count(key) > 1}):
            twice[str(po.relative_to(PROJECT_ROOT))] = repeated
    assert twice == {}


def test_a_key_lives_in_one_domain() -> None:
    owners: dict[str, list[str]] = {}
    for domain, key, _text in _all_texts("en"):
        owners.setdefault(key, []).append(domain)
    assert {key: found for key, found in owners.items() if len(found) > 1} == {}


def test_compiled_catalogs_match_their_sources() -> None:
    """What the hub shows is what the .po says (a stale .mo would raise CatalogError first)."""
    i18n.load_catalogs()
    for lang, locale in (("zh_CN", "zh-CN"), ("en", "en")):
        shown = {key: text for _domain, key, text in _all_texts(lang) if i18n.lookup(key, locale) != text}
        assert shown == {}, f"{lang}: compiled text differs, run {COMPILE_COMMAND}"
    assert _known_keys() == {key for _domain, key, _text in _all_texts("en")}


def test_chinese_texts_are_chinese() -> None:
    untranslated = {key: text for _d, key, text in _all_texts("zh_CN") if not CJK.search(text)}
    assert {k: v for k, v in untranslated.items() if k not in ZH_WITHOUT_CJK} == {}, "copied from English?"
    assert sorted(set(ZH_WITHOUT_CJK) - set(untranslated)) == [], "stale entries in ZH_WITHOUT_CJK"


def test_english_texts_are_english() -> None:
    chinese = {key: text for _d, key, text in _all_texts("en") if CJK.search(text)}
    assert {k: v for k, v in chinese.items() if k not in EN_WITH_CJK} == {}, "copied from Chinese?"
    assert sorted(set(EN_WITH_CJK) - set(chinese)) == [], "stale entries in EN_WITH_CJK"


# --- keys used by the code, the templates and the page scripts ----------------------------------------------------


def _sources(pattern: str) -> list[Path]:
    found: list[Path] = []
    for name in PACKAGE_DIRS:
        found.extend(
            p
            for p in (PROJECT_ROOT / name).rglob(pattern)
            if not SKIPPED_PARTS & set(p.relative_to(PROJECT_ROOT).parts)
        )
    return sorted(found)


def _literal_strings(node: ast.expr) -> list[str] | None:
    """The string values an expression can have when it is made of literals only (else None)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_strings(node.body), _literal_strings(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def _local_values(scope: ast.AST, name: str) -> list[str] | None:
    """The literal values assigned to ``name`` in a function (None when one of them is not a literal)."""
    values: list[str] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            literal = _literal_strings(node.value)
            if literal is None:
                return None
            values.extend(literal)
    return values or None


def _argument_values(module: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> list[str] | None:
    """The literal values the module's calls of ``function`` pass as its parameter ``name`` (None if not all)."""
    params = [a.arg for a in function.args.posonlyargs + function.args.args]
    if name not in params:
        return None
    index = params.index(name) - (1 if params and params[0] in ("self", "cls") else 0)
    values: list[str] = []
    for node in ast.walk(module):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if called != function.name:
            continue
        passed = [k.value for k in node.keywords if k.arg == name] or node.args[index : index + 1]
        literal = _literal_strings(passed[0]) if passed else None
        if literal is None:
            return None
        values.extend(literal)
    return values or None


class _KeyUses(ast.NodeVisitor):
    """``t(...)`` and ``ui(...)`` calls: literal keys, f-string prefixes, and whatever could not be resolved.

    A key held in a variable is resolved when the function assigns it literals only, or when it is a parameter
    every call in the module passes a literal for.
    """

    def __init__(self, path: str, module: ast.AST | None = None) -> None:
        self.path = path
        self.module = module
        self.literal: list[tuple[str, str]] = []  # (where, key)
        self.prefixes: list[tuple[str, str]] = []  # (where, prefix)
        self.unresolved: list[tuple[str, str]] = []  # (path, source of the argument)
        self.scopes: list[ast.AST] = []

    def _visit_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_scope

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in ("t", "ui") and node.args:
            arg, where = node.args[0], f"{self.path}:{node.lineno}"
            values = _literal_strings(arg)
            if values is None and isinstance(arg, ast.Name):
                values = next((v for s in reversed(self.scopes) if (v := _local_values(s, arg.id))), None)
                function = self.scopes[-1] if self.scopes else None
                if values is None and self.module and isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    values = _argument_values(self.module, function, arg.id)
            if values is not None:
                self.literal.extend((where, v) for v in values)
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                self.prefixes.append((where, str(arg.values[0].value)))
            else:
                self.unresolved.append((self.path, ast.unparse(arg)))
        self.generic_visit(node)


@cache
def _python_uses() -> _KeyUses:
    uses = _KeyUses("")
    for path in _sources("*.py"):
        relative = path.relative_to(PROJECT_ROOT)
        if relative in IMPLEMENTATION:
            continue
        module = ast.parse(path.read_text(encoding="utf-8"), str(path))
        visitor = _KeyUses(relative.as_posix(), module)
        visitor.visit(module)
        uses.literal += visitor.literal
        uses.prefixes += visitor.prefixes
        uses.unresolved += visitor.unresolved
    return uses


def test_the_code_uses_defined_keys_only() -> None:
    uses = _python_uses()
    assert len(uses.literal) > 40, "the scan found too few t()/ui() calls"
    assert [(where, key) for where, key in uses.literal if key not in _known_keys()] == []


def test_keys_built_in_code_have_their_prefix_defined() -> None:
    uses = _python_uses()
    assert [(where, p) for where, p in uses.prefixes if not i18n.keys(p)] == []
    assert {(p, src) for p, src in uses.unresolved} <= set(COMPUTED_KEYS), "a computed key: enumerate its values"


UI_CALL = re.compile(r"\bui\(\s*((?:[^()]|\([^()]*\))*?)\s*(?:,[^()]*)?\)")
QUOTED = r"""(['"])([^'"]*)\1"""


def _template_uses() -> Iterator[tuple[str, str, str]]:
    """(where, kind, value) for each ``ui(...)`` of every template; kind: key, prefix or variable."""
    for path in _sources("*.html"):
        if "templates" not in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in UI_CALL.finditer(text):
            where = f"{path.relative_to(PROJECT_ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
            arg = match.group(1).strip()
            if m := re.fullmatch(QUOTED, arg):
                yield where, "key", m.group(2)
            elif m := re.fullmatch(QUOTED + r"\s+if\s+.+\s+else\s+" + QUOTED.replace(r"\1", r"\3"), arg):
                yield where, "key", m.group(2)
                yield where, "key", m.group(4)
            elif m := re.match(QUOTED + r"\s*~", arg):
                yield where, "prefix", m.group(2)
            else:
                yield where, "variable", arg


def test_templates_use_defined_keys_only() -> None:
    uses = list(_template_uses())
    assert len([u for u in uses if u[1] == "key"]) > 200, "the scan found too few ui() calls"
    known = _known_keys()
    assert [(where, key) for where, kind, key in uses if kind == "key" and key not in known] == []
    assert [(where, prefix) for where, kind, prefix in uses if kind == "prefix" and not i18n.keys(prefix)] == []
    variables = [(where, name) for where, kind, name in uses if kind == "variable"]
    assert [(where, name) for where, name in variables if name not in TEMPLATE_VARIABLE_KEYS] == []
    for name, keys in TEMPLATE_VARIABLE_KEYS.items():
        assert [key for key in keys if key not in known] == [], name


def _label_prefixes() -> set[str]:
    """The key prefixes the pages hand to their scripts: LABEL_PREFIXES and the extra ones of ``labels(...)``."""
    prefixes = set(LABEL_PREFIXES)
    for path in _sources("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "labels":
                prefixes.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return prefixes


def test_page_scripts_use_keys_their_page_sends() -> None:
    sent = tuple(_label_prefixes())
    literal, built = [], []
    for path in _sources("*.js"):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(PROJECT_ROOT).as_posix()
        literal += [(where, k) for k in re.findall(r'labels\[\s*"([^"]+)"\s*\]', text)]
        built += [(where, p) for p in re.findall(r'labels\[\s*"([^"]+)"\s*\+', text)]
    assert literal, "no page script reads labels: update this test"
    assert [(w, k) for w, k in literal if k not in _known_keys() or not k.startswith(sent)] == []
    assert [(w, p) for w, p in built if not i18n.keys(p) or not p.startswith(sent)] == []


@pytest.mark.parametrize("prefix", sorted(ENUMERATED))
def test_every_code_shown_has_a_label(prefix: str) -> None:
    known = _known_keys()
    assert [code for code in ENUMERATED[prefix] if f"{prefix}{code}" not in known] == []


def test_computed_keys_exist() -> None:
    known = _known_keys()
    for code in errors.KNOWN_CODES | {"other"}:
        assert f"error.{code}.hint" in known, code
    causes = [c.value for c in HangupCause] + ["interrupted", "not-a-cause"]
    assert [cause for cause in causes if _cause_key(cause) not in known] == []


def test_ivr_issue_codes_have_messages() -> None:
    """Flow issues are ``error(path, "code", ...)``/``warn(...)``/``FlowIssue(path, "code")``: ivr.issue.<code>."""
    codes: set[str] = set()
    coded: set[str] = set()
    ivr = PROJECT_ROOT / "channels" / "voice" / "ivr"
    for path in sorted(ivr.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("error", "warn", "FlowIssue") and len(node.args) >= 2:
                codes.update(_literal_strings(node.args[1]) or [])
                for keyword in node.keywords:
                    if keyword.arg in ("kind", "problem"):
                        prefix = "ivr.kind." if keyword.arg == "kind" else "ivr.yaml."
                        coded.update(prefix + v for v in _literal_strings(keyword.value) or [])
    assert codes, "no flow issue codes found: update this test"
    known = _known_keys()
    assert sorted(code for code in codes if f"ivr.issue.{code}" not in known) == []
    assert sorted(key for key in coded if key not in known) == []


# --- build tooling and loading ------------------------------------------------------------------------------------

HEADER = 'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'


def _write_po(folder: Path, domain: str, lang: str, entries: dict[str, str], extra: str = "") -> Path:
    po = folder / lang / "LC_MESSAGES" / f"{domain}.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'msgid "{key}"\nmsgstr "{text}"\n\n' for key, text in entries.items())
    po.write_text(HEADER.format(lang=lang) + body + extra, encoding="utf-8")
    return po


def _demo_catalogs(folder: Path, domain: str = "i18n_test_demo") -> tuple[Path, Path]:
    zh = _write_po(folder, domain, "zh_CN", {"i18ntest.hello": "你好，{name}", "i18ntest.only_zh": "只有中文"})
    en = _write_po(folder, domain, "en", {"i18ntest.hello": "Hello, {name}"})
    return zh, en


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private copy of hub.i18n's global registry; the real one is back afterwards."""
    monkeypatch.setattr(i18n, "_domains", dict(i18n._domains))
    monkeypatch.setattr(i18n, "_texts", None)
    yield


def test_compile_then_read(tmp_path: Path) -> None:
    zh, en = _demo_catalogs(tmp_path)
    assert list(compile_all([zh, en])) == [zh.with_suffix(".mo"), en.with_suffix(".mo")]
    assert list(compile_all([zh, en])) == []  # nothing stale any more
    assert i18n._read("i18n_test_demo", tmp_path, "en") == {"i18ntest.hello": "Hello, {name}"}
    assert i18n._read("i18n_test_demo", tmp_path, "zh-CN")["i18ntest.only_zh"] == "只有中文"


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param('msgid "i18ntest.bad"\n', id="no-msgstr"),
        pytest.param('msgid "i18ntest.bad"\nmsgstr "x"\ngarbage here\n', id="stray-line"),
        pytest.param('msgid "i18ntest.bad"\nmsgstring "x"\n', id="misspelt-keyword"),
        pytest.param(
            'msgid "i18ntest.bad"\nmsgstr "no closing quote\n',
            id="unterminated",
        ),
        pytest.param('#, fuzzy\nmsgid "i18ntest.unsure"\nmsgstr "maybe"\n', id="fuzzy"),
        pytest.param(
            'msgid "i18ntest.ok"\nmsgstr "again"\n',
            id="duplicate-key",
        ),
    ],
)
def test_a_syntax_error_fails_the_build(tmp_path: Path, broken: str) -> None:
    po = _write_po(tmp_path, "i18n_test_demo", "en", {"i18ntest.ok": "OK"}, extra=broken)
    with pytest.raises(CatalogBuildError, match=re.escape(str(po))):
        compile_catalog(po)
    assert not po.with_suffix(".mo").exists()


def test_a_placeholder_mismatch_fails_the_build(tmp_path: Path) -> None:
    _write_po(tmp_path, "i18n_test_demo", "en", {"i18ntest.order": "Order {number} received"})
    zh = _write_po(tmp_path, "i18n_test_demo", "zh_CN", {"i18ntest.order": "工单 {numbr} 已受理"})
    try:
        compile_catalog(zh)
    except CatalogBuildError as exc:
        assert "numbr" in str(exc)
    else:
        raise AssertionError("a catalog whose placeholders differ from the English one compiled")


def test_a_missing_catalog_names_the_compile_command(tmp_path: Path) -> None:
    _demo_catalogs(tmp_path)
    with pytest.raises(CatalogError, match="missing") as caught:
        i18n._read("i18n_test_demo", tmp_path, "en")
    assert COMPILE_COMMAND in str(caught.value)


def test_a_stale_catalog_names_the_compile_command(tmp_path: Path) -> None:
    _zh, en = _demo_catalogs(tmp_path)
    mo = compile_catalog(en)
    earlier = en.stat().st_mtime - 10
    os.utime(mo, (earlier, earlier))  # the .po edited after it was compiled
    with pytest.raises(CatalogError, match="older than") as caught:
        i18n._read("i18n_test_demo", tmp_path, "en")
    assert COMPILE_COMMAND in str(caught.value)
    compile_catalog(en)
    assert i18n._read("i18n_test_demo", tmp_path, "en")["i18ntest.hello"] == "Hello, {name}"


def test_a_registered_domain_joins_every_lookup(tmp_path: Path, registry: None) -> None:
    list(compile_all(_demo_catalogs(tmp_path)))
    i18n.register_domain("i18n_test_demo", tmp_path)
    i18n.register_domain("i18n_test_demo", tmp_path)  # twice: a no-op
    assert i18n.t("i18ntest.hello", "en", name="Li") == "Hello, Li"
    assert i18n.t("i18ntest.hello", "zh-CN", name="李") == "你好，李"
    assert i18n.t("i18ntest.only_zh", "en") == "只有中文"  # zh-CN is the fallback
    assert i18n.t("app.title", "en") == i18n.lookup("app.title", "en")  # the other domains are still there
    with pytest.raises(KeyError):
        i18n.t("i18ntest.unknown", "en")
    with pytest.raises(CatalogError, match="already registered"):
        i18n.register_domain("i18n_test_demo", tmp_path / "elsewhere")


def test_a_stale_registered_domain_fails_the_first_lookup(tmp_path: Path, registry: None) -> None:
    _demo_catalogs(tmp_path)
    i18n.register_domain("i18n_test_demo", tmp_path)  # nothing compiled
    with pytest.raises(CatalogError, match=COMPILE_COMMAND.replace(".", r"\.")):
        i18n.load_catalogs()
    with pytest.raises(CatalogError):
        i18n.lookup("app.title")


def test_a_key_in_two_domains_is_refused(tmp_path: Path, registry: None) -> None:
    taken = next(iter(i18n.keys("app.")))
    for lang in LANGS:
        compile_catalog(_write_po(tmp_path, "i18n_test_clash", lang, {taken: "重复" if lang == "zh_CN" else "Twice"}))
    i18n.register_domain("i18n_test_clash", tmp_path)
    with pytest.raises(CatalogError, match=re.escape(repr(taken))):
        i18n.load_catalogs()


def _copy_catalogs(root: Path) -> list[Path]:
    copies = []
    for po in find_catalogs():
        target = root / po.relative_to(PROJECT_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(po, target)
        copies.append(target)
    return copies


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.i18n_build", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_starts_a_language_for_every_domain(tmp_path: Path) -> None:
    copies = _copy_catalogs(tmp_path)
    done = _build("init", "xx_XX", str(tmp_path))
    assert done.returncode == 0, done.stderr
    english = [po for po in copies if po.parent.parent.name == "en"]
    expected = {po.parent.parent.parent / "xx_XX" / "LC_MESSAGES" / po.name for po in english}
    assert {Path(line.removeprefix("created ")) for line in done.stdout.splitlines()} == expected
    for po in english:
        with (po.parent.parent.parent / "xx_XX" / "LC_MESSAGES" / po.name).open("rb") as fh:
            fresh = {str(m.id): m for m in read_po(fh) if m.id}
        source = _catalog(po.stem, "en")
        assert set(fresh) == set(source), po.stem
        chinese = _catalog(po.stem, "zh_CN")
        for key, message in fresh.items():
            assert message.string == "", key  # to translate
            notes = "".join("".join(message.auto_comments).split())  # the reference texts, wrapped: compare unspaced
            english_text, chinese_text = ("".join(str(c[key].string).split()) for c in (source, chinese))
            assert notes == f"en:{english_text}zh-CN:{chinese_text}", key
    again = _build("init", "xx_XX", str(tmp_path))
    assert again.returncode == 0 and again.stdout == ""  # existing catalogs are left alone
    built = _build("compile", str(tmp_path))
    assert built.returncode == 0, built.stderr
    assert all(po.with_suffix(".mo").exists() for po in find_catalogs(tmp_path))


def test_the_build_command_fails_on_a_broken_catalog(tmp_path: Path) -> None:
    copies = _copy_catalogs(tmp_path)
    broken = next(po for po in copies if po.stem == "hub" and po.parent.parent.name == "en")
    broken.write_text(broken.read_text(encoding="utf-8") + '\nmsgid "oops"\n', encoding="utf-8")
    done = _build("compile", "--force", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("i18n: ") and str(broken) in done.stderr


def test_catalog_folder_names_are_gettext_locales() -> None:
    assert [gettext_locale(locale) for locale in i18n.LOCALES] == list(LANGS)
