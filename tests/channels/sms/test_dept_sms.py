"""Departments and citizens over SMS, through the SMSC simulator: a unit set to SMS alerts gets its alert (the
citizen's phone masked on the unit's shared phone), and an SMS closure notice never mentions a photo."""

from __future__ import annotations

import re

from hub.web.context import CTX
from tests.channels.sms.helpers import CITIZEN, conversation_of, until
from tests.fixtures.hub import RunningHub
from tests.fixtures.reply_photos import close_with_photo
from tests.fixtures.smsc import Smsc
from tests.fixtures.work_orders import register_streetlight

UNIT_PHONE = "13800000000"  # demo: 市路灯管理所 is alerted by SMS


async def test_a_unit_set_to_sms_gets_its_alert_with_the_citizens_phone_masked(sms_hub: RunningHub, smsc: Smsc) -> None:
    service = sms_hub.hub.app[CTX].orders
    assert service is not None
    order = await register_streetlight(service, phone="13912345678")

    async def alerted() -> bool:
        return bool(await smsc.texts_to(UNIT_PHONE))

    await until(alerted)
    [text] = await smsc.texts_to(UNIT_PHONE)
    assert order.number in text and "城东区幸福路12号" in text and "路灯" in text and "工作日" in text
    assert "13912345678" not in text and "139****5678" in text

    async def recorded() -> bool:
        return "alert" in [h["action"] for h in await service.store.history(order.id)]

    await until(recorded)


async def test_the_sms_closure_notice_mentions_no_photo(sms_hub: RunningHub, smsc: Smsc) -> None:
    await smsc.deliver(CITIZEN, "你好")

    async def answered() -> bool:
        return bool(await smsc.texts_to(CITIZEN))

    await until(answered)
    conversation = await conversation_of(sms_hub)
    number = await close_with_photo(sms_hub, conversation)

    async def closed() -> bool:
        return any(number in t and "已办结" in t for t in await smsc.texts_to(CITIZEN))

    await until(closed)
    [notice] = [t for t in await smsc.texts_to(CITIZEN) if number in t and "已办结" in t]
    assert "已更换灯泡，恢复照明。" in notice
    assert not re.search("照片|图片|附件", notice)
