"""Transferring a conversation the agent holds: to another agent, back into a queue, or to a department's contact.

Anchors: Chatwoot's reassignment (the conversation moves with its history), Amazon Connect's quick connects (a
short list of agents, queues and outside numbers to choose from).

- **To an agent**: ``Switchboard.transfer(item, to_agent=...)``; the switchboard reassigns the conversation (it
  leaves the giver's "mine" and appears in the receiver's) and tells the citizen who serves them now. The queue log
  shows ``transfer`` then ``connect`` (how: transferred).
- **To a queue**: the conversation goes back to *queued* (:meth:`ConversationService.requeue`) and its item waits in
  the chosen queue (``Switchboard.transfer(item, to_queue=...)``) until the router gives it to an agent.
- **To a department**: the transcript (phone numbers masked on an SMS, as unit alerts do), the private notes and
  the linked order numbers go to the unit's contact through its alert channel (:attr:`HubContext.staff_alerts`);
  a note and a ``transfer`` log entry (``data.unit``) record it; the conversation stays with the agent.

The agent's "转接说明" travels as a private note on the conversation (the receiving agent sees the transcript, the
notes and the linked orders: they are on the conversation already).

A conversation whose call is live is transferred as a call (the voice channel's ``/api/calls/{id}/transfer``): the
voice channel tells this module through :data:`CALL_TRANSFER`.

Endpoints (inbox roles, CSRF):

- ``GET /api/transfer/targets[?conversation_id=]``: signed-in agents (status, free room), queues, units with a contact;
  with a conversation: whether it is routed and its live call (for the call transfer buttons).
- ``POST /api/conversations/{id}/transfer`` ``{"to": "agent"|"queue"|"department", "agent_id"|"queue"|"unit",
  "note"}``: only the holder or a supervisor; 409 with a message in the user's language when the target cannot take
  it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.conversation_service import ConversationService
from hub.i18n import DEFAULT_LOCALE, lookup, t
from hub.logsafe import mask
from hub.models import INBOX_ROLES, Conversation, ConversationStatus, Message, User
from hub.outbox import PermanentFailure
from hub.storage.notes import Note, NoteStore
from hub.web.api_v1.notes import add_note
from hub.web.auth import require_roles
from hub.web.context import CTX, HubContext
from hub.web.i18n_web import locale_of
from hub.work_orders.alerts import AlertTarget, alert_target
from routing.engine import AgentStatus, RoutingError
from routing.engine.capacity import capacity_of
from routing.inbox_common import STAFF_MANAGERS, STORES, agent_of, error, json_response, load_conversation, read_json
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import SWITCHBOARD, Switchboard
from routing.switchboard_log import at

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 500
SMS_MAX_CHARS = 600  # about nine UCS-2 segments: the newest part of the transcript is kept
MAIL_MAX_CHARS = 20_000
HIDDEN_QUEUES = frozenset({Switchboard.OUTBOUND})  # the switchboard's own (agents dialling out): never a target
TARGETS = ("agent", "queue", "department")
_PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}[\s-]?\d{7,8})(?!\d)")

CallTransferInfo = Callable[[str], dict[str, Any] | None]
CALL_TRANSFER: web.AppKey[CallTransferInfo] = web.AppKey("call_transfer_info")
"""Set by the voice channel: the live call of a conversation (``{"state": ..., "trunk": bool}``), else None."""


class TransferRefused(Exception):
    """The transfer cannot happen: ``code`` names why (``inbox.transfer.error.<code>``), ``status`` the HTTP status."""

    def __init__(self, code: str, status: int = 409, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params

    def message(self, locale: str) -> str:
        """The reason in ``locale``."""
        return t(f"inbox.transfer.error.{self.code}", locale, **self.params)


def mask_phones(text: str) -> str:
    """Phone numbers in ``text`` masked (``139****5678``), nothing else: what an SMS to a unit's shared phone shows."""
    return _PHONE.sub(lambda m: mask(m.group(0)), text)


