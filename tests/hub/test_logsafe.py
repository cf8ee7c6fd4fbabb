"""Citizen data is masked in logs."""

from __future__ import annotations

import logging

import pytest

from hub.logsafe import MaskingFilter, mask


@pytest.mark.parametrize(
    "raw,masked",
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("138-1234-5678", "138****5678"),
        ("座机 0571-88886666", "座机 0571-****6666"),
        ("mail zhang.san@example.com", "mail z***@example.com"),
        ("幸福路12号3单元502室", "幸福路*号*单元*室"),
        ("工单 202611250001 已派单", "工单 202611250001 已派单"),
    ],
)
def test_mask(raw: str, masked: str) -> None:
    assert mask(raw) == masked


def test_filter_masks_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.logsafe")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.logsafe"):
        logger.info("contact %s at %s", "13900001111", "长江路5号")
    assert "13900001111" not in caplog.text and "139****1111" in caplog.text and "长江路*号" in caplog.text


def test_request_urls_with_secrets_are_not_logged() -> None:
    """httpx would log Telegram Bot API URLs, which contain the bot token, at INFO."""
    import logging

    from hub.logsafe import setup_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging()
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
