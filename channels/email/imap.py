"""IMAP ingestion: fetch unseen mail, store it, only then flag it ``\\Seen``; IDLE for more; reconnect with backoff.

One task per hub reads the configured mailbox (aioimaplib). Each round searches ``UNSEEN``, reads sizes, and
fetches each mail with ``BODY.PEEK[]`` (reading does not set ``\\Seen``); a mail over the size limit is not
downloaded (its header block is, for a note to agents). After :meth:`MailIngest.ingest` returned — the mail is
in the database — ``UID STORE +FLAGS.SILENT (\\Seen)`` marks it. A failure anywhere drops the connection and
reconnects after ``reconnect_base_s * 2**n`` seconds (at most ``reconnect_max_s``); what was not flagged is
fetched again and deduplicated by Message-ID. IDLE is re-issued every ``idle_s`` (RFC 2177: under 30 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

from aioimaplib import IMAP4, IMAP4_SSL, STOP_WAIT_SERVER_PUSH

from channels.email.config import EmailSettings
from channels.email.ingest import MailIngest
from hub.background import BackgroundTask
from hub.clock import Clock, utc_now

log = logging.getLogger(__name__)

_SIZE = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+)")
FETCH_CHUNK = 200
T = TypeVar("T")


class ImapError(RuntimeError):
    """The IMAP server refused a command or the connection broke."""


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        detail = b" ".join(line for line in response.lines if isinstance(line, bytes))[:200]
        raise ImapError(f"{what} failed: {response.result} {detail.decode('utf-8', 'replace')}")
    return response


def _literal(response: Any) -> bytes:
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    raise ImapError("FETCH returned no message body")


class ImapReader:
    """The mailbox reader task and its health."""

    def __init__(self, settings: EmailSettings, ingest: MailIngest, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.ingest = ingest
        self._clock = clock
        self.connected = False
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.failures = 0  # consecutive failed sessions (the backoff exponent)
        self.counts: dict[str, int] = {}
        self._worker = BackgroundTask("email:imap", self._run)
        self.rounds = 0  # completed fetch rounds (tests wait on it instead of sleeping)

    def start(self) -> None:
        """Start reading in the background."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop reading (a mail being stored finishes or stays unseen)."""
        await self._worker.stop()
        self.connected = False

    def health(self) -> dict[str, Any]:
        """For /healthz (``degraded`` while disconnected)."""
        return {
            "status": "ok" if self.connected else "degraded",
            "connected": self.connected,
            "last_error": self.last_error,
            "last_error_at": None if self.last_error_at is None else self.last_error_at.isoformat(),
            "retries": self.failures,
            "ingested": dict(self.counts),
        }

    def backoff(self) -> float:
        """Seconds before the next reconnect."""
        s = self.settings
        return float(min(s.reconnect_max_s, s.reconnect_base_s * 2 ** max(0, self.failures - 1)))

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected = False
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.last_error_at = self._clock()
                delay = self.backoff()
                log.warning("email IMAP: %s; reconnecting in %.1f s", self.last_error, delay)
                await asyncio.sleep(delay)

    def _client(self, lost: asyncio.Event) -> IMAP4:
        s = self.settings
        if s.use_imap_ssl:
            context = ssl.create_default_context()
            return IMAP4_SSL(
                s.imap_host, s.imap_port, timeout=s.timeout_s, ssl_context=context, conn_lost_cb=lambda _e: lost.set()
            )
        return IMAP4(s.imap_host, s.imap_port, timeout=s.timeout_s, conn_lost_cb=lambda _e: lost.set())

    async def _session(self) -> None:
        s = self.settings
        lost = asyncio.Event()
        client = self._client(lost)
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(s.imap_user, s.imap_password), "LOGIN")
            _ok(await client.select(s.mailbox), f"SELECT {s.mailbox}")
            self.connected = True
            self.failures = 0
            self.last_error = None
            log.info("email IMAP: reading %s on %s:%d", s.mailbox, s.imap_host, s.imap_port)
            while True:
                # Until a SEARCH finds nothing: mail that arrived during a round was announced (EXISTS) in the
                # responses to that round's commands, and IDLE would not announce it again.
                while await self.fetch_unseen(client):
                    pass
                self.rounds += 1
                await self._idle(client, lost)
        finally:
            self.connected = False
            if not lost.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.logout(), timeout=2)
            transport = client.protocol.transport if client.protocol is not None else None
            if transport is not None:
                transport.close()

    async def fetch_unseen(self, client: IMAP4) -> int:
        """Store every unseen mail, flagging each ``\\Seen`` after it is stored; returns how many."""
        found = _ok(await self._bounded(client.uid_search("UNSEEN", charset=None)), "SEARCH UNSEEN")
        uids = [int(t) for line in found.lines[:-1] if isinstance(line, bytes) for t in line.split() if t.isdigit()]
        done = 0
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            sizes = await self._sizes(client, chunk)
            for uid in chunk:
                await self._one(client, uid, sizes.get(uid, 0))
                done += 1
        return done

    async def _sizes(self, client: IMAP4, uids: list[int]) -> dict[int, int]:
        response = _ok(
            await self._bounded(client.uid("fetch", ",".join(map(str, uids)), "(RFC822.SIZE)")), "FETCH RFC822.SIZE"
        )
        sizes: dict[int, int] = {}
        for line in response.lines:
            if isinstance(line, bytes | bytearray):
                for m in _SIZE.finditer(bytes(line)):
                    uid, size = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                    sizes[int(uid)] = int(size)
        return sizes

    async def _one(self, client: IMAP4, uid: int, size: int) -> None:
        limit = self.settings.limits.max_message_bytes
        if size > limit:
            header = _literal(_ok(await client.uid("fetch", str(uid), "(BODY.PEEK[HEADER])"), "FETCH HEADER"))
            outcome = await self.ingest.ingest_rejected(header, f"mail of {size} bytes is over the {limit}-byte limit")
        else:
            raw = _literal(_ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), "FETCH BODY"))
            outcome = await self.ingest.ingest(raw)
        _ok(await self._bounded(client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen)")), "STORE \\Seen")
        self.counts[outcome.kind] = self.counts.get(outcome.kind, 0) + 1

    async def _bounded(self, command: Awaitable[T]) -> T:
        """Await an IMAP command at most ``timeout_s`` (aioimaplib leaves STORE and IDLE start unbounded)."""
        return await asyncio.wait_for(command, timeout=self.settings.timeout_s)

    async def _idle(self, client: IMAP4, lost: asyncio.Event) -> None:
        """Wait in IDLE until the mailbox changes, the IDLE period ends, or the connection drops."""
        idle = await self._bounded(client.idle_start(timeout=self.settings.idle_s))
        try:
            while client.has_pending_idle():
                push = asyncio.ensure_future(client.wait_server_push(timeout=self.settings.idle_s + 60))
                gone = asyncio.ensure_future(lost.wait())
                done, _ = await asyncio.wait({push, gone}, return_when=asyncio.FIRST_COMPLETED)
                if push not in done:
                    push.cancel()
                    raise ImapError("connection lost during IDLE")
                gone.cancel()
                lines = push.result()
                if lines == STOP_WAIT_SERVER_PUSH:
                    break
                if any(isinstance(x, bytes) and (x.endswith(b"EXISTS") or x.endswith(b"RECENT")) for x in lines):
                    break
        finally:
            if not lost.is_set() and client.has_pending_idle():
                client.idle_done()
        if lost.is_set():
            raise ImapError("connection lost")
        _ok(await asyncio.wait_for(idle, timeout=self.settings.timeout_s), "IDLE")
