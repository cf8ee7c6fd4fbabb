"""The Open311 GeoReport v2 endpoint (JSON) on the hub's HTTP server, under ``/open311/v2``."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.open311 import wire
from channels.open311.store import Open311Store, RequestExtras, RequestFilter
from channels.open311.wire import Open311Error, bad
from hub.clock import Clock, utc_now
from hub.dialogue.ports import WorkOrderDraft
from hub.models import WorkOrder
from hub.taxonomy import Category, Taxonomy
from hub.web.context import CTX

log = logging.getLogger(__name__)

CHANNEL_OPEN311 = "open311"
BASE = "/open311/v2"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Desk(Protocol):
    """Registers a work order and dispatches it by rule (``routing.desk.RuleDispatchDesk``)."""

    async def register(self, conversation_id: str | None, draft: WorkOrderDraft) -> tuple[WorkOrder, str | None]:
        """Create (and dispatch) an order; returns it and the responsible unit's display name."""
        ...


STORE: web.AppKey[Open311Store] = web.AppKey("open311_store", Open311Store)
DESK: web.AppKey[Desk] = web.AppKey("open311_desk", Desk)
CLOCK: web.AppKey[Clock] = web.AppKey("open311_clock", Callable)  # type: ignore[arg-type]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(document: Any, status: int = 200, lang: str | None = None) -> web.Response:
    response = web.json_response(
        document, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False), content_type="application/json"
    )
    response.charset = "utf-8"
    if lang:
        response.headers["Content-Language"] = lang
    return response


def open311(handler: Handler) -> Handler:
    """Answer :class:`Open311Error` (and unexpected failures) in the spec's error format."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Open311Error as exc:
            return _json(exc.document(), status=exc.status)
        except web.HTTPRequestEntityTooLarge:
            return _json(Open311Error(413, "the request body is larger than 1 MiB").document(), status=413)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("open311 %s %s failed", request.method, request.path)
            return _json(bad("general service error: the request could not be processed").document(), status=400)

    return wrapper


def _category(tax: Taxonomy, code: str) -> Category:
    category = tax.categories.get(code)
    if category is None:
        raise Open311Error(404, f"service_code {code!r} was not found")
    return category


def _request_type(tax: Taxonomy, category: Category) -> str:
    """Urgent faults (no water, gas leak, open manhole ...) are 求助/报修 repairs; everything else a complaint."""
    preferred = "repair" if category.urgent else "complaint"
    for code in (preferred, "complaint", "repair"):
        if code in tax.request_types:
            return code
    return next(iter(tax.request_types))


@open311
async def discovery(request: web.Request) -> web.StreamResponse:
    """GET /open311/discovery.json: the spec's service discovery document."""
    wire.check_format(request.match_info["fmt"])
    endpoint = str(request.url.with_path(BASE + "/").with_query(None))
    ctx = request.app[CTX]
    return _json(
        {
            "changeset": wire.w3(request.app[CLOCK](), request.app[CTX].city),
            "contact": "12319",
            "key_service": "API keys: `rexian open311 key create NAME` by the hotline's administrators",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": endpoint,
                    "changeset": wire.w3(request.app[CLOCK](), request.app[CTX].city),
                    "type": "production",
                    "formats": ["application/json"],
                }
            ],
            "languages": list(wire.LANGS),
            "services": len(ctx.taxonomy().categories),
        }
    )


@open311
async def services(request: web.Request) -> web.StreamResponse:
    """GET /open311/v2/services.json: every category of the taxonomy is a service."""
    wire.check_format(request.match_info["fmt"])
    lang = wire.parse_lang(request.query.get("lang")) or wire.DEFAULT_LANG
    tax = request.app[CTX].taxonomy()
    order = {code: i for i, code in enumerate(tax.industries)}
    categories = sorted(tax.categories.values(), key=lambda c: (order.get(c.industry, len(order)), c.code))
    return _json([wire.service(c, tax, lang) for c in categories], lang=lang)


@open311
async def service_definition(request: web.Request) -> web.StreamResponse:
    """GET /open311/v2/services/{service_code}.json: no category needs extra attributes (metadata=false)."""
    code = wire.split_format(request.match_info["tail"])
    _category(request.app[CTX].taxonomy(), code)
    return _json({"service_code": code, "attributes": []})


