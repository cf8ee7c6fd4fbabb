"""Rasa side-car management: its Python 3.10 venv, the trained model and the ``rasa run`` server.

Rasa 3.6 cannot be installed next to the hub (Python 3.11, modern aiohttp), so it lives in its own venv,
pinned by ``nlu/rasa-constraints.txt``, and is reached over HTTP. Everything here is stdlib + aiohttp and
is idempotent: a second :func:`ensure_venv` or :func:`ensure_model` call is instant.

Environment variables:
    REXIAN_RASA_PYTHON: the Python 3.10 interpreter to build the venv with.
    REXIAN_RASA_VENV: where the venv lives (default ``~/.cache/rexian/rasa-venv-<constraints hash>``).
    REXIAN_RASA_MODELS: where trained models are kept (default ``~/.cache/rexian/rasa-models``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import aiohttp

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"
NLU_DIR = Path(__file__).resolve().parent
PROJECT_DIR = NLU_DIR / "rasa_project"
CONSTRAINTS = NLU_DIR / "rasa-constraints.txt"
CACHE_DIR = Path.home() / ".cache" / "rexian"
_STAMP = ".rexian-installed"
_PACKAGES = (f"rasa=={RASA_VERSION}", "jieba", "scikit-learn")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_SETUP_PROCS: set[subprocess.Popen[bytes]] = set()  # running pip / rasa train commands
_LIVE_SERVERS: set[RasaServer] = set()  # launched and not yet stopped
_LIVE_LOCK = threading.Lock()


class RasaSetupError(RuntimeError):
    """The Rasa venv, model or server could not be prepared."""


def rasa_env(extra_pythonpath: Path | None = PROJECT_DIR) -> dict[str, str]:
    """Environment for Rasa subprocesses: quiet TensorFlow, no telemetry, no Sentry, custom components.

    Args:
        extra_pythonpath: Prepended to PYTHONPATH so ``components.industry_classifier`` imports.

    Returns:
        A copy of ``os.environ`` with the Rasa settings applied.
    """
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "RASA_TELEMETRY_ENABLED": "false",
            "SENTRY_DSN": "",
            "RASA_SENTRY_DSN": "",
            "PYTHONWARNINGS": "ignore",
            "PYTHONUNBUFFERED": "1",
            "TQDM_DISABLE": "1",
        }
    )
    if extra_pythonpath is not None:
        parts = [str(extra_pythonpath), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env


def find_python310() -> Path:
    """Locate a Python 3.10 interpreter for the Rasa venv.

    Looks at ``REXIAN_RASA_PYTHON``, then ``python3.10`` on PATH, then pyenv's 3.10 builds.

    Returns:
        The interpreter path.

    Raises:
        RasaSetupError: No Python 3.10 was found.
    """
    candidates: list[str] = []
    if env_python := os.environ.get("REXIAN_RASA_PYTHON"):
        if not Path(env_python).is_file():
            raise RasaSetupError(f"REXIAN_RASA_PYTHON={env_python} does not exist")
        return Path(env_python)
    if on_path := shutil.which("python3.10"):
        candidates.append(on_path)
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.10*/bin/python3.10"), reverse=True)
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.10*/bin/python3.10")), reverse=True)
    for candidate in candidates:
        probe = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return Path(candidate)
    raise RasaSetupError(
        "Rasa 3.6 needs Python 3.10, which was not found: set REXIAN_RASA_PYTHON, put python3.10 on PATH "
        "or install it under pyenv (/root/.pyenv/versions/3.10.*)."
    )


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def venv_dir() -> Path:
    """Where the Rasa venv lives (``REXIAN_RASA_VENV`` or a cache path keyed by the constraints)."""
    if env_dir := os.environ.get("REXIAN_RASA_VENV"):
        return Path(env_dir).expanduser()
    return CACHE_DIR / f"rasa-venv-{_sha256_file(CONSTRAINTS)[:12]}"


def venv_bin(name: str, venv: Path | None = None) -> Path:
    """Path of an executable (``python``, ``rasa``, ``pip``) inside the Rasa venv."""
    return (venv or venv_dir()) / "bin" / name


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when this process dies (Linux only).

    The backstop for every other clean-up path: even ``kill -9`` of the hub takes its Rasa server (or a
    ``rasa train``) down. Linux delivers the signal when the *thread* that spawned the child ends, so spawn from
    the main thread or from a pool thread that lives as long as the process. Returns None elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, before the fork
    except (OSError, AttributeError):
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal us
            os.kill(os.getpid(), kill)

    return preexec


def _run_streaming(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run a command, streaming its output to our stderr; raise RasaSetupError on failure.

    The command is killed if this process dies, and by :func:`stop_all_servers` (a hub stopping mid-training).
    """
    logger.info("running: %s", " ".join(argv))
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv, cwd=cwd, env=env, stdout=sys.stderr, stderr=sys.stderr, preexec_fn=_die_with_parent()
    )
    _SETUP_PROCS.add(proc)
    try:
        returncode = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        _SETUP_PROCS.discard(proc)
    if returncode != 0:
        raise RasaSetupError(f"command failed with exit code {returncode}: {' '.join(argv)}")


