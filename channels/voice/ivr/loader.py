"""YAML flow documents → validated :class:`~channels.voice.ivr.flow.Flow` (every problem reported with its path)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from channels.voice.ivr.builders import build_node
from channels.voice.ivr.flow import (
    INPUT_NODE_TYPES,
    Defaults,
    Flow,
    FlowError,
    FlowIssue,
    MenuNode,
    Node,
    ParamValue,
    Prompt,
    Routing,
    SpeechIntakeNode,
    number_pattern,
)
from channels.voice.ivr.reader import Reader, kind

MAX_DOCUMENT_CHARS = 256 * 1024
MAX_NODES = 500
_NODE_ID = re.compile(r"^[^\s.\[\]:]{1,64}$")

BUILTIN = {
    "invalid_prompt": ("对不起，您的输入有误。", "Sorry, that is not a valid choice."),
    "no_input_prompt": ("对不起，没有听到您的选择。", "Sorry, we did not hear your choice."),
    "return_prompt": (
        "人工服务已结束。返回菜单请按星号键，结束通话请直接挂机。",
        "The agent call has ended. Press star to return to the menu, or hang up.",
    ),
    "goodbye": ("感谢您的来电，再见。", "Thank you for calling. Goodbye."),
    "no_answer_prompt": ("抱歉，没有找到相关的答案。", "Sorry, we found no answer to that."),
    "busy_prompt": ("语音识别繁忙，请使用按键选择。", "Speech recognition is busy. Please use your keypad."),
    "reject_prompt": (
        "您好，您的来电暂时无法受理，如有需要请通过其他渠道联系我们。再见。",
        "Sorry, we cannot take your call. Please contact us another way. Goodbye.",
    ),
}


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping repeats ``key``."""

    def __init__(self, key: Any, mark: Any) -> None:
        super().__init__(None, None, f"found duplicate key {key!r}", mark)
        self.key = key


class _UniqueKeyLoader(_SafeLoader):
    """A safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise DuplicateKeyError(key, key_node.start_mark)
            if isinstance(key, (str, int, float, bool)):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# The common problems of PyYAML (libyaml's wording | the pure-Python one) → catalog keys ``ivr.yaml.<code>``.
YAML_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), code)
    for pattern, code in (
        (r"did not find expected node content|expected the node content", "node_content"),
        (r"mapping values are not allowed", "mapping_values"),
        (r"found a tab character|found character '\\t'", "tab"),
        (r"found character (.* )?that cannot start any token", "bad_character"),
        (r"could not find expected ':'", "missing_colon"),
        (r"found unexpected end of stream", "end_of_stream"),
        (r"did not find expected key|did not find expected '-' indicator|expected <block end>", "block_end"),
        (r"expected ',' or '\]'", "unclosed_list"),
        (r"expected ',' or '\}'", "unclosed_mapping"),
        (r"expected '?<document start>'?", "document_start"),
        (r"found unknown escape character", "bad_escape"),
        (r"found undefined alias", "undefined_alias"),
        (r"found duplicate anchor", "duplicate_anchor"),
        (r"could not determine a constructor for the tag", "unknown_tag"),
        (r"but found another document", "several_documents"),
        (r"found unhashable key", "unhashable_key"),
    )
)
YAML_PATH = "(yaml)"


def yaml_issue(exc: Exception) -> FlowIssue:
    """The issue for a document PyYAML refused: the problem's code when it is a common one, else its English text."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where: dict[str, ParamValue] = {} if mark is None else {"line": mark.line + 1, "column": mark.column + 1}
    problem = str(getattr(exc, "problem", None) or exc)
    if isinstance(exc, DuplicateKeyError):
        return FlowIssue(
            YAML_PATH,
            "yaml_syntax" if where else "yaml_problem",
            {**where, "problem": "duplicate_key", "name": exc.key},
        )
    described = " ".join(str(part) for part in (getattr(exc, "context", None), problem) if part)
    code = next((code for pattern, code in YAML_PROBLEMS if pattern.search(described)), None)
    if code is None:
        return FlowIssue(YAML_PATH, "yaml_syntax_other" if where else "yaml_invalid", {**where, "detail": problem})
    return FlowIssue(YAML_PATH, "yaml_syntax" if where else "yaml_problem", {**where, "problem": code})


