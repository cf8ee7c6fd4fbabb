"""The Rasa-compatible REST channel."""

from channels.rest.webhook import setup

__all__ = ["setup"]
