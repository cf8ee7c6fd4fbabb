"""What a channel hands the conversation service: one inbound citizen message, and what became of it.

Every channel normalises its traffic into an :class:`Inbound` and calls
:meth:`hub.conversation_service.ConversationService.receive` (ADR 0022).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hub.models import Contact, Conversation, Message


@dataclass(frozen=True, slots=True)
class ContactHints:
    """What a channel knows about who is writing; the service finds or creates the citizen's contact from it.

    A phone (digits, as the hub stores phones) is looked up first, then an e-mail address; a Telegram chat id is
    recorded on the contact found that way (it finds no contact by itself). The channel passes a phone only when
    it is one (a caller ID, an SMS sender, a number the citizen shared as their own).
    """

    phone: str | None = None
    email: str | None = None
    telegram_id: str | None = None
    name: str | None = None  # given to a contact created from these hints


NO_HINTS = ContactHints()


@dataclass(frozen=True, slots=True)
class Inbound:
    """One citizen message as a channel received it.

    Attributes:
        channel: the channel's name (``sms``, ``email``, ``telegram``, ``rest``, ``web_chat``, ``voice``).
        text: the message text (validated by the service: not empty, at most ``Limits.max_chars``).
        ref: the sender on the channel (an SMS number, a Telegram chat id, a REST sender id, an e-mail address):
            the message joins the sender's open conversation, or a new one. The service serialises per ``ref``.
        conversation_id: the conversation the channel already knows the message belongs to (a web-chat page, an
            e-mail thread, a phone call); takes precedence over ``ref``. A closed one is reopened.
        external_id: the channel's or client's id of the message: a redelivery is stored once.
        attachments: attachment records stored with the message.
        hints: who the sender is (see :class:`ContactHints`).
        locale: the locale of a conversation created for this message.
        for_bot: False stores the message for agents only, the bot does not answer it (a photo without caption,
            a bounce, an opt-out command, a voicemail, a question the phone IVR answers itself).
    """

    channel: str
    text: str
    ref: str | None = None
    conversation_id: str | None = None
    external_id: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    hints: ContactHints = NO_HINTS
    locale: str = "zh-CN"
    for_bot: bool = True

    def __post_init__(self) -> None:
        if self.ref is None and self.conversation_id is None:
            raise ValueError("an inbound message needs the sender's ref or its conversation id")


@dataclass(frozen=True, slots=True)
class Stored:
    """A message the service stored: its conversation (as it is now), the message, and whether it is new.

    ``created`` is False for a redelivery (same ``external_id``): the message stored the first time is returned.
    """

    conversation: Conversation
    message: Message
    created: bool


class ContactLinks(Protocol):
    """Links a citizen's contact to a conversation (implemented by the conversation service)."""

    async def link_contact(self, conversation_id: str | None, hints: ContactHints) -> Contact | None:
        """The contact the hints name (created if new), linked to the conversation if that has none yet."""
        ...
