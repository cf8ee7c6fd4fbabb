"""Flow documents: the default 12319 flow loads; every kind of mistake is reported at its exact path."""

from __future__ import annotations

import textwrap
from datetime import time

import pytest

from channels.voice.ivr import DEFAULT_FLOW_PATH, FlowError, load_flow
from channels.voice.ivr.flow import HoursNode, MenuNode, Routing, number_pattern

GOOD = """
start: main
defaults: {agent: agent}
nodes:
  main:
    type: menu
    prompt: 请按1
    options:
      - {key: 1, say: [咨询], next: bye}
  agent: {type: agent, queue: general}
  bye: {type: hangup, prompt: 再见}
"""


def issues(text: str) -> list[tuple[str, str]]:
    """(path, English message) of every problem."""
    return [(i.path, i.message) for i in flow_error(text).issues]


def flow_error(text: str) -> FlowError:
    with pytest.raises(FlowError) as info:
        load_flow(textwrap.dedent(text))
    return info.value


def coded(text: str) -> list[tuple[str, str, dict[str, object]]]:
    """(path, code, params) of every problem."""
    return [(i.path, i.code, dict(i.params)) for i in flow_error(text).issues]


def test_the_default_flow_validates_without_warnings() -> None:
    flow = load_flow(DEFAULT_FLOW_PATH.read_text(encoding="utf-8"))
    assert flow.start == "welcome" and flow.warnings == ()
    main = flow.node("main")
    assert isinstance(main, MenuNode)
    assert {o.key: o.next for o in main.options} == {
        "1": "ask_kb",
        "2": "order_menu",
        "3": "complaints",
        "4": "notices",
        "9": "voicemail",
        "0": "agent_gate",
    }
    assert all(o.phrases for o in main.options)
    assert flow.node("welcome").prompt.zh.startswith("您好，这里是12319城建服务热线")  # type: ignore[attr-defined]
    hours = flow.node("hours")
    assert isinstance(hours, HoursNode)
    assert hours.weekly[0] == ((time(8, 30), time(12, 0)), (time(13, 0), time(17, 30))) and hours.weekly[6] == ()
    # every menu reaches an agent target with "0" (out of hours: voicemail)
    menus = [n for n in flow.nodes.values() if isinstance(n, MenuNode)]
    assert menus and all(m.agent for m in menus)


def test_a_minimal_flow_loads_and_inherits_defaults() -> None:
    flow = load_flow(GOOD)
    main = flow.node("main")
    assert isinstance(main, MenuNode)
    assert main.agent == "agent" and main.retries == 2 and main.timeout_s == 6.0
    assert main.invalid_prompt.zh == "对不起，您的输入有误。" and main.prompt.id == "main.prompt"


