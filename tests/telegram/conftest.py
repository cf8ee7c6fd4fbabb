"""Fixtures of the Telegram tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.telegram.fake_bot_api import FakeBotApi


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    """A local Bot API server (Telegram's cloud cannot be reached from here)."""
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()
