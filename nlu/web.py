"""The NLU learning loop: agents correct labels, administrators review the candidates and retrain.

- ``POST /api/conversations/{id}/labels`` ``{"request_type", "industry", "message_id"}`` (inbox roles, CSRF):
  corrects the labels of the chosen citizen message (stored as a candidate training example with that message's
  predicted labels), of the conversation, and of the order of that request before dispatch.
- ``GET /admin/nlu`` (administrators): the candidates with accept/reject, and "retrain".
- ``POST /admin/nlu/{id}/accept|reject``, ``POST /admin/nlu/retrain`` (administrators, CSRF; forms).
- ``GET /api/admin/nlu`` (administrators): the retrain status and the candidates as JSON.

Retraining is delegated to an :class:`NluTrainer` (the composition root passes the hub's
``rexian.nlu_supervisor.SupervisedNlu``): it writes the accepted examples into the Rasa training data, trains in
the background and switches the running Rasa server to the new model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.i18n import t
from hub.localtime import CityTime
from hub.models import INBOX_ROLES, Message, Role, SenderKind, User
from hub.storage.conversations import ConversationNotFound
from hub.web.auth import current_user, require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of
from hub.work_orders.intake_prefill import anchor_of, segment
from hub.work_orders.refusals import Refusal
from hub.work_orders.service import NotFound
from nlu.feedback_store import Feedback, FeedbackNotFound, FeedbackStatus, NluFeedbackStore


class NluTrainer(Protocol):
    """Retrains the NLU from examples and switches to the new model (``SupervisedNlu``)."""

    def start_retrain(self, examples: list[tuple[str, str, str | None]]) -> bool:
        """Start a background retrain with ``(text, request type, industry)`` examples; False if one is running."""
        ...

    def retrain_status(self) -> dict[str, Any]:
        """``{"state": ..., ...}`` of the last retrain."""
        ...


log = logging.getLogger(__name__)

FEEDBACK: web.AppKey[NluFeedbackStore] = web.AppKey("nlu_feedback", NluFeedbackStore)
TRAINER: web.AppKey[Any] = web.AppKey("nlu_trainer", object)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


def _error(status: type[web.HTTPError], code: str) -> web.HTTPError:
    return status(text=json.dumps({"error": code}), content_type="application/json")


def feedback_json(item: Feedback, city: CityTime) -> dict[str, Any]:
    """The wire form of a candidate (times with the city's offset)."""
    return {
        "id": item.id,
        "conversation_id": item.conversation_id,
        "text": item.text,
        "predicted": {"request_type": item.predicted_type, "industry": item.predicted_industry},
        "request_type": item.request_type,
        "industry": item.industry,
        "status": item.status.value,
        "created_at": city.iso(item.created_at),
        "message_id": item.message_id,
    }


def _name(nlu: dict[str, Any] | None, key: str) -> str | None:
    label = (nlu or {}).get(key)
    return label.get("name") if isinstance(label, dict) else None


def _refused(status: type[web.HTTPError], code: str, locale: str) -> web.HTTPError:
    """An error with its text (``nlu.error.<code>``) for the agent."""
    body = {"error": code, "message": t(f"nlu.error.{code}", locale)}
    return status(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


async def _chosen_message(ctx: HubContext, conversation_id: str, message_id: object, locale: str) -> Message:
    """The citizen message the correction is about: ``message_id``, else the latest citizen message that states a
    request (:func:`hub.work_orders.intake_prefill.anchor_of`: not "转人工" or a bare address), else the latest."""
    if message_id is None:
        latest = anchor_of(await ctx.conversations.messages(conversation_id), ctx.taxonomy())
        if latest is None or not latest.text:
            raise _error(web.HTTPBadRequest, "no_citizen_text")
        return latest
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise _refused(web.HTTPBadRequest, "unknown_message", locale)
    message = await ctx.conversations.message(message_id)
    if message is None or message.conversation_id != conversation_id:
        raise _refused(web.HTTPNotFound, "unknown_message", locale)
    if not _from_citizen(message):
        raise _refused(web.HTTPBadRequest, "message_not_citizen", locale)
    return message


def _from_citizen(message: Message) -> bool:
    return message.sender_kind is SenderKind.CITIZEN and message.direction == "in"


async def _fix_order(
    ctx: HubContext, message: Message, changes: dict[str, str], user: User | None
) -> dict[str, Any] | None:
    """Correct the order registered from ``message``'s request: the conversation's first order created after it
    and before the citizen's next request (:func:`hub.work_orders.intake_prefill.segment`).

    Before dispatch the order's type/industry change through the desk's audited edit; after dispatch the
    correction is only recorded in its history (the department's order stays as it is).
    """
    messages = await ctx.conversations.messages(message.conversation_id)
    used = segment(messages, message, ctx.taxonomy())
    after = [m for m in messages if m.id > used[-1].id and _from_citizen(m)]
    until = after[0].created_at if after else None
    orders = await ctx.work_orders.list_for_conversation(message.conversation_id)
    order = next(
        (o for o in orders if o.created_at >= message.created_at and (until is None or o.created_at < until)), None
    )
    if order is None or user is None or ctx.orders is None:
        return None
    try:
        if order.state == "received" and ctx.registration is not None:
            await ctx.registration.edit(order.number, changes, user)
            return {"number": order.number, "action": "edit"}
        await ctx.orders.edit(order.number, changes, user, record_only=True)
        return {"number": order.number, "action": "relabel"}
    except (Refusal, NotFound) as exc:  # it moved meanwhile, or the role may not edit it: the feedback stands
        log.warning("label correction not applied to work order %s: %s", order.number, exc)
        return {"number": order.number, "action": None}


@require_roles(INBOX_ROLES, api=True)
async def correct_labels(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/labels ``{"request_type", "industry", "message_id"}``: correct the labels.

    The chosen citizen message (``message_id``; without it the latest one stating a request) with its own predicted
    labels becomes a candidate example; the conversation's labels change, and so does the type/industry of the
    order registered from that request while it is still before dispatch (recorded only after dispatch).
    """
    ctx = request.app[CTX]
    locale = locale_of(request)
    try:
        body = await request.json()
    except ValueError:
        raise _error(web.HTTPBadRequest, "invalid_json") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "invalid_json")
    request_type, industry = body.get("request_type") or None, body.get("industry") or None
    taxonomy = ctx.taxonomy()
    if request_type is None and industry is None:
        raise _error(web.HTTPBadRequest, "nothing_to_correct")
    if request_type is not None and request_type not in taxonomy.request_types:
        raise _error(web.HTTPBadRequest, "unknown_request_type")
    if industry is not None and industry not in taxonomy.industries:
        raise _error(web.HTTPBadRequest, "unknown_industry")
    try:
        conversation = await ctx.conversations.get(request.match_info["id"])
    except ConversationNotFound:
        raise _error(web.HTTPNotFound, "unknown_conversation") from None
    source = await _chosen_message(ctx, conversation.id, body.get("message_id"), locale)
    changes = {k: v for k, v in (("request_type", request_type), ("industry", industry)) if v is not None}
    conversation = await ctx.conversations.update(conversation.id, **changes)
    user = current_user(request)
    predicted_type, predicted_industry = _name(source.nlu, "type"), _name(source.nlu, "industry")
    item = await request.app[FEEDBACK].add(
        conversation.id,
        source.text,
        predicted_type=predicted_type,
        predicted_industry=predicted_industry,
        request_type=request_type or predicted_type or conversation.request_type,
        industry=industry or predicted_industry or conversation.industry,
        created_by=user.id if user else None,
        message_id=source.id,
    )
    order = await _fix_order(ctx, source, changes, user)
    return _json({**feedback_json(item, ctx.city), "work_order": order}, status=201)


def _status(request: web.Request) -> dict[str, Any]:
    trainer = request.app[TRAINER]
    return trainer.retrain_status() if trainer is not None else {"state": "unavailable"}


@require_roles([Role.ADMIN])
async def admin_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/nlu: candidates to review, retrain button and status."""
    items = await request.app[FEEDBACK].list_by_status()
    return aiohttp_jinja2.render_template(
        "nlu_admin.html",
        request,
        {"items": items, "retrain": _status(request), "msg": request.query.get("msg")},
    )


@require_roles([Role.ADMIN], api=True)
async def admin_status(request: web.Request) -> web.StreamResponse:
    """GET /api/admin/nlu: retrain status and candidates."""
    items = await request.app[FEEDBACK].list_by_status()
    city = request.app[CTX].city
    return _json({"retrain": _status(request), "items": [feedback_json(i, city) for i in items]})


@require_roles([Role.ADMIN])
async def review(request: web.Request) -> web.StreamResponse:
    """POST /admin/nlu/{id}/{action}: accept or reject a candidate."""
    action = request.match_info["action"]
    outcome = {"accept": FeedbackStatus.ACCEPTED, "reject": FeedbackStatus.REJECTED}.get(action)
    if outcome is None:
        raise web.HTTPNotFound()
    user = current_user(request)
    try:
        await request.app[FEEDBACK].review(int(request.match_info["id"]), outcome, user.id if user else None)
    except (FeedbackNotFound, ValueError):
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/admin/nlu")


@require_roles([Role.ADMIN])
async def retrain(request: web.Request) -> web.StreamResponse:
    """POST /admin/nlu/retrain: write accepted examples into the training data, train and switch (background)."""
    trainer = request.app[TRAINER]
    if trainer is None:
        raise web.HTTPSeeOther("/admin/nlu?msg=unavailable")
    store = request.app[FEEDBACK]
    items = await store.list_by_status((FeedbackStatus.ACCEPTED, FeedbackStatus.TRAINED), limit=100_000)
    examples = [(i.text, i.request_type, i.industry) for i in reversed(items) if i.request_type]
    if not any(i.status is FeedbackStatus.ACCEPTED for i in items):
        raise web.HTTPSeeOther("/admin/nlu?msg=nothing")
    if not trainer.start_retrain(examples):
        raise web.HTTPSeeOther("/admin/nlu?msg=busy")
    await store.mark_trained([i.id for i in items if i.status is FeedbackStatus.ACCEPTED])
    raise web.HTTPSeeOther("/admin/nlu?msg=retrain_started")


TEMPLATE_DIR = Path(__file__).parent / "templates"


def setup(app: web.Application, engine: AsyncEngine, trainer: NluTrainer | None) -> None:
    """Mount the learning-loop API and the admin page."""
    app[FEEDBACK] = NluFeedbackStore(engine)
    app[TRAINER] = trainer
    app.router.add_post("/api/conversations/{id}/labels", correct_labels)
    app.router.add_get("/admin/nlu", admin_page)
    app.router.add_get("/api/admin/nlu", admin_status)
    app.router.add_post("/admin/nlu/retrain", retrain)
    app.router.add_post("/admin/nlu/{id:\\d+}/{action}", review)