@dataclass(frozen=True, slots=True)
class Transfers:
    """The conversation transfers of one hub (the handlers build one per request from the app)."""

    ctx: HubContext
    board: Switchboard
    notes: NoteStore

    @property
    def service(self) -> ConversationService:
        """The conversation service (the one way a conversation's status changes)."""
        return self.ctx.service

    # -- what may be chosen ----------------------------------------------------------------------------------

    def agents(self, exclude: Collection[int | None] = ()) -> list[dict[str, Any]]:
        """Signed-in agents (not those in ``exclude``) with their status and free slots, freest first."""
        policy = self.board.router.policy
        found = []
        for agent_id, agent in self.board.router.agents.items():
            if agent_id in exclude or agent.presence is AgentStatus.OFFLINE:
                continue
            found.append(
                {
                    "id": agent_id,
                    "name": self.board.names.get(agent_id, str(agent_id)),
                    "status": agent.status.value,
                    "reason": agent.reason,
                    "free": max(capacity_of(agent, policy) - agent.used(), 0),
                    "registered": agent.registered,
                }
            )
        return sorted(found, key=lambda a: (-a["free"], a["name"]))

    def queues(self) -> list[str]:
        """The queues an item may be transferred to."""
        names = dict.fromkeys([self.board.settings.text_queue, *self.board.router.queues, *self.board.settings.queues])
        return [name for name in names if name not in HIDDEN_QUEUES]

    def units(self, locale: str) -> list[dict[str, Any]]:
        """Units with a contact (their own alert setting or an ancestor's) and whether its channel is on."""
        tax = self.ctx.taxonomy()
        found = []
        for unit in tax.units.values():
            target = alert_target(tax, unit.code)
            if target is None:
                continue
            found.append(
                {
                    "code": unit.code,
                    "name": unit.name(locale),
                    "channel": target.channel,
                    "address": mask(target.address),
                    "ready": target.channel in self.ctx.staff_alerts,
                }
            )
        return sorted(found, key=lambda u: u["code"])

    def routed(self, conversation_id: str) -> bool:
        """Whether the router holds the conversation's item (else it is moved by the conversation service alone)."""
        return self.board.holder(conversation_id) is not None

    # -- checks ----------------------------------------------------------------------------------------------

    def check(self, conversation: Conversation, actor: User) -> None:
        """The actor may transfer the conversation now (raises :class:`TransferRefused`)."""
        if conversation.status is not ConversationStatus.ASSIGNED:
            raise TransferRefused("not_assigned")
        if conversation.assignee_id != actor.id and actor.role not in STAFF_MANAGERS:
            raise TransferRefused("not_holder", 403)

    async def _note(self, conversation: Conversation, actor: User, what: str, note: str) -> Note:
        text = what if not note else f"{what}\n{t('inbox.transfer.note.remark', DEFAULT_LOCALE, note=note)}"
        return await add_note(self.ctx, self.notes, conversation, actor.id, text)

    # -- the three transfers ---------------------------------------------------------------------------------

    async def to_agent(self, conversation: Conversation, actor: User, agent_id: int, note: str = "") -> Note:
        """Give the conversation to ``agent_id`` at once; returns the note that records it."""
        self.check(conversation, actor)
        agent = self.board.router.agents.get(agent_id)
        if agent is None:
            raise TransferRefused("unknown_agent", 400)
        holder = self.board.holder(conversation.id) or conversation.assignee_id
        if agent_id == holder:
            raise TransferRefused("same_agent")
        name = self.board.names.get(agent_id, str(agent_id))
        if agent.presence is AgentStatus.OFFLINE:
            raise TransferRefused("agent_offline", name=name)
        if self.routed(conversation.id):
            try:
                self.board.transfer(conversation.id, to_agent=agent_id)
            except RoutingError as exc:
                log.info("transfer of %s to agent %s refused: %s", conversation.id, agent_id, exc)
                raise TransferRefused("agent_unavailable", name=name) from None
        else:  # taken outside the router (a call's conversation after the call): the service moves it alone
            moved = await self.service.reassign(conversation.id, agent_id, announce_as=name)
            if moved is None:
                raise TransferRefused("not_assigned")
            self._log_outside(conversation, holder, agent_id)
        log.info("conversation %s transferred by %s to agent %s", conversation.id, actor.id, agent_id)
        return await self._note(conversation, actor, t("inbox.transfer.note.agent", DEFAULT_LOCALE, name=name), note)

    def _log_outside(self, conversation: Conversation, giver: int | None, receiver: int) -> None:
        """Log a transfer the router did not see (as it logs its own: ``transfer`` then ``connect``)."""
        when = at(self.board.clock())
        item = (conversation.id, conversation.id, conversation.channel)
        moved = {"to_agent": receiver, "to_queue": None}
        self.board.log.append(LogEntry(when, QueueEvent.TRANSFER, None, *item, giver, data=moved))
        self.board.log.append(LogEntry(when, QueueEvent.CONNECT, None, *item, receiver, reason="transferred"))

    async def to_queue(self, conversation: Conversation, actor: User, queue: str, note: str = "") -> Note:
        """Put the conversation back into ``queue``: it waits and the router gives it to the next agent."""
        self.check(conversation, actor)
        if queue not in self.queues():
            raise TransferRefused("unknown_queue", 400)
        routed = self.routed(conversation.id)
        if not routed and queue != self.board.settings.text_queue:
            raise TransferRefused("text_queue_only", queue=self.board.settings.text_queue)
        # queued first, then routed: the router may give it to an agent at once, and that assignment needs "queued"
        if await self.service.requeue(conversation.id, "transfer") is None:
            raise TransferRefused("not_assigned")
        if routed:  # else the switchboard took it into its text queue when it saw it queued
            try:
                self.board.transfer(conversation.id, to_queue=queue)
            except RoutingError as exc:  # it left the router meanwhile: it waits in the text queue instead
                log.warning("transfer of %s to queue %s: %s; queued as a new item", conversation.id, queue, exc)
                self.board.enqueue_conversation(await self.ctx.conversations.get(conversation.id))
        log.info("conversation %s transferred by %s to queue %s", conversation.id, actor.id, queue)
        what = t("inbox.transfer.note.queue", DEFAULT_LOCALE, queue=queue_label(queue, DEFAULT_LOCALE))
        return await self._note(conversation, actor, what, note)

    async def to_department(self, conversation: Conversation, actor: User, unit_code: str, note: str = "") -> Note:
        """Send the case to a unit's contact; the conversation stays with the agent."""
        self.check(conversation, actor)
        tax = self.ctx.taxonomy()
        unit = tax.units.get(unit_code)
        if unit is None:
            raise TransferRefused("unknown_unit", 400)
        target = alert_target(tax, unit_code)
        if target is None:
            raise TransferRefused("unit_no_contact", name=unit.name(DEFAULT_LOCALE))
        send = self.ctx.staff_alerts.get(target.channel)
        if send is None:
            raise TransferRefused("channel_off", channel=t(f"channel.{target.channel}", DEFAULT_LOCALE))
        subject, text = await self.compose(conversation, actor, unit.name(DEFAULT_LOCALE), target, note)
        try:
            await send(target.address, subject, text)
        except PermanentFailure as exc:
            log.warning("transfer of %s to unit %s refused: %s", conversation.id, unit_code, mask(str(exc)))
            raise TransferRefused("send_failed") from None
        except Exception as exc:
            log.warning("transfer of %s to unit %s failed: %s", conversation.id, unit_code, mask(repr(exc)))
            raise TransferRefused("send_failed") from None
        what = t(
            "inbox.transfer.note.department",
            DEFAULT_LOCALE,
            unit=unit.name(DEFAULT_LOCALE),
            channel=t(f"channel.{target.channel}", DEFAULT_LOCALE),
            address=mask(target.address),
        )
        recorded = await self._note(conversation, actor, what, note)
        held = self.board.items.get(conversation.id)
        self.board.log.append(
            LogEntry(
                at(self.board.clock()),
                QueueEvent.TRANSFER,
                held.queue if held else None,
                conversation.id,
                conversation.id,
                conversation.channel,
                actor.id,
                reason="department",
                data={"unit": unit_code, "via": target.channel},
            )
        )
        log.info("conversation %s sent by %s to unit %s by %s", conversation.id, actor.id, unit_code, target.channel)
        return recorded

    async def compose(
        self, conversation: Conversation, actor: User, unit_name: str, target: AlertTarget, note: str
    ) -> tuple[str, str]:
        """The subject and text a unit receives: who sends it, orders, the remark, notes and the transcript."""
        locale = DEFAULT_LOCALE  # what a unit reads, as its alerts
        orders = [o.number for o in await self.ctx.work_orders.list_for_conversation(conversation.id)]
        numbers = "、".join(orders) if orders else t("inbox.transfer.dept.no_order", locale)
        subject = t("inbox.transfer.dept.subject", locale, unit=unit_name, orders=numbers)
        head = [
            t(
                "inbox.transfer.dept.intro",
                locale,
                agent=actor.display_name,
                channel=t(f"channel.{conversation.channel}", locale),
            ),
            t("inbox.transfer.dept.orders", locale, orders=numbers),
        ]
        if note:
            head.append(t("inbox.transfer.dept.remark", locale, note=note))
        notes = await self.notes.for_conversation(conversation.id)
        if notes:
            head.append(t("inbox.transfer.dept.notes", locale))
            head += [f"- {n.author_name}：{n.text}" for n in notes]
        head.append(t("inbox.transfer.dept.transcript", locale))
        lines = [self._line(m, locale) for m in await self.ctx.conversations.messages(conversation.id, limit=2000)]
        if target.channel == "sms":
            return subject, _fit(mask_phones("\n".join(head)), [mask_phones(line) for line in lines], SMS_MAX_CHARS)
        return subject, _fit("\n".join(head), lines, MAIL_MAX_CHARS)

    def _line(self, message: Message, locale: str) -> str:
        who = t(f"inbox.transfer.sender.{message.sender_kind.value}", locale)
        text = " ".join(message.text.split())
        return f"{self.ctx.city.format(message.created_at, '%m-%d %H:%M')} {who}：{text}"


