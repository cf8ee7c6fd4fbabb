"""Pages for knowledge managers (and reviewers; agents read and suggest): articles, editor, review queue,
history with diffs and rollback, import/export, announcements and gaps. Mounted by :func:`setup`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import BodyPartReader, web

from hub.localtime import CityTime
from hub.models import Role, User
from hub.web import auth
from hub.web.context import CTX
from hub.web.i18n_web import locale_of, ui
from knowledge_base import exchange
from knowledge_base.gaps import mine_gaps
from knowledge_base.service import (
    EDITORS,
    FIELD_LABELS,
    REVIEWERS,
    STATUSES,
    KbError,
    KnowledgeService,
)

log = logging.getLogger(__name__)

SERVICE: web.AppKey[KnowledgeService] = web.AppKey("kb_service", KnowledgeService)
STAFF = [r for r in Role if r is not Role.DEPARTMENT]
MANAGERS = sorted(EDITORS | REVIEWERS)
MAX_UPLOAD = 5 * 1024 * 1024
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _user(request: web.Request) -> User:
    user = auth.current_user(request)
    assert user is not None
    return user


def _render(request: web.Request, template: str, data: dict[str, Any], status: int = 200) -> web.Response:
    user = _user(request)
    data.setdefault("error", None)
    data.update(
        can_edit=user.role in EDITORS,
        can_review=user.role in REVIEWERS,
        tax=request.app[CTX].taxonomy(),
        labels={name: ui(f"kb.field.{name}", locale_of(request)) for name in FIELD_LABELS},
        statuses=STATUSES,
        msg=request.query.get("msg"),
        err=request.query.get("err"),
        detail=request.query.get("detail", "")[:300],
    )
    return aiohttp_jinja2.render_template(template, request, data, status=status)


def _back(path: str, **query: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{path}?{urlencode(query)}" if query else path)


def _city(request: web.Request) -> CityTime:
    """The city's zone: datetime-local inputs are read and filled in its local time."""
    return request.app[CTX].city


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _form_content(form: Any, city: CityTime) -> dict[str, Any]:
    return {
        "question": str(form.get("question", "")),
        "similar_questions": _lines(form.get("similar_questions")),
        "answer": str(form.get("answer", "")).replace("\r\n", "\n"),
        "spoken_answer": str(form.get("spoken_answer", "")),
        "industry": str(form.get("industry", "")) or None,
        "category": str(form.get("category", "")) or None,
        "unit": str(form.get("unit", "")) or None,
        "commitments": str(form.get("commitments", "")).replace("\r\n", "\n") or None,
        "fees": str(form.get("fees", "")).replace("\r\n", "\n") or None,
        "links": _lines(form.get("links")),
        "effective_from": city.parse(str(form.get("effective_from", ""))),
        "expires_at": city.parse(str(form.get("expires_at", ""))),
        "tags": [t.strip() for t in str(form.get("tags", "")).replace("，", ",").split(",") if t.strip()],
    }


def _editor_values(content: dict[str, Any], city: CityTime) -> dict[str, str]:
    """Content as the editor's form values (times as local datetime-local values)."""
    return {
        "question": content.get("question") or "",
        "similar_questions": "\n".join(content.get("similar_questions") or []),
        "answer": content.get("answer") or "",
        "spoken_answer": content.get("spoken_answer") or "",
        "industry": content.get("industry") or "",
        "category": content.get("category") or "",
        "unit": content.get("unit") or "",
        "commitments": content.get("commitments") or "",
        "fees": content.get("fees") or "",
        "links": "\n".join(content.get("links") or []),
        "effective_from": city.input_value(content.get("effective_from")),
        "expires_at": city.input_value(content.get("expires_at")),
        "tags": ", ".join(content.get("tags") or []),
    }


# -- articles -----------------------------------------------------------------------------------------


@auth.require_roles(STAFF)
async def article_list(request: web.Request) -> web.StreamResponse:
    """GET /kb: articles with filters (status, industry, text)."""
    service = request.app[SERVICE]
    status = request.query.get("status", "")
    industry = request.query.get("industry", "")
    text = request.query.get("q", "").strip()[:100]
    items = await service.store.list_articles(
        status=status if status in STATUSES else None, industry=industry or None, text=text or None
    )
    return _render(request, "kb_list.html", {"items": items, "f": {"status": status, "industry": industry, "q": text}})


@auth.require_roles(STAFF)
async def article_view(request: web.Request) -> web.StreamResponse:
    """GET /kb/a/{id}: an article with both answer forms, its workflow state and suggestions."""
    service = request.app[SERVICE]
    try:
        article = await service.get(_user(request), request.match_info["id"])
    except KbError as exc:
        raise web.HTTPNotFound(text=exc.message) from exc
    return _render(
        request,
        "kb_article.html",
        {
            "a": article,
            "events": await service.store.events(article.id),
            "suggestions": await service.store.suggestions(article_id=article.id),
        },
    )


