"""A running hub bound to the SMSC simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channels.sms.helpers import bound, sms_settings
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub
from tests.fixtures.smsc import Smsc


@pytest.fixture
async def sms_hub(tmp_path: Path, scripted_nlu: ScriptedNlu, smsc: Smsc) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu, **sms_settings(smsc)) as running:
        await bound(running)
        yield running
