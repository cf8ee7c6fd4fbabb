"""Routing under load in one hub: how soon a routing change reaches the floor's listeners and supervisors' pages.

One hub process built as the tests build one (``build_hub(Settings(...))``, SQLite in a temporary directory, no
Rasa, no SIP endpoint), served on 127.0.0.1, with ``--agents`` bench agents (three in four with a registered
softphone) besides the demo users. It fills the switchboard with ``--chats`` active web chats (opened and handed
to a human through the conversation service, so they are enqueued by the hub's ``ConversationQueued`` event and
assigned through the service) and ``--calls`` call items (``Switchboard.enqueue_call`` with fake SIP Call-IDs on
real voice conversations; the media side is measured by ``voice_calls.py``), then for ``--seconds`` makes
``--rate`` routing changes per second that keep those numbers steady: new chats and closed chats (through the
service), new calls, answered offers, ended and abandoned calls, agents going on a break and back.

Measured per change kind, from the moment the change is asked for:

- ``listener``: until the first ``Switchboard.listen`` callback (what the floor and the inboxes hear), and how
  many changes notified nobody (``unnotified``: the router emitted no event for them);
- ``floor_ws``: until a supervisor's floor WebSocket (``--sockets`` of them, logged in as the demo supervisor, each
  in a client thread) receives a snapshot computed after the change; target ≤ 1 s;
- ``snapshot_ms``: one :func:`routing.floor.snapshot` computed directly, twice a second (its cost grows with the
  day's log entries, which the figures are computed from);
- the event loop's lag (a 10 ms ticker) and the process's CPU use.

Prints one JSON object (logs on stderr).

    python bench/routing_load.py [--agents 200] [--chats 300] [--calls 150] [--rate 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.conversation_service import ConversationService, NotAllowed  # noqa: E402
from hub.heap import freeze_startup_heap  # noqa: E402
from hub.models import Role, User  # noqa: E402
from hub.passwords import hash_password  # noqa: E402
from hub.storage.engine import begin  # noqa: E402
from hub.storage.schema import users  # noqa: E402
from rexian.app import build_hub  # noqa: E402
from rexian.settings import Settings  # noqa: E402
from routing.engine import AgentStatus, RoutingError  # noqa: E402
from routing.floor import FLOOR_FEED, snapshot  # noqa: E402
from routing.switchboard import SWITCHBOARD, Change, Switchboard, call_item_id  # noqa: E402

log = logging.getLogger("bench.routing_load")
HOST = "127.0.0.1"
QUEUE = "general"


def percentiles(values: list[float]) -> dict[str, float | int]:
    """Nearest-rank p50/p99/max in ms of ``values`` (seconds)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.5) * 1e3, 2),
        "p99_ms": round(pick(0.99) * 1e3, 2),
        "max_ms": round(ordered[-1] * 1e3, 2),
    }


@dataclasses.dataclass
class Op:
    """One routing change: its kind, when it was asked for (both clocks) and when the call returned."""

    kind: str
    started: float  # perf_counter
    started_wall: float  # time.time(), the floor snapshots' clock
    done_wall: float = 0.0
    notified: float | None = None  # perf_counter of the first listener callback


class Floor:
    """Supervisors' floor pages: WebSocket clients in their own thread, recording when each snapshot arrives."""

    def __init__(self, url: str, sockets: int) -> None:
        self.url = url
        self.sockets = sockets
        self.received: list[list[tuple[float, float]]] = [[] for _ in range(sockets)]  # (snapshot now, arrival)
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="floor-clients", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._clients())
        except BaseException as error:  # reported in the result
            self.error = error
            self.ready.set()

    async def _clients(self) -> None:
        connected = 0

        async def client(index: int) -> None:
            nonlocal connected
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                form = {"username": "supervisor", "password": "supervisor123", "next": "/staff"}
                async with session.post(f"{self.url}/login", data=form, allow_redirects=False) as resp:
                    assert resp.status == 302, await resp.text()
                ws_url = self.url.replace("http://", "ws://") + "/supervisor/floor/ws"
                async with session.ws_connect(ws_url, max_msg_size=0) as ws:
                    connected += 1
                    if connected == self.sockets:
                        self.ready.set()
                    while not self.stop.is_set():
                        try:
                            message = await ws.receive(timeout=0.5)
                        except TimeoutError:
                            continue
                        arrived = time.time()
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                        data = json.loads(message.data)
                        if data.get("type") == "snapshot":
                            self.received[index].append((datetime.fromisoformat(data["now"]).timestamp(), arrived))

        await asyncio.gather(*(client(i) for i in range(self.sockets)))

    def latencies(self, ops: list[Op]) -> dict[str, list[float]]:
        """Per change kind: change asked for → a snapshot computed after it arrived, for every socket."""
        out: dict[str, list[float]] = {}
        for received in self.received:
            index = 0
            for op in sorted(ops, key=lambda o: o.done_wall):
                while index < len(received) and received[index][0] < op.done_wall:
                    index += 1
                if index < len(received):
                    out.setdefault(op.kind, []).append(received[index][1] - op.started_wall)
        return out