@auth.require_roles(EDITORS)
async def editor_page(request: web.Request) -> web.StreamResponse:
    """GET /kb/new (prefilled from ?question=&similar=) or /kb/a/{id}/edit."""
    article_id = request.match_info.get("id")
    if article_id:
        article = await request.app[SERVICE].store.get(article_id)
        if article is None:
            raise web.HTTPNotFound()
        values, version = _editor_values(article.content, _city(request)), article.version
    else:
        values = _editor_values(
            {"question": request.query.get("question", ""), "similar_questions": request.query.getall("similar", [])},
            _city(request),
        )
        version = 0
    return _render(request, "kb_edit.html", {"article_id": article_id, "v": values, "version": version})


@auth.require_roles(EDITORS)
async def editor_submit(request: web.Request) -> web.StreamResponse:
    """POST /kb/new or /kb/a/{id}/edit: save a new version (and submit it for review if asked)."""
    service = request.app[SERVICE]
    user = _user(request)
    form = await request.post()
    article_id = request.match_info.get("id")
    try:
        content = _form_content(form, _city(request))
        if article_id:
            base = int(str(form.get("version", "0")) or 0) or None
            article = await service.update(user, article_id, content, base)
        else:
            article = await service.create(user, content, str(form.get("id", "")) or None)
        if form.get("submit_review"):
            await service.submit(user, article.id)
    except (KbError, ValueError) as exc:
        message = exc.message if isinstance(exc, KbError) else str(exc)
        values = {k: str(form.get(k, "")) for k in _editor_values({}, _city(request))}
        version = int(str(form.get("version", "0")) or 0)
        status = exc.status if isinstance(exc, KbError) else 400
        return _render(
            request,
            "kb_edit.html",
            {"article_id": article_id, "v": values, "version": version, "error": message, "new_id": form.get("id")},
            status=status,
        )
    raise _back(f"/kb/a/{article.id}", msg="saved")


@auth.require_roles(STAFF)
async def article_action(request: web.Request) -> web.StreamResponse:
    """POST /kb/a/{id}/{action}: submit, publish, reject, archive, rollback, suggest."""
    service = request.app[SERVICE]
    user = _user(request)
    article_id = request.match_info["id"]
    action = request.match_info["action"]
    form = await request.post()
    note = str(form.get("note", "")).strip()[:1000] or None
    try:
        if action == "submit":
            await service.submit(user, article_id, note)
        elif action == "publish":
            await service.publish(user, article_id, note)
        elif action == "reject":
            await service.reject(user, article_id, note)
        elif action == "archive":
            await service.archive(user, article_id, note)
        elif action == "rollback":
            await service.rollback(user, article_id, int(str(form.get("version", "0"))))
        elif action == "suggest":
            await service.suggest(user, article_id, str(form.get("text", "")))
        else:
            raise web.HTTPNotFound()
    except KbError as exc:
        log.info("kb %s of %s by %s refused: %s", action, article_id, user.username, exc.message)
        raise _back(f"/kb/a/{article_id}", err=exc.code, detail=exc.message) from exc
    except ValueError as exc:
        raise web.HTTPBadRequest(text="bad version") from exc
    raise _back(f"/kb/a/{article_id}", msg=action)


@auth.require_roles(STAFF)
async def history_page(request: web.Request) -> web.StreamResponse:
    """GET /kb/a/{id}/history?from=N&to=M: every version, and the diff between two of them."""
    service = request.app[SERVICE]
    user = _user(request)
    article_id = request.match_info["id"]
    try:
        versions = await service.history(user, article_id)
        article = await service.get(user, article_id)
        newest = versions[-1].version
        to = int(request.query.get("to", newest))
        frm = int(request.query.get("from", max(1, to - 1)))
        diff = await service.diff(user, article_id, frm, to) if frm != to else []
    except KbError as exc:
        raise web.HTTPNotFound(text=exc.message) from exc
    except ValueError as exc:
        raise web.HTTPBadRequest(text="bad version") from exc
    return _render(request, "kb_history.html", {"a": article, "versions": versions, "diff": diff, "frm": frm, "to": to})


@auth.require_roles(MANAGERS)
async def review_queue(request: web.Request) -> web.StreamResponse:
    """GET /kb/review: articles waiting for review and open suggestions."""
    service = request.app[SERVICE]
    return _render(
        request,
        "kb_review.html",
        {
            "items": await service.store.list_articles(status="in_review"),
            "suggestions": await service.store.suggestions(),
        },
    )


@auth.require_roles(EDITORS)
async def suggestion_resolve(request: web.Request) -> web.StreamResponse:
    """POST /kb/suggestions/{id}: accept or dismiss."""
    form = await request.post()
    try:
        await request.app[SERVICE].resolve_suggestion(
            _user(request), int(request.match_info["id"]), form.get("accept") == "1"
        )
    except (KbError, ValueError) as exc:
        raise web.HTTPNotFound() from exc
    raise _back("/kb/review", msg="resolved")


# -- import / export ------------------------------------------------------------------------------------


@auth.require_roles(MANAGERS)
async def io_page(request: web.Request) -> web.StreamResponse:
    """GET /kb/io: import form and export links."""
    return _render(request, "kb_io.html", {"report": None})


