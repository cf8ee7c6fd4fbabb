"""Inbound SMS: every deliver_sm is stored (or recognised as a resend) before its deliver_sm_resp.

- A delivery receipt updates the submitted segment it names (``sms_submits``).
- A part of a long message is stored in ``sms_inbound_parts``; the message is stored once all parts are in
  (parts never completed are stored as they are, missing parts shown as ``…``, after the reassembly timeout).
- A whole message gets a deterministic dedupe key (source, SMSC ``user_message_reference``, UDH ref/total,
  text): the same key within the dedupe window is a resend and is acknowledged without being processed again.
- A short numeric reply (``1``: the pick of a quick reply, :func:`channels.sms.sender.sms_text`) without a
  ``user_message_reference`` is keyed to the last message the number was sent, so the same pick answering a new
  question is a new message, not a resend of the previous one.
- ``TD``/``退订`` adds the number to the opt-out list, ``订阅`` removes it; both get a confirmation SMS.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re

from aiosmpplib.protocol import DeliverSm
from aiosmpplib.state import SmppCommandStatus

from channels.sms.config import SmsSettings
from channels.sms.receipts import parse_receipt
from channels.sms.segments import Part, assemble
from channels.sms.store import SmsStore
from hub.dialogue.slots import is_valid_phone
from hub.i18n import t
from hub.intake import ContactHints, Inbound
from hub.logsafe import mask
from hub.web.context import HubContext

log = logging.getLogger(__name__)

CHANNEL_SMS = "sms"
OPT_OUT = frozenset({"TD", "退订", "T", "取消订阅"})
OPT_IN = frozenset({"订阅", "DY"})
_USER_MESSAGE_REFERENCE = 0x0204
_RECEIPTED_MESSAGE_ID = 0x001E
_MESSAGE_STATE = 0x0427
OK = SmppCommandStatus.ESME_ROK
_PICK = re.compile(r"\s*\d{1,2}\s*")  # the number of a quick reply


def normalise_number(raw: str) -> str:
    """A citizen's number as the hub stores it: ``+86 138…``/``0086138…``/``86138…`` → ``138…``."""
    digits = re.sub(r"\D", "", raw)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and is_valid_phone(digits[len(prefix) :]):
            return digits[len(prefix) :]
    return digits


def _tlv(pdu: DeliverSm, tag: int) -> object:
    return next((p.value for p in pdu.optional_params or [] if p.tag == tag), None)


def to_part(pdu: DeliverSm) -> Part:
    """The citizen text of a (non-receipt) deliver_sm."""
    text = pdu.short_message or pdu.message_payload
    source = normalise_number(pdu.source.number)
    if pdu.is_segmented():
        ref, seq, total = pdu.get_segmentation_data()
        if total > 1 and 1 <= seq <= total:
            return Part(source, text, ref, total, seq)
    return Part(source, text)


def dedupe_key(part: Part, text: str, umr: object) -> str:
    """The deterministic identity of one inbound message (same for a resend)."""
    raw = f"{part.source}\x00{umr if umr is not None else ''}\x00{part.ref}/{part.total}\x00{text}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


