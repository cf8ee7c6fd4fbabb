"""Downloading citizens' Telegram photos (``getFile``) into the hub's file store, after the message was stored.

Store, then fetch: the webhook and the poller store a photo message with the attachment record marked
``download: pending`` and acknowledge the update at once; this worker hears the stored message on the event bus,
fetches the largest size with ``getFile`` and the file URL, checks it really is an image (JPEG, PNG or WebP by its
magic bytes) and not too large, writes it content-addressed under ``<data dir>/attachments/telegram`` and updates
the record (``download: ready`` with ``sha256``, ``size``, ``content_type``). The inbox hears
:class:`~hub.events.MessageUpdated` and shows the picture.

A network error or a Bot API 5xx is retried with backoff; the state lives in the message row, so photos still
pending at a restart are found again (messages of the last :data:`RECOVER_DAYS` days). What the Bot API refuses
for good (an unknown ``file_id``, a file too large) and what is not an image is marked ``download: failed`` with an
``error`` code, and the inbox says so instead of showing a broken picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken

from hub.background import BackgroundTask, wait_event
from hub.clock import Clock, utc_now
from hub.conversation_service import ConversationService
from hub.events import Event, MessageStored
from hub.file_store import ContentStore
from hub.file_store import image_type as sniff_image
from hub.outbox import RetryPolicy

log = logging.getLogger(__name__)

CHANNEL_TELEGRAM = "telegram"
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram compresses photos to well under 1 MB; documents are not photos
GIVE_UP_AFTER_S = 24 * 3600.0  # transient failures this long (Bot API or network down) mark the photo failed
RECOVER_DAYS = 7

PENDING, READY, FAILED = "pending", "ready", "failed"


class PhotoRejected(Exception):
    """The photo cannot be had, now or later (``code``: unavailable, too_large, not_an_image, gave_up)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def image_type(data: bytes) -> str | None:
    """The image MIME type by magic bytes (JPEG, PNG, WebP: what a browser shows inline); None for anything else."""
    return sniff_image(data, heif=False)


def is_pending(attachment: object) -> bool:
    """Whether an attachment record is a Telegram photo still to be downloaded."""
    return (
        isinstance(attachment, dict)
        and attachment.get("source") == CHANNEL_TELEGRAM
        and attachment.get("kind") == "photo"
        and attachment.get("download") == PENDING
        and isinstance(attachment.get("file_id"), str)
    )


