"""The supervisor's floor (班长监控台): who waits, who works, and today's figures, live.

- ``GET /supervisor/floor``: the page (supervisor, leader, admin; leaders only read).
- ``GET /supervisor/floor/ws``: a snapshot (:func:`snapshot`) at most every 250 ms after a switchboard change and
  at least once a second (the times tick), so the page is current within a second of any event. Supervisors and
  administrators may also follow one conversation's transcript live on it (``{"type": "follow",
  "conversation_id"}`` / ``{"type": "unfollow"}``): 监看, a keyed bus subscription the citizen knows nothing of.

The figures come from the queue log alone (:mod:`routing.floor_figures`): :class:`FloorFeed` reads today's entries
once at start-up and keeps every new one as the switchboard appends it. What supervisors may do is in
:mod:`routing.floor_actions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, WSMsgType, web

from hub.background import wait_event
from hub.events import ConversationAssigned, ConversationClosed, MessageStored, MessageUpdated, NoteAdded
from hub.i18n import lookup
from hub.models import Role
from hub.web.auth import require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import labels, locale_of
from routing.engine import Agent
from routing.engine.capacity import capacity_of
from routing.engine.core import Held
from routing.floor_figures import FIGURE_EVENTS, FloorFigures, compute
from routing.inbox_common import agent_of, dumps
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD, Switchboard
from routing.switchboard_log import at

log = logging.getLogger(__name__)

FLOOR_ROLES = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN})
"""Who sees the floor."""
ACT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may act on it (change statuses, reassign, monitor, take over, edit profiles); leaders only read."""
PUSH_EVERY_S = 1.0
MIN_INTERVAL_S = 0.25
CALL_MODES = frozenset({"listen", "whisper", "barge"})
WAITING_SHOWN = 200  # the oldest waiting items listed one by one (all are counted)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A supervisor listening to a call or watching a chat now (from the last ``monitor`` entry of the item)."""

    mode: str
    supervisor_id: int | None


class FloorFeed:
    """Today's figure entries of the queue log in memory, and who monitors which item.

    Args:
        board: the switchboard whose log is read (and listened to).
    """

    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self.monitors: dict[str, Monitor] = {}
        self._entries: list[LogEntry] = []
        self._early: list[LogEntry] | None = None  # appended while today's entries are being read
        self._day_start: datetime | None = None
        self._version = 0
        self._cache: dict[float, tuple[int, FloorFigures]] = {}
        self._unlisten: Callable[[], None] | None = None

    async def start(self) -> None:
        """Read today's entries, then follow the log (no entry is lost or counted twice in between)."""
        self._early = []
        self._unlisten = self.board.log.listen(self._on_entry)
        cutoff = at(self.board.clock())
        self._day_start = self.day_start(self.board.clock())
        try:
            loaded = await self.board.log.entries(self._day_start, cutoff, events=FIGURE_EVENTS | {QueueEvent.MONITOR})
        finally:
            early, self._early = self._early, None
        for entry in loaded + [e for e in early if e.at >= cutoff]:
            self._on_entry(entry)

    def stop(self) -> None:
        """Stop following the log."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    def day_start(self, now: float) -> datetime:
        """The start (UTC) of the city's day at ``now``."""
        city = self.board.city
        return city.start_of(city.today(at(now)))

    def _on_entry(self, entry: LogEntry) -> None:
        if self._early is not None:
            self._early.append(entry)
            return
        if entry.event is QueueEvent.MONITOR:
            self._on_monitor(entry)
        elif entry.event in FIGURE_EVENTS:
            self._entries.append(entry)
            self._version += 1
            if entry.event is QueueEvent.COMPLETE and entry.item_id is not None:
                self.monitors.pop(entry.item_id, None)

    def _on_monitor(self, entry: LogEntry) -> None:
        if entry.item_id is None:
            return
        mode = entry.reason or ""
        watching = mode == "join" or (mode in CALL_MODES and (mode != "whisper" or entry.channel == "voice"))
        if watching:  # a whisper to a chat is a one-off note, not a mode
            self.monitors[entry.item_id] = Monitor(mode, entry.agent_id)
        elif mode in ("stop", "takeover"):
            self.monitors.pop(entry.item_id, None)

    def figures(self, threshold_s: float, now: float) -> FloorFigures:
        """Today's figures with ``threshold_s`` (computed again only after the log grew or the day changed)."""
        start = self.day_start(now)
        if start != self._day_start:
            self._day_start = start
            self._entries = [e for e in self._entries if e.at >= start]
            self._version += 1
        cached = self._cache.get(threshold_s)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        figures = compute(self._entries, threshold_s)
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[threshold_s] = (self._version, figures)
        return figures


