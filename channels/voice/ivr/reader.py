"""Reads a parsed flow document field by field, collecting every problem with its path instead of stopping."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from channels.voice.ivr.flow import FlowIssue, ParamValue, Prompt

MAX_ISSUES = 200


class Reader:
    """Walks a parsed document, collecting issues instead of stopping at the first; ``refs`` are checked later."""

    def __init__(self) -> None:
        self.errors: list[FlowIssue] = []
        self.warnings: list[FlowIssue] = []
        self.refs: list[tuple[str, str]] = []  # (path, target node id)

    def error(self, path: str, code: str, **params: ParamValue) -> None:
        """Record the problem ``code`` (catalog key ``ivr.issue.<code>``, placeholders ``params``) at ``path``."""
        if len(self.errors) < MAX_ISSUES:
            self.errors.append(FlowIssue(path, code, params))

    def warn(self, path: str, code: str, **params: ParamValue) -> None:
        """Record a warning (it does not prevent loading) like :meth:`error`."""
        if len(self.warnings) < MAX_ISSUES:
            self.warnings.append(FlowIssue(path, code, params))

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, "expected_mapping", kind=kind(value))
            return None
        return value

    def check_fields(self, data: dict[str, Any], path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.error(f"{path}.{key}", "unknown_field", allowed=", ".join(sorted(allowed)))

    def text(self, data: dict[str, Any], key: str, path: str, *, default: str | None = None) -> str | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.error(f"{path}.{key}", "expected_text", kind=kind(value))
            return default
        return str(value).strip() or default

    def required(self, data: dict[str, Any], key: str, path: str) -> bool:
        if data.get(key) is None:
            self.error(f"{path}.{key}", "required")
            return False
        return True

    def number(self, data: dict[str, Any], key: str, path: str, default: float, low: float, high: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(f"{path}.{key}", "expected_number", kind=kind(value))
            return default
        if not low <= value <= high:
            self.error(f"{path}.{key}", "out_of_range", low=f"{low:g}", high=f"{high:g}")
            return default
        return float(value)

    def integer(self, data: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{path}.{key}", "expected_integer", kind=kind(value))
            return default
        if not low <= value <= high:
            self.error(f"{path}.{key}", "out_of_range", low=low, high=high)
            return default
        return value

    def boolean(self, data: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", "expected_boolean", kind=kind(value))
            return default
        return value

    def prompt(
        self, data: dict[str, Any], key: str, path: str, pid: str, default: Prompt | None = None
    ) -> Prompt | None:
        if data.get(key) is None:
            return default
        value, where = data[key], f"{path}.{key}"
        if isinstance(value, str):
            if not value.strip():
                self.error(where, "empty_prompt")
                return default
            return Prompt(value.strip(), None, pid)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in ("zh-CN", "en")]
            if unknown:
                self.error(f"{where}.{unknown[0]}", "unknown_language", allowed="zh-CN, en")
            zh, en = value.get("zh-CN"), value.get("en")
            if not isinstance(zh, str) or not zh.strip():
                self.error(where, "missing_zh_text")
                return default
            if en is not None and (not isinstance(en, str) or not en.strip()):
                self.error(f"{where}.en", "expected_nonempty_text")
                en = None
            return Prompt(zh.strip(), en.strip() if isinstance(en, str) else None, pid)
        self.error(where, "expected_prompt", kind=kind(value))
        return default

    def need_prompt(self, data: dict[str, Any], key: str, path: str, pid: str) -> Prompt:
        found = self.prompt(data, key, path, pid)
        if found is None:
            if key not in data:
                self.error(f"{path}.{key}", "required")
            return Prompt("", None, pid)
        return found

    def ref(self, data: dict[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "required")
            return None
        if not isinstance(value, str):
            self.error(f"{path}.{key}", "expected_node_id", kind=kind(value))
            return None
        self.refs.append((f"{path}.{key}", value))
        return value


KINDS: dict[type, str] = {
    type(None): "nothing",
    dict: "mapping",
    list: "list",
    str: "text",
    bool: "boolean",
    int: "integer",
    float: "number",
    date: "date",
    datetime: "timestamp",
    bytes: "binary",
    set: "set",
}
OTHER_KIND = "other"


def kind(value: Any) -> str:
    """The code naming what a YAML value is (``list`` ...; catalog key ``ivr.kind.<code>``)."""
    return KINDS.get(type(value), OTHER_KIND)
