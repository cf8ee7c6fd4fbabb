"""Conversations, messages and contacts in the database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock, as_utc, utc_now
from hub.models import Contact, Conversation, ConversationStatus, Message, SenderKind
from hub.storage import rows
from hub.storage.engine import begin
from hub.storage.schema import contacts, conversations, messages

HANDOFF_COLUMNS = frozenset({"status", "handoff_reason", "queued_at"})  # what a bot turn's hand-off sets

# The hot path of a bot turn runs these statements for every message. They are built once: SQLAlchemy memoises a
# statement object's cache key, so a prebuilt statement skips the building and cache-key work that otherwise cost
# more than SQLite itself (cProfile of a REST turn, bench/README.md). Bound names start with ``p_`` because UPDATE
# reserves the column names.
_p = sa.bindparam
_GET = sa.select(conversations).where(conversations.c.id == _p("p_id"))
_FIND_OPEN = (
    sa.select(conversations)
    .where(
        conversations.c.channel == _p("p_channel"),
        conversations.c.external_ref == _p("p_ref"),
        conversations.c.status != ConversationStatus.CLOSED.value,
    )
    .order_by(conversations.c.created_at.desc())
    .limit(1)
)
_INSERT_CONVERSATION = conversations.insert().returning(conversations)
_INSERT_MESSAGE = messages.insert().returning(messages)
_TOUCH = conversations.update().where(conversations.c.id == _p("p_id")).values(updated_at=_p("p_now"))
_SET_DELIVERED = conversations.update().where(conversations.c.id == _p("p_id")).values(delivered_id=_p("p_message"))
_MARK_PROCESSED = messages.update().where(messages.c.id == _p("p_id")).values(processed_at=_p("p_now"), nlu=_p("p_nlu"))
_UNPROCESSED_IN = (
    sa.select(messages)
    .where(
        messages.c.conversation_id == _p("p_conversation"),
        messages.c.direction == "in",
        messages.c.processed_at.is_(None),
    )
    .order_by(messages.c.id)
)
_MESSAGES_AFTER = (
    sa.select(messages)
    .where(messages.c.conversation_id == _p("p_conversation"), messages.c.id > _p("p_after"))
    .order_by(messages.c.id)
    .limit(_p("p_limit", type_=sa.Integer))
)


async def attachment_of(engine: AsyncEngine, message_id: int, index: int, channel: str) -> dict[str, Any] | None:
    """Attachment ``index`` of message ``message_id`` if that message is in a conversation of ``channel``."""
    query = (
        sa.select(messages.c.attachments)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(messages.c.id == message_id, conversations.c.channel == channel)
    )
    async with engine.connect() as conn:
        attachments = await conn.scalar(query)
    if not isinstance(attachments, list) or not 0 <= index < len(attachments):
        return None
    found = attachments[index]
    return found if isinstance(found, dict) else None


class ConversationNotFound(LookupError):
    """No conversation with that id."""


class ConversationStore:
    """Persistence of conversations, their messages and citizens' contacts."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        """The database this store uses (the inbox's queries, notes and canned replies share it)."""
        return self._engine

    async def create(
        self,
        channel: str,
        *,
        external_ref: str | None = None,
        contact_id: int | None = None,
        locale: str = "zh-CN",
    ) -> Conversation:
        """Create a new conversation in the bot state."""
        now = self._clock()
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "channel": channel,
            "external_ref": external_ref,
            "contact_id": contact_id,
            "status": ConversationStatus.BOT.value,
            "locale": locale,
            "dialogue_state": {},
            "created_at": now,
            "updated_at": now,
        }
        async with begin(self._engine) as conn:
            row = (await conn.execute(_INSERT_CONVERSATION, values)).one()
        return rows.conversation(row)

    async def get(self, conversation_id: str) -> Conversation:
        """Load a conversation or raise :class:`ConversationNotFound`."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_GET, {"p_id": conversation_id})).first()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return rows.conversation(row)

    async def find_open_by_ref(self, channel: str, external_ref: str) -> Conversation | None:
        """The newest not-closed conversation of a channel sender (e.g. a REST ``sender`` id)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_FIND_OPEN, {"p_channel": channel, "p_ref": external_ref})).first()
        return None if row is None else rows.conversation(row)

    async def set_delivered(self, conversation_id: str, message_id: int) -> None:
        """Remember the last outbound message a pull channel (REST) has handed to the citizen."""
        async with begin(self._engine) as conn:
            await conn.execute(_SET_DELIVERED, {"p_id": conversation_id, "p_message": message_id})

    async def get_or_create_by_ref(self, channel: str, external_ref: str) -> Conversation:
        """The open conversation of a channel sender, or a new one (callers serialise per sender)."""
        found = await self.find_open_by_ref(channel, external_ref)
        return found if found is not None else await self.create(channel, external_ref=external_ref)

    async def update(self, conversation_id: str, **values: Any) -> Conversation:
        """Update columns of a conversation and return it."""
        values["updated_at"] = self._clock()
        async with begin(self._engine) as conn:
            row = (
                await conn.execute(
                    conversations.update()
                    .where(conversations.c.id == conversation_id)
                    .values(**values)
                    .returning(conversations)
                )
            ).first()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return rows.conversation(row)

    async def transition(
        self, conversation_id: str, from_statuses: set[ConversationStatus], **values: Any
    ) -> Conversation | None:
        """Atomically update only if the status is one of ``from_statuses`` (None if it was not)."""
        values["updated_at"] = self._clock()
        async with begin(self._engine) as conn:
            result = await conn.execute(
                conversations.update()
                .where(
                    conversations.c.id == conversation_id,
                    conversations.c.status.in_([s.value for s in from_statuses]),
                )
                .values(**values)
                .returning(conversations)
            )
            row = result.first()
        return None if row is None else rows.conversation(row)

    async def add_message(
        self,
        conversation_id: str,
        *,
        direction: str,
        sender_kind: SenderKind,
        text: str,
        sender_id: int | None = None,
        external_id: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        processed: bool = True,
    ) -> tuple[Message, bool]:
        """Store a message; returns ``(message, created)``.

        A message with an ``external_id`` already stored in the conversation is not stored twice: the
        existing one is returned with ``created=False`` (client retries, channel redeliveries).
        """
        now = self._clock()
        values = {
            "conversation_id": conversation_id,
            "direction": direction,
            "sender_kind": sender_kind.value,
            "sender_id": sender_id,
            "text": text,
            "attachments": attachments or [],
            "external_id": external_id,
            "created_at": now,
            "processed_at": now if processed else None,
        }
        try:
            async with begin(self._engine) as conn:
                row = (await conn.execute(_INSERT_MESSAGE, values)).one()
                await conn.execute(_TOUCH, {"p_id": conversation_id, "p_now": now})
        except IntegrityError:
            if external_id is None:
                raise
            existing = await self.message_by_external_id(conversation_id, external_id)
            if existing is None:
                raise
            return existing, False
        return rows.message(row), True

    async def commit_turn(
        self,
        conversation_id: str,
        message_id: int,
        *,
        replies: list[str],
        nlu: dict[str, Any] | None,
        updates: dict[str, Any],
        choices: list[dict[str, str]] | None = None,
    ) -> tuple[Conversation, list[Message]]:
        """Store a bot turn atomically: the replies, the conversation's new state, the message handled.

        ``choices`` (quick replies) go with the last reply.
        """
        now = self._clock()
        stored: list[Message] = []
        async with begin(self._engine) as conn:
            if replies:  # one multi-row INSERT ... RETURNING, in order
                result = await conn.execute(
                    messages.insert().returning(messages, sort_by_parameter_order=True),
                    [
                        {
                            "conversation_id": conversation_id,
                            "direction": "out",
                            "sender_kind": SenderKind.BOT.value,
                            "text": text,
                            "attachments": [],
                            "external_id": None,
                            "created_at": now,
                            "processed_at": now,
                            "choices": (choices or None) if i == len(replies) - 1 else None,
                        }
                        for i, text in enumerate(replies)
                    ],
                )
                stored = [rows.message(r) for r in result]
            await conn.execute(_MARK_PROCESSED, {"p_id": message_id, "p_now": now, "p_nlu": nlu})
            update = conversations.update().where(conversations.c.id == conversation_id)
            if "status" in updates:  # a hand-off: only from the bot (an agent may have taken it meanwhile)
                guarded = update.where(conversations.c.status == ConversationStatus.BOT.value)
                row = (await conn.execute(guarded.values(updated_at=now, **updates).returning(conversations))).first()
                if row is not None:
                    return rows.conversation(row), stored
                updates = {k: v for k, v in updates.items() if k not in HANDOFF_COLUMNS}
            row = (await conn.execute(update.values(updated_at=now, **updates).returning(conversations))).one()
        return rows.conversation(row), stored

    async def mark_previous_kb_miss(self, conversation_id: str, before_id: int) -> None:
        """Flag the citizen's last question before ``before_id`` as one the knowledge base did not answer well."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(messages.c.id, messages.c.nlu)
                    .where(
                        messages.c.conversation_id == conversation_id,
                        messages.c.direction == "in",
                        messages.c.id < before_id,
                    )
                    .order_by(messages.c.id.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return
        nlu = dict(row.nlu) if isinstance(row.nlu, dict) else {}
        nlu["kb_miss"] = True
        async with begin(self._engine) as conn:
            await conn.execute(messages.update().where(messages.c.id == row.id).values(nlu=nlu))

    async def unprocessed_in(self, conversation_id: str) -> list[Message]:
        """A conversation's citizen messages not yet handled, in order."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_UNPROCESSED_IN, {"p_conversation": conversation_id})
            return [rows.message(r) for r in result]

    async def message_by_external_id(self, conversation_id: str, external_id: str) -> Message | None:
        """Find a message by the channel's or client's id."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(messages).where(
                        messages.c.conversation_id == conversation_id, messages.c.external_id == external_id
                    )
                )
            ).first()
        return None if row is None else rows.message(row)

    async def message(self, message_id: int) -> Message | None:
        """A message by its id (None if there is none)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).first()
        return None if row is None else rows.message(row)

    async def attachment(self, message_id: int, index: int, channel: str) -> dict[str, Any] | None:
        """Attachment ``index`` of a message in a conversation of ``channel`` (None if there is no such thing)."""
        return await attachment_of(self._engine, message_id, index, channel)

    async def set_attachments(self, message_id: int, attachments: list[dict[str, Any]]) -> Message | None:
        """Replace a message's attachment records (e.g. once a file was downloaded); None if it is gone."""
        async with begin(self._engine) as conn:
            result = await conn.execute(
                messages.update().where(messages.c.id == message_id).values(attachments=attachments).returning(messages)
            )
            row = result.first()
        return None if row is None else rows.message(row)

    async def recent_inbound_with_attachments(self, channel: str, since: datetime, limit: int = 2000) -> list[Message]:
        """Citizen messages of ``channel`` since ``since`` that carry attachments, oldest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(messages)
                .join(conversations, conversations.c.id == messages.c.conversation_id)
                .where(
                    conversations.c.channel == channel,
                    messages.c.direction == "in",
                    messages.c.created_at >= since,
                )
                .order_by(messages.c.id.desc())
                .limit(limit)
            )
            found = [rows.message(r) for r in result]
        return [m for m in reversed(found) if m.attachments]

    async def mark_processed(self, message_id: int, nlu: dict[str, Any] | None) -> None:
        """Record that the bot handled an inbound message (and what the NLU made of it)."""
        async with begin(self._engine) as conn:
            await conn.execute(_MARK_PROCESSED, {"p_id": message_id, "p_now": self._clock(), "p_nlu": nlu})

    async def messages(self, conversation_id: str, *, after_id: int = 0, limit: int = 500) -> list[Message]:
        """Messages of a conversation in order, optionally only those after ``after_id``."""
        async with self._engine.connect() as conn:
            params = {"p_conversation": conversation_id, "p_after": after_id, "p_limit": limit}
            result = await conn.execute(_MESSAGES_AFTER, params)
            return [rows.message(r) for r in result]

    async def unprocessed_inbound(self) -> list[Message]:
        """Citizen messages stored but not yet handled by the bot (after a crash or restart)."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(messages)
                .join(conversations, conversations.c.id == messages.c.conversation_id)
                .where(
                    messages.c.direction == "in",
                    messages.c.processed_at.is_(None),
                    conversations.c.status == ConversationStatus.BOT.value,
                )
                .order_by(messages.c.id)
            )
            return [rows.message(r) for r in result]

    async def list_by_status(self, status: ConversationStatus, limit: int = 200) -> list[Conversation]:
        """Conversations in a status, oldest first (the agent queue when status is queued)."""
        order = conversations.c.queued_at if status is ConversationStatus.QUEUED else conversations.c.updated_at
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(conversations).where(conversations.c.status == status.value).order_by(order).limit(limit)
            )
            return [rows.conversation(r) for r in result]

    async def last_agent_of(self, contact_id: int, *, exclude: str | None = None) -> tuple[int, datetime] | None:
        """The agent who last took one of the contact's conversations, and when (None: never an agent)."""
        query = (
            sa.select(conversations.c.assignee_id, conversations.c.assigned_at)
            .where(
                conversations.c.contact_id == contact_id,
                conversations.c.assignee_id.is_not(None),
                conversations.c.assigned_at.is_not(None),
            )
            .order_by(conversations.c.assigned_at.desc())
            .limit(1)
        )
        if exclude is not None:
            query = query.where(conversations.c.id != exclude)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (int(row.assignee_id), as_utc(row.assigned_at))

    async def list_assigned_to(self, user_id: int) -> list[Conversation]:
        """Open conversations an agent holds."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(conversations)
                .where(
                    conversations.c.assignee_id == user_id,
                    conversations.c.status == ConversationStatus.ASSIGNED.value,
                )
                .order_by(conversations.c.assigned_at)
            )
            return [rows.conversation(r) for r in result]

    async def list_for_contact(self, contact_id: int, *, exclude: str | None = None) -> list[Conversation]:
        """A citizen's conversations, newest first."""
        query = sa.select(conversations).where(conversations.c.contact_id == contact_id)
        if exclude is not None:
            query = query.where(conversations.c.id != exclude)
        async with self._engine.connect() as conn:
            result = await conn.execute(query.order_by(conversations.c.created_at.desc()).limit(50))
            return [rows.conversation(r) for r in result]

    async def last_message(self, conversation_id: str) -> Message | None:
        """The newest message of a conversation."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(messages)
                    .where(messages.c.conversation_id == conversation_id)
                    .order_by(messages.c.id.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else rows.message(row)

    # -- contacts ---------------------------------------------------------------------------------

    async def contact_by_phone(self, phone: str) -> Contact | None:
        """The contact with this normalised phone number."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(contacts).where(contacts.c.phone == phone))).first()
        return None if row is None else rows.contact(row)

    async def get_contact(self, contact_id: int) -> Contact | None:
        """A contact by id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(contacts).where(contacts.c.id == contact_id))).first()
        return None if row is None else rows.contact(row)

    async def ensure_contact_by_phone(self, phone: str, name: str | None = None) -> Contact:
        """Find or create the contact owning ``phone``."""
        found = await self.contact_by_phone(phone)
        if found is not None:
            return found
        async with begin(self._engine) as conn:
            result = await conn.execute(
                contacts.insert()
                .values(phone=phone, name=name, created_at=self._clock(), vip=False, blacklisted=False)
                .returning(contacts)
            )
            return rows.contact(result.one())

    async def set_preferred_channel(self, contact_id: int, channel: str | None) -> Contact:
        """Set (or clear, with None) where a contact's notices go.

        Raises:
            LookupError: no such contact.
        """
        return await self.update_contact(contact_id, preferred_channel=channel)

    async def update_contact(self, contact_id: int, **values: Any) -> Contact:
        """Update columns of a contact (e.g. ``telegram_id``, ``email``) and return it.

        Raises:
            LookupError: no such contact.
        """
        async with begin(self._engine) as conn:
            result = await conn.execute(
                contacts.update().where(contacts.c.id == contact_id).values(**values).returning(contacts)
            )
            row = result.first()
        if row is None:
            raise LookupError(f"no contact {contact_id}")
        return rows.contact(row)

    async def ensure_contact_by_email(self, email: str, name: str | None = None) -> Contact:
        """Find or create the contact owning ``email`` (compared lower-case)."""
        email = email.strip().lower()
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(contacts).where(contacts.c.email == email).limit(1))).first()
        if row is not None:
            return rows.contact(row)
        async with begin(self._engine) as conn:
            result = await conn.execute(
                contacts.insert()
                .values(email=email, name=name[:100] if name else None, created_at=self._clock())
                .values(vip=False, blacklisted=False)
                .returning(contacts)
            )
            return rows.contact(result.one())

    async def count_by_status(self) -> dict[str, int]:
        """How many conversations are in each status."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(conversations.c.status, sa.func.count()).group_by(conversations.c.status)
            )
            return {status: count for status, count in result.tuples()}
