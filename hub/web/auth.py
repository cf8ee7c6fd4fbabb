"""Login, sessions, roles and CSRF for every non-citizen page and API."""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from hub.models import Role, User
from hub.web.context import CTX
from hub.web.i18n_web import locale_of, ui

log = logging.getLogger(__name__)

SESSION_COOKIE = "rexian_session"
USER_KEY: web.RequestKey[User | None] = web.RequestKey("user", User)
CSRF_KEY: web.RequestKey[str | None] = web.RequestKey("csrf", str)
BEARER_KEY: web.RequestKey[bool] = web.RequestKey("bearer", bool)  # authenticated by a personal access token

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TokenCheck = Callable[[str], Awaitable[User | None]]  # a bearer token -> its active user, or None
TOKEN_AUTH: web.AppKey[TokenCheck] = web.AppKey("token_auth")  # set by the staff API (hub.web.api_v1)
BEARER_PATHS = ("/api/",)  # where ``Authorization: Bearer`` is accepted (APIs only, never pages)


def _masked(token: str) -> str:
    return token[:8] + "…" if len(token) > 12 else "…"


async def _bearer_user(request: web.Request, token: str) -> User:
    """The user of a bearer token; a bad, revoked or unknown token (or an inactive user) is 401 ``invalid_token``.

    There is no cookie and nothing ambient: requests authenticated this way need no CSRF token.
    """
    check = request.app.get(TOKEN_AUTH)
    user = await check(token) if check is not None and token else None
    if user is None:
        log.info("refused bearer token %s for %s %s", _masked(token), request.method, request.path)
        body = {"error": "invalid_token", "message": ui("api.error.invalid_token", locale_of(request))}
        raise web.HTTPUnauthorized(
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="rexian", error="invalid_token"'},
        )
    return user


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the logged-in user (if any) and the session's CSRF token to the request.

    On API paths an ``Authorization: Bearer`` header authenticates instead of the session cookie.
    """
    token = request.cookies.get(SESSION_COOKIE)
    request[USER_KEY] = None
    request[CSRF_KEY] = None
    request[BEARER_KEY] = False
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer " and request.path.startswith(BEARER_PATHS):
        request[USER_KEY] = await _bearer_user(request, authorization[7:].strip())
        request[BEARER_KEY] = True
        return await handler(request)
    if token:
        found = await request.app[CTX].users.session_user(token)
        if found is not None:
            request[USER_KEY], request[CSRF_KEY] = found
    return await handler(request)


def current_user(request: web.Request) -> User | None:
    """The logged-in user, or None."""
    return request.get(USER_KEY)


def require_roles(roles: Iterable[Role], *, api: bool = False) -> Callable[[Handler], Handler]:
    """Decorator: the handler needs a login with one of ``roles``; unsafe methods also need the CSRF token.

    Pages redirect to the login page; APIs (``api=True``) answer 401/403 JSON. Requests authenticated by a bearer
    token need no CSRF token.
    """
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if user is None:
                if api:
                    raise web.HTTPUnauthorized(
                        text='{"error": "login_required"}',
                        content_type="application/json",
                        headers={"WWW-Authenticate": 'Bearer realm="rexian"'},
                    )
                raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
            if user.role not in allowed:
                log.warning("user %s (%s) denied %s %s", user.username, user.role, request.method, request.path)
                raise web.HTTPForbidden(text='{"error": "forbidden"}', content_type="application/json")
            if request.method not in ("GET", "HEAD", "OPTIONS") and not request.get(BEARER_KEY):
                sent = request.headers.get("X-CSRF-Token", "")
                if not sent and request.content_type == "application/x-www-form-urlencoded":
                    sent = str((await request.post()).get("csrf", ""))
                elif not sent and request.content_type.startswith("multipart/"):
                    sent = request.query.get("csrf", "")  # uploads stream: the form cannot be read twice
                if not hmac.compare_digest(sent, request[CSRF_KEY] or ""):
                    raise web.HTTPForbidden(text='{"error": "csrf"}', content_type="application/json")
            return await handler(request)

        return wrapper

    return decorate


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/staff"


async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /login."""
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": _safe_next(request.query.get("next")), "error": None}
    )


async def login_submit(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, open a session, redirect."""
    form = await request.post()
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:200]
    target = _safe_next(str(form.get("next", "")))
    ctx = request.app[CTX]
    user = await ctx.users.authenticate(username, password)
    if user is None:
        log.info("failed login for %r", username)
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"next": target, "error": "login.failed"}, status=401
        )
        return response
    token, _csrf = await ctx.users.create_session(user.id)
    log.info("user %s logged in", user.username)
    response = web.HTTPFound(target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=ctx.secure_cookies, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[CTX].users.delete_session(token)
    response = web.HTTPFound(f"/login?lang={locale_of(request)}")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
