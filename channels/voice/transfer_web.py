"""Staff API of call transfers (the inbox's 转接 button for a conversation with a live call: inbox-transfer.js).

- ``POST /api/calls/{conversation_id}/transfer`` ``{"mode": "blind"|"attended", "to": "agent"|"queue"|"unit"|
  "number", "agent_id"|"queue"|"unit"|"number"}``: the agent on the call (or a supervisor) transfers it
  (``{"state": "transferring"|"consulting"|"queued"|"connected", "target"}``).
- ``POST /api/calls/{conversation_id}/transfer/complete``: an attended transfer's caller goes to the target, the agent
  is dropped; ``.../cancel``: the target is hung up, the caller and the agent talk again.

Errors are ``{"error": code, "message": text}`` in the user's language: 404 ``no_live_call``, 403 ``not_holder``, 400
for a malformed request, 409 when the target cannot take the call (offline, no softphone, busy, no trunk ...).
The inbox learns whether a conversation has a live call through :data:`routing.transfer.CALL_TRANSFER`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hub.models import INBOX_ROLES, Role
from hub.web.auth import current_user, require_roles
from hub.web.i18n_web import locale_of
from routing.transfer import CALL_TRANSFER

from .transfer import CallTransfers, TransferError

TRANSFERS: web.AppKey[Callable[[], CallTransfers | None]] = web.AppKey("voice_transfers")
"""() -> the voice channel's transfers (None: voice is off or not started)."""
MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
VALUE_FIELD = {"agent": "agent_id", "queue": "queue", "unit": "unit", "number": "number"}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def _refused(request: web.Request, refused: TransferError) -> web.Response:
    return _json({"error": refused.code, "message": refused.message(locale_of(request))}, status=refused.status)


def _transfers(request: web.Request) -> CallTransfers:
    found = request.app[TRANSFERS]()
    if found is None:
        raise TransferError("no_live_call", 404)
    return found


async def _body(request: web.Request) -> dict[str, Any] | None:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@require_roles(INBOX_ROLES, api=True)
async def start_transfer(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{conversation_id}/transfer."""
    user = current_user(request)
    assert user is not None
    body = await _body(request)
    try:
        if body is None:
            raise TransferError("invalid_target", 400)
        to = body.get("to")
        value = body.get(VALUE_FIELD[to]) if isinstance(to, str) and to in VALUE_FIELD else None
        transfer = await _transfers(request).start(
            request.match_info["conversation_id"],
            user.id,
            body.get("mode"),
            to,
            value,
            manager=user.role in MANAGERS,
            locale=locale_of(request),
        )
    except TransferError as refused:
        return _refused(request, refused)
    state = transfer.state if transfer.mode == "blind" else "consulting"
    return _json({"state": "transferring" if state == "ringing" else state, "target": transfer.target.label})


@require_roles(INBOX_ROLES, api=True)
async def complete_transfer(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{conversation_id}/transfer/complete."""
    try:
        transfer = await _transfers(request).complete(request.match_info["conversation_id"])
    except TransferError as refused:
        return _refused(request, refused)
    return _json({"state": "connected" if transfer.state == "connected" else "transferring"})


@require_roles(INBOX_ROLES, api=True)
async def cancel_transfer(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{conversation_id}/transfer/cancel."""
    try:
        await _transfers(request).cancel(request.match_info["conversation_id"])
    except TransferError as refused:
        return _refused(request, refused)
    return _json({"state": "bridged"})


def setup(app: web.Application, transfers: Callable[[], CallTransfers | None]) -> None:
    """Mount the call-transfer API and tell the inbox which conversations have a live call."""
    app[TRANSFERS] = transfers

    def live_call(conversation_id: str) -> dict[str, Any] | None:
        found = transfers()
        return found.info(conversation_id) if found is not None else None

    app[CALL_TRANSFER] = live_call
    path = "/api/calls/{conversation_id:[0-9a-f-]{36}}/transfer"
    app.router.add_post(path, start_transfer)
    app.router.add_post(path + "/complete", complete_transfer)
    app.router.add_post(path + "/cancel", cancel_transfer)