class SmsInbound:
    """Handles deliver_sm PDUs for the hub (the session's deliver handler)."""

    def __init__(self, ctx: HubContext, store: SmsStore, settings: SmsSettings) -> None:
        self.ctx = ctx
        self.store = store
        self.settings = settings
        self.stored = 0  # messages stored by this process
        self.duplicates = 0
        self.receipts = 0

    async def __call__(self, pdu: DeliverSm) -> SmppCommandStatus:
        """Store the deliver_sm's content; the returned status is the deliver_sm_resp's."""
        if pdu.is_receipt():
            state = _tlv(pdu, _MESSAGE_STATE)
            receipted = _tlv(pdu, _RECEIPTED_MESSAGE_ID)
            receipt = parse_receipt(
                pdu.short_message or pdu.message_payload,
                receipted if isinstance(receipted, str) else None,
                state if isinstance(state, int) else None,
            )
            if receipt is None:
                log.warning("ignored a delivery receipt without a message id")
            elif not await self.store.apply_receipt(receipt.message_id, receipt.status, receipt.stat):
                log.info("receipt for unknown SMSC message id %s", receipt.message_id)
            else:
                self.receipts += 1
            return OK
        part = to_part(pdu)
        if not part.source:
            log.warning("rejected a deliver_sm without a source address")
            return SmppCommandStatus.ESME_RINVSRCADR
        text = part.text
        if part.concatenated:
            duplicate, parts = await self.store.add_part(
                part.source, part.ref, part.total, part.seq, part.text, self.settings.dedupe_window_s
            )
            if duplicate:
                self.duplicates += 1
                return OK
            if parts is None:
                return OK  # stored; the message is complete when the last part arrives
            text = assemble([Part(part.source, p.text, part.ref, part.total, p.seq) for p in parts])
        await self.store_message(part, text, _tlv(pdu, _USER_MESSAGE_REFERENCE))
        return OK

    async def store_message(self, part: Part, text: str, umr: object = None) -> None:
        """Store one whole message unless it is a resend (then do nothing)."""
        if umr is None and _PICK.fullmatch(text):
            # "1" twice is two answers when a new question was sent in between; an SMSC's resend (after a lost
            # deliver_sm_resp, i.e. a broken link) normally arrives on the rebind, before our reply is submitted
            umr = f"after:{await self.store.last_message_to(part.source)}"
        key = dedupe_key(part, text, umr)
        duplicate, seq = await self.store.check_key(key, self.settings.dedupe_window_s)
        if duplicate:
            self.duplicates += 1
            log.info("ignored a resent SMS from %s", mask(part.source))
        else:
            await self._accept(part.source, text, f"sms:{key}:{seq}")
            await self.store.remember_key(key, seq)
            self.stored += 1
        if part.concatenated:
            await self.store.mark_parts_done(part.source, part.ref, part.total)

    async def _accept(self, source: str, text: str, client_id: str) -> None:
        ctx = self.ctx
        text = text.strip()
        if not text:
            log.info("ignored an empty SMS from %s", mask(source))
            return
        limit = ctx.service.limits.max_chars
        if len(text) > limit:
            log.warning("SMS from %s of %d characters truncated to %d", mask(source), len(text), limit)
            text = text[: limit - 1] + "…"
        command = text.upper()
        opt = True if command in OPT_OUT else False if command in OPT_IN else None
        hints = ContactHints(phone=source if is_valid_phone(source) else None)
        stored = await ctx.service.receive(
            Inbound(CHANNEL_SMS, text, ref=source, external_id=client_id, hints=hints, for_bot=opt is None)
        )
        if opt is None:
            return
        await self.store.set_opted_out(source, opt)
        conversation = stored.conversation
        confirmation = await ctx.service.post(
            conversation,
            t("sms.opted_out" if opt else "sms.opted_in", conversation.locale),
            external_id=f"{client_id}:confirm",  # a replay after a crash confirms once
        )
        if confirmation.created:
            log.info("%s %s SMS notices", mask(source), "opted out of" if opt else "opted in to")

    async def sweep(self) -> int:
        """Store incomplete long messages whose parts are older than the reassembly timeout."""
        count = 0
        for source, ref, total, parts in await self.store.stale_parts(self.settings.reassembly_timeout_s):
            part = Part(source, "", ref, total, 1)
            text = assemble([Part(source, p.text, ref, total, p.seq) for p in parts])
            log.warning("storing an incomplete long SMS from %s (%d of %d parts)", mask(source), len(parts), total)
            await self.store_message(part, text)
            count += 1
        return count

    async def sweep_forever(self) -> None:
        """Run :meth:`sweep` periodically for as long as the channel runs."""
        every = max(1.0, min(60.0, self.settings.reassembly_timeout_s / 4))
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping incomplete long SMS failed; retrying next round")