KNOWN_TYPES = (
    "play, menu, hours, collect_digits, order_status, kb_answer, speech_intake, voicemail, agent, hangup, goto"
)
MENU_FIELDS = (
    "agent, back, description, invalid_prompt, no_input_prompt, on_fail, options, prompt, retries, return_prompt, "
    "timeout_s, type"
)
BAD: list[tuple[str, str, str, dict[str, object]]] = [
    ("- a\n- b", "(document)", "expected_mapping", {"kind": "list"}),
    ("start: x", "nodes", "required", {}),
    (
        GOOD.replace("type: hangup", "type: transfer"),
        "nodes.bye.type",
        "unknown_node_type",
        {"node_type": "transfer", "known": KNOWN_TYPES},
    ),
    (GOOD.replace("    type: menu\n", ""), "nodes.main.type", "required_type", {"known": KNOWN_TYPES}),
    (GOOD.replace("next: bye", "next: nowhere"), "nodes.main.options[0].next", "unknown_target", {"target": "nowhere"}),
    (GOOD.replace("start: main", "start: begin"), "(document).start", "unknown_target", {"target": "begin"}),
    (GOOD.replace("agent: agent}", "agent: nobody}"), "defaults.agent", "unknown_target", {"target": "nobody"}),
    (GOOD.replace("start: main", "start: [main]"), "(document).start", "expected_node_id", {"kind": "list"}),
    (
        GOOD.replace(
            "      - {key: 1, say: [咨询], next: bye}", "      - {key: 1, next: bye}\n      - {key: 1, next: bye}"
        ),
        "nodes.main.options[1].key",
        "duplicate_dtmf_key",
        {"dtmf": "1", "other": 0},
    ),
    (GOOD.replace("key: 1,", "key: 12,"), "nodes.main.options[0].key", "bad_dtmf_key", {"dtmf": "12"}),
    (
        GOOD.replace(
            "      - {key: 1, say: [咨询], next: bye}",
            "      - {key: 1, say: 咨询, next: bye}\n      - {say: [咨询], next: bye}",
        ),
        "nodes.main.options[1].say",
        "duplicate_phrase",
        {"phrase": "咨询", "other": 0},
    ),
    (GOOD.replace("say: [咨询]", "say: [1]"), "nodes.main.options[0].say", "bad_phrases", {}),
    (GOOD.replace("{key: 1, say: [咨询], ", "{"), "nodes.main.options[0]", "option_needs_key_or_say", {}),
    (
        GOOD.replace("    options:\n      - {key: 1, say: [咨询], next: bye}\n", ""),
        "nodes.main.options",
        "required_options",
        {},
    ),
    (
        GOOD.replace("    options:\n      - {key: 1, say: [咨询], next: bye}\n", "    options: {a: 1}\n"),
        "nodes.main.options",
        "expected_list",
        {"kind": "mapping"},
    ),
    (GOOD.replace("prompt: 请按1", "prompt: {en: Press 1}"), "nodes.main.prompt", "missing_zh_text", {}),
    (GOOD.replace("prompt: 请按1", "prompt: ' '"), "nodes.main.prompt", "empty_prompt", {}),
    (GOOD.replace("prompt: 请按1", "prompt: [请按1]"), "nodes.main.prompt", "expected_prompt", {"kind": "list"}),
    (
        GOOD.replace("prompt: 请按1", "prompt: {zh-CN: 请按1, en: ''}"),
        "nodes.main.prompt.en",
        "expected_nonempty_text",
        {},
    ),
    (
        GOOD.replace("prompt: 请按1", "prompt: {zh-CN: 请按1, fr: Appuyez}"),
        "nodes.main.prompt.fr",
        "unknown_language",
        {"allowed": "zh-CN, en"},
    ),
    (GOOD.replace("    prompt: 请按1\n", ""), "nodes.main.prompt", "required", {}),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout: 5\n"),
        "nodes.main.timeout",
        "unknown_field",
        {"allowed": MENU_FIELDS},
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    retries: 99\n"),
        "nodes.main.retries",
        "out_of_range",
        {"low": 0, "high": 9},
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    retries: 1.5\n"),
        "nodes.main.retries",
        "expected_integer",
        {"kind": "number"},
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout_s: soon\n"),
        "nodes.main.timeout_s",
        "expected_number",
        {"kind": "text"},
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout_s: 99\n"),
        "nodes.main.timeout_s",
        "out_of_range",
        {"low": "1", "high": "60"},
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    back: 2026-01-02\n"),
        "nodes.main.back",
        "expected_boolean",
        {"kind": "date"},
    ),
    (GOOD + "  h: {type: hours, open: main, closed: bye}\n", "nodes.h.weekly", "required_weekly", {}),
    (
        GOOD + "  h: {type: hours, weekly: {mon: 9}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon",
        "expected_ranges",
        {},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['09:00-25:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[0]",
        "bad_time_range",
        {"range": "09:00-25:00"},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['09:00-24:30']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[0]",
        "bad_time_range_end",
        {"range": "09:00-24:30"},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['12:00-09:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[0]",
        "range_start_after_end",
        {"range": "12:00-09:00"},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['09:00-12:00', '11:00-13:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[1]",
        "range_overlap",
        {"range": "11:00-13:00"},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon-fri: [], wed: []}, open: main, closed: bye}\n",
        "nodes.h.weekly.wed",
        "weekday_already_set",
        {"day": "wed", "spec": "mon-fri"},
    ),
    (
        GOOD + "  h: {type: hours, weekly: {monday: []}, open: main, closed: bye}\n",
        "nodes.h.weekly.monday",
        "unknown_weekday",
        {},
    ),
    (
        GOOD + "  h: {type: hours, timezone: Mars/Base, weekly: {mon: []}, open: main, closed: bye}\n",
        "nodes.h.timezone",
        "unknown_timezone",
        {"timezone": "Mars/Base"},
    ),
    (
        GOOD + "  a: {type: play, prompt: 你好, next: b}\n  b: {type: goto, target: a}\n",
        "nodes.a",
        "cycle",
        {"cycle": "a → b → a"},
    ),
    (
        GOOD + "  d: {type: collect_digits, prompt: 输入, min_digits: 8, max_digits: 4, next: bye}\n",
        "nodes.d.max_digits",
        "max_below_min",
        {},
    ),
    (
        GOOD + "  d: {type: collect_digits, prompt: 输入, terminator: x, store_as: X, next: bye}\n",
        "nodes.d.terminator",
        "bad_terminator",
        {},
    ),
    (
        GOOD + "  d: {type: collect_digits, prompt: 输入, store_as: X, next: bye}\n",
        "nodes.d.store_as",
        "bad_variable_name",
        {},
    ),
    (
        GOOD + "  o: {type: order_status, found: '工单{number}{owner}', not_found: 没有, next: bye}\n",
        "nodes.o.found",
        "unknown_placeholder",
        {"lang": "zh-CN", "name": "owner", "known": "number, status, detail"},
    ),
    (
        GOOD + "  o: {type: order_status, by: name, found: 'x', not_found: 没有, next: bye}\n",
        "nodes.o.by",
        "bad_order_by",
        {},
    ),
    (
        GOOD + "  o: {type: order_status, found: '工单{number', not_found: 没有, next: bye}\n",
        "nodes.o.found",
        "bad_template",
        {"lang": "zh-CN", "detail": "expected '}' before end of string"},
    ),
    (GOOD + "  p: {type: play, next: bye}\n", "nodes.p.prompt", "required_prompt_or_announcements", {}),
    (GOOD + "  q: {type: agent, queue: Q}\n", "nodes.q.queue", "bad_queue_name", {}),
    (GOOD + "  x: {type: hangup, cause: X}\n", "nodes.x.cause", "bad_cause", {}),
    (
        GOOD.replace("routing", "x") + "routing: {vip: ['138abc']}\n",
        "routing.vip[0]",
        "bad_number_pattern",
        {"pattern": "138abc"},
    ),
    (GOOD + "routing: {vip: 138}\n", "routing.vip", "expected_pattern_list", {"kind": "integer"}),
    (
        GOOD + "  main: {type: hangup}\n",
        "(yaml)",
        "yaml_syntax",
        {"line": 12, "column": 3, "problem": "duplicate_key", "name": "main"},
    ),
    ("a: !!int x\n", "(yaml)", "yaml_invalid", {"detail": "invalid literal for int() with base 10: 'x'"}),
    (GOOD + "  'a b': {type: hangup}\n", "nodes.a b", "bad_node_id", {}),
    (
        GOOD + "extra: 1\n",
        "(document).extra",
        "unknown_field",
        {"allowed": "defaults, description, name, nodes, routing, start, version"},
    ),
]


