"""Outbound SMS: the outbox's :class:`hub.outbox.Sender` for the ``sms`` channel.

A hub message is split into segments (:func:`channels.sms.segments.split`, the concatenation reference derived
from the message id so a retry reuses it) and submitted segment by segment; every accepted segment is recorded
with its SMSC message id, so a retry after a broken link submits only the segments not yet accepted.
"""

from __future__ import annotations

from channels.sms.segments import split
from channels.sms.session import SmppSession, SubmitRejected
from channels.sms.store import SmsStore
from hub.models import Conversation, Message
from hub.outbox import PermanentFailure


class DeliveryError(RuntimeError):
    """A transient failure (SMSC throttling or a system error): the outbox retries it."""


class SmsSender:
    """Sends a hub message to the conversation's number (its ``external_ref``)."""

    def __init__(self, session: SmppSession, store: SmsStore) -> None:
        self.session = session
        self.store = store

    async def send(self, conversation: Conversation, message: Message) -> None:
        """Submit every segment not yet accepted; raises :class:`PermanentFailure` or a retryable error."""
        number = conversation.external_ref
        if not number or not number.isdigit() or len(number) > 20:
            raise PermanentFailure(f"conversation {conversation.id} has no SMS number")
        try:
            segments = split(message.text, ref=message.id & 0xFF)
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from None
        done = await self.store.submitted_parts(message.id)
        for segment in segments:
            if segment.seq in done:
                continue
            try:
                smsc_id = await self.session.submit(number, segment)
            except SubmitRejected as exc:
                if exc.temporary:
                    raise DeliveryError(str(exc)) from None
                raise PermanentFailure(str(exc)) from None
            await self.store.record_submit(
                smsc_id, part=segment.seq, total=segment.total, destination=number, message_id=message.id
            )
