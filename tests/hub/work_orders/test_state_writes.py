"""Only the work-order service moves an order's state (ADR 0021): a scan of the application's source.

The store writes ``work_orders.state`` in two places: the insert of :meth:`WorkOrderStore.create` (always 受理) and
the guarded update of :meth:`WorkOrderStore.apply`, which only :mod:`hub.work_orders.service` calls. Any other
insert into ``work_orders``, update that may set its ``state`` (or whose columns cannot be read from the source),
raw SQL doing either, or call of ``.apply(..., to_state=...)`` outside the service fails this test.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from hub.storage.work_orders import WorkOrderStore
from hub.work_orders.service import WorkOrderService

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("hub", "routing", "channels", "knowledge_base", "nlu", "rexian")
STORE = Path(inspect.getsourcefile(WorkOrderStore) or "").resolve()
SERVICE = Path(inspect.getsourcefile(WorkOrderService) or "").resolve()
RAW_SQL = re.compile(r"\b(update|insert\s+into|replace\s+into)\s+\"?work_orders\b", re.IGNORECASE)
TABLE = "work_orders"


@dataclass(frozen=True)
class Write:
    path: Path
    function: str  # innermost enclosing function ("" at module level)
    kind: str  # insert | update | sql | apply
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} in {self.function or '<module>'}: {self.kind}"


def _is_table(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == TABLE) or (isinstance(node, ast.Attribute) and node.attr == TABLE)


def _statement_kind(node: ast.AST) -> str | None:
    """ "insert"/"update" for ``work_orders.insert()`` / ``sa.update(work_orders)`` and the like."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
        return None
    name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
    if name not in ("insert", "update"):
        return None
    if isinstance(node.func, ast.Attribute) and _is_table(node.func.value):
        return name
    if node.args and _is_table(node.args[0]):
        return name
    return None


def _may_set_state(values: ast.Call) -> bool:
    """Whether a ``.values(...)`` call may set ``state`` (unreadable arguments count as yes)."""
    if any(kw.arg in (None, "state") for kw in values.keywords):
        return True
    for arg in values.args:
        if not isinstance(arg, ast.Dict) or not all(isinstance(k, ast.Constant) for k in arg.keys):
            return True
        if any(isinstance(k, ast.Constant) and k.value == "state" for k in arg.keys):
            return True
    return False


def _chain(node: ast.expr) -> list[ast.expr]:
    """The receivers of a method chain, outermost first: ``a.b().c()`` → [a.b().c(), a.b(), a]."""
    out = [node]
    while True:
        inner = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if inner is None and isinstance(node, ast.Attribute):
            inner = node.value
        if inner is None:
            return out
        out.append(inner)
        node = inner


class Scanner(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.functions: list[str] = []
        self.writes: list[Write] = []
        self.updates_with_values: dict[int, bool] = {}  # id(update call) -> may set state

    def _add(self, kind: str, node: ast.expr) -> None:
        self.writes.append(Write(self.path, self.functions[-1] if self.functions else "", kind, node.lineno))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        kind = _statement_kind(node)
        if kind == "insert":
            self._add("insert", node)
        elif kind == "update" and self.updates_with_values.get(id(node), True):
            self._add("update", node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            for inner in _chain(node)[1:]:
                if _statement_kind(inner) == "update":
                    self.updates_with_values[id(inner)] = self.updates_with_values.get(id(inner), False) or (
                        _may_set_state(node)
                    )
        is_apply = isinstance(node.func, ast.Attribute) and node.func.attr == "apply"
        if is_apply and any(kw.arg == "to_state" for kw in node.keywords):
            self._add("apply", node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and RAW_SQL.search(node.value):
            self._add("sql", node)


def state_writes() -> list[Write]:
    """Every place in the application's packages that may write ``work_orders.state``."""
    found: list[Write] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            scanner = Scanner(path.resolve())
            scanner.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
            found += scanner.writes
    return found


def test_only_the_store_writes_the_state_and_only_the_service_moves_it() -> None:
    found = state_writes()
    table_writes = sorted((w.path, w.function, w.kind) for w in found if w.kind != "apply")
    assert table_writes == [(STORE, "apply", "update"), (STORE, "create", "insert")], [w.where() for w in found]
    callers = {w.path for w in found if w.kind == "apply"}
    assert callers == {SERVICE}, [w.where() for w in found if w.kind == "apply"]


def scan(source: str) -> list[str]:
    scanner = Scanner(ROOT / "x.py")
    scanner.visit(ast.parse(source))
    return [f"{w.function}:{w.kind}" for w in scanner.writes]


def test_the_scan_sees_the_usual_spellings() -> None:
    source = """
async def bad(conn, order_id):
    await conn.execute(work_orders.update().where(work_orders.c.id == order_id).values(state="closed"))
    await conn.execute(sa.update(schema.work_orders).values(**changes))
    await conn.execute(sa.update(work_orders).values({work_orders.c.state: "closed"}))
    await conn.execute(sa.text("UPDATE work_orders SET state = 'closed'"))
    await conn.execute(work_orders.insert().values(number="1"))
    await store.apply(order, action="x", to_state="closed", actor_id=None, note=None)

async def fine(conn, order_id):
    await conn.execute(work_orders.update().where(work_orders.c.id == order_id).values(contact_id=3))
    await conn.execute(work_orders.update().values({"phone": None}))
    await conn.execute(work_order_events.insert().values(action="note"))
    await conn.execute(sa.select(work_orders))
    """
    assert scan(source) == ["bad:update", "bad:update", "bad:update", "bad:sql", "bad:insert", "bad:apply"]
