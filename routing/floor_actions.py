"""What supervisors do from the floor: statuses, reassignment, watching and whispering to chats, taking them over,
and agents' routing profiles. Every change goes through the switchboard, which logs it with ``data.by``.

JSON (supervisor, admin; CSRF header like every staff POST; errors ``{"error", "message"}`` in the page's language):

- ``POST /api/floor/agents/{id}/status`` ``{"status": "available"|"break"|"offline", "reason"}``: set an agent's
  status (offline signs them out; items in hand stay with them).
- ``POST /api/floor/conversations/{id}/assign`` ``{"agent_id"}``: give a waiting conversation to an agent, or move
  a held one to another agent.
- ``POST /api/floor/conversations/{id}/watch`` ``{"mode": "join"|"stop"}``: 监看, logged (the transcript follows on
  the floor's socket; the citizen is never told).
- ``POST /api/floor/conversations/{id}/whisper`` ``{"text"}``: 悄悄话, a private note (only staff see notes; the
  agent's inbox shows it live), logged.
- ``POST /api/floor/conversations/{id}/takeover``: 接管, the conversation becomes the supervisor's own, logged.

Pages: ``GET /supervisor/agents`` (supervisor, leader, admin: the routing profiles; leaders only read) and
``POST /supervisor/agents/{id}`` (a form: queues, skills with levels, capacity, text weights).
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.i18n import t
from hub.models import Conversation, User
from hub.storage.conversations import ConversationNotFound
from hub.web.api_v1.notes import NOTES, add_note
from hub.web.auth import require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of
from routing.agent_store import Profile
from routing.engine import RoutingError
from routing.floor import ACT_ROLES, FLOOR_FEED, FLOOR_ROLES, agent_json
from routing.inbox_common import agent_of, json_response, read_json
from routing.switchboard import SWITCHBOARD, Switchboard

PRESENCES = ("available", "break", "offline")
MAX_WHISPER = 2000
MAX_CAPACITY = 50
MAX_SKILL_LEVEL = 10
SKILL = re.compile(r"^([A-Za-z0-9_.\-]+(?::[A-Za-z0-9_.\-]+)*)(?:=(\d{1,2}))?$")
WEIGHT = re.compile(r"^([a-z][a-z0-9_]{0,31})=(\d{1,2})$")
SEPARATORS = re.compile(r"[\s,，;；、]+")


def _fail(request: web.Request, status: int, code: str) -> web.Response:
    """A JSON error with its message in the page's language (``floor.error.<code>``)."""
    return json_response({"error": code, "message": t(f"floor.error.{code}", locale_of(request))}, status=status)


async def _conversation(request: web.Request) -> Conversation | None:
    try:
        return await request.app[CTX].conversations.get(request.match_info["id"][:64])
    except ConversationNotFound:
        return None