@open311
async def create_request(request: web.Request) -> web.StreamResponse:
    """POST /open311/v2/requests.json: a form-encoded request becomes a work order dispatched by rule."""
    wire.check_format(request.match_info["fmt"])
    if request.content_type not in FORM_TYPES:
        raise bad("send the request as application/x-www-form-urlencoded")
    form = await request.post()
    api_key = form.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        raise Open311Error(403, "api_key was not provided -- can't proceed with create_request.")
    key = await request.app[STORE].verify_key(api_key.strip())
    if key is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    new = wire.parse_new_request(form)
    tax = request.app[CTX].taxonomy()
    category = _category(tax, new.service_code)
    address = new.address_string
    if address is None and new.lat is not None and new.long is not None:
        address = f"WGS84 {new.lat:.6f},{new.long:.6f}"
    draft = WorkOrderDraft(
        request_type=_request_type(tax, category),
        industry=category.industry,
        category=category.code,
        description=new.description or category.name(new.lang),
        address=address,
        phone=new.phone,
    )
    order, unit_display = await request.app[DESK].register(None, draft)
    extras = RequestExtras(
        lat=new.lat,
        long=new.long,
        address_string=new.address_string,
        email=new.email,
        first_name=new.first_name,
        last_name=new.last_name,
        media_url=new.media_url,
        lang=new.lang,
    )
    await request.app[STORE].record(order.id, key.id, extras)
    log.info("open311 request %s from client %s (%s)", order.number, key.id, category.code)
    agency = wire.unit_name(tax, order.unit, new.lang) or unit_display
    notice = wire.service_notice(order.number, agency, order.urgent, new.lang)
    return _json([{"service_request_id": order.number, "service_notice": notice, "account_id": None}], lang=new.lang)


@open311
async def list_requests(request: web.Request) -> web.StreamResponse:
    """GET /open311/v2/requests.json: the spec's filters; the last 90 days and at most 1000 by default."""
    wire.check_format(request.match_info["fmt"])
    query = request.query
    lang = wire.parse_lang(query.get("lang"))
    numbers = wire.parse_numbers(query)
    if numbers:  # service_request_id overrides every other argument
        start = end = request.app[CLOCK]()
        codes: tuple[str, ...] = ()
        statuses: tuple[str, ...] = ()
    else:
        start, end = wire.date_range(query, request.app[CLOCK]())
        codes = wire.comma_list(query, "service_code")
        statuses = wire.parse_statuses(query)
    spec = RequestFilter(start, end, numbers, codes, statuses, wire.MAX_RESULTS)
    found = await request.app[STORE].search(spec, wire.NOTE_ACTIONS)
    tax = request.app[CTX].taxonomy()
    return _json([wire.request_document(row, tax, lang, request.app[CTX].city) for row in found], lang=lang)


@open311
async def get_request(request: web.Request) -> web.StreamResponse:
    """GET /open311/v2/requests/{service_request_id}.json (answered as a one-element list, as the spec shows)."""
    number = wire.split_format(request.match_info["tail"])
    lang = wire.parse_lang(request.query.get("lang"))
    if not wire.NUMBER.match(number):
        raise Open311Error(404, "service_request_id was not found")
    row = await request.app[STORE].get(number, wire.NOTE_ACTIONS)
    if row is None:
        raise Open311Error(404, f"service_request_id {number} was not found")
    ctx = request.app[CTX]
    return _json([wire.request_document(row, ctx.taxonomy(), lang, ctx.city)], lang=lang)


@open311
async def request_updates(request: web.Request) -> web.StreamResponse:
    """GET /open311/v2/servicerequestupdates.json: FixMyStreet's updates, from the work orders' history."""
    wire.check_format(request.match_info["fmt"])
    lang = wire.parse_lang(request.query.get("lang"))
    start, end = wire.date_range(request.query, request.app[CLOCK]())
    rows = await request.app[STORE].updates(start, end, wire.PUBLIC_ACTIONS, wire.MAX_RESULTS)
    tax = request.app[CTX].taxonomy()
    return _json([wire.update_document(row, tax, lang, request.app[CTX].city) for row in rows], lang=lang)


@open311
async def not_found(request: web.Request) -> web.StreamResponse:
    """Anything else under /open311."""
    raise Open311Error(404, f"no Open311 resource at {request.method} {request.path}")


def setup(app: web.Application, *, engine: AsyncEngine, desk: Desk, clock: Clock = utc_now) -> None:
    """Mount the Open311 GeoReport v2 endpoint on the hub's app and report its health."""
    app[STORE] = Open311Store(engine, clock)
    app[DESK] = desk
    app[CLOCK] = clock
    app.router.add_get("/open311/discovery.{fmt}", discovery)
    app.router.add_get(BASE + "/services.{fmt}", services)
    app.router.add_get(BASE + "/services/{tail}", service_definition)
    app.router.add_post(BASE + "/requests.{fmt}", create_request)
    app.router.add_get(BASE + "/requests.{fmt}", list_requests)
    app.router.add_get(BASE + "/requests/{tail}", get_request)
    app.router.add_get(BASE + "/servicerequestupdates.{fmt}", request_updates)
    app.router.add_route("*", "/open311/{tail:.*}", not_found)

    async def health() -> dict[str, Any]:
        return {"status": "ok", "path": BASE}

    app[CTX].channel_health[CHANNEL_OPEN311] = health
