"""The conversation hub: every channel hands citizen messages here; agents act here.

One entry point for citizen messages, :meth:`ConversationService.receive` (ADR 0022): it finds or creates the
conversation, links the citizen's contact, stores the message before the channel acknowledges it and schedules
the bot turn, which runs serialised per conversation. Messages stored but not handled (a crash, a restart) are
handled again at start-up. Only this service changes a conversation's status (bot → queued → assigned → closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.clock import Clock, utc_now
from hub.conversation_reads import ConversationReads
from hub.dialogue.engine import DialogueEngine
from hub.events import (
    ConversationAssigned,
    ConversationClosed,
    ConversationQueued,
    EventBus,
    MessageStored,
    MessageUpdated,
)
from hub.i18n import t
from hub.intake import NO_HINTS, ContactHints, Inbound, Stored
from hub.models import Contact, Conversation, ConversationStatus, Message, SenderKind, User
from hub.storage.conversations import ConversationNotFound, ConversationStore

__all__ = ["ConversationNotFound", "ConversationService", "InvalidMessage", "Limits", "NotAllowed"]

log = logging.getLogger(__name__)


class InvalidMessage(ValueError):
    """The message cannot be accepted (empty or too long); nothing was stored."""


class NotAllowed(PermissionError):
    """The user may not do that to this conversation in its current state."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits shared by all text channels."""

    max_chars: int = 2000


