"""The SMPP session against the SMSC simulator (node ``smpp`` server): bind, submit, deliver, keep-alive, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiosmpplib.protocol import DeliverSm
from aiosmpplib.state import SmppCommandStatus

from channels.sms.inbound import to_part
from channels.sms.segments import split
from channels.sms.session import NotBound, SmppSession, SubmitRejected
from tests.fixtures.smsc import Smsc


async def until(check: Callable[[], Awaitable[bool]], rounds: int = 300) -> None:
    """Poll (bounded, never timed) until ``check`` holds."""
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


class Recorder:
    def __init__(self) -> None:
        self.pdus: list[DeliverSm] = []
        self.answer = SmppCommandStatus.ESME_ROK

    async def __call__(self, pdu: DeliverSm) -> SmppCommandStatus:
        self.pdus.append(pdu)
        return self.answer


@pytest.fixture
async def session(smsc: Smsc) -> AsyncIterator[tuple[SmppSession, Recorder]]:
    recorder = Recorder()
    s = SmppSession(smsc.settings(enquire_link_s=0.2), recorder)
    s.start()
    assert await s.wait_bound(5.0)
    yield s, recorder
    await s.stop()


async def test_binds_and_submits_with_message_ids(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    s, _ = session
    first = await s.submit("13812345678", split("你好", 1)[0])
    second = await s.submit("13812345678", split("hello", 2)[0])
    assert first != second
    state = await smsc.state()
    assert state["binds"] == [{"system_id": "rexian", "ok": True}]
    assert [m["text"] for m in state["messages"]] == ["你好", "hello"]
    assert [x["data_coding"] for x in state["submits"]] == [8, 0]


async def test_enquire_link_keeps_the_link_alive(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    async def enquired() -> bool:
        return int((await smsc.state())["enquireLinks"]) >= 2

    await until(enquired)
    assert session[0].state == "bound"


async def test_inbound_ucs2_and_gsm7_are_decoded(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    _, recorder = session
    assert (await smsc.deliver("8613812345678", "路灯坏了"))["statuses"] == [0]
    assert (await smsc.deliver("13812345678", "Hello @ home", encoding="SMSC_DEFAULT"))["statuses"] == [0]
    parts = [to_part(p) for p in recorder.pdus]
    assert [(p.source, p.text) for p in parts] == [("13812345678", "路灯坏了"), ("13812345678", "Hello @ home")]


async def test_deliver_sm_resp_carries_the_handler_status(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    session[1].answer = SmppCommandStatus.ESME_RX_T_APPN
    assert (await smsc.deliver("13812345678", "x"))["statuses"] == [0x64]


async def test_wrong_password_is_refused_and_retried(smsc: Smsc) -> None:
    s = SmppSession(smsc.settings(password="wrong"), Recorder())
    s.start()
    try:

        async def refused_twice() -> bool:
            return s.failures >= 2

        await until(refused_twice)
        assert s.state != "bound"
        assert "ESME_RBINDFAIL" in (s.last_error or "")
        with pytest.raises(NotBound):
            await s.submit("13812345678", split("x", 1)[0])
    finally:
        await s.stop()


async def test_rejected_submit_raises(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    await smsc.call("POST", "/config", {"submitStatus": 0x0B})  # ESME_RINVDSTADR
    with pytest.raises(SubmitRejected) as info:
        await session[0].submit("13812345678", split("x", 1)[0])
    assert not info.value.temporary


@pytest.mark.parametrize(
    "raw",
    [
        "00000005" + "00000000" * 3,  # command_length below the header size: cannot be framed
        "7fffffff" + "00000004" + "00000000" + "00000009",  # absurd length
    ],
    ids=["short-length", "huge-length"],
)
async def test_unframeable_pdu_resets_the_connection_and_rebinds(
    session: tuple[SmppSession, Recorder], smsc: Smsc, raw: str
) -> None:
    s, _ = session
    await smsc.call("POST", "/raw", {"hex": raw})

    async def rebound() -> bool:
        return s.binds >= 2 and s.state == "bound"

    await until(rebound)
    assert "unframeable" in (s.last_error or "") or s.last_error is None
    await s.submit("13812345678", split("still works", 1)[0])


async def test_malformed_deliver_sm_body_is_answered_with_an_error(
    session: tuple[SmppSession, Recorder], smsc: Smsc
) -> None:
    # deliver_sm (0x00000005) whose body is 3 bytes of garbage: no C-strings to parse
    await smsc.call("POST", "/raw", {"hex": "00000013" + "00000005" + "00000000" + "00000063" + "ffffff"})
    await smsc.deliver("13812345678", "after")
    assert [to_part(p).text for p in session[1].pdus] == ["after"]
    assert session[0].binds == 1
    answer = next(r for r in (await smsc.state())["responses"] if r["seq"] == 0x63)
    assert (answer["command"], answer["status"]) == ("deliver_sm_resp", 0x65)  # ESME_RX_P_APPN: do not resend


async def test_unknown_command_gets_generic_nack(session: tuple[SmppSession, Recorder], smsc: Smsc) -> None:
    await smsc.call("POST", "/raw", {"hex": "00000010" + "00000077" + "00000000" + "00000064"})
    await smsc.deliver("13812345678", "after")
    assert session[0].binds == 1
    assert len(session[1].pdus) == 1
    answer = next(r for r in (await smsc.state())["responses"] if r["seq"] == 0x64)
    assert (answer["command"], answer["status"]) == ("generic_nack", 3)  # ESME_RINVCMDID
