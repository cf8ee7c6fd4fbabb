"""The conversation hub: every channel hands citizen messages here; agents act here.

A citizen message is stored before it is acknowledged; the bot turn runs after that, serialised per
conversation. Messages stored but not handled (a crash, a restart) are handled again at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from hub.clock import Clock, utc_now
from hub.dialogue.engine import DialogueEngine
from hub.events import (
    ConversationAssigned,
    ConversationClosed,
    ConversationQueued,
    EventBus,
    MessageStored,
)
from hub.i18n import t
from hub.models import Conversation, ConversationStatus, Message, SenderKind, User
from hub.storage.conversations import ConversationStore

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

    async def accept(
        self,
        conversation: Conversation,
        text: object,
        client_id: str | None = None,
        *,
        attachments: list[dict[str, Any]] | None = None,
        for_bot: bool = True,
    ) -> Message:
        """Store a citizen message (idempotent by ``client_id``) and publish it; the bot runs afterwards.

        ``for_bot=False`` stores it for agents only (e.g. a photo without a caption). Returns the stored message:
        the caller acknowledges only after this returns.
        """
        valid = self.validate_text(text)
        in_bot = conversation.status is ConversationStatus.BOT
        if conversation.status is ConversationStatus.CLOSED:
            conversation = await self.store.update(
                conversation.id,
                status=ConversationStatus.BOT.value,
                dialogue_state={},
                assignee_id=None,
                closed_at=None,
                handoff_reason=None,
            )
            in_bot = True
        message, created = await self.store.add_message(
            conversation.id,
            direction="in",
            sender_kind=SenderKind.CITIZEN,
            text=valid,
            external_id=client_id,
            attachments=attachments,
            processed=not (in_bot and for_bot),
        )
        if created:
            await self.bus.publish(MessageStored(conversation, message))
        return message

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

    async def close(self, conversation_id: str, agent: User) -> Conversation:
        """End a conversation the agent holds."""
        conversation = await self.store.get(conversation_id)
        self._check_holder(conversation, agent)
        closed = await self.store.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.CLOSED.value,
            closed_at=self._clock(),
            dialogue_state={},
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
        message, _ = await self.store.add_message(
            conversation.id, direction="out", sender_kind=SenderKind.SYSTEM, text=text
        )
        await self.bus.publish(MessageStored(conversation, message))