class Load:
    """The hub under routing load: agents, chats and calls kept at their targets, changes at a steady rate."""

    def __init__(self, board: Switchboard, service: ConversationService, agents: list[User], args: Any) -> None:
        self.board = board
        self.service = service
        self.agents = {a.id: a for a in agents}
        self.args = args
        self.rng = random.Random(args.seed)
        self.ops: list[Op] = []
        self.current: Op | None = None
        self.chats: set[str] = set()  # conversation ids of the bench's open chats
        self.calls: set[str] = set()  # item ids of the bench's calls (waiting or held)
        self.count = 0
        self.failed: dict[str, int] = {}
        board.listen(self._heard)

    def _heard(self, _change: Change) -> None:
        op = self.current
        if op is not None and op.notified is None:
            op.notified = time.perf_counter()

    async def new_chat(self) -> None:
        self.count += 1
        conversation = await self.service.open("web_chat", ref=f"bench-chat-{self.count}")
        self.chats.add(conversation.id)
        await self.service.queue(conversation.id, "agent_request")

    async def close_chat(self) -> bool:
        held = [(i, h.agent_id) for i, h in self.board.router.held.items() if i in self.chats]
        if not held:
            return False
        conversation_id, agent_id = held[self.rng.randrange(len(held))]
        agent = self.agents.get(agent_id)
        if agent is None:
            return False
        try:
            await self.service.close(conversation_id, agent, "resolved")
        except NotAllowed:  # the router gave it out, the service has not recorded the assignment yet
            return False
        self.chats.discard(conversation_id)
        return True

    async def new_call(self) -> None:
        self.count += 1
        sip_call_id = f"bench-{self.count}@{HOST}"
        conversation = await self.service.open("voice", ref=sip_call_id)
        self.calls.add(call_item_id(sip_call_id))
        self.board.enqueue_call(sip_call_id, conversation.id, queue=QUEUE)

    def answer(self) -> bool:
        offers = [(i, a) for i, item in self.board.router.items.items() for a in item.offers]
        if not offers:
            return False
        item_id, agent_id = offers[self.rng.randrange(len(offers))]
        self.board.accept(item_id, agent_id)
        return True

    def end_call(self, waiting: bool) -> bool:
        pool = self.board.router.items if waiting else self.board.router.held
        candidates = [i for i in pool if i in self.calls]
        if not candidates:
            return False
        item_id = candidates[self.rng.randrange(len(candidates))]
        self.board.leave(item_id)
        self.calls.discard(item_id)
        return True

    def status(self) -> bool:
        agent_id = self.rng.choice(list(self.agents))
        agent = self.board.router.agents[agent_id]
        if agent.presence is AgentStatus.AVAILABLE and self.rng.random() < 0.25:
            self.board.set_status(agent_id, "break", "rest")
        else:
            self.board.set_status(agent_id, "available")
        return True

    def active_chats(self) -> int:
        return len(self.chats)

    async def step(self, measured: bool) -> None:
        """One change, chosen to keep the chats and calls near their targets."""
        rng, args = self.rng, self.args
        kind = rng.choices(("chat", "call", "answer", "status", "abandon"), (35, 25, 20, 15, 5))[0]
        op = Op(kind, time.perf_counter(), time.time())
        self.current = op
        done: bool | None = True
        try:
            if kind == "chat":
                if len(self.chats) < args.chats:
                    op.kind = "new_chat"
                    await self.new_chat()
                else:
                    op.kind = "close_chat"
                    done = await self.close_chat()
            elif kind == "call":
                if len(self.calls) < args.calls:
                    op.kind = "new_call"
                    await self.new_call()
                else:
                    op.kind = "end_call"
                    done = self.end_call(waiting=False)
            elif kind == "answer":
                done = self.answer()
            elif kind == "status":
                done = self.status()
            else:
                done = self.end_call(waiting=True)
        except RoutingError:
            done = False
        op.done_wall = time.time()
        self.current = None
        if not done:
            self.failed[op.kind] = self.failed.get(op.kind, 0) + 1
        elif measured:
            self.ops.append(op)


