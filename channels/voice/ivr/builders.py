"""Builders of the flow's nodes, one per node type: fields, defaults and per-field checks."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.voice.ivr.flow import (
    DTMF_KEYS,
    NODE_CLASSES,
    ORDER_PLACEHOLDERS,
    WEEKDAYS,
    AgentNode,
    CollectDigitsNode,
    Defaults,
    GotoNode,
    HangupNode,
    HoursNode,
    KbAnswerNode,
    MenuNode,
    MenuOption,
    Node,
    OrderStatusNode,
    PlayNode,
    Prompt,
    SpeechIntakeNode,
    VoicemailNode,
)
from channels.voice.ivr.reader import Reader, kind

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

COMMON = {"type", "description"}
FIELDS: dict[str, set[str]] = {
    "play": {"prompt", "announcements", "empty_prompt", "next"},
    "menu": {"prompt", "options", "timeout_s", "retries", "invalid_prompt", "no_input_prompt", "return_prompt"}
    | {"on_fail", "agent", "back"},
    "hours": {"weekly", "timezone", "holidays", "open", "closed"},
    "collect_digits": {"prompt", "min_digits", "max_digits", "terminator", "timeout_s", "retries"}
    | {"invalid_prompt", "store_as", "next", "on_fail"},
    "order_status": {"by", "digits_from", "found", "not_found", "next", "not_found_next"},
    "kb_answer": {"prompt", "timeout_s", "retries", "no_input_prompt", "no_answer_prompt", "next", "no_answer"}
    | {"agent"},
    "speech_intake": {"prompt", "again_prompt", "timeout_s", "retries", "no_input_prompt", "invalid_prompt"}
    | {"max_turns", "keys", "agent", "next"},
    "voicemail": {"prompt", "max_s", "beep", "next"},
    "agent": {"queue", "skill", "industry", "priority", "prompt", "overflow", "return_to_menu"},
    "hangup": {"prompt", "cause"},
    "goto": {"target"},
}


def build_node(
    r: Reader, node_id: str, raw: Any, path: str, defaults: Defaults, prompts: dict[str, Prompt]
) -> Node | None:
    """Build the node ``node_id`` from its mapping (None, with issues recorded in ``r``, if it is unusable)."""
    data = r.mapping(raw, path)
    if data is None:
        return None
    node_type = data.get("type")
    if node_type not in NODE_CLASSES:
        known = ", ".join(NODE_CLASSES)
        if node_type:
            r.error(f"{path}.type", "unknown_node_type", node_type=str(node_type), known=known)
        else:
            r.error(f"{path}.type", "required_type", known=known)
        return None
    r.check_fields(data, path, FIELDS[node_type] | COMMON)
    builder: Callable[..., Node | None] = _BUILDERS[node_type]
    return builder(r, node_id, data, path, defaults, prompts)


def _timing(r: Reader, data: dict[str, Any], path: str, defaults: Defaults) -> tuple[float, int]:
    return (
        r.number(data, "timeout_s", path, defaults.timeout_s, 1.0, 60.0),
        r.integer(data, "retries", path, defaults.retries, 0, 9),
    )


def _agent_target(r: Reader, data: dict[str, Any], path: str, defaults: Defaults) -> str | None:
    if data.get("agent") is False:
        return None
    if "agent" in data:
        return r.ref(data, "agent", path)
    return defaults.agent


def _play(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    announcements = r.boolean(d, "announcements", path, False)
    prompt = r.prompt(d, "prompt", path, f"{nid}.prompt")
    if prompt is None and not announcements and "prompt" not in d:
        r.error(f"{path}.prompt", "required_prompt_or_announcements")
    empty = r.prompt(d, "empty_prompt", path, f"{nid}.empty_prompt")
    if announcements and empty is None:
        empty = Prompt("目前没有新的公告。", "There are no current announcements.", f"{nid}.empty_prompt")
    target = r.ref(d, "next", path) or ""
    return PlayNode(id=nid, prompt=prompt, announcements=announcements, empty_prompt=empty, next=target)


def _menu(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    timeout, retries = _timing(r, d, path, df)
    options = _options(r, d.get("options"), f"{path}.options")
    agent = _agent_target(r, d, path, df)
    if agent is None and d.get("agent") is not False:
        r.warn(f"{path}.agent", "no_agent_target")
    return MenuNode(
        id=nid,
        prompt=r.need_prompt(d, "prompt", path, f"{nid}.prompt"),
        options=options,
        timeout_s=timeout,
        retries=retries,
        invalid_prompt=r.prompt(d, "invalid_prompt", path, f"{nid}.invalid_prompt") or pr["invalid_prompt"],
        no_input_prompt=r.prompt(d, "no_input_prompt", path, f"{nid}.no_input_prompt") or pr["no_input_prompt"],
        return_prompt=r.prompt(d, "return_prompt", path, f"{nid}.return_prompt") or pr["return_prompt"],
        on_fail=r.ref(d, "on_fail", path, required=False),
        agent=agent,
        back=r.boolean(d, "back", path, True),
    )


def _options(r: Reader, raw: Any, path: str) -> tuple[MenuOption, ...]:
    if not isinstance(raw, list) or not raw:
        if raw is None:
            r.error(path, "required_options")
        else:
            r.error(path, "expected_list", kind=kind(raw))
        return ()
    keys: dict[str, int] = {}
    phrases: dict[str, int] = {}
    out = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        data = r.mapping(item, where)
        if data is None:
            continue
        r.check_fields(data, where, {"key", "say", "next"})
        key = data.get("key")
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 9:
            key = str(key)
        if key is not None and (not isinstance(key, str) or key not in DTMF_KEYS):
            r.error(f"{where}.key", "bad_dtmf_key", dtmf=str(key))
            key = None
        elif key is not None and key in keys:
            r.error(f"{where}.key", "duplicate_dtmf_key", dtmf=key, other=keys[key])
        elif key is not None:
            keys[key] = i
        say = data.get("say") or []
        say = [say] if isinstance(say, str) else say
        if not isinstance(say, list) or not all(isinstance(p, str) and p.strip() for p in say):
            r.error(f"{where}.say", "bad_phrases")
            say = []
        for phrase in say:
            if phrase.strip() in phrases and phrases[phrase.strip()] != i:
                r.error(f"{where}.say", "duplicate_phrase", phrase=phrase.strip(), other=phrases[phrase.strip()])
            phrases[phrase.strip()] = i
        if data.get("key") is None and not say:
            r.error(where, "option_needs_key_or_say")
        target = r.ref(data, "next", where)
        out.append(MenuOption(key, tuple(p.strip() for p in say), target or ""))
    return tuple(out)


def _hours(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    tz = r.text(d, "timezone", path)  # None: the city's zone (the hub's --timezone)
    try:
        if tz is not None:
            ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.error(f"{path}.timezone", "unknown_timezone", timezone=str(tz))
    weekly: list[list[tuple[time, time]]] = [[] for _ in WEEKDAYS]
    raw = d.get("weekly")
    if not isinstance(raw, dict) or not raw:
        r.error(f"{path}.weekly", "required_weekly")
        raw = {}
    set_by: dict[int, str] = {}
    for spec, ranges in raw.items():
        where = f"{path}.weekly.{spec}"
        days = _weekdays(str(spec))
        if days is None:
            r.error(where, "unknown_weekday")
            continue
        for day in days:
            if day in set_by:
                r.error(where, "weekday_already_set", day=WEEKDAYS[day], spec=set_by[day])
            set_by[day] = str(spec)
        parsed = _ranges(r, ranges, where)
        for day in days:
            weekly[day] = parsed
    return HoursNode(
        id=nid,
        weekly=tuple(tuple(day) for day in weekly),
        timezone=tz,
        holidays=r.boolean(d, "holidays", path, True),
        open=r.ref(d, "open", path) or "",
        closed=r.ref(d, "closed", path) or "",
    )


def _weekdays(spec: str) -> list[int] | None:
    if spec in WEEKDAYS:
        return [WEEKDAYS.index(spec)]
    first, sep, last = spec.partition("-")
    if sep and first in WEEKDAYS and last in WEEKDAYS and WEEKDAYS.index(first) <= WEEKDAYS.index(last):
        return list(range(WEEKDAYS.index(first), WEEKDAYS.index(last) + 1))
    return None


def _ranges(r: Reader, raw: Any, path: str) -> list[tuple[time, time]]:
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if items is None:
        r.error(path, "expected_ranges")
        return []
    out: list[tuple[time, time]] = []
    for i, item in enumerate(items):
        m = _RANGE.match(str(item).strip())
        values = [int(g) for g in m.groups()] if m else []
        if not m or values[0] > 24 or values[2] > 24 or values[1] > 59 or values[3] > 59 or values[0] == 24:
            r.error(f"{path}[{i}]", "bad_time_range", range=str(item))
            continue
        if values[2] == 24 and values[3] != 0:
            r.error(f"{path}[{i}]", "bad_time_range_end", range=str(item))
            continue
        start = time(values[0], values[1])
        end = time.max if values[2] == 24 else time(values[2], values[3])
        if start >= end:
            r.error(f"{path}[{i}]", "range_start_after_end", range=str(item))
            continue
        clash = next((j for j, (s, e) in enumerate(out) if start < e and s < end), None)
        if clash is not None:
            r.error(f"{path}[{i}]", "range_overlap", range=str(item))
            continue
        out.append((start, end))
    return sorted(out)


def _collect(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    timeout, retries = _timing(r, d, path, df)
    low = r.integer(d, "min_digits", path, 1, 1, 32)
    high = r.integer(d, "max_digits", path, max(low, 20), 1, 32)
    if high < low:
        r.error(f"{path}.max_digits", "max_below_min")
    terminator = d.get("terminator", "#")
    if terminator not in (None, "", "#", "*"):
        r.error(f"{path}.terminator", "bad_terminator")
        terminator = "#"
    store_as = r.text(d, "store_as", path, default="digits") or "digits"
    if not _NAME.match(store_as):
        r.error(f"{path}.store_as", "bad_variable_name")
    return CollectDigitsNode(
        id=nid,
        prompt=r.need_prompt(d, "prompt", path, f"{nid}.prompt"),
        min_digits=low,
        max_digits=high,
        terminator=terminator or None,
        timeout_s=timeout,
        retries=retries,
        invalid_prompt=r.prompt(d, "invalid_prompt", path, f"{nid}.invalid_prompt") or pr["invalid_prompt"],
        store_as=store_as,
        next=r.ref(d, "next", path) or "",
        on_fail=r.ref(d, "on_fail", path, required=False),
    )


def _order(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    by = r.text(d, "by", path, default="auto") or "auto"
    if by not in ("digits", "caller", "auto"):
        r.error(f"{path}.by", "bad_order_by")
    found = r.need_prompt(d, "found", path, f"{nid}.found")
    for lang, text in (("zh-CN", found.zh), ("en", found.en)):
        try:
            names = {name for _lit, name, _spec, _conv in string.Formatter().parse(text or "") if name is not None}
        except ValueError as exc:
            r.error(f"{path}.found", "bad_template", lang=lang, detail=str(exc))
            continue
        for name in sorted(names - ORDER_PLACEHOLDERS):
            r.error(f"{path}.found", "unknown_placeholder", lang=lang, name=name, known="number, status, detail")
    target = r.ref(d, "next", path) or ""
    return OrderStatusNode(
        id=nid,
        by=by,
        digits_from=r.text(d, "digits_from", path, default="digits") or "digits",
        found=found,
        not_found=r.need_prompt(d, "not_found", path, f"{nid}.not_found"),
        next=target,
        not_found_next=r.ref(d, "not_found_next", path, required=False) or target,
    )


def _kb(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    timeout, retries = _timing(r, d, path, df)
    return KbAnswerNode(
        id=nid,
        prompt=r.need_prompt(d, "prompt", path, f"{nid}.prompt"),
        timeout_s=r.number(d, "timeout_s", path, max(timeout, 8.0), 1.0, 60.0),
        retries=retries,
        no_input_prompt=r.prompt(d, "no_input_prompt", path, f"{nid}.no_input_prompt") or pr["no_input_prompt"],
        no_answer_prompt=r.prompt(d, "no_answer_prompt", path, f"{nid}.no_answer_prompt") or pr["no_answer_prompt"],
        next=r.ref(d, "next", path) or "",
        no_answer=r.ref(d, "no_answer", path, required=False),
        agent=_agent_target(r, d, path, df),
    )


AGAIN_PROMPT = ("请问还有其他需要吗？请直接说出，或挂机结束通话。", "Is there anything else? Just say it, or hang up.")


def _intake(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    timeout, retries = _timing(r, d, path, df)
    agent = _agent_target(r, d, path, df)
    if agent is None and d.get("agent") is not False:
        r.warn(f"{path}.agent", "no_agent_target")
    again = r.prompt(d, "again_prompt", path, f"{nid}.again_prompt") or Prompt(*AGAIN_PROMPT, f"{nid}.again_prompt")
    return SpeechIntakeNode(
        id=nid,
        prompt=r.need_prompt(d, "prompt", path, f"{nid}.prompt"),
        again_prompt=again,
        timeout_s=r.number(d, "timeout_s", path, max(timeout, 8.0), 1.0, 60.0),  # free speech: longer than a key
        retries=retries,
        no_input_prompt=r.prompt(d, "no_input_prompt", path, f"{nid}.no_input_prompt") or pr["no_input_prompt"],
        invalid_prompt=r.prompt(d, "invalid_prompt", path, f"{nid}.invalid_prompt") or pr["invalid_prompt"],
        max_turns=r.integer(d, "max_turns", path, 8, 1, 50),
        keys=r.ref(d, "keys", path) or "",
        agent=agent,
        next=r.ref(d, "next", path) or "",
    )


def _voicemail(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    return VoicemailNode(
        id=nid,
        prompt=r.need_prompt(d, "prompt", path, f"{nid}.prompt"),
        max_s=r.integer(d, "max_s", path, 60, 5, 600),
        beep=r.boolean(d, "beep", path, True),
        next=r.ref(d, "next", path) or "",
    )


def _agent(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    queue = r.text(d, "queue", path, default="general") or "general"
    if not _NAME.match(queue):
        r.error(f"{path}.queue", "bad_queue_name")
    return AgentNode(
        id=nid,
        queue=queue,
        skill=r.text(d, "skill", path),
        industry=r.text(d, "industry", path),
        priority=r.integer(d, "priority", path, 0, -100, 100),
        prompt=r.prompt(d, "prompt", path, f"{nid}.prompt"),
        overflow=r.ref(d, "overflow", path, required=False),
        return_to_menu=r.boolean(d, "return_to_menu", path, True),
    )


def _hangup(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    cause = r.text(d, "cause", path, default="ivr_end") or "ivr_end"
    if not _NAME.match(cause):
        r.error(f"{path}.cause", "bad_cause")
    return HangupNode(id=nid, prompt=r.prompt(d, "prompt", path, f"{nid}.prompt"), cause=cause)


def _goto(r: Reader, nid: str, d: dict[str, Any], path: str, df: Defaults, pr: dict[str, Prompt]) -> Node:
    return GotoNode(id=nid, target=r.ref(d, "target", path) or "")


_BUILDERS: dict[str, Callable[..., Node | None]] = {
    "play": _play,
    "menu": _menu,
    "hours": _hours,
    "collect_digits": _collect,
    "order_status": _order,
    "kb_answer": _kb,
    "speech_intake": _intake,
    "voicemail": _voicemail,
    "agent": _agent,
    "hangup": _hangup,
    "goto": _goto,
}
