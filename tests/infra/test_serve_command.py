"""``rexian serve`` as a real process: it starts, answers /healthz, freezes its start-up heap, and stops on SIGINT."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_starts_answers_and_stops(tmp_path: Path) -> None:
    port = free_tcp_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rexian.cli", "serve", "--demo", "--no-rasa", "--no-voice",
            "--data-dir", str(tmp_path / "data"), "--port", str(port),
            stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            health = None
            async with aiohttp.ClientSession() as session:
                for _ in range(300):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            health = await resp.json()
                            break
                    except aiohttp.ClientConnectionError:
                        assert proc.returncode is None, log.read_text(errors="replace")[-2000:]
                        await asyncio.sleep(0.1)
            assert health is not None, log.read_text(errors="replace")[-2000:]
            assert health["components"]["database"]["status"] == "ok"
            for _ in range(100):  # the freeze is the last start-up hook; the server may answer just before it
                if "start-up objects out of the garbage collector" in log.read_text(errors="replace"):
                    break
                await asyncio.sleep(0.05)
            assert "start-up objects out of the garbage collector" in log.read_text(errors="replace")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, log.read_text(errors="replace")[-2000:]
