"""What channels may read about conversations, messages and contacts; every write goes through the service.

:attr:`hub.conversation_service.ConversationService.reads` is the instance channels use (ADR 0022).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.models import Contact, Conversation, Message
from hub.storage.conversations import ConversationStore


class ConversationReads:
    """Read-only access to the conversation store."""

    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    async def get(self, conversation_id: str) -> Conversation:
        """A conversation; raises :class:`~hub.conversation_service.ConversationNotFound`."""
        return await self._store.get(conversation_id)

    async def messages(self, conversation_id: str, *, after_id: int = 0) -> list[Message]:
        """A conversation's messages in order, optionally only those after ``after_id`` (a client resuming)."""
        return await self._store.messages(conversation_id, after_id=after_id)

    async def message(self, message_id: int) -> Message | None:
        """A message by id."""
        return await self._store.message(message_id)

    async def attachment(self, message_id: int, index: int, channel: str) -> dict[str, Any] | None:
        """Attachment ``index`` of a message in a conversation of ``channel`` (None if there is no such thing)."""
        return await self._store.attachment(message_id, index, channel)

    async def recent_inbound_with_attachments(self, channel: str, since: datetime) -> list[Message]:
        """Citizen messages of ``channel`` since ``since`` that carry attachments, oldest first."""
        return await self._store.recent_inbound_with_attachments(channel, since)

    async def contact(self, contact_id: int) -> Contact | None:
        """A contact by id."""
        return await self._store.get_contact(contact_id)

    async def contact_by_phone(self, phone: str) -> Contact | None:
        """The contact with this phone number."""
        return await self._store.contact_by_phone(phone)
