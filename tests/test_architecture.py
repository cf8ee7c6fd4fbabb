"""The dependency rules of design.md, checked on the source: who may import whom.

hub/ is the core and imports no other package of the project; channels never import each other; routing/,
knowledge_base/ and nlu/ import hub/ but no channel; only the composition root (rexian/) wires everything; no channel
touches the conversation store (every message goes through the conversation service).
"""

from __future__ import annotations

import ast
import re
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
    """Calls and chats wait in the switchboard's one router (ADR 0030): no channel has a queue of its own."""
    assert (ROOT / "routing" / "switchboard.py").exists() and (ROOT / "routing" / "engine" / "engine.py").exists()
    assert not (ROOT / "routing" / "acd.py").exists() and not (ROOT / "channels" / "voice" / "acd.py").exists()
    assert not (ROOT / "routing" / "chat_queue.py").exists()  # text waits in the switchboard too
    defined = []
    for path in _sources("channels"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and re.search(r"(Queue|Acd|Router)$", node.name):
                defined.append(f"{path.relative_to(ROOT)} defines {node.name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Router":
                defined.append(f"{path.relative_to(ROOT)} builds a Router")
    assert defined == []
    assert _offenders("channels", ("routing.engine.engine", "routing.engine.core", "routing.acd")) == []


def test_hub_storage_holds_only_the_core_domain() -> None:
    """Channel, KB and NLU tables live with their package (hub/storage: conversations, users, orders, outbox)."""
    names = {p.stem for p in (ROOT / "hub" / "storage").glob("*.py")}
    assert not names & {"sms", "email", "calls", "sip_accounts", "ivr_flows", "open311", "knowledge", "nlu_feedback"}


# -- conversation status: only the conversation service changes it (ADR 0022) -----------------------------------

STATUS_WRITERS = ("hub/conversation_service.py", "hub/storage/")  # the service, and the store it writes through
CONVERSATIONS_SQL = re.compile(
    r"\bupdate\s+\"?conversations\"?\s+set\b[^;]*\bstatus\b|\binsert\s+into\s+\"?conversations\b",
    re.IGNORECASE | re.DOTALL,
)


def _mentions_conversation_status(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "ConversationStatus" for n in ast.walk(node))


def _is_conversations_table(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "conversations") or (
        isinstance(node, ast.Attribute) and node.attr == "conversations"
    )


def _table_statement(node: ast.AST) -> str | None:
    """ "insert"/"update" for ``conversations.update()``, ``sa.update(conversations)`` and the like."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
        return None
    name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
    if name not in ("insert", "update"):
        return None
    if isinstance(node.func, ast.Attribute) and _is_conversations_table(node.func.value):
        return name
    if node.args and _is_conversations_table(node.args[0]):
        return name
    return None


def _values_may_set_status(values: ast.Call) -> bool:
    """Whether a ``.values(...)`` call may set ``status`` (arguments the source does not spell out count as yes)."""
    if any(kw.arg in (None, "status") for kw in values.keywords):
        return True
    for arg in values.args:
        if not isinstance(arg, ast.Dict) or not all(isinstance(k, ast.Constant) for k in arg.keys):
            return True
        if any(isinstance(k, ast.Constant) and k.value == "status" for k in arg.keys):
            return True
    return False


def _receivers(node: ast.expr) -> list[ast.expr]:
    """The receivers of a method chain below ``node``: ``a.b().c()`` → [a.b(), a]."""
    out: list[ast.expr] = []
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
        if isinstance(node, ast.Attribute):
            node = node.value
            out.append(node)
    return out


def status_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every place in ``tree`` that may write a conversation's status."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in ("update", "transition") and any(kw.arg == "status" for kw in node.keywords):
                found.append((node.lineno, f".{name}(status=...)"))
            found += [
                (node.lineno, "status=ConversationStatus...")
                for kw in node.keywords
                if kw.arg == "status" and _mentions_conversation_status(kw.value)
            ]
            if _table_statement(node) == "insert":
                found.append((node.lineno, "insert into conversations"))
            if (
                name == "values"
                and _values_may_set_status(node)
                and any(_table_statement(inner) == "update" for inner in _receivers(node))
            ):
                found.append((node.lineno, "update conversations .values(status...)"))
        elif isinstance(node, ast.Dict):
            found += [
                (node.lineno, '{"status": ConversationStatus...}')
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "status" and _mentions_conversation_status(value)
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and CONVERSATIONS_SQL.search(node.value):
            found.append((node.lineno, "raw SQL"))
    return sorted(found, key=lambda f: f[0])


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_only_the_conversation_service_changes_a_conversations_status() -> None:
    """Bot turns, the queue, agents, calls and work-order notices change the status through the service only."""
    offenders = []
    for package in PACKAGES:
        for path in _sources(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(STATUS_WRITERS):
                continue
            offenders += [f"{relative}:{line}: {what}" for line, what in status_writes(_parse(path))]
    assert offenders == []


def test_the_status_scan_sees_the_usual_spellings() -> None:
    source = """
async def bad(store, conn, cid, values):
    await store.update(cid, status="queued")
    await store.transition(cid, {ConversationStatus.BOT}, status=ConversationStatus.CLOSED.value)
    await store.commit_turn(cid, 1, replies=[], nlu=None, updates={"status": ConversationStatus.QUEUED.value})
    await save(cid, status=ConversationStatus.ASSIGNED)
    await conn.execute(conversations.update().where(conversations.c.id == cid).values(status="closed"))
    await conn.execute(sa.update(schema.conversations).values(**values))
    await conn.execute(conversations.insert().values(id=cid))
    await conn.execute(sa.text("UPDATE conversations SET status = 'bot' WHERE id = :id"))
    await calls.update(7, status="ringing")  # any .update(status=...): other records name the keyword otherwise

async def fine(store, conn, cid):
    await store.update(cid, contact_id=3)
    await store.transition(cid)
    await conn.execute(conversations.update().where(conversations.c.id == cid).values(delivered_id=7))
    await conn.execute(sms_jobs.update().values(status="done"))
    await conn.execute(sa.select(conversations).where(conversations.c.status == ConversationStatus.BOT.value))
    return {"status": conversation.status.value}
    """
    found = [what for _, what in status_writes(ast.parse(source))]
    assert found == [
        ".update(status=...)",
        ".transition(status=...)",
        "status=ConversationStatus...",
        '{"status": ConversationStatus...}',
        "status=ConversationStatus...",
        "update conversations .values(status...)",
        "update conversations .values(status...)",
        "insert into conversations",
        "raw SQL",
        ".update(status=...)",
    ]


def test_no_channel_stores_messages_itself() -> None:
    """Channels hand citizen messages to ``ConversationService.receive``/``exchange``, never to the store."""
    offenders = []
    for path in _sources("channels"):
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name == "add_message":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
