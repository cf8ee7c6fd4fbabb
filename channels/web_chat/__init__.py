"""The citizen web chat channel (WebSocket) and its page."""

from pathlib import Path

from channels.web_chat.socket import TEMPLATE_DIR, setup
from hub.i18n import register_domain

__all__ = ["TEMPLATE_DIR", "setup"]

register_domain("web_chat", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)
