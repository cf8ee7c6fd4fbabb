"""The hub under test for ``bench/voice_calls.py``, in its own process (so its CPU and memory are its own).

Built exactly as the tests build one (``build_hub(Settings(...))``, SQLite in a temporary directory, no Rasa: NLU
is "unavailable", which the DTMF IVR does not need), served on 127.0.0.1 with the voice channel on, uvloop when it
is installed. Before it reports ready (one JSON line on stdout) it:

- saves the default 12319 flow open around the clock (like the tests' ``always_open``), with a 60 s menu timeout
  and 9 retries so that callers can be held in the main menu;
- creates K agent accounts (one password hash shared by all, inserted with SQLAlchemy Core: hashing 170 scrypt
  passwords would only slow the set-up), a softphone secret for each, and adds them to the switchboard (which
  loaded the routed users at start-up: a softphone of a user it does not know is not routed to);
- sets every queue's wrap-up to 0 (the routing settings' template has 10 s after a call), so agents take the
  next call at once;
- renders every prompt of the flow, the menu defaults and the queue announcements into the prompt cache in the
  form the calls play them (``speakable()``);
- with ``--chat-agents K`` (default ``ceil(--chats / 3)``, 0 without chats): creates K more agents the same way but
  without a softphone, routes text conversations to a queue of their own (``chat``; the call agents' profiles name
  only the flow's call queues, the chat agents' profiles only ``chat`` with capacity 3, so no chat goes to a call
  agent and no call to a chat agent, which has no registered softphone anyway) and sets them available;
- with ``--chats N``: opens N web-chat conversations through the conversation service (a citizen message, then
  ``queue(..., "requested")``) and waits until the switchboard has assigned them all; from then on a background task
  sends ``--chat-rate`` messages/s into random chats, alternately an agent reply (``service.agent_reply`` by the
  holder) and a citizen message (``service.receive``, as the web-chat socket does), until the hub stops.

It serves ``GET /_bench/media?reset=1`` (the media clock's late_ms_max, then reset),
``GET /_bench/profile?action=start|stop`` (cProfile of the event-loop thread; ``stop`` returns the top functions) and
``GET /_bench/chats`` (the chats' figures since the last ``reset=1``; ``open=N`` opens N chats later, as ``--chats``
does at start: ``voice_calls.py`` measures its anchor phase first), and stops when its stdin closes.

    python bench/voice_calls_hub.py DATA_DIR --agents 160 --max-calls 200 [--chats 300] [--chat-rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import io
import json
import logging
import math
import os
import pstats
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiohttp import web  # noqa: E402
from voice_calls_stats import percentiles  # noqa: E402

from channels.voice.config import VoiceSettings  # noqa: E402
from channels.voice.ivr.flow import AgentNode, Flow, Prompt  # noqa: E402
from channels.voice.sip_accounts import SipAccountStore  # noqa: E402
from channels.voice.spoken_text import speakable  # noqa: E402
from hub.heap import freeze_startup_heap  # noqa: E402
from hub.i18n import t  # noqa: E402
from hub.intake import Inbound  # noqa: E402
from hub.models import ConversationStatus, Role, User  # noqa: E402
from hub.passwords import hash_password  # noqa: E402
from hub.storage.engine import begin  # noqa: E402
from hub.storage.schema import users  # noqa: E402
from hub.web.context import CTX  # noqa: E402
from rexian.app import build_hub  # noqa: E402
from rexian.settings import Settings  # noqa: E402
from routing.agent_store import Profile  # noqa: E402
from routing.routing_settings import RoutingSettings  # noqa: E402
from routing.switchboard import SWITCHBOARD  # noqa: E402

log = logging.getLogger("bench.voice_calls_hub")
HOST = "127.0.0.1"
CHAT_QUEUE = "chat"  # where text conversations wait when there are chat agents (the calls' queue stays the flow's)
CHAT_CAPACITY = 3
CITIZEN_TEXTS = ("小区路灯不亮，请尽快处理", "还在吗？", "楼下的水管漏水很严重", "好的，谢谢", "我的地址是建设路18号",
                 "什么时候能派人来？", "燃气费怎么交？", "电梯又坏了")  # fmt: skip
AGENT_TEXTS = ("您好，请问具体地址是哪里？", "已为您登记，工单号稍后发送。", "请稍等，我帮您查询一下。",
               "相关部门会在24小时内联系您。", "还有其他需要帮助的吗？")  # fmt: skip


def prompt_texts(flow: Flow) -> set[str]:
    """Every text a call of this flow can play, as it is played (digit runs spelled out)."""
    prompts: list[Prompt] = [flow.defaults.goodbye]
    for node in flow.nodes.values():
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Prompt):
                prompts.append(value)
    texts = {p.text("zh-CN") for p in prompts}
    texts.add(t("voice.queue_next", "zh-CN"))
    texts.update(t("voice.queue_position", "zh-CN", ahead=n) for n in range(1, 6))
    return {speakable(text) for text in texts if text.strip()}


def open_flow(document: str) -> str:
    """The default flow open around the clock, holding callers in the menus (60 s timeout, 9 retries)."""
    document = re.sub(r'mon-fri: \["08:30-12:00", "13:00-17:30"\]', 'mon-sun: ["00:00-24:00"]', document)
    document = document.replace("holidays: true", "holidays: false")
    document = re.sub(r"(?m)^  timeout_s: \d+", "  timeout_s: 60", document)
    return re.sub(r"(?m)^  retries: \d+", "  retries: 9", document)


class Profiler:
    """cProfile of the event-loop thread, switched on and off over HTTP."""

    def __init__(self) -> None:
        self.profile: cProfile.Profile | None = None

    async def handle(self, request: web.Request) -> web.Response:
        action = request.query.get("action")
        if action == "start":
            self.profile = cProfile.Profile()
            self.profile.enable()
            return web.json_response({"profiling": True})
        if action == "stop" and self.profile is not None:
            self.profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(self.profile, stream=out)
            rows = []
            for (file, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
                rows.append({"function": f"{Path(file).name}:{line}({name})", "calls": calls,
                             "tottime_s": round(tottime, 3), "cumtime_s": round(cumtime, 3)})  # fmt: skip
            rows.sort(key=lambda r: -float(r["tottime_s"]))
            total = sum(float(r["tottime_s"]) for r in rows)
            self.profile = None
            return web.json_response({"total_s": round(total, 2), "top": rows[:20]})
        raise web.HTTPBadRequest(text="action=start|stop")


async def create_agents(hub: Any, names: list[str], pw_hash: str) -> list[Any]:
    """Agent accounts inserted with SQLAlchemy Core (one shared password hash); their rows."""
    async with begin(hub.engine) as conn:
        now = datetime.now(UTC)
        for name in names:
            await conn.execute(users.insert().values(username=name, password_hash=pw_hash, display_name=name,
                                                     role=Role.AGENT.value, active=True, created_at=now))  # fmt: skip
    async with hub.engine.connect() as conn:
        return list((await conn.execute(users.select().where(users.c.username.in_(names)))).all())


def call_queues(flow: Flow) -> tuple[str, ...]:
    """The queues the flow's agent nodes put callers in."""
    return tuple(sorted({node.queue for node in flow.nodes.values() if isinstance(node, AgentNode)}))


