"""Concurrent citizen WebSocket sessions through the hub versus bare Rasa /model/parse (the anchor).

Prints one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger("bench.ws_sessions")
REPO = Path(__file__).resolve().parent.parent

# One citizen session: two questions, then a fault report with its address and phone (a full work order).
SCRIPT = [
    "燃气开户需要带什么材料",
    "暖气什么时候开始供暖",
    "我家楼下路灯坏了三天了",
    "城东区幸福路12号3单元门口",
    "13812345678",
    "老年人免费乘车卡怎么办理",
    "水费怎么收费的",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ms: list[float], wall_s: float) -> dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "mean_ms": round(statistics.fmean(latencies_ms), 2) if latencies_ms else float("nan"),
        "per_s": round(len(latencies_ms) / wall_s, 1) if wall_s else float("nan"),
    }


async def citizen(session: aiohttp.ClientSession, ws_url: str, turns: int, out: list[float]) -> None:
    """One citizen: hello, then ``turns`` messages, each timed from send to the bot's first reply."""
    async with session.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "hello", "conversation_id": None, "last_id": 0})
        while json.loads(await ws.receive_str())["type"] != "ready":
            pass
        for i in range(turns):
            text = SCRIPT[i % len(SCRIPT)]
            client_id = uuid.uuid4().hex
            started = time.perf_counter()
            await ws.send_json({"type": "message", "text": text, "client_id": client_id})
            acked = False
            while True:
                frame = json.loads(await asyncio.wait_for(ws.receive_str(), 60))
                if frame["type"] == "ack" and frame["client_id"] == client_id:
                    acked = True
                elif acked and frame["type"] == "message" and frame["message"]["sender"] in ("bot", "system"):
                    out.append((time.perf_counter() - started) * 1000)
                    break
                elif frame["type"] == "status" and frame["status"] == "queued":
                    return  # handed to an agent: the bot will not answer this session any more
                elif frame["type"] == "error":
                    raise RuntimeError(frame)


async def run_hub_load(base: str, sessions: int, turns: int) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *[citizen(session, base.replace("http", "ws") + "/chat/ws", turns, latencies) for _ in range(sessions)],
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return {**summary(latencies, wall), "errors": len(errors), "first_error": errors[0] if errors else None}


async def run_rasa_load(rasa: str, sessions: int, turns: int) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)

    async def client(session: aiohttp.ClientSession) -> None:
        for i in range(turns):
            started = time.perf_counter()
            async with session.post(rasa + "/model/parse", json={"text": SCRIPT[i % len(SCRIPT)]}) as resp:
                await resp.read()
                resp.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*[client(session) for _ in range(sessions)])
        wall = time.perf_counter() - started
    return summary(latencies, wall)


async def wait_healthy(base: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/healthz") as resp:
                    body = await resp.json()
                    if body["components"]["nlu"]["status"] == "ok":
                        return
            except (aiohttp.ClientError, KeyError, ValueError):
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("hub did not become healthy")


async def rasa_for_bench() -> tuple[str, Any]:
    """The Rasa server to measure against: ``REXIAN_RASA_URL``, or one started from nlu/ (returned to stop)."""
    url = os.environ.get("REXIAN_RASA_URL")
    if url:
        return url.rstrip("/"), None
    from nlu import runtime

    server = runtime.RasaServer(runtime.ensure_model(), venv=runtime.ensure_venv())
    await server.start()
    return server.base_url, server


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rasa_url, server = await rasa_for_bench()
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="rexian-bench-")
    hub = (
        None
        if args.hub_url
        else subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
            [
                sys.executable,
                "-m",
                "rexian.cli",
                "serve",
                "--demo",
                "--data-dir",
                data_dir,
                "--port",
                str(port),
                "--rasa-url",
                rasa_url,
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if not args.verbose else None,
        )
    )
    base = args.hub_url.rstrip("/") if args.hub_url else f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"benchmark": "ws_sessions", "turns_per_session": args.turns, "runs": []}
    try:
        await wait_healthy(base)
        await run_rasa_load(rasa_url, 2, 5)  # warm-up
        await run_hub_load(base, 2, 3)
        for sessions in args.sessions:
            log.info("N=%d: anchor (bare Rasa)", sessions)
            anchor = await run_rasa_load(rasa_url, sessions, args.turns)
            log.info("N=%d: hub", sessions)
            hub_result = await run_hub_load(base, sessions, args.turns)
            results["runs"].append(
                {
                    "sessions": sessions,
                    "hub": hub_result,
                    "rasa_anchor": anchor,
                    "ratio_p50": round(hub_result["p50_ms"] / anchor["p50_ms"], 2) if anchor["p50_ms"] else None,
                    "hub_overhead_p50_ms": round(hub_result["p50_ms"] - anchor["p50_ms"], 2),
                }
            )
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(timeout=30)
        if server is not None:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--hub-url", help="measure a hub that is already running (same Rasa as REXIAN_RASA_URL)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
