"""Reads a parsed flow document field by field, collecting every problem with its path instead of stopping."""

from __future__ import annotations

from typing import Any

from channels.voice.ivr.flow import FlowIssue, Prompt

MAX_ISSUES = 200


class Reader:
    """Walks a parsed document, collecting issues instead of stopping at the first; ``refs`` are checked later."""

    def __init__(self) -> None:
        self.errors: list[FlowIssue] = []
        self.warnings: list[FlowIssue] = []
        self.refs: list[tuple[str, str]] = []  # (path, target node id)

    def error(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ISSUES:
            self.errors.append(FlowIssue(path, message))

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {kind(value)}")
            return None
        return value

    def check_fields(self, data: dict[str, Any], path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def text(self, data: dict[str, Any], key: str, path: str, *, default: str | None = None) -> str | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.error(f"{path}.{key}", f"expected text, got {kind(value)}")
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
            self.error(f"{path}.{key}", f"expected a number, got {kind(value)}")
            return default
        if not low <= value <= high:
            self.error(f"{path}.{key}", f"must be between {low:g} and {high:g}")
            return default
        return float(value)

    def integer(self, data: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{path}.{key}", f"expected a whole number, got {kind(value)}")
            return default
        if not low <= value <= high:
            self.error(f"{path}.{key}", f"must be between {low} and {high}")
            return default
        return value

    def boolean(self, data: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected true or false, got {kind(value)}")
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
                self.error(where, "empty prompt")
                return default
            return Prompt(value.strip(), None, pid)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in ("zh-CN", "en")]
            if unknown:
                self.error(f"{where}.{unknown[0]}", "unknown language (allowed: zh-CN, en)")
            zh, en = value.get("zh-CN"), value.get("en")
            if not isinstance(zh, str) or not zh.strip():
                self.error(where, "missing zh-CN text")
                return default
            if en is not None and (not isinstance(en, str) or not en.strip()):
                self.error(f"{where}.en", "expected non-empty text")
                en = None
            return Prompt(zh.strip(), en.strip() if isinstance(en, str) else None, pid)
        self.error(where, f"expected text or {{zh-CN: ..., en: ...}}, got {kind(value)}")
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
            self.error(f"{path}.{key}", f"expected a node id, got {kind(value)}")
            return None
        self.refs.append((f"{path}.{key}", value))
        return value


def kind(value: Any) -> str:
    """How a YAML value is named in messages."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)
