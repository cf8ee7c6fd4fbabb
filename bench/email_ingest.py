"""Email ingestion rate: mails waiting in a dovecot mailbox → stored in the hub, against raw IMAP in the same run.

Starts the test mail system (dovecot with a generated config + aiosmtpd, ``tests/fixtures/mail.py``), APPENDs the
same backlog of N mails (UTF-8 text, every tenth a GB18030 mail with a 2 KiB attachment) into two mailboxes, then:

- anchor: a bare aioimaplib loop over mailbox A doing what the reader does on the wire (SEARCH UNSEEN, sizes,
  ``UID FETCH BODY.PEEK[]`` and ``UID STORE +FLAGS.SILENT (\\Seen)`` per mail) and nothing else;
- hub: a hub (embedded SQLite, scripted NLU, SMTP replies to aiosmtpd) reading mailbox B from start-up until every
  mail is stored (parse, attachments to disk, dedupe, conversation, message; bot turns and replies run meanwhile).

Prints one JSON object. ``python bench/email_ingest.py [--mails 300] [--citizens 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aioimaplib import IMAP4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.email import EMAIL_CHANNEL, EmailSettings  # noqa: E402
from rexian.app import build_hub  # noqa: E402
from rexian.settings import Settings  # noqa: E402
from tests.channels.email import mails  # noqa: E402
from tests.fixtures.hub import DEFAULT_RULES, ScriptedNlu  # noqa: E402
from tests.fixtures.mail import Mailbox, MailServer  # noqa: E402

TEXTS = ["你好", "朝阳路12号的路灯坏了", "小区停水了什么时候恢复", "燃气开户需要什么材料", "谢谢"]


def backlog(n: int, citizens: int, to: str) -> list[bytes]:
    out = []
    for i in range(n):
        citizen = f"bench{i % citizens}@citizen.test"
        if i % 10 == 9:
            out.append(mails.gb18030_with_attachment(citizen, to, mails.new_id("bench")))
        else:
            out.append(mails.plain(citizen, to, TEXTS[i % len(TEXTS)], message_id=mails.new_id("bench")))
    return out


async def _client(server: MailServer, box: Mailbox) -> IMAP4:
    client = IMAP4("127.0.0.1", server.imap_port, timeout=60)
    await client.wait_hello_from_server()
    await client.login(box.login, box.password)
    await client.select("INBOX")
    return client


async def append_all(server: MailServer, box: Mailbox, raws: list[bytes]) -> float:
    client = await _client(server, box)
    start = time.perf_counter()
    for raw in raws:
        response = await client.append(raw, mailbox="INBOX")
        assert response.result == "OK", response
    elapsed = time.perf_counter() - start
    await client.logout()
    return elapsed


async def raw_fetch(server: MailServer, box: Mailbox) -> tuple[int, float]:
    """The anchor: the reader's IMAP commands without parsing or storing."""
    client = await _client(server, box)
    start = time.perf_counter()
    found = await client.uid_search("UNSEEN", charset=None)
    uids = [t.decode() for line in found.lines[:-1] if isinstance(line, bytes) for t in line.split()]
    await client.uid("fetch", ",".join(uids), "(RFC822.SIZE)")
    total = 0
    for uid in uids:
        response = await client.uid("fetch", uid, "(BODY.PEEK[])")
        total += sum(len(x) for x in response.lines if isinstance(x, bytearray))
        await client.uid("store", uid, "+FLAGS.SILENT", r"(\Seen)")
    elapsed = time.perf_counter() - start
    await client.logout()
    assert total > 0
    return len(uids), elapsed


async def hub_ingest(server: MailServer, box: Mailbox, n: int, data_dir: Path) -> dict[str, Any]:
    settings = EmailSettings(**server.settings(box))
    hub = await build_hub(
        Settings(data_dir=data_dir, demo=True, start_rasa=False, email=settings),
        nlu_service=ScriptedNlu(list(DEFAULT_RULES)),
    )
    from aiohttp.test_utils import TestServer

    web = TestServer(hub.app, host="127.0.0.1")
    start = time.perf_counter()
    await web.start_server()
    reader = hub.app[EMAIL_CHANNEL].reader
    while sum(reader.counts.values()) < n:  # noqa: ASYNC110 - polls counters; no bench hooks in the hub
        await asyncio.sleep(0.01)
    stored = time.perf_counter() - start
    await hub.service.drain()
    drained = time.perf_counter() - start
    counts = dict(reader.counts)
    await web.close()
    return {"stored_s": stored, "bot_turns_done_s": drained, "counts": counts}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--citizens", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    server = MailServer()
    try:
        server.start_imap()
        server.start_smtp()
        anchor_box, hub_box = server.add_user(), server.add_user()
        raws = backlog(args.mails, args.citizens, hub_box.address)
        append_s = await append_all(server, anchor_box, raws)
        await append_all(server, hub_box, raws)
        fetched, fetch_s = await raw_fetch(server, anchor_box)
        with tempfile.TemporaryDirectory(prefix="rexian-bench-") as tmp:
            hub = await hub_ingest(server, hub_box, args.mails, Path(tmp) / "data")
        result = {
            "mails": args.mails,
            "bytes": sum(len(r) for r in raws),
            "citizens": args.citizens,
            "store": "sqlite",
            "imap_append_per_s": round(args.mails / append_s, 1),
            "anchor_raw_imap_fetch_per_s": round(fetched / fetch_s, 1),
            "hub_ingest_per_s": round(args.mails / hub["stored_s"], 1),
            "hub_vs_anchor": round((args.mails / hub["stored_s"]) / (fetched / fetch_s), 3),
            "hub_stored_s": round(hub["stored_s"], 3),
            "hub_bot_turns_done_s": round(hub["bot_turns_done_s"], 3),
            "outcomes": hub["counts"],
        }
        print(json.dumps(result, ensure_ascii=False))
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
