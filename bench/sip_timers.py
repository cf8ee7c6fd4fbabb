"""Cost of the SIP core's timer bookkeeping with many live transactions (sans-IO, no sockets).

A hang-up burst leaves hundreds of completed transactions waiting for Timer J/K (32 s over UDP), and the endpoint
re-arms its loop timer after every SIP event by asking ``UserAgent.next_deadline()``. This script fills a user
agent with N completed OPTIONS transactions plus M answered calls retransmitting their 200, then measures:

- ``next_deadline_us``: one ``next_deadline()`` call (the heap of deadlines);
- ``scan_us``: the anchor, the same answer computed by scanning every transaction (what the core did before);
- ``event_us``: one whole SIP event as the endpoint sees it (an OPTIONS in, its 200 out, then ``next_deadline``).

Prints one JSON object. ``python bench/sip_timers.py [--transactions 800] [--calls 150]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.voice.sip.uas import UserAgent  # noqa: E402

CALLER = ("192.0.2.10", 5060)
INVITE = (
    "INVITE sip:12319@198.51.100.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv{n}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:12319@198.51.100.5>\r\nFrom: <sip:13800138000@192.0.2.10>;tag=c{n}\r\n"
    "Call-ID: call{n}@192.0.2.10\r\nCSeq: 1 INVITE\r\nContact: <sip:13800138000@192.0.2.10:5060>\r\n"
    "Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0"
)
OPTIONS = (
    "OPTIONS sip:12319@198.51.100.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt{n}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:12319@198.51.100.5>\r\nFrom: <sip:probe@192.0.2.10>;tag=p{n}\r\n"
    "Call-ID: opt{n}@192.0.2.10\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def scan(ua: UserAgent) -> float | None:
    times = [t for tx in (*ua._server.values(), *ua._client.values()) if (t := tx.next_deadline()) is not None]
    return min(times, default=None)


def per_call_us(fn: object, rounds: int) -> float:
    assert callable(fn)
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=800)
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    counter = itertools.count(1)
    ua = UserAgent("198.51.100.5", 5060, token=lambda: f"t{next(counter)}")
    now = 0.0
    for n in range(args.calls):
        ua.receive_datagram(INVITE.format(n=n).encode(), CALLER, now)
        ua.answer(f"call{n}@192.0.2.10", b"v=0\r\n", now)
    for n in range(args.transactions):
        ua.receive_datagram(OPTIONS.format(n=n).encode(), CALLER, now)
    assert ua.next_deadline() == scan(ua)
    extra = itertools.count(args.transactions)

    def one_event() -> None:
        ua.receive_datagram(OPTIONS.format(n=next(extra)).encode(), CALLER, now)
        ua.next_deadline()

    result = {
        "live_transactions": len(ua._server) + len(ua._client),
        "next_deadline_us": round(per_call_us(ua.next_deadline, args.rounds), 2),
        "scan_us": round(per_call_us(lambda: scan(ua), args.rounds), 2),
        "event_us": round(per_call_us(one_event, args.rounds), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
