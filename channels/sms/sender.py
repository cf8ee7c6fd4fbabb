"""Outbound SMS: the outbox's :class:`hub.outbox.Sender` for the ``sms`` channel.

A hub message is split into segments (:func:`channels.sms.segments.split`, the concatenation reference derived
from the message id so a retry reuses it) and submitted segment by segment; every accepted segment is recorded
with its SMSC message id, so a retry after a broken link submits only the segments not yet accepted.
"""

from __future__ import annotations

import itertools

from channels.sms.segments import split
from channels.sms.session import NotBound, SmppSession, SubmitRejected
from channels.sms.store import SmsStore
from hub.i18n import t
from hub.models import Conversation, Message
from hub.outbox import PermanentFailure


class DeliveryError(RuntimeError):
    """A transient failure (SMSC throttling or a system error): the outbox retries it."""


def sms_text(message: Message, locale: str) -> str:
    """The text sent for ``message``: a bot message's quick replies become a numbered line to reply with.

    ``回复数字：1 确认登记；2 修改地址``: the citizen answers with the number (the bot also takes the label); the
    line is part of the text, so it is segmented with it.
    """
    labels = [str(c.get("label") or c.get("value") or "").strip() for c in message.choices]
    labels = [label for label in labels if label]
    if not labels:
        return message.text
    separator = t("sms.choices_separator", locale)
    numbered = separator.join(t("sms.choice", locale, number=i, label=label) for i, label in enumerate(labels, 1))
    line = t("sms.choices", locale, choices=numbered)
    return f"{message.text.rstrip()}\n{line}" if message.text.strip() else line


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
            segments = split(sms_text(message, conversation.locale), ref=message.id & 0xFF)
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


class StaffAlertSms:
    """Sends a staff alert (:attr:`hub.web.context.HubContext.staff_alerts` ``["sms"]``) to a unit's phone.

    The hub's alert loop retries what raises (and stops on :class:`PermanentFailure`); each attempt submits the
    whole text again.
    """

    def __init__(self, session: SmppSession, store: SmsStore, bind_wait_s: float = 5.0) -> None:
        self.session = session
        self.store = store
        self.bind_wait_s = bind_wait_s
        self._refs = itertools.count(1)

    async def __call__(self, address: str, subject: str, text: str) -> None:
        """Submit ``text`` to ``address`` (the subject is for e-mail; an SMS carries the text only)."""
        number = "".join(c for c in address if c.isdigit())
        if not number or len(number) > 20:
            raise PermanentFailure("not a phone number")
        try:
            segments = split(text, ref=next(self._refs) & 0xFF)
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from None
        if not await self.session.wait_bound(self.bind_wait_s):
            raise DeliveryError("not bound to the SMSC")
        for segment in segments:
            try:
                smsc_id = await self.session.submit(number, segment)
            except SubmitRejected as exc:
                if exc.temporary:
                    raise DeliveryError(str(exc)) from None
                raise PermanentFailure(str(exc)) from None
            except NotBound as exc:
                raise DeliveryError(str(exc)) from None
            await self.store.record_submit(smsc_id, part=segment.seq, total=segment.total, destination=number)
