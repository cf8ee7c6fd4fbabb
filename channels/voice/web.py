"""The voice channel's staff-facing web parts (mounted by :func:`setup`, with voice on or off).

- ``GET /voice/audio/{message_id}/{index}``: an audio attachment of a message (voicemail, recordings), for inbox,
  supervisor and leader roles; ``GET /voice/calls/{call_id}/audio/{index}``: a call record's recordings (then
  its voicemail), for supervisors, leaders, administrators and the agent who answered. Files are only served from
  ``<data_dir>/voice`` (no ``..``, no absolute names in messages, no symlinks out); anything else is a 404.
- ``GET /calls``: recent calls with filters (date range, outcome) and KPIs; agents see only calls they answered.
- ``GET/POST /agent/softphone``: the agent's SIP account; the POST generates a new secret and shows it once.
- The inbox's conversation detail gets the conversation's call records (``calls``) through
  :data:`routing.inbox.CALL_RECORDS`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.voice import callback_web, monitor_web
from channels.voice.call_store import CallNotFound, CallStore
from channels.voice.call_store import calls as calls_table
from channels.voice.config import VoiceSettings
from channels.voice.outbound_store import OutboundStore
from channels.voice.sip_accounts import SipAccountStore
from hub.clock import as_utc, utc_now
from hub.localtime import CityTime
from hub.logsafe import mask
from hub.models import INBOX_ROLES, Role, User
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX
from hub.web.i18n_web import locale_of, ui
from routing import inbox

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
AUDIO_ROLES = INBOX_ROLES | {Role.SUPERVISOR, Role.LEADER}
CALL_PAGE_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.LEADER, Role.ADMIN]
ALL_CALLS_ROLES = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN})
OUTCOMES = ("answered", "abandoned", "voicemail", "rejected")
MAX_ROWS = 500
MAX_RANGE_DAYS = 366
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PLAY_DEDUP_S = 60.0


@dataclass(frozen=True, slots=True)
class VoiceWeb:
    """What the voice pages need."""

    data_dir: Path
    settings: VoiceSettings | None
    calls: CallStore
    accounts: SipAccountStore
    engine: AsyncEngine


STATE: web.AppKey[VoiceWeb] = web.AppKey("voice_web", VoiceWeb)


# -- audio files -------------------------------------------------------------------------------------------------


def resolve_audio(data_dir: Path, file: object, *, allow_absolute: bool = False) -> Path | None:
    """The real path of ``file`` if it is a regular file inside ``<data_dir>/voice``, else None.

    ``file`` is relative to ``data_dir`` (``voice/...``); absolute names are only accepted with
    ``allow_absolute`` (call records written by the hub itself). ``..`` is refused; symlinks are followed and the
    target must still be inside the folder. Touches the file system: call it in an executor.
    """
    if not isinstance(file, str) or not file or "\x00" in file or "\\" in file:
        return None
    name = PurePosixPath(file)
    if ".." in name.parts or (name.is_absolute() and not allow_absolute):
        return None
    base = (data_dir / "voice").resolve()
    try:
        target = (Path(name) if name.is_absolute() else data_dir / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


async def _send_audio(data_dir: Path, file: object, *, allow_absolute: bool = False) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(None, lambda: resolve_audio(data_dir, file, allow_absolute=allow_absolute))
    if path is None:
        raise web.HTTPNotFound(text='{"error": "no_such_audio"}', content_type="application/json")
    headers = {"Content-Type": "audio/wav", "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    return web.FileResponse(path, headers=headers)


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text='{"error": "not_found"}', content_type="application/json")


@require_roles(list(Role), api=True)
async def message_audio(request: web.Request) -> web.StreamResponse:
    """GET /voice/audio/{message_id}/{index}: an audio attachment of a message."""
    user = current_user(request)
    if user is None or user.role not in AUDIO_ROLES:
        raise _not_found()
    message = await request.app[CTX].service.reads.message(int(request.match_info["message_id"]))
    index = int(request.match_info["index"])
    if message is None or index >= len(message.attachments):
        raise _not_found()
    attachment = message.attachments[index]
    if not isinstance(attachment, dict) or attachment.get("kind") != "audio":
        raise _not_found()
    response = await _send_audio(request.app[STATE].data_dir, attachment.get("file"))
    if attachment.get("label") == "voicemail":
        await _played(request, message.id, user)
    return response


async def _played(request: web.Request, message_id: int, user: User) -> None:
    """Record that ``user`` played a voicemail: once per listening (the first byte range, at most once a minute)."""
    from .callback_web import OUTBOUND

    wanted = request.headers.get("Range", "")
    if wanted and not wanted.replace(" ", "").startswith("bytes=0-"):
        return  # the player fetching the rest of a file it is already playing
    store = request.app[OUTBOUND]
    last = await store.last_play(message_id, user.id)
    if last is None or (utc_now() - last).total_seconds() >= PLAY_DEDUP_S:
        await store.voicemail_action(message_id, user.id, "play")


@require_roles(list(Role), api=True)
async def call_audio(request: web.Request) -> web.StreamResponse:
    """GET /voice/calls/{call_id}/audio/{index}: a recording (or, after them, the voicemail) of a call record."""
    state = request.app[STATE]
    user = current_user(request)
    try:
        record = await state.calls.get(int(request.match_info["call_id"]))
    except CallNotFound:
        raise _not_found() from None
    if user is None or not (user.role in ALL_CALLS_ROLES or (user.role is Role.AGENT and record.agent_id == user.id)):
        raise _not_found()
    files = [*record.recordings, *([record.voicemail_path] if record.voicemail_path else [])]
    index = int(request.match_info["index"])
    if index >= len(files):
        raise _not_found()
    response = await _send_audio(state.data_dir, files[index], allow_absolute=True)
    if record.voicemail_path and index == len(record.recordings) and record.conversation_id:
        message = await _voicemail_message(request, record.conversation_id)
        if message is not None:
            await _played(request, message, user)
    return response


async def _voicemail_message(request: web.Request, conversation_id: str) -> int | None:
    from .callback_web import voicemail_index

    for message in await request.app[CTX].conversations.messages(conversation_id):
        if voicemail_index(message) is not None:
            return message.id
    return None


# -- call records as shown to staff --------------------------------------------------------------------------------


def outcome(record: Any) -> str:
    """``answered``/``abandoned``/``voicemail``/``rejected``, ``ivr`` (ended in the IVR) or ``ongoing``."""
    if record.hangup_cause == "rejected":
        return "rejected"
    if record.voicemail_path:
        return "voicemail"
    if record.agent_answered_at is not None:
        return "answered"
    if record.hangup_cause == "abandoned":
        return "abandoned"
    return "ongoing" if record.ended_at is None else "ivr"


def _outcome_condition(name: str) -> Any:
    c = calls_table.c
    return {
        "answered": c.agent_answered_at.is_not(None),
        "abandoned": c.hangup_cause == "abandoned",
        "voicemail": c.voicemail_path.is_not(None),
        "rejected": c.hangup_cause == "rejected",
    }[name]


def _recording_label(file: str) -> str:
    stem = PurePosixPath(file).stem
    return next((leg for leg in ("mixed", "caller", "agent") if stem.endswith("-" + leg)), "mixed")


def call_view(record: Any, agents: dict[int, str], *, full_caller: bool, city: CityTime) -> dict[str, Any]:
    """A call record (a :class:`~channels.voice.call_store.CallRecord` or a ``calls`` row) as pages and APIs show it.

    ``full_caller``: the caller's number unmasked (agents call back from the inbox); else ``138****5678``.
    ``city``: times in the city's zone (``arrived_at`` with its offset, ``arrived_local`` as shown).
    """
    arrived = as_utc(record.arrived_at)
    recordings = [
        {"label": _recording_label(f), "url": f"/voice/calls/{record.id}/audio/{i}"}
        for i, f in enumerate(record.recordings or [])
    ]
    if record.voicemail_path:
        n = len(record.recordings or [])
        recordings.append({"label": "voicemail", "url": f"/voice/calls/{record.id}/audio/{n}"})
    caller = record.caller or ""
    called = record.called or ""
    return {
        "id": record.id,
        "direction": getattr(record, "direction", "inbound"),
        "called": called if full_caller else mask(called),
        "conversation_id": record.conversation_id,
        "arrived_at": city.iso(arrived),
        "arrived_local": city.format(arrived, "%Y-%m-%d %H:%M:%S"),
        "caller": caller if full_caller else mask(caller),
        "routing": record.routing,
        "ivr_path": [
            {"node": s.get("node"), "via": s.get("via")} for s in (record.ivr_path or []) if isinstance(s, dict)
        ],
        "queue": record.queue,
        "wait_s": record.wait_s,
        "agent_id": record.agent_id,
        "agent_name": agents.get(record.agent_id) if record.agent_id is not None else None,
        "cause": record.hangup_cause,
        "outcome": outcome(record),
        "ivr_s": record.ivr_s,
        "talk_s": record.talk_s,
        "total_s": record.total_s,
        "recordings": recordings,
        "transcript": record.transcript,
    }


async def _agent_names(request: web.Request, ids: set[int]) -> dict[int, str]:
    users = request.app[CTX].users
    found = {uid: await users.get(uid) for uid in ids}
    return {uid: u.display_name for uid, u in found.items() if u is not None}


async def conversation_calls(request: web.Request, conversation_id: str) -> list[dict[str, Any]]:
    """The call records of a conversation for the inbox detail (caller unmasked: agents call back)."""
    records = await request.app[STATE].calls.for_conversation(conversation_id)
    agents = await _agent_names(request, {r.agent_id for r in records if r.agent_id is not None})
    return [call_view(r, agents, full_caller=True, city=request.app[CTX].city) for r in records]


# -- /calls --------------------------------------------------------------------------------------------------------


def _parse_filters(query: Any, today: date) -> tuple[date, date, str, str | None]:
    error = None
    try:
        start = date.fromisoformat(query.get("from") or (today - timedelta(days=6)).isoformat())
        end = date.fromisoformat(query.get("to") or today.isoformat())
    except ValueError:
        start, end, error = today - timedelta(days=6), today, "bad_date"
    if error is None and not (start <= end and (end - start).days < MAX_RANGE_DAYS):
        start, end, error = today - timedelta(days=6), today, "bad_range"
    wanted = query.get("outcome", "")
    if wanted and wanted not in OUTCOMES:
        wanted, error = "", error or "bad_outcome"
    return start, end, wanted, error


async def _search(
    engine: AsyncEngine, begin: datetime, end: datetime, wanted: str, agent_id: int | None
) -> tuple[list[Any], dict[str, Any] | None]:
    """Rows (newest first, at most MAX_ROWS + 1) and, for one agent, their own figures."""
    c = calls_table.c
    where = [c.arrived_at >= begin, c.arrived_at < end]
    if wanted:
        where.append(_outcome_condition(wanted))
    if agent_id is not None:
        where.append(c.agent_id == agent_id)
    query = sa.select(calls_table).where(*where).order_by(c.arrived_at.desc(), c.id.desc()).limit(MAX_ROWS + 1)
    async with engine.connect() as conn:
        rows = list((await conn.execute(query)).all())
        if agent_id is None:
            return rows, None
        mine = (
            await conn.execute(
                sa.select(sa.func.count(), sa.func.avg(c.wait_s), sa.func.avg(c.talk_s)).where(
                    c.arrived_at >= begin, c.arrived_at < end, c.agent_id == agent_id, c.agent_answered_at.is_not(None)
                )
            )
        ).one()
    figures = {"answered": int(mine[0]), "avg_wait_s": mine[1], "avg_talk_s": mine[2]}
    return rows, {k: (round(float(v), 1) if isinstance(v, float) else v) for k, v in figures.items()}


@require_roles(CALL_PAGE_ROLES)
async def calls_page(request: web.Request) -> web.StreamResponse:
    """GET /calls: recent calls, filters and KPIs."""
    state = request.app[STATE]
    user = current_user(request)
    assert user is not None
    city = request.app[CTX].city
    start, end, wanted, error = _parse_filters(request.query, city.today(utc_now()))
    begin, stop = city.day_range(start, end)  # the dates are the city's local days
    own = None if user.role in ALL_CALLS_ROLES else user.id
    rows, mine = await _search(state.engine, begin, stop, wanted, own)
    kpis = None if own is not None else await state.calls.kpis(begin, stop)
    agents = await _agent_names(request, {r.agent_id for r in rows if r.agent_id is not None})
    context = {
        "filters": {"from": start.isoformat(), "to": end.isoformat(), "outcome": wanted},
        "outcomes": OUTCOMES,
        "error": error,
        "kpis": kpis,
        "mine": mine,
        "calls": [call_view(r, agents, full_caller=False, city=city) for r in rows[:MAX_ROWS]],
        "truncated": ui("calls.truncated", locale_of(request)).replace("{n}", str(MAX_ROWS))
        if len(rows) > MAX_ROWS
        else None,
        "inbox": user.role in INBOX_ROLES,
    }
    return aiohttp_jinja2.render_template("voice_calls.html", request, context, status=400 if error else 200)


# -- softphone account --------------------------------------------------------------------------------------------


async def _softphone(request: web.Request, user: User, *, secret: str | None = None, status: int = 200) -> web.Response:
    state = request.app[STATE]
    settings = state.settings
    account = await state.accounts.get(user.id)
    context = {
        "voice": settings,
        "server": None if settings is None else f"{settings.advertised_host}:{settings.sip_port}",
        "transports": [] if settings is None else ["UDP", *(["TCP"] if settings.tcp else [])],
        "account": account,
        "account_set_local": request.app[CTX].city.format(account.updated_at) if account else None,
        "other_realm": account is not None and settings is not None and account.realm != settings.realm,
        "secret": secret,
    }
    response = aiohttp_jinja2.render_template("voice_softphone.html", request, context, status=status)
    response.headers.update(NO_STORE)
    return response


@require_roles(INBOX_ROLES)
async def softphone_page(request: web.Request) -> web.StreamResponse:
    """GET /agent/softphone: where and as whom the softphone registers (never the secret)."""
    user = current_user(request)
    assert user is not None
    return await _softphone(request, user)


@require_roles(INBOX_ROLES)
async def softphone_reset(request: web.Request) -> web.StreamResponse:
    """POST /agent/softphone (CSRF): generate a new secret and show it in this response only."""
    user = current_user(request)
    assert user is not None
    settings = request.app[STATE].settings
    if settings is None:
        return await _softphone(request, user, status=409)
    _account, secret = await request.app[STATE].accounts.reset(user.id, settings.realm)
    log.info("softphone secret reset for user %s (realm %s)", user.username, settings.realm)
    return await _softphone(request, user, secret=secret)


def setup(
    app: web.Application,
    *,
    data_dir: Path,
    settings: VoiceSettings | None,
    calls: CallStore,
    accounts: SipAccountStore,
    engine: AsyncEngine,
) -> None:
    """Mount the audio routes, /calls and /agent/softphone (add :data:`TEMPLATE_DIR` to the template folders).

    Args:
        app: the hub's web application.
        data_dir: the hub's data directory (audio lives in ``<data_dir>/voice``).
        settings: the voice channel's settings; None when voice is off (the pages still work).
        calls: the call records (the same store the call session writes).
        accounts: the agents' softphone accounts.
        engine: the database (filtered call lists).
    """
    app[STATE] = VoiceWeb(Path(data_dir), settings, calls, accounts, engine)
    app[inbox.CALL_RECORDS] = conversation_calls
    app.router.add_get("/voice/audio/{message_id:\\d{1,12}}/{index:\\d{1,4}}", message_audio)
    app.router.add_get("/voice/calls/{call_id:\\d{1,12}}/audio/{index:\\d{1,4}}", call_audio)
    app.router.add_get("/calls", calls_page)
    app.router.add_get("/agent/softphone", softphone_page)
    app.router.add_post("/agent/softphone", softphone_reset)
    callback_web.setup(app, OutboundStore(engine))
    monitor_web.setup(app)  # POST /api/floor/monitor
