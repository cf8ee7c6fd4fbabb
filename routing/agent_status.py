"""The agent's own side of the switchboard in the inbox: status, wrap-up, text offers and picks.

JSON endpoints of the inbox page (login with an inbox role, CSRF on POST as every inbox POST):

- ``GET /api/agent/status``: the agent's status object (:func:`status_json`) with ``routed`` and the pending text
  ``offers`` (:func:`offer_json`); ``routed`` is false for a staff member the router does not know (an admin).
- ``POST /api/agent/status`` ``{"status": "available"|"break"|"offline", "reason": code}``: set the presence (a
  break needs a reason from ``switchboard.settings.break_reasons``); 400 ``unknown_status`` / ``unknown_reason``.
- ``POST /api/agent/wrap-up/end``: end after-call work early (409 when not in wrap-up).
- ``POST /api/agent/offers/{item_id}/accept`` | ``/decline``: answer a text offer (409 when it is gone).

:class:`AgentFeed` is one inbox socket's listener on the switchboard: it turns this agent's status changes, no-answer
breaks, wrap-up ends and text offers into ``agent_status`` / ``offer`` / ``offer_gone`` frames.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.events import ConversationAssigned
from hub.i18n import lookup, t
from hub.localtime import CityTime
from hub.logsafe import mask
from hub.models import INBOX_ROLES, ConversationStatus, SenderKind
from hub.storage.conversations import ConversationNotFound
from hub.web.auth import require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of
from routing.engine import (
    AgentStatus,
    AgentStatusChanged,
    Assigned,
    NoAnswerBreak,
    Offered,
    OfferTimedOut,
    OfferWithdrawn,
    RoutingError,
    Transferred,
    WrapUpEnded,
)
from routing.engine import capacity as slots
from routing.engine.agents import NO_ANSWER
from routing.inbox_common import agent_of, error, json_response, read_json
from routing.switchboard import SWITCHBOARD, Change, Switchboard
from routing.switchboard_log import at

log = logging.getLogger(__name__)

PRESENCE_CHOICES = ("available", "break", "offline")
ASSIGN_WAIT_S = 10.0  # how long a pick or an accept waits for the conversation to become the agent's
EXCERPT_CHARS = 60


class StatusRefused(Exception):
    """A status change the switchboard does not allow; ``code`` names why (``inbox.agent.error.<code>``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def status_name(status: str, locale: str) -> str:
    """The shown status's label (离线, 空闲, 小休, 振铃, 忙碌, 话后处理)."""
    return lookup(f"inbox.agent_status.{status}", locale) or status


def reason_name(reason: str | None, locale: str) -> str | None:
    """A break reason's label; a configured code without one shows as itself."""
    if reason is None:
        return None
    return lookup(f"inbox.break.{reason}", locale) or reason


def break_choices(board: Switchboard, locale: str) -> list[list[str]]:
    """The break reasons the agent may choose, in the configured order, as ``[code, label]``."""
    return [[code, reason_name(code, locale) or code] for code in board.settings.break_reasons]


def status_json(board: Switchboard, agent_id: int, city: CityTime, locale: str) -> dict[str, Any]:
    """The agent's status as the inbox and the staff API show it (times with the city's offset).

    Raises:
        StatusRefused: ``not_routed`` when the router does not know the user.
    """
    agent = board.router.agents.get(agent_id)
    if agent is None:
        raise StatusRefused("not_routed")
    now = board.clock()
    status = agent.status.value
    reason = agent.reason if agent.presence is AgentStatus.BREAK else None
    return {
        "agent_id": agent_id,
        "name": board.names.get(agent_id),
        "status": status,
        "status_name": status_name(status, locale),
        "presence": agent.presence.value,
        "reason": reason,
        "reason_name": reason_name(reason, locale),
        "since": city.iso(at(agent.status_since)),
        "now": city.iso(at(now)),
        "load": sum(agent.load.values()),
        "capacity": slots.capacity_of(agent, board.router.policy),
        "items": len(agent.load),
        "wrap_up_until": city.iso(at(agent.wrap_up_until)) if agent.wrap_up_until is not None else None,
        "missed_offers": agent.missed_offers,
        "no_answer": reason == NO_ANSWER,
        "registered": agent.registered,
    }


def set_presence(board: Switchboard, agent_id: int, status: object, reason: object, *, by: int | None = None) -> None:
    """Set the agent's presence from a request body's values.

    Raises:
        StatusRefused: ``unknown_status``, ``unknown_reason`` or ``not_routed``.
    """
    if status not in PRESENCE_CHOICES:
        raise StatusRefused("unknown_status")
    if status == "break" and (not isinstance(reason, str) or reason not in board.settings.break_reasons):
        raise StatusRefused("unknown_reason")
    if not board.knows(agent_id):
        raise StatusRefused("not_routed")
    try:
        board.set_status(agent_id, str(status), str(reason) if status == "break" else None, by=by)
    except RoutingError:
        raise StatusRefused("unknown_reason") from None


def pending_offers(board: Switchboard, agent_id: int) -> list[tuple[str, float]]:
    """The text items offered to the agent now, with their deadlines (calls ring the softphone instead)."""
    agent = board.router.agents.get(agent_id)
    if agent is None:
        return []
    found = []
    for item_id in agent.offered:
        item = board.router.items.get(item_id)
        if item is not None and not item.is_voice and agent_id in item.offers:
            found.append((item_id, item.offers[agent_id]))
    return found


async def offer_json(ctx: HubContext, board: Switchboard, item_id: str, deadline: float) -> dict[str, Any] | None:
    """What the offer card shows: channel, the citizen masked, the first message's excerpt, the deadline."""
    info = board.items.get(item_id)
    conversation_id = info.conversation_id if info is not None else item_id
    try:
        conversation = await ctx.conversations.get(conversation_id)
    except ConversationNotFound:
        return None
    contact = await ctx.conversations.get_contact(conversation.contact_id) if conversation.contact_id else None
    first = next(
        (m for m in await ctx.conversations.messages(conversation.id, limit=50) if m.sender_kind is SenderKind.CITIZEN),
        None,
    )
    who = None
    if contact is not None:
        who = contact.phone or contact.email or contact.telegram_id
    who = who or conversation.external_ref
    name = contact.name if contact is not None and contact.name else None
    excerpt = mask(first.text) if first is not None else ""
    return {
        "item_id": item_id,
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "queue": info.queue if info is not None else None,
        "citizen": mask(who) if who else None,
        "citizen_name": (name[0] + "*" * (len(name) - 1)) if name else None,
        "excerpt": excerpt[:EXCERPT_CHARS] + ("…" if len(excerpt) > EXCERPT_CHARS else ""),
        "deadline": ctx.city.iso(at(deadline)),
        "now": ctx.city.iso(at(board.clock())),
    }


async def await_assignment(ctx: HubContext, conversation_id: str, agent_id: int, act: Callable[[], None]) -> bool:
    """Do ``act`` (a pick or an accept) and wait until the switchboard has made the conversation the agent's.

    The switchboard assigns text conversations in a task of its own; the page may show "mine" only after that.
    A :class:`RoutingError` of ``act`` propagates at once.
    """
    async with ctx.bus.stream(conversation_id) as subscription:
        act()
        try:
            async with asyncio.timeout(ASSIGN_WAIT_S):
                while True:
                    event = await subscription.get()
                    if isinstance(event, ConversationAssigned) and event.conversation.assignee_id == agent_id:
                        return True
                    if event is None:  # fell behind: the store tells
                        break
        except TimeoutError:
            pass
    current = await ctx.conversations.get(conversation_id)
    return current.status is ConversationStatus.ASSIGNED and current.assignee_id == agent_id


def pick_refusal(board: Switchboard, agent_id: int, item_id: str) -> str | None:
    """Why the agent may not take the waiting item themselves (``inbox.pick.<code>``), or None."""
    item = board.router.items.get(item_id)
    agent = board.router.agents.get(agent_id)
    if item is None or agent is None:
        return "not_waiting"
    queue = board.router.queues[item.queue]
    if not queue.allow_pick:
        return "not_allowed"
    if set(item.offers) - {agent_id} or set(agent.offered) - {item_id}:
        return "offer_pending"
    if agent.voice_items:
        return "on_call"
    if not slots.eligible(agent, item, queue):
        return "not_eligible"
    if slots.weight_if_fits(agent, item, queue, board.router.policy) is None:
        return "no_room"
    return None


def _refused(request: web.Request, code: str, status: int = 409) -> web.Response:
    return error(status, code, t(f"inbox.agent.error.{code}", locale_of(request)))


# -- endpoints ---------------------------------------------------------------------------------------------


@require_roles(INBOX_ROLES, api=True)
async def get_status(request: web.Request) -> web.StreamResponse:
    """GET /api/agent/status: the agent's status and pending text offers."""
    board = request.app[SWITCHBOARD]
    user = agent_of(request)
    locale = locale_of(request)
    try:
        status = status_json(board, user.id, request.app[CTX].city, locale)
    except StatusRefused:
        return json_response({"routed": False, "offers": []})
    offers = [await offer_json(request.app[CTX], board, i, d) for i, d in pending_offers(board, user.id)]
    return json_response({**status, "routed": True, "offers": [o for o in offers if o is not None]})


@require_roles(INBOX_ROLES, api=True)
async def post_status(request: web.Request) -> web.StreamResponse:
    """POST /api/agent/status {"status", "reason"}."""
    board = request.app[SWITCHBOARD]
    user = agent_of(request)
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    try:
        set_presence(board, user.id, body.get("status"), body.get("reason"))
    except StatusRefused as exc:
        return _refused(request, exc.code, 409 if exc.code == "not_routed" else 400)
    return json_response(status_json(board, user.id, request.app[CTX].city, locale_of(request)))


@require_roles(INBOX_ROLES, api=True)
async def end_wrap_up(request: web.Request) -> web.StreamResponse:
    """POST /api/agent/wrap-up/end: the agent ends after-call work early."""
    board = request.app[SWITCHBOARD]
    user = agent_of(request)
    if not board.knows(user.id):
        return _refused(request, "not_routed")
    try:
        board.end_wrap_up(user.id)
    except RoutingError:
        return _refused(request, "not_in_wrap_up")
    return json_response(status_json(board, user.id, request.app[CTX].city, locale_of(request)))


@require_roles(INBOX_ROLES, api=True)
async def accept_offer(request: web.Request) -> web.StreamResponse:
    """POST /api/agent/offers/{item_id}/accept: the conversation becomes the agent's."""
    board = request.app[SWITCHBOARD]
    ctx = request.app[CTX]
    user = agent_of(request)
    item_id = request.match_info["item_id"]
    info = board.items.get(item_id)
    if info is None or (item_id, user.id) not in _offered(board, user.id):
        return _refused(request, "offer_gone")
    try:
        assigned = await await_assignment(ctx, info.conversation_id, user.id, lambda: board.accept(item_id, user.id))
    except RoutingError:
        return _refused(request, "offer_gone")
    if not assigned:
        return _refused(request, "not_assigned")
    return json_response(
        {
            "conversation_id": info.conversation_id,
            "status": status_json(board, user.id, ctx.city, locale_of(request)),
        }
    )


@require_roles(INBOX_ROLES, api=True)
async def decline_offer(request: web.Request) -> web.StreamResponse:
    """POST /api/agent/offers/{item_id}/decline: refuse the offer (it counts as a missed offer)."""
    board = request.app[SWITCHBOARD]
    user = agent_of(request)
    item_id = request.match_info["item_id"]
    if (item_id, user.id) not in _offered(board, user.id):
        return _refused(request, "offer_gone")
    try:
        board.decline(item_id, user.id)
    except RoutingError:
        return _refused(request, "offer_gone")
    return json_response(status_json(board, user.id, request.app[CTX].city, locale_of(request)))


def _offered(board: Switchboard, agent_id: int) -> set[tuple[str, int]]:
    return {(item_id, agent_id) for item_id, _ in pending_offers(board, agent_id)}


# -- the inbox socket's feed -------------------------------------------------------------------------------

Send = Callable[[dict[str, Any]], Awaitable[None]]


class AgentFeed:
    """One inbox socket's listener on the switchboard: this agent's status and text offers, as frames.

    :meth:`on_change` is the switchboard listener (synchronous, cheap: it only queues what concerns the agent);
    :meth:`run` builds the frames from the switchboard's current state and sends them.
    """

    def __init__(self, board: Switchboard, ctx: HubContext, agent_id: int, locale: str) -> None:
        self.board = board
        self.ctx = ctx
        self.agent_id = agent_id
        self.locale = locale
        self._queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=1000)
        self._last: dict[str, Any] | None = None  # the status last sent (without its clock)

    def on_change(self, change: Change) -> None:
        """Queue the change if it concerns this agent."""
        if not self._concerns(change):
            return
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            log.warning("inbox status feed of agent %s fell behind; dropping a change", self.agent_id)

    def _concerns(self, change: Change) -> bool:
        event = change.event
        if event is None:  # a presence change that moved no shown status names no agent: each feed checks its own
            return change.note in ("profile", "restored", "status")
        if isinstance(event, Transferred):
            return self.agent_id in (event.from_agent, event.to_agent)
        return getattr(event, "agent_id", None) == self.agent_id

    async def run(self, send: Send) -> None:
        """Send a frame for every queued change until cancelled."""
        while True:
            change = await self._queue.get()
            for frame in await self.frames(change):
                await send(frame)

    async def frames(self, change: Change) -> list[dict[str, Any]]:
        """The frames one change makes (none when the state it announced is already gone)."""
        event = change.event
        if isinstance(event, Offered):
            if change.item is None or change.item.channel == "voice":
                return []  # calls ring the softphone (call_offered)
            if (event.item_id, event.deadline) not in pending_offers(self.board, self.agent_id):
                return []
            offer = await offer_json(self.ctx, self.board, event.item_id, event.deadline)
            return [{"type": "offer", "offer": offer}] if offer is not None else []
        frames: list[dict[str, Any]] = []
        if isinstance(event, (OfferWithdrawn, OfferTimedOut, Assigned)):
            reason = {OfferWithdrawn: "withdrawn", OfferTimedOut: "timed_out", Assigned: "assigned"}[type(event)]
            frames.append({"type": "offer_gone", "item_id": event.item_id, "reason": reason})
        if isinstance(event, (OfferWithdrawn, OfferTimedOut)):
            return frames  # a status change follows as its own event
        try:
            status = status_json(self.board, self.agent_id, self.ctx.city, self.locale)
        except StatusRefused:
            return frames
        unchanged = {**status, "now": None} == self._last
        self._last = {**status, "now": None}
        if event is None and unchanged:
            return frames  # another agent's change
        frame: dict[str, Any] = {"type": "agent_status", "status": status}
        if isinstance(event, NoAnswerBreak):
            frame["no_answer"] = {"missed": event.missed}
        elif isinstance(event, WrapUpEnded):
            frame["wrap_up_ended"] = {"early": event.early}
        elif isinstance(event, AgentStatusChanged):
            frame["previous"] = event.previous
        frames.append(frame)
        return frames


def setup(app: web.Application) -> None:
    """Mount the status, wrap-up and offer endpoints."""
    app.router.add_get("/api/agent/status", get_status)
    app.router.add_post("/api/agent/status", post_status)
    app.router.add_post("/api/agent/wrap-up/end", end_wrap_up)
    app.router.add_post("/api/agent/offers/{item_id}/accept", accept_offer)
    app.router.add_post("/api/agent/offers/{item_id}/decline", decline_offer)
