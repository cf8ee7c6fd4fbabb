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
    with pytest.raises(FlowError) as info:
        load_flow(textwrap.dedent(text))
    return [(i.path, i.message) for i in info.value.issues]


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


BAD = [
    ("- a\n- b", "(document)", "expected a mapping, got a list"),
    ("start: x", "nodes", "required"),
    (
        GOOD.replace("type: hangup", "type: transfer"),
        "nodes.bye.type",
        "unknown node type 'transfer' (known: play, menu, hours, collect_digits, order_status, kb_answer, "
        "voicemail, agent, hangup, goto)",
    ),
    (GOOD.replace("next: bye", "next: nowhere"), "nodes.main.options[0].next", "no node named 'nowhere'"),
    (GOOD.replace("start: main", "start: begin"), "(document).start", "no node named 'begin'"),
    (GOOD.replace("agent: agent}", "agent: nobody}"), "defaults.agent", "no node named 'nobody'"),
    (
        GOOD.replace(
            "      - {key: 1, say: [咨询], next: bye}", "      - {key: 1, next: bye}\n      - {key: 1, next: bye}"
        ),
        "nodes.main.options[1].key",
        "duplicate DTMF key '1' (also options[0])",
    ),
    (GOOD.replace("key: 1,", "key: 12,"), "nodes.main.options[0].key", "12 is not a DTMF key (0-9, *, #)"),
    (
        GOOD.replace(
            "      - {key: 1, say: [咨询], next: bye}",
            "      - {key: 1, say: 咨询, next: bye}\n      - {say: [咨询], next: bye}",
        ),
        "nodes.main.options[1].say",
        "phrase '咨询' also belongs to options[0]",
    ),
    (GOOD.replace("prompt: 请按1", "prompt: {en: Press 1}"), "nodes.main.prompt", "missing zh-CN text"),
    (
        GOOD.replace("prompt: 请按1", "prompt: {zh-CN: 请按1, fr: Appuyez}"),
        "nodes.main.prompt.fr",
        "unknown language (allowed: zh-CN, en)",
    ),
    (GOOD.replace("    prompt: 请按1\n", ""), "nodes.main.prompt", "required"),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout: 5\n"),
        "nodes.main.timeout",
        "unknown field (allowed: agent, back, description, invalid_prompt, no_input_prompt, on_fail, options, "
        "prompt, retries, return_prompt, timeout_s, type)",
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    retries: 99\n"),
        "nodes.main.retries",
        "must be between 0 and 9",
    ),
    (
        GOOD.replace("    type: menu\n", "    type: menu\n    timeout_s: soon\n"),
        "nodes.main.timeout_s",
        "expected a number, got text",
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['09:00-25:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[0]",
        "bad time range '09:00-25:00' (expected HH:MM-HH:MM)",
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['12:00-09:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[0]",
        "'12:00-09:00': the start must be before the end",
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon: ['09:00-12:00', '11:00-13:00']}, open: main, closed: bye}\n",
        "nodes.h.weekly.mon[1]",
        "'11:00-13:00' overlaps another range of the same day",
    ),
    (
        GOOD + "  h: {type: hours, weekly: {mon-fri: [], wed: []}, open: main, closed: bye}\n",
        "nodes.h.weekly.wed",
        "wed is already set by 'mon-fri'",
    ),
    (
        GOOD + "  h: {type: hours, weekly: {monday: []}, open: main, closed: bye}\n",
        "nodes.h.weekly.monday",
        "unknown weekday (use mon..sun or a span like mon-fri)",
    ),
    (
        GOOD + "  h: {type: hours, timezone: Mars/Base, weekly: {mon: []}, open: main, closed: bye}\n",
        "nodes.h.timezone",
        "unknown time zone 'Mars/Base'",
    ),
    (
        GOOD + "  a: {type: play, prompt: 你好, next: b}\n  b: {type: goto, target: a}\n",
        "nodes.a",
        "cycle without a menu: a → b → a",
    ),
    (
        GOOD + "  d: {type: collect_digits, prompt: 输入, min_digits: 8, max_digits: 4, next: bye}\n",
        "nodes.d.max_digits",
        "must not be less than min_digits",
    ),
    (
        GOOD + "  o: {type: order_status, found: '工单{number}{owner}', not_found: 没有, next: bye}\n",
        "nodes.o.found",
        "zh-CN: unknown placeholder {owner} (known: number, status, detail)",
    ),
    (GOOD + "  p: {type: play, next: bye}\n", "nodes.p.prompt", "required (or announcements: true)"),
    (
        GOOD.replace("routing", "x") + "routing: {vip: ['138abc']}\n",
        "routing.vip[0]",
        "'138abc': a number pattern has digits, '?', '*' and an optional leading '+'",
    ),
    (GOOD + "  main: {type: hangup}\n", "(yaml) line 12, column 3", "duplicate key 'main'"),
    (
        GOOD + "  'a b': {type: hangup}\n",
        "nodes.a b",
        "a node id is 1-64 characters without spaces, dots, colons or brackets",
    ),
    (
        GOOD + "extra: 1\n",
        "(document).extra",
        "unknown field (allowed: defaults, description, name, nodes, routing, start, version)",
    ),
]


@pytest.mark.parametrize(("text", "path", "message"), BAD)
def test_bad_documents_are_reported_at_their_path(text: str, path: str, message: str) -> None:
    assert (path, message) in issues(text)


def test_yaml_syntax_errors_give_the_line() -> None:
    [(path, message)] = issues("nodes:\n  a: [")
    assert path.startswith("(yaml) line ") and "node content" in message  # libyaml and pure-Python wording


def test_unreachable_nodes_are_warnings_not_errors() -> None:
    flow = load_flow(GOOD + "  lonely: {type: hangup}\n")
    assert [(w.path, w.message) for w in flow.warnings] == [("nodes.lonely", "unreachable from the start node")]


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
    assert issues("#" * 300_000) == [("(document)", "longer than 262144 characters")]
