"""Logging set-up that masks citizen data (phone numbers, e-mail addresses, house numbers)."""

from __future__ import annotations

import logging
import re
import sys

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?\d{3,4}(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
_HOUSE = re.compile(r"\d+(?=\s*(号楼|号院|号|栋|幢|单元|室|弄))")


def mask(text: str) -> str:
    """Mask phone numbers, e-mail local parts and house/building/room numbers in ``text``."""
    text = _MOBILE.sub(r"\1****\2", text)
    text = _LANDLINE.sub(r"\1-****\2", text)
    text = _EMAIL.sub(r"\1***\2", text)
    return _HOUSE.sub("*", text)


class MaskingFilter(logging.Filter):
    """Rewrites every record's message with :func:`mask` (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr through the masking filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO; Telegram's URLs contain the bot token (a secret)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
