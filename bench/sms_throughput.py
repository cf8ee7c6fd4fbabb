"""SMS throughput through the hub against the SMSC simulator, with a bare aiosmpplib ESME as the anchor.

Starts the test SMSC simulator (``tests/peers/smsc/smsc.js``, the npm ``smpp`` server; run ``npm ci`` there first)
and measures, in one run:

- submit anchor: a bare aiosmpplib ``ESME`` submitting N single-part messages through its in-memory broker
  until N ``submit_sm_resp`` are back (no storage);
- hub submit: N outbound messages stored in N/10 SMS conversations and delivered by the hub's durable outbox and
  SMPP session (segmenting, one row per accepted segment, receipts tracked) until the SMSC has all N;
- hub bulk: a 群发 job to N numbers until every recipient is ``sent``;
- deliver anchor: N deliver_sm pipelined by the simulator to the bare ESME until every deliver_sm_resp is back;
- hub deliver: the same N deliver_sm to the hub, each acknowledged only once stored (bot turns run meanwhile).

Prints one JSON object. ``python bench/sms_throughput.py [--messages 500]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiosmpplib import ESME, PhoneNumber, SubmitSm
from aiosmpplib.hook import AbstractHook
from aiosmpplib.protocol import DeliverSm, SmppMessage, SubmitSmResp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.sms.bulk_web import RUNNER, STORE  # noqa: E402
from channels.sms.config import SmsSettings  # noqa: E402
from hub.events import MessageStored  # noqa: E402
from hub.models import SenderKind  # noqa: E402
from rexian.app import build_hub  # noqa: E402
from rexian.settings import Settings  # noqa: E402
from tests.fixtures.hub import DEFAULT_RULES, ScriptedNlu  # noqa: E402

PEER = ROOT / "tests" / "peers" / "smsc"
SYSTEM_ID, PASSWORD = "bench", "benchpw"
log = logging.getLogger("bench.sms")
BATCH = 50
TEXT = "您反映的朝阳路12号路灯问题已受理，工单号20261126001。"


class Counter(AbstractHook):
    """Counts submit_sm_resp and (non-receipt) deliver_sm seen by the bare ESME."""

    def __init__(self) -> None:
        self.submitted = 0
        self.delivered = 0

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSmResp):
            self.submitted += 1
        elif isinstance(smpp_message, DeliverSm) and not smpp_message.is_receipt():
            self.delivered += 1

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        return None


class Simulator:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", "smsc.js", SYSTEM_ID, PASSWORD],
            cwd=PEER,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ports = json.loads(self.proc.stdout.readline())
        self.smpp_port, self.control = ports["smpp"], f"http://127.0.0.1:{ports['control']}"

    async def call(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        async with aiohttp.ClientSession() as http, http.request(method, self.control + path, json=body) as resp:
            return await resp.json()

    async def wait_messages(self, n: int) -> None:
        while len((await self.call("/state", method="GET"))["messages"]) < n:  # noqa: ASYNC110 - polls a peer
            await asyncio.sleep(0.05)

    async def wait_bound(self) -> None:
        while (await self.call("/state", method="GET"))["bound"] < 1:  # noqa: ASYNC110 - polls a peer
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def numbers(n: int, base: int = 13900000000) -> list[str]:
    return [str(base + i) for i in range(n)]


async def anchor(sim: Simulator, n: int) -> dict[str, float]:
    hook = Counter()
    esme = ESME("127.0.0.1", sim.smpp_port, SYSTEM_ID, PASSWORD, hook=hook, log_level="ERROR")
    task = asyncio.create_task(esme.start())
    await sim.wait_bound()
    start = time.perf_counter()
    for number in numbers(n):
        await esme.broker.enqueue(
            SubmitSm(short_message=TEXT, source=PhoneNumber("12319"), destination=PhoneNumber(number))
        )
    while hook.submitted < n:  # noqa: ASYNC110 - counted by the hook
        await asyncio.sleep(0.005)
    submit_s = time.perf_counter() - start
    result = await sim.call(
        "/deliver_many", {"messages": [{"source": f"1380000{i % 50:04d}", "text": "你好"} for i in range(n)]}
    )
    log.info("anchor: deliver %s", result)
    with contextlib.suppress(TimeoutError):  # stop() may wait for a start loop that is sleeping
        await asyncio.wait_for(esme.stop(), 2.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return {"submit_per_s": round(n / submit_s, 1), "deliver_per_s": round(result["ok"] / (result["ms"] / 1000), 1)}


async def _outbox_sent(hub: Any, n: int) -> None:
    while True:
        assert hub.outbox is not None
        if (await hub.outbox.health("sms"))["sent"] >= n:
            return
        await asyncio.sleep(0.02)


async def through_hub(sim: Simulator, n: int, data_dir: Path) -> dict[str, float]:
    sms = SmsSettings(host="127.0.0.1", port=sim.smpp_port, system_id=SYSTEM_ID, password=PASSWORD, rate_per_s=100_000)
    settings = Settings(data_dir=data_dir, demo=True, start_rasa=False, sms=sms)
    hub = await build_hub(settings, nlu_service=ScriptedNlu(list(DEFAULT_RULES)))
    runner = web.AppRunner(hub.app)
    await runner.setup()  # runs on_startup: binds, starts the outbox
    try:
        await sim.wait_bound()
        messages = [{"source": f"1350000{i % 50:04d}", "text": "你好"} for i in range(n)]
        result = await asyncio.wait_for(sim.call("/deliver_many", {"messages": messages}), 300)
        await hub.service.drain()
        store = hub.service.store
        conversations = [await store.create("sms", external_ref=num) for num in numbers(max(1, n // 10), 13700000000)]
        await sim.call("/reset")
        start = time.perf_counter()
        for i in range(n):
            conversation = conversations[i % len(conversations)]
            message, _ = await store.add_message(
                conversation.id, direction="out", sender_kind=SenderKind.SYSTEM, text=TEXT
            )
            await hub.service.bus.publish(MessageStored(conversation, message))
            if i % BATCH == BATCH - 1:  # hub.outbox reads 100 pending rows per round and then waits for a wake
                await asyncio.wait_for(_outbox_sent(hub, i + 1), 300)
        await asyncio.wait_for(_outbox_sent(hub, n), 300)
        submit_s = time.perf_counter() - start
        log.info("hub: %d submits in %.2f s", n, submit_s)

        sms_store = hub.app[STORE]
        await sim.call("/reset")
        start = time.perf_counter()
        job_id = await sms_store.create_job(1, TEXT, numbers(n, 13600000000))
        hub.app[RUNNER].wake.set()
        while True:
            job = await sms_store.job(job_id)
            assert job is not None
            if job.counts["pending"] == 0:
                break
            await asyncio.sleep(0.02)
        bulk_s = time.perf_counter() - start
        log.info("hub: bulk of %d in %.2f s", n, bulk_s)

    except BaseException:
        log.exception("hub run failed")
        raise
    finally:
        await runner.cleanup()
    return {
        "submit_per_s": round(n / submit_s, 1),
        "bulk_per_s": round(n / bulk_s, 1),
        "deliver_stored_per_s": round(result["ok"] / (result["ms"] / 1000), 1),
        "deliver_ok": result["ok"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    log.setLevel(logging.INFO)
    sim = Simulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:  # the hub first: the bare ESME leaves tasks behind
            hub = await through_hub(sim, args.messages, Path(tmp))
        await sim.call("/reset")
        bare = await anchor(sim, args.messages)
    finally:
        sim.close()
    print(
        json.dumps(
            {
                "messages": args.messages,
                "anchor_bare_aiosmpplib": bare,
                "hub": hub,
                "hub_vs_anchor": {
                    "submit": round(hub["submit_per_s"] / bare["submit_per_s"], 3),
                    "deliver": round(hub["deliver_stored_per_s"] / bare["deliver_per_s"], 3),
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
