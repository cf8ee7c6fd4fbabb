"""The NLU path: bare Rasa /model/parse (the anchor) vs the hub's NLU client vs a full bot turn through the hub.

In one run, for each concurrency level, over the texts of nlu/dev/holdout.jsonl:

- ``rasa``: ``POST /model/parse`` straight to the Rasa server (the anchor);
- ``client``: ``nlu.client.RasaNLU.parse`` in this process (the hub's NLU service: parse, reconcile type and
  industry, category matching, entity normalisation and time resolution);
- ``hub``: a full bot turn through the hub's REST channel (``POST /webhooks/rest/webhook``: NLU, dialogue,
  knowledge base, storage), each request a new citizen;

latency p50/p99 and throughput, plus the resident memory (RSS) of the Rasa process. Prints one JSON object on
stdout; logs on stderr. ``python bench/nlu_path.py [--concurrency 1 8] [--requests 300]``
(``REXIAN_RASA_URL`` reuses a running Rasa server, whose RSS is then looked up by its listening port).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ws_sessions import free_port, rasa_for_bench, summary, wait_healthy

from nlu.client import RasaNLU

log = logging.getLogger("bench.nlu_path")
REPO = Path(__file__).resolve().parent.parent
TEXTS = [
    json.loads(line)["text"]
    for line in (REPO / "nlu" / "dev" / "holdout.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def _socket_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(fields[9])
    return inodes


def rss_of_listener(port: int) -> dict[str, Any]:
    """RSS (MiB) of the process listening on ``port``, found through /proc (Linux only)."""
    inodes = _socket_inodes(port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return {"pid": int(proc.name), "rss_mib": round(int(line.split()[1]) / 1024, 1)}
    return {"pid": None, "rss_mib": None}


async def load(call: Callable[[str], Awaitable[None]], concurrency: int, requests: int) -> dict[str, Any]:
    """Run ``requests`` calls over the texts with ``concurrency`` workers; latency summary and throughput."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(TEXTS[i % len(TEXTS)])
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rasa_url, server = await rasa_for_bench()
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="rexian-bench-nlu-")
    argv = [sys.executable, "-m", "rexian.cli", "serve", "--demo", "--data-dir", data_dir, "--port", str(port)]
    hub = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [*argv, "--rasa-url", rasa_url],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=None if args.verbose else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"benchmark": "nlu_path", "texts": len(TEXTS), "requests": args.requests, "runs": []}
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession() as session:
            client = RasaNLU(rasa_url, session, timeout=30.0)

            async def bare(text: str) -> None:
                async with session.post(f"{rasa_url}/model/parse", json={"text": text}) as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()

            async def via_client(text: str) -> None:
                await client.parse(text)

            async def via_hub(text: str) -> None:
                payload = {"sender": f"bench-{uuid.uuid4().hex[:12]}", "message": text}
                async with session.post(f"{base}/webhooks/rest/webhook", json=payload) as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()

            for call in (bare, via_client, via_hub):  # warm-up
                await load(call, 2, 20)
            for concurrency in args.concurrency:
                log.info("concurrency %d", concurrency)
                run: dict[str, Any] = {"concurrency": concurrency}
                for name, call in (("rasa", bare), ("client", via_client), ("hub", via_hub)):
                    run[name] = await load(call, concurrency, args.requests)
                anchor = run["rasa"]["p50_ms"]
                run["client_overhead_p50_ms"] = round(run["client"]["p50_ms"] - anchor, 2)
                run["hub_overhead_p50_ms"] = round(run["hub"]["p50_ms"] - anchor, 2)
                results["runs"].append(run)
        results["rasa_process"] = rss_of_listener(urlparse(rasa_url).port or 80)
    finally:
        hub.terminate()
        hub.wait(timeout=30)
        if server is not None:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--requests", type=int, default=300, help="requests per path and concurrency level")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
