"""Fixtures of the browser tests that need the real Rasa."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.hub import RunningHub, running_hub


@pytest.fixture
async def rasa_hub(tmp_path: Path, rasa_server: str) -> AsyncIterator[RunningHub]:
    """A demo hub whose NLU is the real Rasa server of this test session."""
    async with running_hub(tmp_path / "data", rasa_url=rasa_server, nlu_timeout=10.0) as running:
        yield running
