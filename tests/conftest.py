"""Shared fixtures: real servers are started once per test session by the plugins below."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.browser",
    "tests.fixtures.rasa",
    "tests.fixtures.hub",
    "tests.fixtures.smsc",
    "tests.fixtures.mail",
    "tests.fixtures.softphone",
    "tests.fixtures.telegram",
    "tests.fixtures.whisper",
]