@auth.require_roles(EDITORS, api=True)
async def import_upload(request: web.Request) -> web.StreamResponse:
    """POST /kb/import (multipart, CSRF header): create or update articles from CSV or .xlsx."""
    reader = await request.multipart()
    data, filename, submit = b"", "", False
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            filename = part.filename or ""
            data = await part.read(decode=False)
        elif part.name == "submit_review":
            submit = (await part.text()) == "1"
    if not data:
        return web.json_response({"error": "no_file", "message": "choose a CSV or Excel file"}, status=400)
    try:
        rows = exchange.read_table(filename, bytes(data))
    except exchange.ImportFormatError as exc:
        return web.json_response({"error": "format", "message": str(exc)}, status=400)
    report = await request.app[SERVICE].import_rows(_user(request), rows, submit=submit)
    return web.json_response(
        {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": [{"line": line, "message": message} for line, message in report.errors],
        }
    )


@auth.require_roles(MANAGERS)
async def export(request: web.Request) -> web.StreamResponse:
    """GET /kb/export.csv or /kb/export.xlsx."""
    items = await request.app[SERVICE].export(_user(request))
    if request.match_info["fmt"] == "xlsx":
        body = exchange.write_xlsx(items, _city(request))
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = ("\ufeff" + exchange.write_csv(items, _city(request))).encode("utf-8")
        content_type = "text/csv"
    name = f"kb-articles.{request.match_info['fmt']}"
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type == "text/csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- announcements and gaps ----------------------------------------------------------------------------


@auth.require_roles(MANAGERS)
async def announcements_page(request: web.Request) -> web.StreamResponse:
    """GET /kb/announcements."""
    store = request.app[SERVICE].store
    return _render(request, "kb_announcements.html", {"items": await store.announcements(), "now": store.now()})


@auth.require_roles(EDITORS)
async def announcement_submit(request: web.Request) -> web.StreamResponse:
    """POST /kb/announcements: a new notice; POST with ``stop`` ends one."""
    service = request.app[SERVICE]
    form = await request.post()
    store = service.store
    if form.get("stop"):
        await store.set_announcement_active(int(str(form["stop"])), False)
    else:
        tax = request.app[CTX].taxonomy()
        title, body = str(form.get("title", "")).strip()[:200], str(form.get("body", "")).strip()[:2000]
        industry = str(form.get("industry", "")) or None
        district = str(form.get("district", "")) or None
        try:
            # datetime-local values are the city's local time; stored as UTC (an empty start: now).
            starts = _city(request).parse(str(form.get("starts_at", ""))) or store.now()
            ends = _city(request).parse(str(form.get("ends_at", "")))
        except ValueError:
            ends = None
        problem = None
        if not title or not body:
            problem = "title and text are required"
        elif industry is None and district is None:
            problem = "choose an industry or a district"
        elif (industry and industry not in tax.industries) or (district and district not in tax.districts):
            problem = "unknown industry or district"
        elif ends is None or ends <= starts:
            problem = "the end must be after the start"
        if problem:
            raise _back("/kb/announcements", err="invalid", detail=problem)
        assert ends is not None
        await store.add_announcement(title, body, industry, district, starts, ends, _user(request).id)
    await request.app[BOARD_RELOAD]()
    raise _back("/kb/announcements", msg="saved")


@auth.require_roles(MANAGERS)
async def gaps_page(request: web.Request) -> web.StreamResponse:
    """GET /kb/gaps: unanswered questions grouped by similarity."""
    service = request.app[SERVICE]
    gaps = mine_gaps(await service.store.unanswered())
    return _render(request, "kb_gaps.html", {"gaps": gaps[:100]})


async def _noop() -> None:
    return None


BOARD_RELOAD: web.AppKey[Any] = web.AppKey("kb_board_reload", object)


def setup(app: web.Application, service: KnowledgeService, reload_announcements: Any = _noop) -> None:
    """Mount the knowledge-base pages on the hub's app."""
    app[SERVICE] = service
    app[BOARD_RELOAD] = reload_announcements
    app.router.add_static("/static/kb", STATIC_DIR, name="kb_static", append_version=True)
    app.router.add_get("/kb", article_list)
    app.router.add_get("/kb/new", editor_page)
    app.router.add_post("/kb/new", editor_submit)
    app.router.add_get("/kb/review", review_queue)
    app.router.add_get("/kb/io", io_page)
    app.router.add_post("/kb/import", import_upload)
    app.router.add_get("/kb/export.{fmt:csv|xlsx}", export)
    app.router.add_get("/kb/announcements", announcements_page)
    app.router.add_post("/kb/announcements", announcement_submit)
    app.router.add_get("/kb/gaps", gaps_page)
    app.router.add_post("/kb/suggestions/{id:\\d+}", suggestion_resolve)
    app.router.add_get("/kb/a/{id}", article_view)
    app.router.add_get("/kb/a/{id}/edit", editor_page)
    app.router.add_post("/kb/a/{id}/edit", editor_submit)
    app.router.add_get("/kb/a/{id}/history", history_page)
    app.router.add_post("/kb/a/{id}/{action}", article_action)
