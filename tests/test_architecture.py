"""The dependency rules of design.md, checked on the source: who may import whom.

hub/ is the core and imports no other package of the project; channels never import each other; routing/,
knowledge_base/ and nlu/ import hub/ but no channel; only the composition root (rexian/) wires everything; no channel
touches the conversation store (every message goes through the conversation service).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("hub", "channels", "routing", "knowledge_base", "nlu", "rexian")
CHANNELS = sorted(p.name for p in (ROOT / "channels").iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "rasa_project" not in p.parts)


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _sources(package):
        for module in sorted(_imports(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


def test_hub_imports_no_other_package_of_the_project() -> None:
    assert _offenders("hub", ("channels", "routing", "knowledge_base", "nlu", "rexian")) == []


@pytest.mark.parametrize("package", ["routing", "knowledge_base", "nlu"])
def test_routing_knowledge_base_and_nlu_import_no_channel_and_not_the_root(package: str) -> None:
    assert _offenders(package, ("channels", "rexian")) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_imports_no_other_channel_nor_the_root(channel: str) -> None:
    others = tuple(f"channels.{c}" for c in CHANNELS if c != channel)
    assert _offenders(f"channels/{channel}", (*others, "rexian")) == []


def test_no_channel_touches_the_conversation_store() -> None:
    """Messages enter through the conversation service; the store is the service's."""
    assert _offenders("channels", ("hub.storage.conversations",)) == []


def test_the_acd_and_the_chat_queue_live_in_routing() -> None:
    assert (ROOT / "routing" / "acd.py").exists()
    assert (ROOT / "routing" / "chat_queue.py").exists()
    assert not (ROOT / "channels" / "voice" / "acd.py").exists()


def test_hub_storage_holds_only_the_core_domain() -> None:
    """Channel, KB and NLU tables live with their package (hub/storage: conversations, users, orders, outbox)."""
    names = {p.stem for p in (ROOT / "hub" / "storage").glob("*.py")}
    assert not names & {"sms", "email", "calls", "sip_accounts", "ivr_flows", "open311", "knowledge", "nlu_feedback"}
