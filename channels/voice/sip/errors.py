"""Typed errors of the SIP core: malformed input raises :class:`SipParseError` and nothing else."""

from __future__ import annotations

from enum import StrEnum


class ParseErrorReason(StrEnum):
    """Why a SIP message was rejected; stable values, usable in logs and metrics."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NO_HEADER_END = "no_header_end"
    BAD_START_LINE = "bad_start_line"
    BAD_VERSION = "bad_version"
    BAD_METHOD = "bad_method"
    BAD_REQUEST_URI = "bad_request_uri"
    BAD_STATUS = "bad_status"
    HEADER_LINE_TOO_LONG = "header_line_too_long"
    TOO_MANY_HEADERS = "too_many_headers"
    BAD_HEADER = "bad_header"
    MISSING_HEADER = "missing_header"
    DUPLICATE_HEADER = "duplicate_header"
    BAD_VIA = "bad_via"
    BAD_CSEQ = "bad_cseq"
    CSEQ_METHOD_MISMATCH = "cseq_method_mismatch"
    BAD_NAME_ADDR = "bad_name_addr"
    BAD_CONTENT_LENGTH = "bad_content_length"
    BODY_TRUNCATED = "body_truncated"
    BAD_MAX_FORWARDS = "bad_max_forwards"


class SipParseError(ValueError):
    """A SIP message (or one of its headers) is malformed or exceeds a limit.

    Attributes:
        reason: the machine-readable cause.
        detail: a short human-readable explanation (never the whole input).
    """

    def __init__(self, reason: ParseErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
