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
  form the calls play them (``speakable()``).

It serves ``GET /_bench/media?reset=1`` (the media clock's late_ms_max, then reset) and
``GET /_bench/profile?action=start|stop`` (cProfile of the event-loop thread; ``stop`` returns the top functions),
and stops when its stdin closes.

    python bench/voice_calls_hub.py DATA_DIR --agents 160 --max-calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import io
import json
import logging
import os
import pstats
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from channels.voice.config import VoiceSettings  # noqa: E402
from channels.voice.ivr.flow import Flow, Prompt  # noqa: E402
from channels.voice.sip_accounts import SipAccountStore  # noqa: E402
from channels.voice.spoken_text import speakable  # noqa: E402
from hub.heap import freeze_startup_heap  # noqa: E402
from hub.i18n import t  # noqa: E402
from hub.models import Role  # noqa: E402
from hub.passwords import hash_password  # noqa: E402
from hub.storage.engine import begin  # noqa: E402
from hub.storage.schema import users  # noqa: E402
from rexian.app import build_hub  # noqa: E402
from rexian.settings import Settings  # noqa: E402
from routing.routing_settings import RoutingSettings  # noqa: E402
from routing.switchboard import SWITCHBOARD  # noqa: E402

log = logging.getLogger("bench.voice_calls_hub")
HOST = "127.0.0.1"


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
    routing = RoutingSettings()  # every queue from the template: no after-call work, agents take the next call
    routing = dataclasses.replace(routing, template=dataclasses.replace(routing.template, wrap_up_s={}))
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
    runner = web.AppRunner(hub.app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, args.http_port)
    await site.start()

    active = await hub.ivr_flows.active()
    assert active is not None
    await hub.ivr_flows.save(open_flow(active.document), user_id=None, comment="bench: open, holds callers")

    secrets_: list[tuple[str, str]] = []
    pw_hash = await asyncio.to_thread(hash_password, "bench-agent")
    names = [f"bench_agent{i:03d}" for i in range(args.agents)]
    async with begin(hub.engine) as conn:
        now = datetime.now(UTC)
        for name in names:
            await conn.execute(users.insert().values(username=name, password_hash=pw_hash, display_name=name,
                                                     role=Role.AGENT.value, active=True, created_at=now))  # fmt: skip
    accounts = SipAccountStore(hub.engine)
    async with hub.engine.connect() as conn:
        rows = (await conn.execute(users.select().where(users.c.username.in_(names)))).all()
    board = hub.app[SWITCHBOARD]
    for row in rows:
        _, secret = await accounts.reset(row.id, voice.realm)
        secrets_.append((row.username, secret))
        await board.add_agent(row.id, row.display_name)  # created after start-up: the switchboard routes to them
    await channel._refresh_credentials()  # the registrar reloads every 10 s; do not wait for it

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
        "prompts_warmed": len(texts),
        "warm_s": round(warm_s, 2),
        "gc_frozen_objects": frozen,
    }
    print(json.dumps(ready), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the benchmark closes stdin
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
