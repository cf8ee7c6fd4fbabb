"""群发: bulk notifications to a list of numbers, sent from the ``sms_bulk_recipients`` table.

Jobs are durable: recipients stay ``pending`` until the SMSC accepts their message (``sent``), then a delivery
receipt makes them ``delivered`` or ``failed``; opted-out numbers become ``skipped``. A restarted hub carries on
with what is pending. The session's rate limit throttles bulk and conversation messages alike.
"""

from __future__ import annotations

import asyncio
import logging
import re

from channels.sms.inbound import normalise_number
from channels.sms.segments import split
from channels.sms.session import NotBound, SmppSession, SubmitRejected
from channels.sms.store import SmsStore
from hub.background import BackgroundTask, wait_event
from hub.dialogue.slots import is_valid_phone
from hub.logsafe import mask

log = logging.getLogger(__name__)

MAX_TEXT = 670  # ten UCS-2 parts
MAX_NUMBERS = 10_000


def parse_numbers(raw: str | list[object]) -> tuple[list[str], list[str]]:
    """Numbers from a textarea/CSV (lines, commas, semicolons, tabs) or a JSON list: ``(valid, invalid)``.

    Valid numbers are normalised mobile numbers, deduplicated in order.
    """
    items = [str(x) for x in raw] if isinstance(raw, list) else re.split(r"[\r\n\t,;，；]+", raw)
    valid: list[str] = []
    invalid: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        number = normalise_number(item)
        if is_valid_phone(number):
            if number not in valid:
                valid.append(number)
        else:
            invalid.append(item[:32])
    return valid, invalid


class BulkRunner:
    """Sends pending bulk recipients through the session."""

    def __init__(self, session: SmppSession, store: SmsStore, idle_s: float = 30.0) -> None:
        self.session = session
        self.store = store
        self.idle_s = idle_s
        self.wake = asyncio.Event()
        self._worker = BackgroundTask("sms-bulk", self._run)

    def start(self) -> None:
        """Start sending (pending recipients of earlier runs first)."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop sending; pending recipients stay pending."""
        await self._worker.stop()

    async def _run(self) -> None:
        while True:
            self.wake.clear()
            try:
                progressed = await self.round()
            except Exception:
                log.exception("bulk SMS round failed; retrying")
                progressed = False
            if not progressed:
                await wait_event(self.wake, self.idle_s)

    async def round(self) -> bool:
        """Send up to 100 pending recipients; True if there may be more to do now."""
        pending = await self.store.pending_recipients()
        if not pending:
            await self.store.finish_idle_jobs()
            return False
        for recipient_id, _job_id, phone, text in pending:
            if await self.store.is_opted_out(phone):
                await self.store.set_recipient(recipient_id, "skipped", "opted out")
                continue
            if not await self.session.wait_bound(self.idle_s):
                return False
            try:
                for segment in split(text, ref=recipient_id & 0xFF):
                    smsc_id = await self.session.submit(phone, segment)
                    await self.store.record_submit(
                        smsc_id, part=segment.seq, total=segment.total, destination=phone, recipient_id=recipient_id
                    )
            except SubmitRejected as exc:
                if exc.temporary:
                    await asyncio.sleep(self.session.backoff())
                    return True
                log.info("bulk SMS to %s rejected: %s", mask(phone), exc)
                await self.store.set_recipient(recipient_id, "failed", str(exc))
            except (NotBound, TimeoutError):
                return False
        return True