@pytest.mark.parametrize(("text", "path", "code", "params"), BAD)
def test_bad_documents_are_reported_at_their_path(text: str, path: str, code: str, params: dict[str, object]) -> None:
    assert (path, code, params) in coded(text)


ENGLISH = [
    ("- a\n- b", "(document)", "expected a mapping, got a list"),
    (GOOD.replace("key: 1,", "key: 12,"), "nodes.main.options[0].key", "'12' is not a DTMF key (0-9, *, #)"),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout: 5\n"),
        "nodes.main.timeout",
        f"unknown field (allowed: {MENU_FIELDS})",
    ),
    (
        GOOD.replace("prompt: 请按1", "prompt: [请按1]"),
        "nodes.main.prompt",
        "expected text or {zh-CN: ..., en: ...}, got a list",
    ),
    (
        GOOD + "  o: {type: order_status, found: '工单{number}{owner}', not_found: 没有, next: bye}\n",
        "nodes.o.found",
        "zh-CN: unknown placeholder {owner} (known: number, status, detail)",
    ),
    (GOOD + "  main: {type: hangup}\n", "(yaml)", "YAML syntax error at line 12, column 3: found duplicate key 'main'"),
]


@pytest.mark.parametrize(("text", "path", "message"), ENGLISH)
def test_messages_read_in_english_in_logs_and_exceptions(text: str, path: str, message: str) -> None:
    assert (path, message) in issues(text)
    assert f"{path}: {message}" in str(flow_error(text))


def test_yaml_syntax_errors_give_the_line() -> None:
    [issue] = flow_error("nodes:\n  a: [").issues
    assert (issue.path, issue.code) == ("(yaml)", "yaml_syntax") and issue.params["problem"] == "node_content"
    assert issue.params["line"] == 3 and "node content" in issue.message


def test_unreachable_nodes_are_warnings_not_errors() -> None:
    flow = load_flow(GOOD + "  lonely: {type: hangup}\n")
    assert [(w.path, w.code, w.message) for w in flow.warnings] == [
        ("nodes.lonely", "unreachable", "unreachable from the start node")
    ]


def test_a_cycle_through_a_menu_is_allowed() -> None:
    text = GOOD.replace("next: bye}", "next: again}") + "  again: {type: play, prompt: 再来, next: main}\n"
    assert load_flow(text).node("again").targets() == ("main",)


def test_a_key_alone_is_an_option_and_0_can_be_disabled() -> None:
    flow = load_flow(
        GOOD.replace("say: [咨询], ", "").replace("    type: menu\n", "    type: menu\n    agent: false\n")
    )
    main = flow.node("main")
    assert isinstance(main, MenuNode) and main.agent is None and main.options[0].phrases == ()


def test_every_problem_is_reported_at_once() -> None:
    found = issues(GOOD.replace("next: bye", "next: x").replace("key: 1,", "key: 12,"))
    assert {p for p, _ in found} == {"nodes.main.options[0].key", "nodes.main.options[0].next"}


def test_number_patterns_and_routing() -> None:
    routing = Routing(vip=("1390000????",), blacklist=("170*",))
    assert routing.classify("13900001234") == "vip"
    assert routing.classify("+86 139-0000-1234") == "vip"
    assert routing.classify("17012345678") == "blacklist"
    assert routing.classify("13800001111") == "normal"
    assert routing.classify("13800001111", blacklisted=True) == "blacklist"
    assert routing.classify(None, vip=True) == "vip"
    assert number_pattern("010*").match("01012345678")
    with pytest.raises(ValueError, match="number pattern"):
        number_pattern("13.*")


def test_an_oversized_document_is_refused() -> None:
    assert coded("#" * 300_000) == [("(document)", "too_long", {"limit": 262144})]
    assert issues("#" * 300_000) == [("(document)", "longer than 262144 characters")]
