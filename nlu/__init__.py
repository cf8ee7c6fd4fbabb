"""nlu package."""

from pathlib import Path

from hub.i18n import register_domain

register_domain("nlu", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)