@require_roles(ACT_ROLES, api=True)
async def set_agent_status(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/agents/{id}/status {"status", "reason"}: the supervisor sets an agent's status."""
    board = request.app[SWITCHBOARD]
    try:
        agent_id = int(request.match_info["id"])
    except ValueError:
        return _fail(request, 404, "unknown_agent")
    if not board.knows(agent_id):
        return _fail(request, 404, "unknown_agent")
    body = await read_json(request)
    if body is None:
        return _fail(request, 400, "invalid_json")
    status, reason = body.get("status"), body.get("reason")
    if status not in PRESENCES or (status == "break" and reason not in board.settings.break_reasons):
        return _fail(request, 400, "invalid_status")
    try:
        board.set_status(agent_id, status, reason if status == "break" else None, by=agent_of(request).id)
    except RoutingError:
        return _fail(request, 400, "invalid_status")
    feed = request.app[FLOOR_FEED]
    return json_response(agent_json(board, feed, board.router.agents[agent_id], board.clock()))


def _routed(board: Switchboard, conversation_id: str) -> bool:
    return conversation_id in board.router.items or conversation_id in board.router.held


@require_roles(ACT_ROLES, api=True)
async def assign(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/conversations/{id}/assign {"agent_id"}: to an agent (waiting), or to another agent (held)."""
    board = request.app[SWITCHBOARD]
    conversation = await _conversation(request)
    if conversation is None:
        return _fail(request, 404, "unknown_conversation")
    body = await read_json(request)
    if body is None:
        return _fail(request, 400, "invalid_json")
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, int) or isinstance(agent_id, bool) or not board.knows(agent_id):
        return _fail(request, 400, "unknown_agent")
    return _move(request, board, conversation, agent_id, takeover=False)


def _move(
    request: web.Request, board: Switchboard, conversation: Conversation, agent_id: int, *, takeover: bool
) -> web.Response:
    item_id = conversation.id
    if not _routed(board, item_id):
        return _fail(request, 409, "not_routed")
    if board.items.get(item_id) is not None and board.items[item_id].channel == "voice":
        return _fail(request, 409, "voice")
    holder = board.holder(item_id)
    if holder == agent_id:
        return _fail(request, 409, "already_yours" if takeover else "same_agent")
    supervisor = agent_of(request).id
    try:
        board.assign_to(item_id, agent_id, by=supervisor, anyway=takeover)
    except RoutingError:
        return _fail(request, 409, "cannot_assign")
    if takeover:
        board.log_monitor(board.items.get(item_id), supervisor, "takeover", holder)
    return json_response({"conversation_id": conversation.id, "agent_id": agent_id, "previous_agent_id": holder})


@require_roles(ACT_ROLES, api=True)
async def takeover(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/conversations/{id}/takeover: 接管, the conversation becomes the supervisor's own."""
    board = request.app[SWITCHBOARD]
    conversation = await _conversation(request)
    if conversation is None:
        return _fail(request, 404, "unknown_conversation")
    user = agent_of(request)
    if not board.knows(user.id):
        return _fail(request, 409, "not_an_agent")
    return _move(request, board, conversation, user.id, takeover=True)


def _agent_of_conversation(board: Switchboard, conversation: Conversation) -> int | None:
    holder = board.holder(conversation.id)
    return holder if holder is not None else conversation.assignee_id


@require_roles(ACT_ROLES, api=True)
async def watch(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/conversations/{id}/watch {"mode": "join"|"stop"}: 监看 starts or ends (logged)."""
    board = request.app[SWITCHBOARD]
    conversation = await _conversation(request)
    if conversation is None:
        return _fail(request, 404, "unknown_conversation")
    body = await read_json(request)
    mode = (body or {}).get("mode", "join")
    if mode not in ("join", "stop"):
        return _fail(request, 400, "invalid_mode")
    agent = _agent_of_conversation(board, conversation)
    board.log_monitor(board.items.get(conversation.id), agent_of(request).id, mode, agent)
    return json_response({"conversation_id": conversation.id, "mode": mode, "agent_id": agent})


@require_roles(ACT_ROLES, api=True)
async def whisper(request: web.Request) -> web.StreamResponse:
    """POST /api/floor/conversations/{id}/whisper {"text"}: 悄悄话, a note only staff see (logged)."""
    board = request.app[SWITCHBOARD]
    ctx = request.app[CTX]
    conversation = await _conversation(request)
    if conversation is None:
        return _fail(request, 404, "unknown_conversation")
    body = await read_json(request)
    text = (body or {}).get("text")
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_WHISPER:
        return _fail(request, 400, "invalid_note")
    user = agent_of(request)
    note = await add_note(ctx, request.app[NOTES], conversation, user.id, text.strip())
    board.log_monitor(board.items.get(conversation.id), user.id, "whisper", _agent_of_conversation(board, conversation))
    return json_response(note.to_json(ctx.city), status=201)


# -- routing profiles ------------------------------------------------------------------------------------------


class ProfileError(ValueError):
    """A field of the profile form is malformed (``args[0]``: the field, for ``floor.profile.error.<field>``)."""


def parse_skills(text: str) -> dict[str, int]:
    """``industry:water=2, district:chengdong, lang:yue=1`` → codes with levels (1 when not given)."""
    skills: dict[str, int] = {}
    for part in SEPARATORS.split(text.strip()):
        if not part:
            continue
        match = SKILL.match(part)
        if match is None or len(match.group(1)) > 64:
            raise ProfileError("skills")
        level = int(match.group(2) or 1)
        if level > MAX_SKILL_LEVEL:
            raise ProfileError("skills")
        skills[match.group(1)] = level
    return skills


def parse_weights(text: str) -> dict[str, int]:
    """``web_chat=1, email=2`` → slots a conversation of each channel takes (1–capacity)."""
    weights: dict[str, int] = {}
    for part in SEPARATORS.split(text.strip()):
        if not part:
            continue
        match = WEIGHT.match(part)
        if match is None or not 1 <= int(match.group(2)) <= MAX_CAPACITY:
            raise ProfileError("text_weight")
        weights[match.group(1)] = int(match.group(2))
    return weights


def profile_from_form(agent_id: int, form: Any, known_queues: list[str]) -> Profile:
    """The profile a submitted form describes (raises :class:`ProfileError` naming the bad field)."""
    if form.get("all_queues"):
        queues: tuple[str, ...] | None = None
    else:
        queues = tuple(q for q in known_queues if q in form.getall("queues", []))
        unknown = set(form.getall("queues", [])) - set(known_queues)
        if unknown:
            raise ProfileError("queues")
    raw_capacity = str(form.get("capacity", "")).strip()
    capacity: int | None = None
    if raw_capacity:
        if not raw_capacity.isdigit() or not 1 <= int(raw_capacity) <= MAX_CAPACITY:
            raise ProfileError("capacity")
        capacity = int(raw_capacity)
    skills = parse_skills(str(form.get("skills", ""))[:2000])
    weights = parse_weights(str(form.get("text_weight", ""))[:1000])
    return Profile(agent_id, queues, skills, capacity, weights)


def _profile_rows(board: Switchboard) -> list[dict[str, Any]]:
    rows = []
    for agent_id, agent in board.router.agents.items():
        profile = board.profiles.get(agent_id, Profile(agent_id))
        rows.append(
            {
                "id": agent_id,
                "name": board.names.get(agent_id, str(agent_id)),
                "status": agent.status.value,
                "all_queues": profile.queues is None,
                "queues": set(profile.queues or ()),
                "skills": ", ".join(f"{code}={level}" for code, level in sorted(profile.skills.items())),
                "capacity": "" if profile.capacity is None else str(profile.capacity),
                "text_weight": ", ".join(f"{ch}={w}" for ch, w in sorted(profile.text_weight.items())),
            }
        )
    rows.sort(key=lambda r: (r["name"], r["id"]))
    return rows


def _agents_page(
    request: web.Request, user: User, *, saved: int | None = None, error: tuple[int, str] | None = None
) -> web.Response:
    board = request.app[SWITCHBOARD]
    return aiohttp_jinja2.render_template(
        "agents.html",
        request,
        {
            "rows": _profile_rows(board),
            "known_queues": sorted(board.router.queues),
            "policy_capacity": board.router.policy.capacity,
            "may_act": user.role in ACT_ROLES,
            "saved": saved,
            "error_agent": error[0] if error else None,
            "error_field": error[1] if error else None,
        },
        status=400 if error else 200,
    )


@require_roles(FLOOR_ROLES)
async def agents_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/agents: every routed agent's queues, skills, capacity and text weights."""
    saved = request.query.get("saved", "")
    return _agents_page(request, agent_of(request), saved=int(saved) if saved.isdigit() else None)


@require_roles(ACT_ROLES)
async def save_agent_profile(request: web.Request) -> web.StreamResponse:
    """POST /supervisor/agents/{id}: store the agent's routing profile; routing uses it at once."""
    board = request.app[SWITCHBOARD]
    try:
        agent_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not board.knows(agent_id):
        raise web.HTTPNotFound()
    form = await request.post()
    try:
        profile = profile_from_form(agent_id, form, sorted(board.router.queues))
    except ProfileError as exc:
        return _agents_page(request, agent_of(request), error=(agent_id, str(exc.args[0])))
    await board.save_profile(profile)
    raise web.HTTPFound(f"/supervisor/agents?saved={agent_id}#agent-{agent_id}")


def setup(app: web.Application) -> None:
    """Mount the supervisors' actions and the profile page."""
    app.router.add_post("/api/floor/agents/{id}/status", set_agent_status)
    app.router.add_post("/api/floor/conversations/{id}/assign", assign)
    app.router.add_post("/api/floor/conversations/{id}/takeover", takeover)
    app.router.add_post("/api/floor/conversations/{id}/watch", watch)
    app.router.add_post("/api/floor/conversations/{id}/whisper", whisper)
    app.router.add_get("/supervisor/agents", agents_page)
    app.router.add_post("/supervisor/agents/{id}", save_agent_profile)