async def add_agents(hub_engine: Any, count: int) -> list[User]:
    """``count`` bench agents in the users table (before the switchboard starts, which loads them)."""
    password = await asyncio.to_thread(hash_password, "bench-agent")
    names = [f"bench_agent{i:03d}" for i in range(count)]
    now = datetime.now(UTC)
    async with begin(hub_engine) as conn:
        for name in names:
            await conn.execute(users.insert().values(username=name, password_hash=password, display_name=name,
                                                     role=Role.AGENT.value, active=True, created_at=now))  # fmt: skip
        rows = (await conn.execute(users.select().where(users.c.username.in_(names)))).all()
    return [User(r.id, r.username, r.display_name, Role.AGENT, None, True) for r in rows]


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late a 10 ms ticker wakes up (what every other task on the loop waits too)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + 0.01
        await asyncio.sleep(0.01)
        lags.append(max(loop.time() - due, 0.0))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rexian-routing-load-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", demo=True, start_rasa=False, prompt_check=False)
        hub = await build_hub(settings)
        agents = await add_agents(hub.engine, args.agents)
        runner = web.AppRunner(hub.app)
        await runner.setup()  # starts the switchboard: it loads the agents, all offline
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port = runner.addresses[0][1]
        board = hub.app[SWITCHBOARD]
        feed = hub.app[FLOOR_FEED]
        frozen = freeze_startup_heap() if not args.no_gc_freeze else 0  # as `rexian serve` does after start-up
        try:
            result = await measure(args, hub.service, board, feed, agents, f"http://{HOST}:{port}")
            return {**result, "gc_frozen_objects": frozen}
        finally:
            await runner.cleanup()
            await hub.close()


async def measure(
    args: argparse.Namespace, service: ConversationService, board: Switchboard, feed: Any, agents: list[User], url: str
) -> dict[str, Any]:
    for n, agent in enumerate(agents):
        if n % 4:
            board.set_registered(agent.id, True)  # signs the agent in (available)
        else:
            board.set_status(agent.id, "available")
    load = Load(board, service, agents, args)
    started = time.perf_counter()
    while len(load.chats) < args.chats or len(load.calls) < args.calls:
        if len(load.chats) < args.chats:
            await load.new_chat()
        if len(load.calls) < args.calls:
            await load.new_call()
        while load.answer():
            pass
    fill_s = time.perf_counter() - started
    log.info("filled: %d chats, %d calls in %.1f s", len(load.chats), len(load.calls), fill_s)

    floor = Floor(url, args.sockets)
    floor.start()
    if not await asyncio.to_thread(floor.ready.wait, 30) or floor.error is not None:
        raise RuntimeError(f"floor clients did not connect: {floor.error!r}")

    stop = asyncio.Event()
    lags: list[float] = []
    ticker = asyncio.create_task(loop_lag(stop, lags))
    snapshots: list[float] = []
    threshold = board.settings.sl_threshold_s
    usage_before, cpu_started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    loop = asyncio.get_running_loop()
    interval = 1.0 / args.rate
    next_at = loop.time()
    next_snapshot = loop.time()
    end = loop.time() + args.seconds
    while loop.time() < end:
        await load.step(measured=True)
        if loop.time() >= next_snapshot:
            began = time.perf_counter()
            snapshot(board, feed, threshold)
            snapshots.append(time.perf_counter() - began)
            next_snapshot += 0.5
        next_at += interval
        await asyncio.sleep(max(next_at - loop.time(), 0.0))
    await asyncio.sleep(1.5)  # the floor pushes at least once a second: let the last changes reach the pages
    usage_after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - cpu_started
    stop.set()
    await ticker
    floor.join()

    kinds = sorted({op.kind for op in load.ops})
    heard = {k: [op.notified - op.started for op in load.ops if op.kind == k and op.notified] for k in kinds}
    on_floor = floor.latencies(load.ops)
    every_floor = [latency for values in on_floor.values() for latency in values]
    router = board.router
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    return {
        "agents": args.agents,
        "target_chats": args.chats,
        "target_calls": args.calls,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "sockets": args.sockets,
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "fill_s": round(fill_s, 1),
        "changes": len(load.ops),
        "changes_not_possible": load.failed,
        "listener": {
            "all": percentiles([v for values in heard.values() for v in values]),
            "unnotified": {k: sum(1 for op in load.ops if op.kind == k and op.notified is None) for k in kinds},
            **{k: percentiles(v) for k, v in heard.items()},
        },
        "floor_ws": {
            "target_ms": 1000,
            "all": percentiles(every_floor),
            "target_met": bool(every_floor) and max(every_floor) <= 1.0,
            **{k: percentiles(v) for k, v in sorted(on_floor.items())},
            "snapshots_received": [len(r) for r in floor.received],
        },
        "snapshot_compute": percentiles(snapshots),
        "loop_lag": percentiles(lags),
        "hub_cpu_percent": round(100 * cpu / wall, 1),
        "final": {
            "waiting": len(router.items),
            "held": len(router.held),
            "chats": len(load.chats),
            "calls": len(load.calls),
            "agents_by_status": dict(sorted(statistics_by_status(board).items())),
            "queue_log_entries_today": len(feed._entries),
        },
    }


def statistics_by_status(board: Switchboard) -> dict[str, int]:
    counts: dict[str, int] = {}
    for agent in board.router.agents.values():
        counts[agent.status.value] = counts.get(agent.status.value, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--rate", type=float, default=50.0, help="routing changes per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sockets", type=int, default=3, help="supervisors' floor pages")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-gc-freeze", action="store_true", help="skip gc.freeze() after start-up (to compare)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
