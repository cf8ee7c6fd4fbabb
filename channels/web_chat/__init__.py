"""The citizen web chat channel (WebSocket) and its page."""

from channels.web_chat.socket import TEMPLATE_DIR, setup

__all__ = ["TEMPLATE_DIR", "setup"]
