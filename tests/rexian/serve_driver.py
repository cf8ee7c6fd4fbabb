"""Runs ``rexian serve`` (``rexian.cli.main``) with a fault injected once the hub has spawned its Rasa server.

Usage: ``python -m tests.rexian.serve_driver MODE serve ARGS...`` with MODE

* ``hang``: a start-up hook waits forever, so a signal cuts the aiohttp start-up short (no cleanup hooks run);
* ``raise``: a start-up hook raises ``RuntimeError("injected start-up failure")``;
* ``take-port``: a start-up hook takes the HTTP port, so binding it fails after the port check passed.

The hook is the last start-up hook and runs only after the Rasa server was launched, so each fault happens
while Rasa is starting. The driver prints ``driver: Rasa spawned pid N`` to stdout at that moment (the test
may miss the child in /proc when the fault ends the hub at once).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from aiohttp import web

import rexian.app
from nlu import runtime
from rexian import cli

_held: list[socket.socket] = []


def main() -> int:
    """Patch :func:`rexian.app.build_hub` to add the faulty hook, then run the ``rexian`` command."""
    mode, argv = sys.argv[1], sys.argv[2:]
    build_hub = rexian.app.build_hub

    async def faulty_build_hub(settings: Any, *args: Any, **kwargs: Any) -> Any:
        hub = await build_hub(settings, *args, **kwargs)

        async def fault(_app: web.Application) -> None:
            for _ in range(60_000):  # the hub's Rasa server is launched in a background task
                if runtime._LIVE_SERVERS:
                    break
                await asyncio.sleep(0.01)
            pids = [server._proc.pid for server in list(runtime._LIVE_SERVERS) if server._proc is not None]
            print(f"driver: Rasa spawned pid {pids[0] if pids else 0}", flush=True)
            if mode == "hang":
                await asyncio.sleep(3600)
            elif mode == "raise":
                raise RuntimeError("injected start-up failure")
            elif mode == "take-port":
                sock = socket.create_server((settings.host, settings.port))
                _held.append(sock)

        hub.app.on_startup.append(fault)
        return hub

    rexian.app.build_hub = faulty_build_hub  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
