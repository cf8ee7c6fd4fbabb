"""The queue of text conversations waiting for an agent (web chat, SMS, e-mail, Telegram, REST, voicemail).

A conversation joins the queue when the conversation service hands it off (status ``queued``); an agent takes it
through :meth:`ChatQueue.take`, which asks the conversation service to assign it (only one agent wins). Calls wait
in the ACD (:mod:`routing.acd`). The queue reads conversations; it never changes their status itself.
"""

from __future__ import annotations

from hub.conversation_service import ConversationService
from hub.models import Conversation, ConversationStatus, User
from hub.storage.conversations import ConversationStore


class ChatQueue:
    """Waiting conversations, oldest first, and the agents' own open ones."""

    def __init__(self, conversations: ConversationStore, service: ConversationService) -> None:
        self._conversations = conversations
        self._service = service

    @property
    def store(self) -> ConversationStore:
        """The conversation store the queue reads."""
        return self._conversations

    async def waiting(self, limit: int = 200) -> list[Conversation]:
        """Conversations waiting for an agent, longest waiting first."""
        return await self._conversations.list_by_status(ConversationStatus.QUEUED, limit=limit)

    async def held_by(self, agent: User) -> list[Conversation]:
        """The open conversations assigned to ``agent``."""
        return await self._conversations.list_assigned_to(agent.id)

    async def take(self, conversation_id: str, agent: User) -> Conversation:
        """Assign a waiting conversation to ``agent``; raises ``NotAllowed`` if it is no longer waiting."""
        return await self._service.claim(conversation_id, agent)