def _fit(head: str, lines: list[str], limit: int) -> str:
    """``head`` and the newest ``lines`` that fit in ``limit`` characters (``…`` where older ones were left out)."""
    kept: list[str] = []
    room = limit - len(head) - 2
    for line in reversed(lines):
        if len(line) + 1 > room:
            kept.append("…")
            break
        kept.append(line)
        room -= len(line) + 1
    return "\n".join([head, *reversed(kept)])


def queue_label(name: str, locale: str) -> str:
    """A queue's display name (its code when it has no label)."""
    return lookup(f"inbox.transfer.queue.{name}", locale) or name


def transfers_of(request: web.Request) -> Transfers:
    """The transfers of the request's hub."""
    return Transfers(request.app[CTX], request.app[SWITCHBOARD], request.app[STORES].notes)


# -- HTTP ------------------------------------------------------------------------------------------------------


@require_roles(INBOX_ROLES, api=True)
async def targets(request: web.Request) -> web.StreamResponse:
    """GET /api/transfer/targets[?conversation_id=]: agents, queues and units to choose from."""
    transfers = transfers_of(request)
    locale = locale_of(request)
    user = agent_of(request)
    conversation_id = request.query.get("conversation_id")
    holder = transfers.board.holder(conversation_id) if conversation_id else None
    body: dict[str, Any] = {
        "agents": transfers.agents(exclude=(user.id, holder)),
        "queues": [{"name": q, "label": queue_label(q, locale)} for q in transfers.queues()],
        "units": transfers.units(locale),
        "text_queue": transfers.board.settings.text_queue,
    }
    if conversation_id:
        call_info = request.app.get(CALL_TRANSFER)
        body["routed"] = transfers.routed(conversation_id)
        body["call"] = call_info(conversation_id) if call_info is not None else None
    return json_response(body)


