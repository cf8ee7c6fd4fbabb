"""``rexian serve`` as a real process with its own Rasa server: clean start and stop (issue #11, item 4).

No Rasa process outlives the hub, whatever stops it while Rasa is starting (SIGTERM, SIGINT, SIGKILL, a signal
during the aiohttp start-up, an exception); a taken port is one clear line and exit status 1, before anything
is started; the first citizen after the hub reports NLU ``ok`` is answered by the bot.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.i18n import t
from nlu import runtime

REPO = Path(__file__).resolve().parents[2]
STOPPED = "nlu.runtime: Rasa server http://127.0.0.1:"  # ... "stopped (pid N, exit code C)", logged by the hub


@pytest.fixture(scope="module")
def rasa_ready() -> None:
    """The Rasa venv and model exist, so the hub spawns Rasa at once (first run: builds/trains, minutes)."""
    runtime.ensure_venv()
    runtime.ensure_model()


def _env() -> dict[str, str]:
    """Our environment without REXIAN_* settings (REXIAN_RASA_URL would stop the hub from starting Rasa)."""
    keep = ("REXIAN_RASA_VENV", "REXIAN_RASA_MODELS", "REXIAN_RASA_PYTHON")
    return {k: v for k, v in os.environ.items() if not k.startswith("REXIAN_") or k in keep}


def _free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Serve:
    """A running ``rexian serve`` (or the fault-injecting driver) with its output in files."""

    proc: asyncio.subprocess.Process
    out: Path
    err: Path
    port: int

    @property
    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    async def wait(self, seconds: float = 60) -> int:
        return await asyncio.wait_for(self.proc.wait(), seconds)


async def _serve(tmp_path: Path, *args: str, driver: str | None = None, port: int | None = None) -> Serve:
    port = port or _free_port()
    prefix = ["-m", "tests.rexian.serve_driver", driver] if driver else ["-m", "rexian.cli"]
    argv = [*prefix, "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port), *args]
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, cwd=REPO, env=_env(), stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
    return Serve(proc, out, err, port)


@dataclass(frozen=True)
class Proc:
    pid: int
    state: str
    ppid: int
    session: int
    cmdline: str


def _processes() -> Iterator[Proc]:
    """Every process from /proc (those that vanish while read are skipped)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        yield Proc(int(entry.name), fields[0], int(fields[1]), int(fields[3]), cmdline)


async def _rasa_child(serve: Serve) -> int:
    """The pid of the hub's ``rasa run`` child, once spawned."""
    for _ in range(12_000):  # 120 s: the hub's start-up, then Rasa is spawned at once
        assert serve.proc.returncode is None, serve.output[-3000:]
        for proc in _processes():
            if proc.ppid == serve.proc.pid and " run --enable-api " in proc.cmdline and proc.state != "Z":
                return proc.pid
        await asyncio.sleep(0.01)
    raise AssertionError(f"the hub spawned no Rasa server: {serve.output[-3000:]}")


def _left_of(rasa_pid: int) -> list[Proc]:
    """Live processes of the Rasa server's tree: Rasa leads its own session."""
    return [p for p in _processes() if (p.pid == rasa_pid or p.session == rasa_pid) and p.state != "Z"]


async def _assert_gone(rasa_pid: int) -> None:
    for _ in range(3000):  # 30 s: a killed process is reaped by init asynchronously
        if not _left_of(rasa_pid):
            return
        await asyncio.sleep(0.01)
    left = _left_of(rasa_pid)
    for proc in left:  # do not leave them to the rest of the session
        os.kill(proc.pid, signal.SIGKILL)
    raise AssertionError(f"processes left behind: {left}")


@pytest.mark.rasa
@pytest.mark.usefixtures("rasa_ready")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_while_rasa_starts_stops_rasa(tmp_path: Path, signum: signal.Signals) -> None:
    serve = await _serve(tmp_path, "--no-voice")
    rasa = await _rasa_child(serve)
    serve.proc.send_signal(signum)
    assert await serve.wait() == 0, serve.output[-3000:]
    await _assert_gone(rasa)
    assert STOPPED in serve.output  # the hub stopped it itself (not only the kernel's backstop)


@pytest.mark.rasa
@pytest.mark.usefixtures("rasa_ready")
async def test_kill_9_of_the_hub_takes_rasa_down(tmp_path: Path) -> None:
    serve = await _serve(tmp_path, "--no-voice")
    rasa = await _rasa_child(serve)
    serve.proc.kill()
    assert await serve.wait() == -signal.SIGKILL
    await _assert_gone(rasa)  # PR_SET_PDEATHSIG