class PhotoDownloader:
    """One background task fetching pending photos, one message at a time, in due order.

    Args:
        bot: the Bot (its base file URL may point at a local Bot API server).
        conversations: the conversation service: stored messages in (its event bus), attachment records read
            and updated (it publishes :class:`~hub.events.MessageUpdated`).
        files: where the photos go.
        token: the bot token, redacted from every error text kept or logged.
        retry: backoff between attempts of one message.
        max_bytes: larger photos are refused (``too_large``).
        give_up_after_s: transient failures for this long mark the photo failed (``gave_up``); until then it is
            retried, at most ``retry.max_s`` apart.
    """

    def __init__(
        self,
        bot: Bot,
        conversations: ConversationService,
        files: ContentStore,
        *,
        token: str,
        retry: RetryPolicy | None = None,
        max_bytes: int = MAX_PHOTO_BYTES,
        give_up_after_s: float = GIVE_UP_AFTER_S,
        clock: Clock = utc_now,
    ) -> None:
        self.bot = bot
        self.conversations = conversations
        self.files = files
        self.retry = retry or RetryPolicy(1.0, 300.0)
        self.max_bytes = max_bytes
        self.give_up_after_s = give_up_after_s
        self._token = token
        self._clock = clock
        self._due: list[tuple[float, int]] = []  # (loop time, message id)
        self._scheduled: set[int] = set()
        self._attempts: dict[int, tuple[int, float]] = {}  # message id -> (failed attempts, first failure)
        self._wakeup = asyncio.Event()
        self._worker = BackgroundTask("telegram:photos", self.run)
        self.downloaded = 0
        self.failed = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        conversations.bus.subscribe(MessageStored, self._on_stored)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (it first looks for photos left pending by an earlier run)."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop the worker; pending photos stay pending in the database."""
        await self._worker.stop()

    async def health(self) -> dict[str, Any]:
        """Counters for ``/healthz``."""
        return {
            "photos_pending": len(self._scheduled),
            "photos_downloaded": self.downloaded,
            "photos_failed": self.failed,
            "last_photo_error": self.last_error,
            "last_photo_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
        }

    # -- scheduling --------------------------------------------------------------------------------

    async def _on_stored(self, event: Event) -> None:
        if not isinstance(event, MessageStored) or event.conversation.channel != CHANNEL_TELEGRAM:
            return
        if event.message.direction == "in" and any(is_pending(a) for a in event.message.attachments):
            self.schedule(event.message.id)

    def schedule(self, message_id: int, delay_s: float = 0.0) -> None:
        """Fetch the pending photos of ``message_id`` after ``delay_s`` seconds."""
        if message_id in self._scheduled and delay_s == 0.0:
            return
        self._scheduled.add(message_id)
        heapq.heappush(self._due, (asyncio.get_running_loop().time() + delay_s, message_id))
        self._wakeup.set()

    async def run(self) -> None:
        """Recover, then fetch whatever becomes due, forever."""
        await self._recover()
        loop = asyncio.get_running_loop()
        while True:
            while self._due and self._due[0][0] <= loop.time():
                _, message_id = heapq.heappop(self._due)
                if any(mid == message_id for _, mid in self._due):
                    continue  # scheduled again meanwhile: handled at its later entry
                self._scheduled.discard(message_id)
                await self._attempt(message_id)
            self._wakeup.clear()
            timeout = self._due[0][0] - loop.time() if self._due else None
            await wait_event(self._wakeup, timeout)

    async def _recover(self) -> None:
        attempt = 0
        while True:
            try:
                since = self._clock() - timedelta(days=RECOVER_DAYS)
                found = await self.conversations.reads.recent_inbound_with_attachments(CHANNEL_TELEGRAM, since)
                break
            except Exception as exc:  # the database may be busy at start-up: try again, never give up
                attempt += 1
                self._note_error(f"recovery: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self.retry.delay(attempt))
        pending = [m.id for m in found if any(is_pending(a) for a in m.attachments)]
        for message_id in pending:
            self.schedule(message_id)
        if pending:
            log.info("telegram: %d photo message(s) left pending by an earlier run, fetching them", len(pending))

    async def _attempt(self, message_id: int) -> None:
        try:
            await self.fetch(message_id)
        except Exception as exc:  # network, Bot API 5xx, database, disk: retried with backoff
            now = asyncio.get_running_loop().time()
            attempts, first = self._attempts.get(message_id, (0, now))
            attempts += 1
            self._attempts[message_id] = (attempts, first)
            self._note_error(f"{type(exc).__name__}: {exc}")
            if now - first < self.give_up_after_s:
                delay = self.retry.delay(attempts)
                log.warning(
                    "telegram: photo of message %d not fetched (%s), retry %d in %.0f s",
                    message_id, type(exc).__name__, attempts, delay,
                )  # fmt: skip
                self.schedule(message_id, delay)
                return
            log.error("telegram: giving up on the photo of message %d after %d attempts", message_id, attempts)
            with contextlib.suppress(Exception):
                await self._mark(message_id, lambda a: {**a, "download": FAILED, "error": "gave_up"})
                self.failed += 1
        self._attempts.pop(message_id, None)

    def _note_error(self, text: str) -> None:
        self.last_error = text.replace(self._token, "<token>")[:500]
        self.last_error_at = self._clock()

    # -- one message -------------------------------------------------------------------------------

    async def fetch(self, message_id: int) -> None:
        """Download the pending photos of one message and record the outcome.

        Raises:
            Exception: a transient failure (the caller retries); what was already fetched is recorded first.
        """
        message = await self.conversations.reads.message(message_id)
        if message is None:
            return
        records = [dict(a) if isinstance(a, dict) else a for a in message.attachments]
        changed = False
        try:
            for record in records:
                if not is_pending(record):
                    continue
                try:
                    data, content_type = await self._download(str(record["file_id"]))
                except PhotoRejected as rejected:
                    record.update(download=FAILED, error=rejected.code)
                    self.failed += 1
                    log.info("telegram: photo of message %d cannot be fetched: %s", message_id, rejected.code)
                else:
                    digest = await self.files.save_bytes(data)
                    extension = content_type.rsplit("/", 1)[1].replace("jpeg", "jpg")
                    record.update(
                        download=READY, sha256=digest, size=len(data), content_type=content_type,
                        name=f"photo-{record.get('file_unique_id') or digest[:12]}.{extension}",
                    )  # fmt: skip
                    self.downloaded += 1
                changed = True
        finally:
            if changed:
                await self._save(message_id, records)

    async def _download(self, file_id: str) -> tuple[bytes, str]:
        try:
            file = await self.bot.get_file(file_id)
            if file.file_size is not None and file.file_size > self.max_bytes:
                raise PhotoRejected("too_large")
            data = bytes(await file.download_as_bytearray())
        except (BadRequest, Forbidden, InvalidToken):
            raise PhotoRejected("unavailable") from None
        if len(data) > self.max_bytes:
            raise PhotoRejected("too_large")
        content_type = image_type(data)
        if content_type is None:
            raise PhotoRejected("not_an_image")
        return data, content_type

    async def _mark(self, message_id: int, change: Any) -> None:
        message = await self.conversations.reads.message(message_id)
        if message is not None:
            await self._save(message_id, [change(a) if is_pending(a) else a for a in message.attachments])

    async def _save(self, message_id: int, records: list[Any]) -> None:
        await self.conversations.set_attachments(message_id, records)
