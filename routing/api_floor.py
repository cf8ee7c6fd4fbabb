"""``GET /api/v1/floor``: the supervisor's floor as the staff API gives it (supervisor, leader, admin tokens).

The same snapshot as the floor page's socket (:func:`routing.floor.snapshot`): waiting per queue and channel with
the longest current wait, every agent with status, reason, time in status and the items in hand, and the figures
of one day from the queue log (today by default, ``day`` for another; ``threshold`` overrides the service-level
threshold). Mounted through :func:`hub.web.api_v1.routes.extend`, documented in ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.web.api_v1.common import respond
from hub.web.api_v1.routes import PREFIX, extend
from hub.web.api_v1.schemas import Schema, ref
from hub.web.api_v1.spec import Endpoint, Param, day
from routing.floor import FLOOR_FEED, FLOOR_ROLES, snapshot
from routing.floor_figures import FIGURE_EVENTS, compute
from routing.switchboard import SWITCHBOARD
from routing.switchboard_log import at

THRESHOLD = Param(
    "threshold",
    {"type": "integer", "minimum": 1, "maximum": 3600},
    "Service-level threshold in seconds (default: the configured one, 15 s as in GB/T 33358).",
)


async def get_floor(request: web.Request, args: dict[str, Any]) -> web.StreamResponse:
    """GET /api/v1/floor: live waiting and agents, and one day's figures."""
    board = request.app[SWITCHBOARD]
    feed = request.app[FLOOR_FEED]
    threshold = float(args.get("threshold") or board.settings.sl_threshold_s)
    today = board.city.today(at(board.clock()))
    wanted = args.get("day") or today
    if wanted == today:
        return respond(snapshot(board, feed, threshold))
    start, end = board.city.day_range(wanted, wanted)
    entries = await board.log.entries(start, end, events=FIGURE_EVENTS)
    body = snapshot(board, feed, threshold, compute(entries, threshold))
    body["day"] = wanted.isoformat()
    return respond(body)


def _opt(kind: str) -> Schema:
    return {"type": [kind, "null"]}


def _object(properties: dict[str, Schema], **more: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": list(properties), **more}


def _map(schema: Schema) -> Schema:
    return {"type": "object", "additionalProperties": schema}


INT = {"type": "integer"}
NUMBER = {"type": "number"}
STR = {"type": "string"}
TIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601 with the city's offset"}
RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "None when the denominator is 0"}
SECONDS = {"type": ["number", "null"], "minimum": 0, "description": "seconds; None when nothing to average"}
STATUSES = ["offline", "available", "break", "offered", "busy", "wrap_up"]

SCHEMAS: dict[str, Schema] = {
    "FloorFigures": _object(
        {
            "entered": INT,
            "answered": INT,
            "abandoned": INT,
            "overflowed": INT,
            "answered_within": INT,
            "abandoned_within": INT,
            "sl1": {**RATE, "description": "answered_within / (answered + abandoned)"},
            "sl2": {**RATE, "description": "answered_within / (answered + abandoned - abandoned_within)"},
            "sl3": {**RATE, "description": "answered_within / answered"},
            "asa_s": {**SECONDS, "description": "average speed of answer: the mean wait of the answered"},
            "aht_s": {**SECONDS, "description": "average handle time: the mean talk time of ended holds"},
            "abandon_rate": {**RATE, "description": "abandoned / (answered + abandoned)"},
        },
        additionalProperties=False,
    ),
    "FloorFigureSet": _object(
        {
            "threshold_s": NUMBER,
            "total": ref("FloorFigures"),
            "queues": _map(ref("FloorFigures")),
            "channels": _map(ref("FloorFigures")),
        }
    ),
    "FloorWaitCount": _object({"waiting": INT, "longest_wait_s": SECONDS}),
    "FloorQueueWaiting": _object({"waiting": INT, "longest_wait_s": SECONDS, "channels": _map(ref("FloorWaitCount"))}),
    "FloorWaiting": _object(
        {
            "waiting": INT,
            "longest_wait_s": SECONDS,
            "queues": _map(ref("FloorQueueWaiting")),
            "channels": _map(ref("FloorWaitCount")),
        }
    ),
    "FloorWaitingItem": _object(
        {
            "item_id": STR,
            "conversation_id": _opt("string"),
            "channel": STR,
            "queue": STR,
            "priority": INT,
            "since": TIME,
            "wait_s": NUMBER,
            "offered_to": {"type": "array", "items": INT},
        }
    ),
    "FloorMonitor": _object(
        {
            "mode": {"type": "string", "enum": ["listen", "whisper", "barge", "join"]},
            "supervisor_id": _opt("integer"),
            "supervisor_name": _opt("string"),
        }
    ),
    "FloorHeldItem": _object(
        {
            "item_id": STR,
            "conversation_id": _opt("string"),
            "channel": STR,
            "queue": STR,
            "since": TIME,
            "held_s": NUMBER,
            "monitor": {"oneOf": [ref("FloorMonitor"), {"type": "null"}]},
        }
    ),
    "FloorAgent": _object(
        {
            "id": INT,
            "name": STR,
            "status": {"type": "string", "enum": STATUSES},
            "presence": {"type": "string", "enum": ["offline", "available", "break"]},
            "reason": {**_opt("string"), "description": "the break reason code"},
            "since": TIME,
            "in_status_s": NUMBER,
            "registered": {"type": "boolean"},
            "load": INT,
            "capacity": INT,
            "handled_today": INT,
            "talk_time_s": NUMBER,
            "items": {"type": "array", "items": ref("FloorHeldItem")},
        }
    ),
    "FloorSnapshot": _object(
        {
            "now": TIME,
            "day": {"type": "string", "format": "date", "description": "the city's day of the figures"},
            "threshold_s": NUMBER,
            "waiting": ref("FloorWaiting"),
            "waiting_items": {"type": "array", "items": ref("FloorWaitingItem"), "maxItems": 200},
            "agents": {"type": "array", "items": ref("FloorAgent")},
            "statuses": _map(INT),
            "figures": ref("FloorFigureSet"),
        }
    ),
}

ENDPOINTS = (
    Endpoint(
        "GET",
        PREFIX + "/floor",
        get_floor,
        "The supervisor's floor: waiting, agents and the day's service figures",
        "floor",
        FLOOR_ROLES,
        "FloorSnapshot",
        params=(THRESHOLD, day("day", "The city's day of the figures (default: today); the rest is live.")),
        errors=(400,),
        description=(
            "Figures from the queue log: service level in three formulas (SL1 counts every abandon, SL2 leaves "
            "out abandons within the threshold, SL3 ignores abandons), ASA, AHT and the abandon rate; None where "
            "a denominator is 0. Only the oldest 200 waiting items are listed; all are counted."
        ),
    ),
)


def setup(app: web.Application) -> None:
    """Add ``GET /api/v1/floor`` to the staff API."""
    extend(app, ENDPOINTS, SCHEMAS)
