"""GET /healthz: 200 with the status of each component (database, NLU, each channel)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from hub.web.context import CTX, HealthCheck

log = logging.getLogger(__name__)


async def _check(name: str, check: HealthCheck) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check(), timeout=3)
    except Exception as exc:
        log.warning("health check %s failed: %s", name, exc)
        return {"status": "down", "error": str(exc) or type(exc).__name__}


async def healthz(request: web.Request) -> web.StreamResponse:
    """Always 200 while the process serves; ``status`` is ok only if every component is ok.

    A component still starting (the NLU until its model answered a warm-up parse) reports ``starting``; the
    overall status is then ``starting`` too, unless another component is degraded or down.
    """
    ctx = request.app[CTX]
    components = {name: await _check(name, check) for name, check in ctx.health_checks.items()}
    channels = {name: await _check(name, check) for name, check in ctx.channel_health.items()}
    statuses = [c.get("status") for c in components.values()] + [c.get("status") for c in channels.values()]
    if all(s == "ok" for s in statuses):
        overall = "ok"
    elif all(s in ("ok", "starting") for s in statuses):
        overall = "starting"
    else:
        overall = "degraded"
    return web.json_response({"status": overall, "components": {**components, "channels": channels}})
