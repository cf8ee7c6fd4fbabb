"""``POST /api/floor/monitor``: a supervisor listens to, whispers into or barges into a conversation's live call.

Body ``{"conversation_id": ..., "mode": "listen" | "whisper" | "barge" | "stop"}`` (supervisors and administrators;
the session's CSRF token in ``X-CSRF-Token``, or a bearer token). The first mode rings the user's registered
softphone (:mod:`.monitor`); later modes switch without hanging up; ``stop`` hangs the supervisor's leg up.

Answers: 200 ``{"mode", "state"}`` (``state``: ``ringing`` until the softphone answers, then ``connected``; ``ended``
after ``stop``); 404 ``{"error": "no_call", "message"}`` when the conversation has no bridged call; 409 ``{"error",
"message"}`` when the user has no registered softphone (``not_registered``), another supervisor is on the call
(``monitored``), the user monitors another call (``busy``) or is not on this one (``not_monitoring``); 400 for a
bad body. Messages are in the user's language (zh-CN first). Every start, mode change and end goes to the queue log
(:meth:`routing.switchboard.Switchboard.log_monitor`) and the application log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hub.i18n import t
from hub.models import Role
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from routing.switchboard import SWITCHBOARD, call_item_id

from .mixer import parse_mode
from .monitor import BridgedCall, MonitorDesk, MonitorError

log = logging.getLogger(__name__)

MONITOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
MONITORS: web.AppKey[Callable[[], MonitorDesk | None]] = web.AppKey("voice_monitors")
"""() -> the voice channel's monitor desk (None: voice is off or not started)."""


def error(request: web.Request, status: int, code: str) -> web.Response:
    """``{"error": code, "message": text}`` in the user's language."""
    message = t(f"voice.monitor.error.{code}", locale_of(request))
    return web.json_response({"error": code, "message": message}, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _reporter(request: web.Request, call: BridgedCall, supervisor_id: int) -> Callable[[str], None]:
    """Logs every mode of the monitor (and its end) to the queue log and the application log."""
    switchboard = request.app.get(SWITCHBOARD)

    def report(mode: str) -> None:
        log.info("monitor: supervisor %s %s call %s of agent %s", supervisor_id, mode, call.sip_call_id, call.agent_id)
        if switchboard is not None:
            item = switchboard.items.get(call_item_id(call.sip_call_id))  # None for call-backs
            switchboard.log_monitor(item, supervisor_id, mode, call.agent_id)

    return report


@require_roles(MONITOR_ROLES, api=True)
async def monitor(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/monitor {"conversation_id", "mode"}."""
    user = current_user(request)
    assert user is not None
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    conversation_id = body.get("conversation_id") if isinstance(body, dict) else None
    mode = body.get("mode") if isinstance(body, dict) else None
    if not isinstance(conversation_id, str) or not conversation_id or len(conversation_id) > 100:
        return error(request, 400, "bad_request")
    if mode != "stop":
        try:
            mode = parse_mode(mode)
        except ValueError:
            return error(request, 400, "bad_mode")
    desk = request.app[MONITORS]()
    if desk is None:
        return error(request, 404, "no_call")
    try:
        if mode == "stop":
            found = desk.stop(conversation_id, user.id)
            return web.json_response({"mode": "stop", "state": found.state})
        call = desk.call_of(conversation_id)
        agent = await request.app[CTX].users.get(call.agent_id) if call.agent_id is not None else None
        display = t("voice.monitor.display", locale_of(request), agent=agent.display_name if agent else "")
        started = await desk.start(
            conversation_id, user.id, mode, display=display.strip(), report=_reporter(request, call, user.id)
        )
    except MonitorError as exc:
        return error(request, exc.status, exc.code)
    return web.json_response({"mode": started.mode, "state": started.state})


def setup(app: web.Application) -> None:
    """Mount the route (the voice channel sets ``app[MONITORS]`` when voice is on; else every call is a 404)."""
    app.setdefault(MONITORS, lambda: None)
    app.router.add_post("/api/floor/monitor", monitor)
