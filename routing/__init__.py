"""Routing: agent queues (ACD) and dispatch of work orders to departments."""

from pathlib import Path

from hub.i18n import register_domain

register_domain("routing", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)
