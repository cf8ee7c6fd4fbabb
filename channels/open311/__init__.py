"""The Open311 GeoReport v2 endpoint (JSON): third-party apps list services and file and track requests."""

from channels.open311.api import setup

__all__ = ["setup"]
