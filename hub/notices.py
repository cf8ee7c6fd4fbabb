"""Where a citizen's work-order notices and satisfaction callbacks go: the citizen's preferred channel.

A notice belongs where the citizen will read it. A conversation on a push channel (Telegram, SMS, email) can be
written to at any time; a phone call, a REST client or a closed web-chat page cannot. So the notice goes, in order:

1. to the contact's explicit preference (``contacts.preferred_channel``, set by an agent or the citizen), if that
   channel is enabled and the contact has an address on it;
2. to the conversation the request came from, if its channel can push;
3. to the first enabled push channel the contact has an address on (SMS by phone, then email, then Telegram);
4. otherwise to the original conversation (the citizen sees it when they come back).

Push channels register themselves from the composition root with how to address a contact. The target
conversation is the contact's open one on that channel (by address), so the citizen's answer to the satisfaction
question lands where the bot waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from hub.conversation_service import ConversationService
from hub.logsafe import mask
from hub.models import Contact, Conversation

log = logging.getLogger(__name__)

AddressOf = Callable[[Contact], str | None]

#: Fallback order when neither a preference nor the original channel can carry the notice.
FALLBACK_ORDER = ("sms", "email", "telegram")


@dataclass(frozen=True, slots=True)
class NoticeTarget:
    """The conversation a notice is written to, and why."""

    conversation: Conversation
    reason: str  # "preferred" | "origin" | "fallback" | "origin_only"


class NoticeRoutes:
    """The push channels that can reach a contact unprompted, and how each addresses a contact."""

    def __init__(self, conversations: ConversationService) -> None:
        self.conversations = conversations
        self._address_of: dict[str, AddressOf] = {}

    def register(self, channel: str, address_of: AddressOf) -> None:
        """``channel`` can push; ``address_of(contact)`` is its conversation ``external_ref`` for the contact."""
        self._address_of[channel] = address_of

    def can_push(self, channel: str) -> bool:
        """Whether conversations on ``channel`` reach the citizen without them asking."""
        return channel in self._address_of

    @property
    def channels(self) -> tuple[str, ...]:
        """The enabled push channels (for the preference selector)."""
        return tuple(self._address_of)

    def address(self, channel: str, contact: Contact) -> str | None:
        """The contact's address on ``channel`` (None: the channel is off or the contact has none there)."""
        address_of = self._address_of.get(channel)
        return None if address_of is None else address_of(contact)

    async def target(self, origin: Conversation, contact: Contact | None) -> NoticeTarget:
        """The conversation a notice about ``origin``'s request should be written to."""
        if contact is None:
            return NoticeTarget(origin, "origin_only")
        preferred = contact.preferred_channel
        if preferred and preferred != origin.channel:
            found = await self._on(preferred, contact)
            if found is not None:
                return NoticeTarget(found, "preferred")
            log.info("contact %s prefers %s but cannot be reached there; trying others", contact.id, preferred)
        if self.can_push(origin.channel):
            return NoticeTarget(origin, "preferred" if preferred == origin.channel else "origin")
        for channel in FALLBACK_ORDER:
            found = await self._on(channel, contact)
            if found is not None:
                return NoticeTarget(found, "fallback")
        return NoticeTarget(origin, "origin_only")

    async def _on(self, channel: str, contact: Contact) -> Conversation | None:
        address = self.address(channel, contact)
        if not address:
            return None
        conversation = await self.conversations.conversation_for(channel, address, contact)
        log.debug("notice route for contact %s: %s %s", contact.id, channel, mask(address))
        return conversation
