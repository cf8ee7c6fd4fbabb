"""knowledge_base package."""

from pathlib import Path

from hub.i18n import register_domain

register_domain("knowledge_base", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)
