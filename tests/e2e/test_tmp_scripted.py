from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_chat_browser import (  # noqa: F401
    test_citizen_and_agent_in_the_browser,
    test_messages_typed_while_disconnected_are_delivered_after_reconnect,
)
from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub


@pytest.fixture
async def rasa_hub(tmp_path: Path, scripted_nlu: ScriptedNlu) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path / "data", nlu=scripted_nlu) as running:
        yield running
