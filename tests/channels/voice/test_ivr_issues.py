"""Flow problems are codes with parameters: every code has its text in both catalogs, PyYAML's problems included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from channels.voice.ivr import FlowError, FlowIssue, load_flow
from channels.voice.ivr import flow as flow_module
from channels.voice.ivr.flow import CODED_PARAMS, ISSUE_KEY, RESERVED_PARAMS
from channels.voice.ivr.loader import YAML_PROBLEMS, yaml_issue
from channels.voice.ivr.reader import KINDS, OTHER_KIND, kind
from hub.i18n_build import placeholders, read_catalog

IVR = Path(flow_module.__file__).parent
LOCALE = IVR.parent / "locale"
CATALOGS = {locale: LOCALE / locale / "LC_MESSAGES" / "voice.po" for locale in ("zh_CN", "en")}
ISSUE_CALLS = {"error", "warn", "FlowIssue"}  # Reader.error/warn(path, code, **params), FlowIssue(path, code, {...})


def catalog(locale: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in read_catalog(CATALOGS[locale]) if m.id}


def constants(node: ast.expr) -> list[str] | None:
    """The string constants an expression can be (a literal, or both branches of ``a if c else b``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = constants(node.body), constants(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def issue_calls() -> list[tuple[str, list[str], set[str] | None]]:
    """(where, codes, param names when all are literal) of every issue made in channels/voice/ivr/*.py."""
    found = []
    for source in sorted(IVR.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "log":
                continue  # log.error(...), not an issue
            if name not in ISSUE_CALLS or len(node.args) < 2:
                continue
            where = f"{source.name}:{node.lineno}"
            codes = constants(node.args[1])
            if codes is None:  # only the Reader's own methods pass a code along
                assert isinstance(node.args[1], ast.Name) and node.args[1].id == "code", where
                continue
            params: set[str] | None = {k.arg for k in node.keywords if k.arg is not None}
            if any(k.arg is None for k in node.keywords):
                params = None
            if name == "FlowIssue":
                params = set()
                if len(node.args) > 2:
                    literal = node.args[2]
                    assert isinstance(literal, ast.Dict), where
                    params = {k.value for k in literal.keys if isinstance(k, ast.Constant)}
                    if None in literal.keys:  # {**where, ...}
                        params = None
            found.append((where, codes, params))
    return found


def problem_codes() -> set[str]:
    """The PyYAML problems the loader names (its table and the literal ``"problem": ...`` it sets)."""
    codes = {code for _pattern, code in YAML_PROBLEMS}
    tree = ast.parse((IVR / "loader.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "problem" and isinstance(value, ast.Constant):
                    codes.add(value.value)
    return codes


def test_the_source_makes_issues_with_literal_codes() -> None:
    calls = issue_calls()
    assert len(calls) > 50  # the scan sees the call sites
    codes = {code for _where, codes, _params in calls for code in codes}
    assert {"required", "expected_mapping", "unknown_field", "yaml_syntax", "unreachable", "too_long"} <= codes


def test_every_code_has_a_text_in_both_catalogs_with_the_same_placeholders() -> None:
    texts = {locale: catalog(locale) for locale in CATALOGS}
    keys = {ISSUE_KEY + code for _where, codes, _params in issue_calls() for code in codes}
    keys |= {CODED_PARAMS["kind"] + code for code in {*KINDS.values(), OTHER_KIND}}
    keys |= {CODED_PARAMS["problem"] + code for code in problem_codes()}
    for key in sorted(keys):
        zh, en = texts["zh_CN"].get(key), texts["en"].get(key)
        assert zh and en, f"{key} is missing from a catalog"
        assert placeholders(zh) == placeholders(en), key
        dummy = {name: "x" for name in placeholders(en)}
        assert zh.format(**dummy) and en.format(**dummy), key  # well-formed braces
        assert not placeholders(en) & RESERVED_PARAMS, key


def test_every_call_passes_exactly_the_placeholders_of_its_text() -> None:
    english = catalog("en")
    for where, codes, params in issue_calls():
        for code in codes:
            wanted = placeholders(english[ISSUE_KEY + code])
            if params is None:  # partly spread from a dict: at least what it names
                continue
            assert params == wanted, (where, code, params, wanted)


def test_kinds_and_problems_are_translated_inside_the_message() -> None:
    issue = FlowIssue("(document)", "expected_mapping", {"kind": kind(["a"])})
    assert issue.text("zh-CN") == "应为映射（键: 值），实际是列表"
    assert (
        issue.message == "expected a mapping, got a list" and str(issue) == "(document): expected a mapping, got a list"
    )
    assert issue.as_json("zh-CN") == {
        "path": "(document)",
        "code": "expected_mapping",
        "params": {"kind": "list"},
        "message": "应为映射（键: 值），实际是列表",
    }
    assert FlowIssue("nodes.a.x", "required").text("zh-CN") == "必填"
    assert [kind(v) for v in (None, {}, [], "", True, 1, 1.5, b"", set())] == [
        "nothing",
        "mapping",
        "list",
        "text",
        "boolean",
        "integer",
        "number",
        "binary",
        "set",
    ]
    assert kind(object()) == "other"


def test_user_input_in_params_is_kept_as_typed() -> None:
    issue = FlowIssue("nodes.x.weekly.Montag", "weekday_already_set", {"day": "wed", "spec": "{kind} <b>"})
    assert issue.text("zh-CN") == "wed 已由“{kind} <b>”设置"  # no formatting of the values, no translation


def test_param_names_of_ui_itself_are_refused() -> None:
    with pytest.raises(ValueError, match="may not be named"):
        FlowIssue("x", "bad_dtmf_key", {"key": "1"})


def test_an_unknown_code_still_reads() -> None:
    assert FlowIssue("x", "no_such_code", {"a": 1}).message == 'no_such_code {"a": 1}'


COMMON_YAML = {
    "nodes:\n  a: [": "node_content",
    "a: b: c": "mapping_values",
    "a: @x": "bad_character",
    "a: b\nc": "missing_colon",
    "a: 'x": "end_of_stream",
    "a: [1, 2": "unclosed_list",
    "a: {b: 1": "unclosed_mapping",
    "- a\nb: 1": "block_end",
    "a: *x": "undefined_alias",
    "a: !foo x": "unknown_tag",
    "a: 1\n---\nb: 2": "several_documents",
}
LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if getattr(yaml, "CSafeLoader", None) else [])


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize(("document", "problem"), COMMON_YAML.items())
def test_common_yaml_problems_are_named_with_both_parsers(loader: type, document: str, problem: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        yaml.load(document, Loader=loader)
    issue = yaml_issue(info.value)
    assert (issue.path, issue.code, issue.params["problem"]) == ("(yaml)", "yaml_syntax", problem)
    chinese = issue.text("zh-CN")
    assert chinese.startswith(f"YAML 格式错误：第 {issue.params['line']} 行，第 {issue.params['column']} 列：")
    assert not re.search(r"[A-Za-z]{2,}", chinese.replace("YAML", "")), chinese
    assert issue.message.startswith(f"YAML syntax error at line {issue.params['line']}, column ")


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize("document", ["a:\tb\n\tc: 1", "a:\n\tc: 1"])
def test_tabs_are_named(loader: type, document: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        yaml.load(document, Loader=loader)
    issue = yaml_issue(info.value)
    assert issue.code == "yaml_syntax" and issue.params["problem"] in ("tab", "bad_character")
    assert "制表符" in issue.text("zh-CN")


def test_a_duplicate_key_is_a_yaml_problem() -> None:
    with pytest.raises(FlowError) as info:
        load_flow("start: a\nnodes:\n  a: {type: hangup}\n  a: {type: hangup}\n")
    [issue] = info.value.issues
    assert (issue.code, dict(issue.params)) == (
        "yaml_syntax",
        {"line": 4, "column": 3, "problem": "duplicate_key", "name": "a"},
    )
    assert issue.text("zh-CN") == "YAML 格式错误：第 4 行，第 3 列：键“a”重复"


def test_other_yaml_problems_keep_pyyaml_text_in_parentheses() -> None:
    with pytest.raises(FlowError) as info:
        load_flow("%YAML 2.0\n---\na: 1\n")
    [issue] = info.value.issues
    assert issue.code == "yaml_syntax_other" and "incompatible YAML document" in str(issue.params["detail"])
    assert issue.text("zh-CN") == f"YAML 格式错误：第 1 行，第 1 列（{issue.params['detail']}）"
    assert issue.message == f"YAML syntax error at line 1, column 1 ({issue.params['detail']})"


@pytest.mark.parametrize("document", ["a: !!int x", "a: 2026-13-45", "a: !!binary x"])
def test_values_the_yaml_constructors_refuse_are_issues_too(document: str) -> None:
    with pytest.raises(FlowError) as info:
        load_flow(document)
    [issue] = info.value.issues
    assert issue.path == "(yaml)" and issue.code in ("yaml_invalid", "yaml_syntax_other")
    assert issue.text("zh-CN").startswith("YAML 格式错误")
