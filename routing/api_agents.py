"""The agents' staff API (added to ``/api/v1`` through :func:`hub.web.api_v1.routes.extend`).

- ``GET /api/v1/agents/me/status``: the caller's status object (as the inbox shows it, :func:`status_json`).
- ``PUT /api/v1/agents/me/status`` ``{"status": "available"|"break"|"offline", "reason": code}``: the caller sets
  their presence (a break needs one of the configured reasons); 400 ``unknown_status`` / ``unknown_reason``.

Roles: agents and supervisors (the staff the router knows); 409 ``not_routed`` for an account it does not know yet.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.i18n import t
from hub.models import Role
from hub.web.api_v1.common import ApiError, ctx_of, json_body, respond, user_of
from hub.web.api_v1.routes import PREFIX, extend
from hub.web.api_v1.schemas import BOOL, INT, OPT_STR, STR, TIME, Schema
from hub.web.api_v1.spec import Endpoint
from hub.web.i18n_web import locale_of
from routing.agent_status import PRESENCE_CHOICES, StatusRefused, set_presence, status_json
from routing.engine import AgentStatus
from routing.switchboard import SWITCHBOARD

AGENT_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})

SCHEMAS: dict[str, Schema] = {
    "AgentStatus": {
        "type": "object",
        "properties": {
            "agent_id": INT,
            "name": OPT_STR,
            "status": {"type": "string", "enum": [s.value for s in AgentStatus]},
            "status_name": STR,
            "presence": {"type": "string", "enum": list(PRESENCE_CHOICES)},
            "reason": {**OPT_STR, "description": "the break reason code (no_answer: set by the system)"},
            "reason_name": OPT_STR,
            "since": {**TIME, "description": "when the current status began (ISO 8601 with the city's offset)"},
            "now": {**TIME, "description": "the server's clock, to count the time in status from"},
            "load": {**INT, "description": "slots taken by the conversations and calls in hand"},
            "capacity": {**INT, "description": "the agent's slots"},
            "items": {**INT, "description": "conversations and calls in hand"},
            "wrap_up_until": TIME,
            "missed_offers": {**INT, "description": "offers missed in a row"},
            "no_answer": {**BOOL, "description": "on the break the system set after missed offers"},
            "registered": {**BOOL, "description": "the softphone is registered"},
        },
        "required": [
            "agent_id",
            "name",
            "status",
            "status_name",
            "presence",
            "reason",
            "reason_name",
            "since",
            "now",
            "load",
            "capacity",
            "items",
            "wrap_up_until",
            "missed_offers",
            "no_answer",
            "registered",
        ],
    },
    "AgentStatusUpdate": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": list(PRESENCE_CHOICES)},
            "reason": {**OPT_STR, "description": "for a break: one of the configured reason codes"},
        },
        "required": ["status"],
        "additionalProperties": False,
    },
}


def _refused(request: web.Request, exc: StatusRefused) -> ApiError:
    status = 409 if exc.code == "not_routed" else 400
    return ApiError(status, exc.code, message=t(f"inbox.agent.error.{exc.code}", locale_of(request)))


async def get_my_status(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/agents/me/status."""
    try:
        return respond(
            status_json(request.app[SWITCHBOARD], user_of(request).id, ctx_of(request).city, locale_of(request))
        )
    except StatusRefused as exc:
        raise _refused(request, exc) from None


async def set_my_status(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """PUT /api/v1/agents/me/status {"status", "reason"}."""
    board = request.app[SWITCHBOARD]
    user = user_of(request)
    body = await json_body(request)
    try:
        set_presence(board, user.id, body.get("status"), body.get("reason"))
        return respond(status_json(board, user.id, ctx_of(request).city, locale_of(request)))
    except StatusRefused as exc:
        raise _refused(request, exc) from None


ENDPOINTS = (
    Endpoint(
        "GET",
        PREFIX + "/agents/me/status",
        get_my_status,
        "The caller's agent status (shown status, presence, break reason, since, load)",
        "agents",
        AGENT_ROLES,
        "AgentStatus",
        errors=(409,),
    ),
    Endpoint(
        "PUT",
        PREFIX + "/agents/me/status",
        set_my_status,
        "Set the caller's presence: available, break (with a reason) or offline",
        "agents",
        AGENT_ROLES,
        "AgentStatus",
        body="AgentStatusUpdate",
        errors=(400, 409),
        description="The shown status (offered, busy, wrap_up) follows from the work in hand; items in hand stay "
        "with the agent through a break. Break reasons: the hub's routing configuration (default rest, training, "
        "meeting, meal).",
    ),
)


def setup(app: web.Application) -> None:
    """Mount and document the agents' operations."""
    extend(app, ENDPOINTS, SCHEMAS)