@pytest.mark.rasa
@pytest.mark.usefixtures("rasa_ready")
@pytest.mark.parametrize(
    ("fault", "signum", "code", "message"),
    [
        ("hang", signal.SIGTERM, 0, None),  # a signal cuts the aiohttp start-up short: no cleanup hooks run
        ("hang", signal.SIGINT, 0, None),
        ("raise", None, 1, "RuntimeError: injected start-up failure"),
        ("take-port", None, 1, "rexian: HTTP port {port} on 127.0.0.1 is already in use; choose another with --port"),
    ],
    ids=["startup-cut-by-SIGTERM", "startup-cut-by-SIGINT", "startup-raises", "port-taken-after-the-check"],
)
async def test_no_rasa_left_when_start_up_is_cut_short(
    tmp_path: Path, fault: str, signum: signal.Signals | None, code: int, message: str | None
) -> None:
    serve = await _serve(tmp_path, "--no-voice", driver=fault)
    spawned = re.compile(r"driver: Rasa spawned pid (\d+)")
    for _ in range(12_000):  # 120 s: the fault hook runs once Rasa is spawned (the hub may exit right after)
        if found := spawned.search(serve.output):
            break
        await asyncio.sleep(0.01)
    assert found, serve.output[-3000:]
    rasa = int(found.group(1))
    assert rasa > 0, serve.output[-3000:]
    if signum is not None:  # the start-up hangs in the hook: cut it short
        serve.proc.send_signal(signum)
    assert await serve.wait() == code, serve.output[-3000:]
    await _assert_gone(rasa)
    assert STOPPED in serve.output
    if message is not None:
        assert message.format(port=serve.port) in serve.err.read_text(), serve.output[-3000:]


@pytest.mark.parametrize("taken", ["http", "sip-udp", "sip-tcp"])
async def test_a_taken_port_is_one_clear_line_and_exit_1(tmp_path: Path, taken: str) -> None:
    kind = socket.SOCK_DGRAM if taken == "sip-udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        port = int(holder.getsockname()[1])
        if taken == "http":
            serve = await _serve(tmp_path, "--no-voice", port=port)
            expected = f"rexian: HTTP port {port} on 127.0.0.1 is already in use; choose another with --port"
        else:
            serve = await _serve(tmp_path, "--sip-port", str(port), "--sip-host", "127.0.0.1")
            proto = "UDP" if taken == "sip-udp" else "TCP"
            expected = (
                f"rexian: SIP port {port} ({proto}) on 127.0.0.1 is already in use; choose another with --sip-port"
            )
        assert await serve.wait() == 1, serve.output[-3000:]
    assert serve.err.read_text().splitlines() == [expected], serve.output[-3000:]
    assert "starting Rasa server" not in serve.output  # nothing was started: no Rasa to leave behind
    assert not (tmp_path / "data").exists()  # not even the store


@pytest.mark.rasa
@pytest.mark.usefixtures("rasa_ready")
async def test_the_first_citizen_after_ready_is_answered_by_the_bot(tmp_path: Path) -> None:
    """A cold Rasa answers its first parse in ~3.5 s, more than the 2 s timeout: the hub warms it up first."""
    serve = await _serve(tmp_path, "--no-voice", "--demo")
    url = f"http://127.0.0.1:{serve.port}"
    try:
        seen: list[str] = []
        async with aiohttp.ClientSession() as session:
            for _ in range(12_000):  # 120 s
                health = await _health(session, url)
                if health is not None:
                    seen.append(health["components"]["nlu"]["status"])
                    if seen[-1] == "ok":
                        break
                assert serve.proc.returncode is None, serve.output[-3000:]
                await asyncio.sleep(0.01)
            assert seen and seen[0] == "starting" and seen[-1] == "ok", seen
            assert set(seen) <= {"starting", "ok"}, seen
            message = {"sender": "first", "message": "燃气开户需要带什么材料"}
            async with session.post(f"{url}/webhooks/rest/webhook", json=message) as resp:
                replies = [m["text"] for m in await resp.json()]
        assert replies and t("bot.handoff_degraded") not in replies, replies
        assert "NLU unavailable" not in serve.output
        rasa = await _rasa_child(serve)
    finally:
        if serve.proc.returncode is None:
            serve.proc.send_signal(signal.SIGTERM)
    assert await serve.wait() == 0, serve.output[-3000:]
    await _assert_gone(rasa)


async def _health(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    try:
        async with session.get(f"{url}/healthz") as resp:
            data = await resp.json()
    except aiohttp.ClientConnectionError:
        return None
    assert isinstance(data, dict)
    return data