class ConversationService:
    """Accepts citizen messages, runs bot turns, hands off to agents and carries agent actions."""

    def __init__(
        self,
        store: ConversationStore,
        engine: DialogueEngine,
        bus: EventBus,
        limits: Limits | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.reads = ConversationReads(store)  # what channels may read; they write through this service
        self.engine = engine
        self.bus = bus
        self.limits = limits or Limits()
        self._clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[list[Message]]] = set()

    # -- citizens -------------------------------------------------------------------------------

    def validate_text(self, text: object) -> str:
        """The message text, stripped; raises :class:`InvalidMessage` for non-text, empty or oversized."""
        if not isinstance(text, str):
            raise InvalidMessage("text must be a string")
        stripped = text.strip()
        if not stripped:
            raise InvalidMessage("empty message")
        if len(stripped) > self.limits.max_chars:
            raise InvalidMessage(f"message longer than {self.limits.max_chars} characters")
        return stripped

    async def receive(
        self, inbound: Inbound, *, on_stored: Callable[[Stored], Awaitable[None]] | None = None
    ) -> Stored:
        """The one way in for a citizen message from any channel.

        Finds the conversation (``inbound.conversation_id``, else the sender's open one by ``inbound.ref``, else a
        new one), links the citizen's contact from ``inbound.hints``, stores the message (once per
        ``external_id``; a closed conversation is reopened into the bot), publishes :class:`MessageStored` and,
        if ``inbound.for_bot``, schedules the bot turn. Requests of one sender (``ref``) are serialised.

        Args:
            inbound: the message.
            on_stored: awaited once the message is stored and before the bot turn is scheduled (a channel's
                acknowledgement or its own bookkeeping); the turn is scheduled even if it raises.

        Returns:
            The conversation, the stored message and whether it was new: the caller acknowledges after this.

        Raises:
            InvalidMessage: empty or oversized text; nothing was stored.
            ConversationNotFound: ``inbound.conversation_id`` names no conversation.
        """
        text = self.validate_text(inbound.text)
        async with self._sender(inbound):
            stored = await self._store_inbound(inbound, text)
            try:
                if on_stored is not None:
                    await on_stored(stored)
            finally:
                if inbound.for_bot:
                    self.schedule_turn(stored.conversation.id)
        return stored

    async def exchange(self, inbound: Inbound) -> tuple[Stored, list[Message]]:
        """A pull channel's request (REST): receive the message, run the bot now, collect what is undelivered.

        Returns the stored message and every outbound message of the conversation the sender has not been
        handed yet (the bot's replies to it, agent and system messages since the sender's previous request),
        which count as delivered from now on.
        """
        text = self.validate_text(inbound.text)
        async with self._sender(inbound):
            stored = await self._store_inbound(inbound, text)
            conversation_id = stored.conversation.id
            if inbound.for_bot:
                await self.process_pending(conversation_id)
            cursor = max(stored.conversation.delivered_id or 0, 0)
            pending = [m for m in await self.store.messages(conversation_id, after_id=cursor) if m.direction == "out"]
            if pending:
                await self.store.set_delivered(conversation_id, pending[-1].id)
        return stored, pending

    def _sender(self, inbound: Inbound) -> contextlib.AbstractAsyncContextManager[Any]:
        if inbound.ref is None:
            return contextlib.nullcontext()  # a known conversation: nothing to find or create
        return self.sender_lock(inbound.channel, inbound.ref)

    async def _store_inbound(self, inbound: Inbound, text: str) -> Stored:
        if inbound.conversation_id is not None:
            conversation = await self.store.get(inbound.conversation_id)
        else:
            assert inbound.ref is not None  # Inbound checks that one of the two is given
            conversation = await self._by_ref(inbound.channel, inbound.ref, inbound.locale)
        # A conversation found by the sender's ref is the sender's: the contact from the hints replaces another.
        conversation = await self._link(conversation, inbound.hints, replace=inbound.conversation_id is None)
        if conversation.status is ConversationStatus.CLOSED:
            # guarded: a callback question (resume_bot) or another message may have reopened it meanwhile
            reopened = await self.store.transition(
                conversation.id,
                {ConversationStatus.CLOSED},
                status=ConversationStatus.BOT.value,
                dialogue_state={},
                assignee_id=None,
                closed_at=None,
                handoff_reason=None,
                outcome=None,
            )
            conversation = reopened if reopened is not None else await self.store.get(conversation.id)
        in_bot = conversation.status is ConversationStatus.BOT
        message, created = await self.store.add_message(
            conversation.id,
            direction="in",
            sender_kind=SenderKind.CITIZEN,
            text=text,
            external_id=inbound.external_id,
            attachments=list(inbound.attachments) or None,
            processed=not (in_bot and inbound.for_bot),
        )
        if created:
            await self.bus.publish(MessageStored(conversation, message))
        return Stored(conversation, message, created)

    async def _by_ref(self, channel: str, ref: str, locale: str = "zh-CN") -> Conversation:
        found = await self.store.find_open_by_ref(channel, ref)
        return found if found is not None else await self.store.create(channel, external_ref=ref, locale=locale)

    # -- conversations and contacts without a citizen message -------------------------------------

    async def open(
        self, channel: str, *, ref: str | None = None, hints: ContactHints = NO_HINTS, locale: str = "zh-CN"
    ) -> Conversation:
        """Start a new conversation before its first message (a web-chat page, a phone call), in the bot state."""
        contact = await self._contact_of(hints)
        return await self.store.create(
            channel, external_ref=ref, contact_id=contact.id if contact else None, locale=locale
        )

    async def conversation_for(self, channel: str, ref: str, contact: Contact) -> Conversation:
        """The contact's open conversation on ``channel`` at address ``ref``, or a new one (a notice to push)."""
        async with self.sender_lock(channel, ref):
            conversation = await self._by_ref(channel, ref)
            return await self._attach(conversation, contact, replace=True)

    async def link_contact(self, conversation_id: str | None, hints: ContactHints) -> Contact | None:
        """The contact the hints name (created if new), linked to the conversation if that has none yet.

        E.g. the phone a citizen gives for a work order. Returns None if the hints name no contact.
        """
        contact = await self._contact_of(hints)
        if contact is not None and conversation_id is not None:
            await self._attach(await self.store.get(conversation_id), contact, replace=False)
        return contact

    async def _link(self, conversation: Conversation, hints: ContactHints, *, replace: bool) -> Conversation:
        if conversation.contact_id is not None and not replace:
            return conversation
        contact = await self._contact_of(hints)
        return conversation if contact is None else await self._attach(conversation, contact, replace=replace)

    async def _attach(self, conversation: Conversation, contact: Contact, *, replace: bool) -> Conversation:
        if conversation.contact_id == contact.id or (conversation.contact_id is not None and not replace):
            return conversation
        return await self.store.update(conversation.id, contact_id=contact.id)

    async def _contact_of(self, hints: ContactHints) -> Contact | None:
        contact: Contact | None = None
        if hints.phone:
            contact = await self.store.ensure_contact_by_phone(hints.phone, hints.name)
        elif hints.email and "@" in hints.email:
            contact = await self.store.ensure_contact_by_email(hints.email, hints.name)
        if contact is not None and hints.telegram_id and contact.telegram_id != hints.telegram_id:
            # the chat reaches this citizen: work-order notices may go there (hub/notices.py)
            contact = await self.store.update_contact(contact.id, telegram_id=hints.telegram_id)
        return contact

    # -- messages the hub writes --------------------------------------------------------------------

    async def post(
        self,
        conversation: Conversation,
        text: str,
        *,
        sender: SenderKind = SenderKind.SYSTEM,
        attachments: Sequence[dict[str, Any]] = (),
        external_id: str | None = None,
    ) -> Stored:
        """Store an outbound bot or system message and publish it (push channels deliver it through the outbox).

        With ``external_id`` it is stored once (a replay after a crash does not repeat it).
        """
        message, created = await self.store.add_message(
            conversation.id,
            direction="out",
            sender_kind=sender,
            text=text,
            attachments=list(attachments) or None,
            external_id=external_id,
        )
        if created:
            await self.bus.publish(MessageStored(conversation, message))
        return Stored(conversation, message, created)

    async def label(
        self,
        message: Message,
        nlu: dict[str, Any],
        *,
        request_type: str | None = None,
        industry: str | None = None,
    ) -> Conversation:
        """Keep what the NLU made of a message the bot did not handle (the phone IVR's), and classify the case."""
        await self.store.mark_processed(message.id, nlu)
        updates = {k: v for k, v in (("request_type", request_type), ("industry", industry)) if v}
        if updates:
            return await self.store.update(message.conversation_id, **updates)
        return await self.store.get(message.conversation_id)

    async def set_attachments(self, message_id: int, attachments: list[dict[str, Any]]) -> Message | None:
        """Replace a message's attachment records (a file downloaded later) and publish :class:`MessageUpdated`.

        Returns None if the message is gone.
        """
        updated = await self.store.set_attachments(message_id, attachments)
        if updated is not None:
            conversation = await self.store.get(updated.conversation_id)
            await self.bus.publish(MessageUpdated(conversation, updated))
        return updated

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def sender_lock(self, channel: str, external_ref: str) -> asyncio.Lock:
        """Serialises a channel sender's requests (finding or creating its conversation, then the turn)."""
        return self._lock(f"sender:{channel}:{external_ref}")

    def schedule_turn(self, conversation_id: str) -> None:
        """Run the bot for whatever is unhandled in the conversation, in the background."""
        task = asyncio.create_task(self.process_pending(conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process_pending(self, conversation_id: str) -> list[Message]:
        """Handle every unprocessed citizen message of the conversation in order; returns bot replies."""
        replies: list[Message] = []
        async with self._lock(f"conversation:{conversation_id}"):
            pending = await self.store.unprocessed_in(conversation_id)
            if not pending:
                return replies
            conversation = await self.store.get(conversation_id)
            for message in pending:
                if conversation.status is not ConversationStatus.BOT:
                    await self.store.mark_processed(message.id, None)
                    continue
                conversation, produced = await self._turn(conversation, message)
                replies.extend(produced)
        return replies

    async def _turn(self, conversation: Conversation, message: Message) -> tuple[Conversation, list[Message]]:
        outcome = await self.engine.handle(
            conversation.id, conversation.dialogue_state, message.text, conversation.locale
        )
        updates: dict[str, object] = {"dialogue_state": outcome.state}
        if outcome.request_type:
            updates["request_type"] = outcome.request_type
        if outcome.industry:
            updates["industry"] = outcome.industry
        if outcome.handoff:
            updates.update(
                status=ConversationStatus.QUEUED.value,
                handoff_reason=outcome.handoff,
                queued_at=self._clock(),
            )
        nlu_json = outcome.nlu.to_json() if outcome.nlu else None
        if outcome.kb_miss == "current" and nlu_json is not None:
            nlu_json["kb_miss"] = True
        conversation, produced = await self.store.commit_turn(
            conversation.id,
            message.id,
            replies=outcome.replies,
            nlu=nlu_json,
            updates=updates,
            choices=[c.to_json() for c in outcome.choices],
        )
        if outcome.kb_miss == "previous":
            await self.store.mark_previous_kb_miss(conversation.id, before_id=message.id)
        for reply in produced:
            await self.bus.publish(MessageStored(conversation, reply))
        if outcome.handoff:
            log.info("conversation %s queued for an agent (%s)", conversation.id, outcome.handoff)
            await self.bus.publish(ConversationQueued(conversation, outcome.handoff))
        return conversation, produced

    async def recover(self) -> int:
        """At start-up: run the bot for messages stored but never handled; returns how many conversations."""
        pending = await self.store.unprocessed_inbound()
        conversation_ids = list(dict.fromkeys(m.conversation_id for m in pending))
        for conversation_id in conversation_ids:
            log.warning("recovering unhandled citizen messages of conversation %s", conversation_id)
            await self.process_pending(conversation_id)
        return len(conversation_ids)

    async def drain(self) -> None:
        """Wait for background bot turns (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- agents ---------------------------------------------------------------------------------

    async def claim(self, conversation_id: str, agent: User) -> Conversation:
        """Take a queued conversation; only one agent wins."""
        now = self._clock()
        claimed = await self.store.transition(
            conversation_id,
            {ConversationStatus.QUEUED},
            status=ConversationStatus.ASSIGNED.value,
            assignee_id=agent.id,
            assigned_at=now,
        )
        if claimed is None:
            raise NotAllowed("conversation is not waiting in the queue")
        await self.bus.publish(ConversationAssigned(claimed))
        await self._system(claimed, t("system.assigned", claimed.locale, agent=agent.display_name))
        return claimed

    async def agent_reply(self, conversation_id: str, agent: User, text: object) -> Message:
        """An agent's reply in a conversation the agent holds."""
        valid = self.validate_text(text)
        conversation = await self.store.get(conversation_id)
        self._check_holder(conversation, agent)
        message, _ = await self.store.add_message(
            conversation_id, direction="out", sender_kind=SenderKind.AGENT, text=valid, sender_id=agent.id
        )
        await self.bus.publish(MessageStored(conversation, message))
        return message

    async def close(self, conversation_id: str, agent: User, outcome: str | None = None) -> Conversation:
        """End a conversation the agent holds, with why it ended (``outcome``, a code the inbox offers)."""
        conversation = await self.store.get(conversation_id)
        self._check_holder(conversation, agent)
        closed = await self.store.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.CLOSED.value,
            closed_at=self._clock(),
            dialogue_state={},
            outcome=outcome,
        )
        if closed is None:
            raise NotAllowed("conversation is not open")
        await self._system(closed, t("system.closed", closed.locale))
        await self.bus.publish(ConversationClosed(closed))
        return closed

    def _check_holder(self, conversation: Conversation, agent: User) -> None:
        if conversation.status is not ConversationStatus.ASSIGNED:
            raise NotAllowed("claim the conversation first")
        if conversation.assignee_id != agent.id and agent.role.value not in ("supervisor", "admin"):
            raise NotAllowed("another agent holds this conversation")

    async def _system(self, conversation: Conversation, text: str) -> None:
        await self.post(conversation, text)

    # -- status changes from outside a bot turn (calls, work-order notices) ---------------------------

    async def queue(self, conversation_id: str, reason: str) -> Conversation | None:
        """Hand a conversation still with the bot to the agent queue (a caller waiting, a voicemail).

        Returns the queued conversation, or None if it was not with the bot.
        """
        queued = await self.store.transition(
            conversation_id,
            {ConversationStatus.BOT},
            status=ConversationStatus.QUEUED.value,
            handoff_reason=reason,
            queued_at=self._clock(),
        )
        if queued is not None:
            await self.bus.publish(ConversationQueued(queued, reason))
        return queued

    async def assign(
        self, conversation_id: str, agent_id: int, *, announce_as: str | None = None
    ) -> Conversation | None:
        """The conversation goes to an agent outside the inbox's claim (an answered call, the router's choice).

        ``announce_as``: the agent's display name, to tell the citizen who serves them (as a claim does).
        Returns the assigned conversation, or None if it was neither with the bot nor queued.
        """
        assigned = await self.store.transition(
            conversation_id,
            {ConversationStatus.QUEUED, ConversationStatus.BOT},
            status=ConversationStatus.ASSIGNED.value,
            assignee_id=agent_id,
            assigned_at=self._clock(),
        )
        if assigned is not None:
            await self.bus.publish(ConversationAssigned(assigned))
            if announce_as is not None:
                await self._system(assigned, t("system.assigned", assigned.locale, agent=announce_as))
        return assigned

    async def reassign(
        self, conversation_id: str, agent_id: int, *, announce_as: str | None = None
    ) -> Conversation | None:
        """Move a conversation an agent holds to another agent (a transfer, or a supervisor's reassignment).

        ``announce_as``: the new agent's display name, told to the citizen.
        Returns the conversation now held by ``agent_id``, or None if it was not assigned.
        """
        moved = await self.store.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            assignee_id=agent_id,
            assigned_at=self._clock(),
        )
        if moved is not None:
            await self.bus.publish(ConversationAssigned(moved))
            if announce_as is not None:
                await self._system(moved, t("system.assigned", moved.locale, agent=announce_as))
        return moved

    async def requeue(self, conversation_id: str, reason: str) -> Conversation | None:
        """Hand a conversation an agent holds back to the queue (a transfer to a queue): assigned → queued.

        Publishes :class:`ConversationQueued` with ``reason``. Returns the queued conversation, or None if it was
        not assigned.
        """
        queued = await self.store.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.QUEUED.value,
            assignee_id=None,
            assigned_at=None,
            handoff_reason=reason,
            queued_at=self._clock(),
        )
        if queued is not None:
            await self.bus.publish(ConversationQueued(queued, reason))
        return queued

    async def close_if_with_bot(self, conversation_id: str) -> Conversation:
        """Close a conversation the bot alone served (a call the IVR answered); others are left as they are."""
        closed = await self.store.transition(
            conversation_id,
            {ConversationStatus.BOT},
            status=ConversationStatus.CLOSED.value,
            closed_at=self._clock(),
        )
        if closed is None:
            return await self.store.get(conversation_id)
        await self.bus.publish(ConversationClosed(closed))
        return closed

    async def resume_bot(self, conversation_id: str, dialogue_state: dict[str, Any]) -> Conversation:
        """Let the bot wait for the citizen's answer with ``dialogue_state`` (the satisfaction callback).

        A conversation with the bot or closed is (re)opened into the bot with that state; one in the queue or
        with an agent is left as it is (the agent handles the answer).
        """
        resumed = await self.store.transition(
            conversation_id,
            {ConversationStatus.BOT, ConversationStatus.CLOSED},
            status=ConversationStatus.BOT.value,
            dialogue_state=dialogue_state,
            closed_at=None,
            handoff_reason=None,
            assignee_id=None,
            outcome=None,
        )
        return resumed if resumed is not None else await self.store.get(conversation_id)