@require_roles(INBOX_ROLES, api=True)
async def transfer(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/transfer {"to", "agent_id"|"queue"|"unit", "note"}."""
    conversation = await load_conversation(request)
    locale = locale_of(request)
    body = await read_json(request)
    if body is None:
        return error(400, "invalid_json")
    to = body.get("to")
    note = body.get("note") or ""
    if to not in TARGETS:
        return error(400, "invalid_target", t("inbox.transfer.error.invalid_target", locale))
    if not isinstance(note, str) or len(note.strip()) > MAX_NOTE_CHARS:
        return error(400, "invalid_note", t("inbox.transfer.error.invalid_note", locale, max=MAX_NOTE_CHARS))
    transfers = transfers_of(request)
    actor = agent_of(request)
    call_info = request.app.get(CALL_TRANSFER)
    try:
        if call_info is not None and call_info(conversation.id) is not None:
            raise TransferRefused("live_call")
        if to == "agent":
            agent_id = body.get("agent_id")
            if not isinstance(agent_id, int) or isinstance(agent_id, bool):
                raise TransferRefused("unknown_agent", 400)
            recorded = await transfers.to_agent(conversation, actor, agent_id, note.strip())
        elif to == "queue":
            queue = body.get("queue")
            if not isinstance(queue, str):
                raise TransferRefused("unknown_queue", 400)
            recorded = await transfers.to_queue(conversation, actor, queue, note.strip())
        else:
            unit = body.get("unit")
            if not isinstance(unit, str):
                raise TransferRefused("unknown_unit", 400)
            recorded = await transfers.to_department(conversation, actor, unit, note.strip())
    except TransferRefused as refused:
        return error(refused.status, refused.code, refused.message(locale))
    return json_response({"to": to, "conversation_id": conversation.id, "note": recorded.to_json(transfers.ctx.city)})


def setup(app: web.Application) -> None:
    """Mount the transfer endpoints (after the inbox: they use its stores and the hub's switchboard)."""
    app.router.add_get("/api/transfer/targets", targets)
    app.router.add_post("/api/conversations/{id}/transfer", transfer)


__all__ = [
    "CALL_TRANSFER",
    "TransferRefused",
    "Transfers",
    "mask_phones",
    "queue_label",
    "setup",
    "transfers_of",
]
