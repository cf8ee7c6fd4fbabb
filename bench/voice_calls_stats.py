"""Measurement helpers of ``bench/voice_calls.py``: the hub's process, its CPU/RSS, sipp's result files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from voice_calls_peers import HOST, EchoAgents

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 600.0
"""How long the hub may take to its ready line: rendering every prompt cold with Kokoro took ~107 s on 2 cores."""


def percentiles(values: list[float]) -> dict[str, float | int]:
    """n, p50, p95, p99, max (nearest rank) in ms, rounded."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))], 2)

    return {"n": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": round(ordered[-1], 2)}


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat (other processes share these 2 cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/<pid>/stat fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class HubProcess:
    """``voice_calls_hub.py`` in a child process: its ports, agents' secrets, HTTP helpers, CPU and RSS."""

    def __init__(self, proc: asyncio.subprocess.Process, ready: dict[str, Any], log_file: Any) -> None:
        self.proc = proc
        self.ready = ready
        self.pid = int(ready["pid"])
        self.sip_port = int(ready["sip_port"])
        self.url = f"http://{HOST}:{ready['http_port']}"
        self.loop = str(ready["loop"])
        self.agents = [(str(u), str(s)) for u, s in ready["agents"]]
        self.session = aiohttp.ClientSession()
        self._log_file = log_file

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        agents: int,
        max_calls: int,
        gc_freeze: bool = True,
        chat_agents: int = 0,
        chat_rate: float = 10.0,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> HubProcess:
        """Start the hub and wait for its ready line (prompts warm, agents created).

        ``chat_agents``: agents without a softphone for text chats (opened later through ``GET /_bench/chats?open=N``),
        sending ``chat_rate`` messages/s once opened.
        """
        from tests.channels.voice.sipp_calls import free_udp_port

        await asyncio.to_thread(data_dir.mkdir, parents=True)
        log_file = await asyncio.to_thread((data_dir.parent / "hub.log").open, "wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "voice_calls_hub.py"), str(data_dir),
            "--sip-port", str(free_udp_port()), "--http-port", str(free_udp_port()),
            "--agents", str(agents), "--max-calls", str(max_calls), *([] if gc_freeze else ["--no-gc-freeze"]),
            *(["--chat-agents", str(chat_agents), "--chat-rate", str(chat_rate)] if chat_agents else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log_file,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), ready_timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            line = b""
        if not line:
            log_file.close()
            tail = (data_dir.parent / "hub.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the hub did not start:\n{tail}")
        return cls(proc, json.loads(line), log_file)

    async def get(self, path: str) -> Any:
        """GET a JSON document from the hub."""
        async with self.session.get(self.url + path) as resp:
            resp.raise_for_status()
            return await resp.json()

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def rss_mib(self) -> float:
        return proc_rss_mib(self.pid)

    async def stop(self) -> None:
        """Close its stdin (it shuts down cleanly); terminate it if it hangs."""
        await self.session.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.terminate()
            await self.proc.wait()
        self._log_file.close()


class Sampler:
    """Samples the hub during a phase: CPU% over the phase, RSS max, concurrent calls from /healthz."""

    def __init__(self, hub: HubProcess, agents: EchoAgents) -> None:
        self.hub = hub
        self.agents = agents
        self.rss_max = 0.0
        self.calls_max = 0
        self.waiting_max = 0
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = 0.0
        self._busy0 = (0, 0)
        self._t0 = 0.0

    def start(self) -> None:
        self._cpu0, self._t0 = self.hub.cpu_s(), time.perf_counter()
        self._busy0 = machine_busy()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.rss_max = max(self.rss_max, self.hub.rss_mib())
            with contextlib.suppress(aiohttp.ClientError, KeyError, ValueError):
                voice = (await self.hub.get("/healthz"))["components"]["channels"]["voice"]
                self.calls_max = max(self.calls_max, int(voice["active_calls"]))
                self.waiting_max = max(self.waiting_max, sum(voice["queue"].get("waiting", {}).values()))
            await asyncio.sleep(1.0)

    def stop(self) -> dict[str, Any]:
        if self._task is not None:
            self._task.cancel()
        wall = time.perf_counter() - self._t0
        busy = machine_busy()
        machine = 100 * (busy[0] - self._busy0[0]) / max(1, busy[1] - self._busy0[1])
        return {
            "machine_cpu_busy_pct_of_all_cores": round(machine, 1),
            "cpu_pct": round(100 * (self.hub.cpu_s() - self._cpu0) / wall, 1),
            "rss_mib_max": max(self.rss_max, self.hub.rss_mib()),
            "active_calls_max": self.calls_max,
            "queue_waiting_max": self.waiting_max,
        }


def sipp_results(folder: Path) -> dict[str, Any]:
    """Successful/failed calls from sipp's ``-trace_stat`` file, INVITE → 200 times from ``-trace_rtt``."""
    out: dict[str, Any] = {}
    stat = folder / "stat.csv"
    if stat.exists():
        lines = [line for line in stat.read_text(errors="replace").splitlines() if line.strip()]
        if len(lines) >= 2:
            row = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
            for key, label in (("SuccessfulCall(C)", "successful"), ("FailedCall(C)", "failed"),
                               ("TotalCallCreated", "created"), ("Retransmissions(C)", "retransmissions")):  # fmt: skip
                if key in row and row[key].strip().isdigit():
                    out[label] = int(row[key])
    times: list[float] = []
    for rtt in folder.glob("*_rtt.csv"):
        for line in rtt.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            with contextlib.suppress(IndexError, ValueError):
                times.append(float(parts[1]))
    if times:
        out["invite_to_200_ms"] = percentiles(times)
    errors = folder / "errors.log"
    if errors.exists() and errors.stat().st_size:
        out["errors_tail"] = errors.read_text(errors="replace")[-400:]
    return out