def ensure_venv() -> Path:
    """Create (once) the Python 3.10 venv with Rasa, jieba and scikit-learn, pinned by the constraints.

    Returns:
        The venv directory.

    Raises:
        RasaSetupError: Python 3.10 is missing or pip failed.
    """
    venv = venv_dir()
    stamp = venv / _STAMP
    wanted = f"{_sha256_file(CONSTRAINTS)} {' '.join(_PACKAGES)}"
    if stamp.is_file() and stamp.read_text().strip() == wanted and venv_bin("rasa", venv).is_file():
        logger.info("Rasa venv ready at %s", venv)
        return venv
    python = find_python310()
    logger.info("building the Rasa venv at %s with %s (takes ~2 minutes)", venv, python)
    if not venv_bin("python", venv).is_file():
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run_streaming([str(python), "-m", "venv", str(venv)])
    _run_streaming(
        [str(venv_bin("python", venv)), "-m", "pip", "install", "-c", str(CONSTRAINTS), *_PACKAGES],
        env=rasa_env(None),
    )
    stamp.write_text(wanted + "\n")
    return venv


def training_inputs(project: Path = PROJECT_DIR) -> list[Path]:
    """The files a trained model depends on: config, training data, jieba dictionary, components."""
    files = [project / "config.yml"]
    for sub, pattern in (("data", "**/*"), ("components", "**/*.py")):
        files += [p for p in sorted((project / sub).glob(pattern)) if p.is_file() and "__pycache__" not in p.parts]
    return files


def training_hash(project: Path = PROJECT_DIR) -> str:
    """A content hash identifying the model that ``project`` trains.

    Covers config.yml, every file under data/ (NLU YAML, jieba dictionary), the custom component sources
    and the Rasa version; file paths are hashed relative to the project so copies hash alike.

    Args:
        project: The Rasa project directory.

    Returns:
        A 64-character hex digest.
    """
    digest = hashlib.sha256(f"rasa=={RASA_VERSION}\n".encode())
    for path in training_inputs(project):
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def models_dir() -> Path:
    """Where trained models are kept (``REXIAN_RASA_MODELS`` or ``~/.cache/rexian/rasa-models``)."""
    return Path(os.environ.get("REXIAN_RASA_MODELS", str(CACHE_DIR / "rasa-models"))).expanduser()


def current_model(project: Path = PROJECT_DIR) -> Path | None:
    """The model trained from the current project files, if it has been trained (never trains)."""
    model = models_dir() / f"{training_hash(project)}.tar.gz"
    return model if model.is_file() else None