def load_flow(text: str) -> Flow:
    """Parse and validate a YAML flow document.

    Args:
        text: the YAML document.

    Returns:
        The flow; ``flow.warnings`` lists what did not prevent loading (unreachable nodes ...).

    Raises:
        FlowError: every problem found, each with its path in the document.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise FlowError([FlowIssue("(document)", "too_long", {"limit": MAX_DOCUMENT_CHARS})])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # constructors raise ValueError: !!int x, 2026-13-45
        raise FlowError([yaml_issue(exc)]) from None
    reader = Reader()
    flow = _document(reader, data)
    if reader.errors or flow is None:
        raise FlowError(reader.errors or [FlowIssue("(document)", "invalid")], reader.warnings)
    return flow


def _document(r: Reader, data: Any) -> Flow | None:
    doc = r.mapping(data, "(document)")
    if doc is None:
        return None
    r.check_fields(doc, "(document)", {"name", "description", "version", "start", "defaults", "routing", "nodes"})
    defaults, default_prompts = _defaults(r, doc.get("defaults") or {})
    routing = _routing(r, doc.get("routing") or {})
    raw_nodes = r.mapping(doc.get("nodes"), "nodes") if doc.get("nodes") is not None else None
    if raw_nodes is None:
        if doc.get("nodes") is None:
            r.error("nodes", "required")
        return None
    if len(raw_nodes) > MAX_NODES:
        r.error("nodes", "too_many_nodes", limit=MAX_NODES)
        return None
    nodes: dict[str, Node] = {}
    for node_id, raw in raw_nodes.items():
        path = f"nodes.{node_id}"
        if not isinstance(node_id, str) or not _NODE_ID.match(node_id):
            r.error(path, "bad_node_id")
            continue
        node = build_node(r, str(node_id), raw, path, defaults, default_prompts)
        if node is not None:
            nodes[node_id] = node
    start = r.ref(doc, "start", "(document)")
    _check_graph(r, nodes, set(raw_nodes), start, defaults)
    name = r.text(doc, "name", "(document)", default="flow") or "flow"
    if r.errors or start is None:
        return None
    return Flow(name, start, nodes, defaults, routing, tuple(r.warnings))


def _defaults(r: Reader, raw: Any) -> tuple[Defaults, dict[str, Prompt]]:
    data = r.mapping(raw, "defaults") or {}
    prompts = {key: Prompt(zh, en, f"defaults.{key}") for key, (zh, en) in BUILTIN.items()}
    allowed = {"timeout_s", "retries", "min_confidence", "agent", "invalid_prompt", "no_input_prompt"}
    r.check_fields(data, "defaults", allowed | {"return_prompt", "goodbye", "no_answer_prompt", "busy_prompt"})
    for key in ("invalid_prompt", "no_input_prompt", "return_prompt", "goodbye", "no_answer_prompt", "busy_prompt"):
        prompts[key] = r.prompt(data, key, "defaults", f"defaults.{key}", prompts[key]) or prompts[key]
    agent = r.ref(data, "agent", "defaults", required=False) if data.get("agent") is not False else None
    defaults = Defaults(
        timeout_s=r.number(data, "timeout_s", "defaults", 6.0, 1.0, 60.0),
        retries=r.integer(data, "retries", "defaults", 2, 0, 9),
        min_confidence=r.number(data, "min_confidence", "defaults", 0.5, 0.0, 1.0),
        agent=agent,
        goodbye=prompts["goodbye"],
        busy_prompt=prompts["busy_prompt"],
    )
    return defaults, prompts


def _routing(r: Reader, raw: Any) -> Routing:
    data = r.mapping(raw, "routing") or {}
    r.check_fields(data, "routing", {"vip", "blacklist", "vip_priority", "reject_prompt"})
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("vip", "blacklist"):
        value = data.get(key) or []
        if not isinstance(value, list):
            r.error(f"routing.{key}", "expected_pattern_list", kind=kind(value))
            value = []
        found = []
        for i, item in enumerate(value):
            try:
                number_pattern(str(item))
                found.append(str(item))
            except ValueError:
                r.error(f"routing.{key}[{i}]", "bad_number_pattern", pattern=str(item))
        lists[key] = tuple(found)
    reject = Prompt(*BUILTIN["reject_prompt"], id="routing.reject_prompt")
    return Routing(
        vip=lists["vip"],
        blacklist=lists["blacklist"],
        vip_priority=r.integer(data, "vip_priority", "routing", 10, -100, 100),
        reject_prompt=r.prompt(data, "reject_prompt", "routing", "routing.reject_prompt", reject) or reject,
    )


def _check_graph(r: Reader, nodes: dict[str, Node], ids: set[Any], start: str | None, defaults: Defaults) -> None:
    for path, target in r.refs:
        if target not in ids:
            r.error(path, "unknown_target", target=target)
    if r.errors:
        return
    for node_id, node in nodes.items():
        if isinstance(node, SpeechIntakeNode) and not isinstance(nodes[node.keys], MenuNode):
            r.error(f"nodes.{node_id}.keys", "keys_not_menu", target=node.keys, node_type=nodes[node.keys].type)
    # Cycles must pass a node that waits for the caller, or the interpreter would spin forever.
    state: dict[str, int] = {}

    def visit(node_id: str, trail: list[str]) -> None:
        state[node_id] = 1
        for target in nodes[node_id].targets():
            if nodes[target].type in INPUT_NODE_TYPES:
                continue
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target]
                r.error(f"nodes.{target}", "cycle", cycle=" → ".join(cycle))
            elif target not in state:
                visit(target, [*trail, target])
        state[node_id] = 2

    for node_id, node in nodes.items():
        if node_id not in state and node.type not in INPUT_NODE_TYPES:
            visit(node_id, [node_id])
    if start is None:
        return
    seen, todo = {start}, [start]
    while todo:
        for target in nodes[todo.pop()].targets():
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for node_id in nodes:
        if node_id not in seen:
            r.warn(f"nodes.{node_id}", "unreachable")