class ChatLoad:
    """Active text chats held by the chat agents: opened through the conversation service, kept busy at a rate."""

    def __init__(self, hub: Any, agents: dict[int, User], call_agents: set[int], rate: float) -> None:
        self.hub = hub
        self.service = hub.service
        self.agents = agents  # chat agent id -> user
        self.call_agents = call_agents
        self.rate = rate
        self.chats: dict[str, int] = {}  # conversation id -> the chat agent holding it
        self.ids: list[str] = []  # the same, in the order they were assigned (the traffic picks from it)
        self.rng = random.Random(14)
        self.task: asyncio.Task[None] | None = None
        self.opening = asyncio.Lock()
        self._reset()

    def _reset(self) -> None:
        self.since = time.perf_counter()
        self.sent = {"agent": 0, "citizen": 0}
        self.errors: list[str] = []
        self.send_ms: list[float] = []
        self.behind_s_max = 0.0

    async def open(self, n: int, stall_s: float = 15.0) -> dict[str, Any]:
        """Open ``n`` chats, wait until every one is assigned to a chat agent, then start (or keep) the traffic.

        Stops waiting when no chat was assigned for ``stall_s`` (the chat agents are full).
        """
        async with self.opening:
            started = time.perf_counter()
            first = len(self.chats)
            opened: list[str] = []
            for i in range(first, first + n):
                text = CITIZEN_TEXTS[i % len(CITIZEN_TEXTS)]
                stored = await self.service.receive(Inbound("web_chat", text, ref=f"bench-chat-{i:05d}", for_bot=False))
                await self.service.queue(stored.conversation.id, "requested")
                opened.append(stored.conversation.id)
            open_s = time.perf_counter() - started
            store = self.service.store
            pending = set(opened)
            deadline = time.perf_counter() + stall_s
            while pending and time.perf_counter() < deadline:
                for cid in list(pending):
                    conversation = await store.get(cid)
                    if conversation.status is ConversationStatus.ASSIGNED and conversation.assignee_id is not None:
                        self.chats[cid] = conversation.assignee_id
                        self.ids.append(cid)
                        pending.discard(cid)
                        deadline = time.perf_counter() + stall_s
                if pending:
                    await asyncio.sleep(0.2)
            if self.task is None and self.chats and self.rate > 0:
                self.task = asyncio.create_task(self._traffic(), name="bench:chat-traffic")
            self._reset()
            return {
                "opened": len(opened),
                "assigned": len(opened) - len(pending),
                "open_s": round(open_s, 2),
                "open_and_assign_s": round(time.perf_counter() - started, 2),
                **self.holders(),
            }

    def holders(self) -> dict[str, Any]:
        """Who holds the chats: every one a chat agent, none a call agent, at most capacity each."""
        board = self.hub.app[SWITCHBOARD]
        held = {cid: board.holder(cid) for cid in self.chats}
        per_agent: dict[int, int] = {}
        for agent_id in held.values():
            if agent_id is not None:
                per_agent[agent_id] = per_agent.get(agent_id, 0) + 1
        return {
            "chats_assigned": sum(1 for a in held.values() if a is not None),
            "held_by_chat_agents": sum(1 for a in held.values() if a in self.agents),
            "held_by_call_agents": sum(1 for a in held.values() if a in self.call_agents),
            "chat_agents_busy": len(per_agent),
            "chats_per_agent_max": max(per_agent.values(), default=0),
        }

    async def _traffic(self) -> None:
        """``rate`` messages/s into random chats, alternately an agent reply and a citizen message."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        i = 0
        while True:
            next_at += 1.0 / self.rate
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.behind_s_max = max(self.behind_s_max, -delay)
                if delay < -1.0:
                    next_at = loop.time()  # far behind: no burst to catch up
            cid = self.rng.choice(self.ids)
            kind = "agent" if i % 2 == 0 else "citizen"
            i += 1
            started = time.perf_counter()
            try:
                if kind == "agent":
                    await self.service.agent_reply(cid, self.agents[self.chats[cid]], self.rng.choice(AGENT_TEXTS))
                else:
                    text = self.rng.choice(CITIZEN_TEXTS)
                    await self.service.receive(Inbound("web_chat", text, conversation_id=cid))
            except Exception as exc:  # a failed send is counted and reported, the traffic goes on
                log.warning("chat %s: %s failed: %r", cid, kind, exc)
                self.errors.append(f"{kind}: {exc!r}"[:200])
                continue
            self.send_ms.append(1000 * (time.perf_counter() - started))
            self.sent[kind] += 1

    async def handle(self, request: web.Request) -> web.Response:
        if "open" in request.query:
            return web.json_response(await self.open(int(request.query["open"])))
        wall = time.perf_counter() - self.since
        body = {
            "chats": len(self.chats),
            "rate_per_s": self.rate,
            **self.holders(),
            "wall_s": round(wall, 1),
            "sent": dict(self.sent),
            "achieved_per_s": round(sum(self.sent.values()) / wall, 2) if wall > 0 else None,
            "send_ms": percentiles(self.send_ms),
            "behind_s_max": round(self.behind_s_max, 3),
            "error_count": len(self.errors),
            "errors": self.errors[:5],
        }
        if request.query.get("reset"):
            self._reset()
        return web.json_response(body)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def serve(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir)
    voice = VoiceSettings(
        sip_port=args.sip_port,
        tcp=False,
        max_calls=args.max_calls,
        agent_ring_s=5.0,
        position_every_s=600.0,  # no periodic position announcements during the measurement
        max_wait_s=120.0,
        prompt_cache_dir=data_dir / "prompts",
    )
    chat_agents = args.chat_agents if args.chat_agents is not None else math.ceil(args.chats / CHAT_CAPACITY)
    routing = RoutingSettings()  # every queue from the template: no after-call work, agents take the next call
    routing = dataclasses.replace(routing, template=dataclasses.replace(routing.template, wrap_up_s={}))
    if chat_agents:
        routing = dataclasses.replace(routing, text_queue=CHAT_QUEUE)
    hub = await build_hub(Settings(data_dir=data_dir, demo=True, start_rasa=False, voice=voice, routing=routing))
    channel = hub.voice
    assert channel is not None and hub.ivr_flows is not None
    profiler = Profiler()

    async def media(request: web.Request) -> web.Response:
        body = {"late_ms_max": round(channel.clock.late_ms_max, 1), "ticks": channel.clock.ticks}
        if request.query.get("reset"):
            channel.clock.late_ms_max = 0.0
        return web.json_response(body)

    hub.app.router.add_get("/_bench/media", media)
    hub.app.router.add_get("/_bench/profile", profiler.handle)
    chats: ChatLoad | None = None

    async def chat_figures(request: web.Request) -> web.Response:
        if chats is None:
            raise web.HTTPConflict(text="no chat agents: start the hub with --chat-agents or --chats")
        return await chats.handle(request)

    hub.app.router.add_get("/_bench/chats", chat_figures)
    runner = web.AppRunner(hub.app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, args.http_port)
    await site.start()

    active = await hub.ivr_flows.active()
    assert active is not None
    await hub.ivr_flows.save(open_flow(active.document), user_id=None, comment="bench: open, holds callers")

    secrets_: list[tuple[str, str]] = []
    pw_hash = await asyncio.to_thread(hash_password, "bench-agent")
    rows = await create_agents(hub, [f"bench_agent{i:03d}" for i in range(args.agents)], pw_hash)
    accounts = SipAccountStore(hub.engine)
    board = hub.app[SWITCHBOARD]
    queues = call_queues(hub.ivr_flows.holder())
    for row in rows:
        _, secret = await accounts.reset(row.id, voice.realm)
        secrets_.append((row.username, secret))
        await board.add_agent(row.id, row.display_name)  # created after start-up: the switchboard routes to them
        if chat_agents:  # calls only: text conversations wait in the chat queue for the chat agents
            await board.save_profile(Profile(row.id, queues=queues))
    await channel._refresh_credentials()  # the registrar reloads every 10 s; do not wait for it

    if chat_agents:
        chat_rows = await create_agents(hub, [f"bench_chat{i:03d}" for i in range(chat_agents)], pw_hash)
        chat_users: dict[int, User] = {}
        for row in chat_rows:  # no softphone: the router never offers them a call
            await board.add_agent(row.id, row.display_name)
            await board.save_profile(Profile(row.id, queues=(CHAT_QUEUE,), capacity=CHAT_CAPACITY))
            board.set_status(row.id, "available")
            user = await hub.app[CTX].users.get(row.id)
            assert user is not None
            chat_users[row.id] = user
        chats = ChatLoad(hub, chat_users, {row.id for row in rows}, args.chat_rate)
    chats_opened = await chats.open(args.chats) if chats is not None and args.chats else None

    texts = prompt_texts(hub.ivr_flows.holder())
    started = time.perf_counter()
    await channel.tts.warm(sorted(texts))
    warm_s = time.perf_counter() - started
    frozen = freeze_startup_heap() if not args.no_gc_freeze else 0  # as `rexian serve` does after start-up

    ready = {
        "pid": os.getpid(),
        "sip_port": channel.port,
        "http_port": args.http_port,
        "loop": type(asyncio.get_running_loop()).__module__ + "." + type(asyncio.get_running_loop()).__name__,
        "agents": secrets_,
        "call_queues": list(queues),
        "chat_agents": chat_agents,
        "chats_assigned": chats_opened["chats_assigned"] if chats_opened else 0,
        "chats": chats_opened,
        "prompts_warmed": len(texts),
        "warm_s": round(warm_s, 2),
        "gc_frozen_objects": frozen,
    }
    print(json.dumps(ready), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the benchmark closes stdin
    if chats is not None:
        await chats.close()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir")
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--agents", type=int, default=160)
    parser.add_argument("--max-calls", type=int, default=200)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--no-gc-freeze", action="store_true", help="skip gc.freeze() (to compare)")
    parser.add_argument("--chats", type=int, default=0, help="active web chats opened before ready (default 0)")
    parser.add_argument("--chat-agents", type=int, default=None,
                        help="agents without a softphone taking the chats (default: ceil(chats / 3))")  # fmt: skip
    parser.add_argument("--chat-rate", type=float, default=10.0, help="chat messages/s into random chats")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