async def load_model(
    session: aiohttp.ClientSession, url: str, model: Path, load_timeout: float = 300.0
) -> dict[str, Any]:
    """Ask a running Rasa server to replace its model (``PUT /model``), then return its ``/status``.

    Rasa loads the new model before answering and keeps serving the old one meanwhile, so parses are not
    interrupted. The path must be readable by the server process (same machine or shared volume).

    Args:
        session: An aiohttp session.
        url: The Rasa server.
        model: The ``.tar.gz`` model to load.
        load_timeout: Seconds allowed for loading.

    Returns:
        The server's ``/status`` after the switch.

    Raises:
        RasaSetupError: The server refused or failed to load the model.
    """
    base = url.rstrip("/")
    try:
        async with session.put(
            f"{base}/model", json={"model_file": str(model)}, timeout=aiohttp.ClientTimeout(total=load_timeout)
        ) as resp:
            if resp.status not in (200, 204):
                raise RasaSetupError(f"PUT {base}/model {model}: HTTP {resp.status}: {(await resp.text())[:300]}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RasaSetupError(f"PUT {base}/model {model}: {type(exc).__name__}: {exc}") from exc
    status = await _get_status(session, base)
    if not status or Path(str(status.get("model_file", ""))).name != model.name:
        raise RasaSetupError(f"{base} did not switch to {model.name}: status {status}")
    logger.info("Rasa server %s switched to model %s", base, model.name)
    return status


def ensure_model(project: Path = PROJECT_DIR) -> Path:
    """Return the model trained from the current project files, training it first if needed.

    Models are named ``<training_hash>.tar.gz``; older ones are kept.

    Args:
        project: The Rasa project directory.

    Returns:
        Path of the ``.tar.gz`` model.

    Raises:
        RasaSetupError: Training failed.
    """
    out = models_dir()
    name = training_hash(project)
    model = out / f"{name}.tar.gz"
    if model.is_file():
        logger.info("Rasa model up to date: %s", model)
        return model
    venv = ensure_venv()
    out.mkdir(parents=True, exist_ok=True)
    logger.info("training Rasa NLU model %s (takes ~1 minute)", model)
    started = time.monotonic()
    _run_streaming(
        [str(venv_bin("rasa", venv)), "train", "nlu", "--fixed-model-name", name, "--out", str(out)],
        cwd=project,
        env=rasa_env(project),
    )
    if not model.is_file():
        raise RasaSetupError(f"rasa train finished but {model} is missing")
    logger.info("trained %s in %.0f s", model, time.monotonic() - started)
    return model


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _get_status(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    try:
        async with session.get(f"{url.rstrip('/')}/status", timeout=aiohttp.ClientTimeout(total=2)) as resp:
            if resp.status != 200:
                return None
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _get_status_sync(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=2) as resp:  # noqa: S310 - loopback
            data = json.loads(resp.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def find_running(url: str) -> bool:
    """Whether a Rasa server with a loaded model answers at ``url``."""
    async with aiohttp.ClientSession() as session:
        status = await _get_status(session, url)
    return bool(status and status.get("model_file"))


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group led by ``proc``, SIGKILL it after ``grace`` seconds, and reap ``proc``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Also when the leader is gone already: what it spawned may still run in its group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_all_servers(grace: float = 5.0) -> None:
    """Stop every Rasa server this process launched and every running ``pip``/``rasa train`` command.

    The last line of defence of ``rexian serve``: called when it exits, whatever the path (signal during
    start-up, exception, normal stop), so that no Rasa process outlives the hub.

    Args:
        grace: Seconds each server gets between SIGTERM and SIGKILL.
    """
    for setup in list(_SETUP_PROCS):
        with contextlib.suppress(ProcessLookupError):
            setup.kill()
    with _LIVE_LOCK:
        servers = list(_LIVE_SERVERS)
    for server in servers:
        server.stop(grace)


class RasaServer:
    """A ``rasa run --enable-api`` subprocess serving one model on 127.0.0.1.

    Use as ``async with RasaServer(model) as server: ... server.base_url``, or call :meth:`start` and
    :meth:`stop`. The server's output goes to ``log_path``; a failed start raises with its tail.
    """

    def __init__(
        self,
        model: Path,
        port: int = 0,
        log_path: Path | None = None,
        startup_timeout: float = 180.0,
        venv: Path | None = None,
    ) -> None:
        """Prepare (not start) the server.

        Args:
            model: The trained model (``.tar.gz``).
            port: TCP port; 0 picks a free one.
            log_path: Server log file (default: next to the model, ``rasa-server-<port>.log``).
            startup_timeout: Seconds to wait for the model to be loaded.
            venv: The Rasa venv (default :func:`venv_dir`).
        """
        self.model = model
        self.port = port or free_port()
        self.log_path = log_path or model.parent / f"rasa-server-{self.port}.log"
        self.startup_timeout = startup_timeout
        self.venv = venv or venv_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stop_lock = threading.Lock()  # a second stop() waits until the process is gone

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def launch(self) -> None:
        """Start the subprocess without waiting for it to be ready."""
        if self._proc is not None:
            raise RasaSetupError("RasaServer already started")
        argv = [
            str(venv_bin("rasa", self.venv)),
            "run",
            "--enable-api",
            "-m",
            str(self.model),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        logger.info("starting Rasa server on %s (log %s)", self.base_url, self.log_path)
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=PROJECT_DIR,
            env=rasa_env(PROJECT_DIR),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() kills whatever it spawned too
            preexec_fn=_die_with_parent(),
        )
        with _LIVE_LOCK:
            _LIVE_SERVERS.add(self)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _failed(self, why: str) -> RasaSetupError:
        return RasaSetupError(f"Rasa server {why}; log {self.log_path}:\n{self.log_tail()}")

    async def wait_ready(self) -> None:
        """Poll ``GET /status`` until the model is loaded.

        Raises:
            RasaSetupError: The process died or the timeout passed (the server is then stopped).
        """
        deadline = time.monotonic() + self.startup_timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if not self.running:
                    code = self._proc.returncode if self._proc else None
                    self.stop()
                    raise self._failed(f"exited with code {code}")
                status = await _get_status(session, self.base_url)
                if status and status.get("model_file"):
                    logger.info("Rasa server ready at %s (%s)", self.base_url, status["model_file"])
                    return
                if time.monotonic() > deadline:
                    self.stop()
                    raise self._failed(f"not ready after {self.startup_timeout:.0f} s")
                await asyncio.sleep(0.5)

    def wait_ready_sync(self) -> None:
        """Blocking variant of :meth:`wait_ready` for synchronous callers (CLI, pytest fixtures).

        Uses urllib, not an event loop, so it is safe where another loop is installed but not running.
        """
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if not self.running:
                code = self._proc.returncode if self._proc else None
                self.stop()
                raise self._failed(f"exited with code {code}")
            if _get_status_sync(self.base_url).get("model_file"):
                logger.info("Rasa server ready at %s", self.base_url)
                return
            if time.monotonic() > deadline:
                self.stop()
                raise self._failed(f"not ready after {self.startup_timeout:.0f} s")
            time.sleep(0.5)

    async def start(self) -> RasaServer:
        """Launch the server and wait until its model is loaded."""
        self.launch()
        await self.wait_ready()
        return self

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the server's process group: SIGTERM, then SIGKILL after ``grace`` seconds.

        Safe to call at any moment (before :meth:`launch`, while starting, twice, from any thread).
        """
        with self._stop_lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                _stop_group(proc, grace)
                logger.info("Rasa server %s stopped (pid %d, exit code %s)", self.base_url, proc.pid, proc.returncode)
            with _LIVE_LOCK:
                _LIVE_SERVERS.discard(self)
            if self._log is not None:
                self._log.close()
                self._log = None

    async def __aenter__(self) -> RasaServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)