FLOOR_FEED: web.AppKey[FloorFeed] = web.AppKey("floor_feed", FloorFeed)
FLOOR_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("floor_sockets")


def _seconds(value: float) -> float:
    return round(max(value, 0.0), 1)


def _waiting(board: Switchboard, now: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Waiting counts and longest waits per queue (and its channels), per channel and in total; the oldest items."""
    city = board.city
    queues: dict[str, dict[str, Any]] = {
        name: {"waiting": 0, "longest_wait_s": None, "channels": {}} for name in board.router.queues
    }
    channels: dict[str, dict[str, Any]] = {}
    total: dict[str, Any] = {"waiting": 0, "longest_wait_s": None}

    def count(into: dict[str, Any], wait: float) -> None:
        into["waiting"] += 1
        into["longest_wait_s"] = max(into["longest_wait_s"] or 0.0, wait)

    items = sorted(board.router.items.values(), key=lambda i: (i.enqueued_at, i.seq))
    listed: list[dict[str, Any]] = []
    for item in items:
        wait = _seconds(now - item.enqueued_at)
        queue = queues.setdefault(item.queue, {"waiting": 0, "longest_wait_s": None, "channels": {}})
        count(queue, wait)
        count(queue["channels"].setdefault(item.channel, {"waiting": 0, "longest_wait_s": None}), wait)
        count(channels.setdefault(item.channel, {"waiting": 0, "longest_wait_s": None}), wait)
        count(total, wait)
        if len(listed) < WAITING_SHOWN:
            info = board.items.get(item.id)
            listed.append(
                {
                    "item_id": item.id,
                    "conversation_id": info.conversation_id if info else None,
                    "channel": item.channel,
                    "queue": item.queue,
                    "priority": item.priority,
                    "since": city.iso(at(item.enqueued_at)),
                    "wait_s": wait,
                    "offered_to": sorted(item.offers),
                }
            )
    return {**total, "queues": queues, "channels": channels}, listed


def _holdings(board: Switchboard) -> dict[int, list[tuple[str, Held]]]:
    found: dict[int, list[tuple[str, Held]]] = {}
    for item_id, holding in board.router.held.items():
        found.setdefault(holding.agent_id, []).append((item_id, holding))
    return found


def agent_json(
    board: Switchboard, feed: FloorFeed, agent: Agent, now: float, holdings: list[tuple[str, Held]] | None = None
) -> dict[str, Any]:
    """One agent on the floor: status, reason, time in status, today's counters and the items in hand.

    ``holdings``: the agent's items (the snapshot groups them once for every agent); looked up when not given.
    """
    city = board.city
    held: list[dict[str, Any]] = []
    for item_id, holding in _holdings(board).get(agent.id, []) if holdings is None else holdings:
        info = board.items.get(item_id)
        monitor = feed.monitors.get(item_id)
        held.append(
            {
                "item_id": item_id,
                "conversation_id": info.conversation_id if info else None,
                "channel": holding.channel,
                "queue": holding.queue,
                "since": city.iso(at(holding.since)),
                "held_s": _seconds(now - holding.since),
                "monitor": None
                if monitor is None
                else {
                    "mode": monitor.mode,
                    "supervisor_id": monitor.supervisor_id,
                    "supervisor_name": board.names.get(monitor.supervisor_id or 0),
                },
            }
        )
    held.sort(key=lambda h: (h["held_s"], h["item_id"]), reverse=True)  # longest held first
    return {
        "id": agent.id,
        "name": board.names.get(agent.id, str(agent.id)),
        "status": agent.status.value,
        "presence": agent.presence.value,
        "reason": agent.reason,
        "since": city.iso(at(agent.status_since)),
        "in_status_s": _seconds(now - agent.status_since),
        "registered": agent.registered,
        "load": agent.used(),
        "capacity": capacity_of(agent, board.router.policy),
        "handled_today": agent.handled_today,
        "talk_time_s": _seconds(agent.talk_time_today),
        "items": held,
    }


def snapshot(
    board: Switchboard, feed: FloorFeed, threshold_s: float, figures: FloorFigures | None = None
) -> dict[str, Any]:
    """The floor now: waiting per queue and channel, every agent with their items, today's figures.

    ``figures``: of another period than today (the staff API's ``day``); today's by default.
    """
    now = board.clock()
    waiting, waiting_items = _waiting(board, now)
    holdings = _holdings(board)
    agents = [agent_json(board, feed, a, now, holdings.get(a.id, [])) for a in board.router.agents.values()]
    agents.sort(key=lambda a: (a["status"] == "offline", a["name"], a["id"]))
    statuses: dict[str, int] = {}
    for agent in agents:
        statuses[agent["status"]] = statuses.get(agent["status"], 0) + 1
    return {
        "now": board.city.iso(at(now)),
        "day": board.city.today(at(now)).isoformat(),
        "threshold_s": threshold_s,
        "waiting": waiting,
        "waiting_items": waiting_items,
        "agents": agents,
        "statuses": statuses,
        "figures": (feed.figures(threshold_s, now) if figures is None else figures).to_json(),
    }


def threshold_of(request: web.Request) -> float:
    """The service-level threshold: ``?threshold=`` (1–3600 s) or the configured one."""
    default = request.app[SWITCHBOARD].settings.sl_threshold_s
    raw = request.query.get("threshold", "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if 1 <= value <= 3600 else default


@require_roles(FLOOR_ROLES)
async def floor_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/floor: the page (its script renders the snapshots of the WebSocket)."""
    board = request.app[SWITCHBOARD]
    user = agent_of(request)
    locale = locale_of(request)
    threshold = threshold_of(request)
    choices = {
        "break_reasons": list(board.settings.break_reasons),
        "break_labels": {
            r: lookup(f"floor.reason.{r}", locale) or r for r in (*board.settings.break_reasons, "no_answer")
        },
        "queues": sorted(board.router.queues),
        "threshold_s": threshold,
    }
    return aiohttp_jinja2.render_template(
        "floor.html",
        request,
        {
            "labels": labels(locale, "floor."),
            "choices": choices,
            "may_act": user.role in ACT_ROLES,
            "snapshot": snapshot(board, request.app[FLOOR_FEED], threshold),
        },
    )


class _ChatWatch:
    """One conversation's transcript, live, for one floor socket (a keyed bus subscription)."""

    def __init__(self, ctx: HubContext, ws: web.WebSocketResponse) -> None:
        self._ctx = ctx
        self._ws = ws
        self._task: asyncio.Task[None] | None = None
        self.following: str | None = None

    async def follow(self, conversation_id: str) -> None:
        await self.stop()
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._forward(conversation_id, ready))
        self.following = conversation_id
        await ready.wait()

    async def stop(self) -> None:
        task = self.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop following at once (no await: also from a handler being cancelled); returns the ending task."""
        task, self._task, self.following = self._task, None, None
        if task is not None:
            task.cancel()
        return task

    async def _forward(self, conversation_id: str, ready: asyncio.Event) -> None:
        city = self._ctx.city
        async with self._ctx.bus.stream(conversation_id) as subscription:
            ready.set()
            while True:
                event = await subscription.get()
                payload: dict[str, Any]
                if event is None:
                    payload = {"type": "chat_resync", "conversation_id": conversation_id}
                elif isinstance(event, (MessageStored, MessageUpdated)):
                    kind = "chat_message" if isinstance(event, MessageStored) else "chat_message_updated"
                    payload = {"type": kind, "message": event.message.to_json(city)}
                elif isinstance(event, NoteAdded):
                    payload = {"type": "chat_note", "note": event.note.to_json(city)}
                elif isinstance(event, (ConversationAssigned, ConversationClosed)):
                    c = event.conversation
                    payload = {
                        "type": "chat_state",
                        "conversation": {"id": c.id, "status": c.status.value, "assignee_id": c.assignee_id},
                    }
                else:
                    continue
                if self._ws.closed:
                    return
                with contextlib.suppress(ConnectionError):
                    await self._ws.send_str(dumps(payload))
                if event is None:
                    return


@require_roles(FLOOR_ROLES, api=True)
async def floor_socket(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/floor/ws: snapshots; for supervisors and administrators also a followed transcript."""
    board = request.app[SWITCHBOARD]
    feed = request.app[FLOOR_FEED]
    user = agent_of(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text='{"error": "cross_origin"}', content_type="application/json")
    threshold = threshold_of(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=16 * 1024)
    await ws.prepare(request)
    changed = asyncio.Event()
    changed.set()
    unlisten = board.listen(lambda _change: changed.set())
    loop = asyncio.get_running_loop()

    async def push() -> None:
        last = -MIN_INTERVAL_S
        while not ws.closed:
            await wait_event(changed, PUSH_EVERY_S)
            pause = last + MIN_INTERVAL_S - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            changed.clear()
            if ws.closed:
                return
            try:
                data = dumps({"type": "snapshot", **snapshot(board, feed, threshold)})
            except Exception:  # a bug must not freeze the page: the next change or second tries again
                log.exception("floor snapshot failed")
                continue
            with contextlib.suppress(ConnectionError):  # the page went away: the reader ends the socket
                await ws.send_str(data)
            last = loop.time()

    watch = _ChatWatch(request.app[CTX], ws) if user.role in ACT_ROLES else None
    pusher = asyncio.create_task(push())
    sockets = request.app[FLOOR_SOCKETS]
    sockets.add(ws)
    try:
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            message = _message(frame.data)
            kind = message.get("type")
            if kind == "ping":
                await ws.send_str('{"type":"pong"}')
            elif kind == "follow" and watch is not None and isinstance(message.get("conversation_id"), str):
                await watch.follow(message["conversation_id"][:64])
                await ws.send_str(dumps({"type": "following", "conversation_id": message["conversation_id"][:64]}))
            elif kind == "unfollow" and watch is not None:
                await watch.stop()
    finally:  # no await here: a lost connection may cancel the handler itself
        sockets.discard(ws)
        unlisten()
        pusher.cancel()
        followed = watch.following if watch is not None else None
        if watch is not None:
            watch.cancel()
        if followed is not None:  # the page closed while watching: 监看 ends
            board.log_monitor(board.items.get(followed), user.id, "stop", board.holder(followed))
    return ws


def _message(data: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def setup(app: web.Application) -> None:
    """Mount the floor page, its socket, the supervisors' actions and the staff API; start the feed with the app."""
    from routing import api_floor, floor_actions  # they build on this module: imported here, not at the top

    board = app[SWITCHBOARD]
    feed = FloorFeed(board)
    app[FLOOR_FEED] = feed

    async def start_feed(_app: web.Application) -> None:
        await feed.start()

    async def stop_feed(_app: web.Application) -> None:
        feed.stop()

    async def close_sockets(_app: web.Application) -> None:  # a shutdown does not wait for open pages
        open_sockets: set[web.WebSocketResponse] = app[FLOOR_SOCKETS]
        for ws in list(open_sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"shutdown")

    app[FLOOR_SOCKETS] = set()
    app.on_startup.append(start_feed)
    app.on_shutdown.append(close_sockets)
    app.on_cleanup.insert(0, stop_feed)
    app.router.add_get("/supervisor/floor", floor_page)
    app.router.add_get("/supervisor/floor/ws", floor_socket)
    floor_actions.setup(app)
    api_floor.setup(app)
