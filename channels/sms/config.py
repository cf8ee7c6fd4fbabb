"""Settings of the SMS channel (``rexian serve --smpp-host ...`` or ``REXIAN_SMPP_*``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmsSettings:
    """Where the SMSC is and how the hub talks to it.

    Attributes:
        host: SMSC host name or address.
        port: SMSC SMPP port.
        system_id: ESME system id for ``bind_transceiver`` (at most 15 characters).
        password: bind password (at most 8 characters, an SMPP 3.4 limit).
        system_type: optional system type (at most 12 characters).
        source_addr: the hotline's short code the citizen sees as sender (e.g. ``12319``).
        rate_per_s: at most this many submit_sm per second (the SMSC's contracted throughput).
        enquire_link_s: seconds of silence before an ``enquire_link`` keep-alive.
        response_timeout_s: seconds to wait for a response PDU before the link is considered dead.
        reconnect_min_s: first reconnect delay; doubles per failed attempt up to ``reconnect_max_s``.
        reconnect_max_s: longest reconnect delay.
        reassembly_timeout_s: parts of a long inbound message older than this are delivered as they are.
        dedupe_window_s: an identical deliver_sm from the same number within this window is a resend.
    """

    host: str
    port: int = 2775
    system_id: str = "rexian"
    password: str = ""
    system_type: str = ""
    source_addr: str = "12319"
    rate_per_s: float = 50.0
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    reassembly_timeout_s: float = 3600.0
    dedupe_window_s: float = 600.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("the SMS channel needs --smpp-host")
        if not 0 < self.port < 65536:
            raise ValueError(f"invalid SMPP port {self.port}")
        if not self.system_id or len(self.system_id) > 15:
            raise ValueError("--smpp-system-id must be 1-15 characters")
        if len(self.password) > 8:
            raise ValueError("--smpp-password must be at most 8 characters (SMPP 3.4)")
        if len(self.system_type) > 12:
            raise ValueError("the SMPP system type must be at most 12 characters")
        if not self.source_addr or len(self.source_addr) > 20:
            raise ValueError("--sms-source must be 1-20 characters")
        if self.rate_per_s <= 0:
            raise ValueError("--sms-rate must be positive")
        if self.enquire_link_s <= 0 or self.response_timeout_s <= 0:
            raise ValueError("SMPP timers must be positive")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("SMPP reconnect backoff must satisfy 0 < min <= max")
