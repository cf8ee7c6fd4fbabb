"""Hub settings (from the command line and REXIAN_* environment variables)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from channels.voice.config import VoiceSettings
from hub.dialogue.engine import BotSettings
from hub.localtime import DEFAULT_TIMEZONE, CityTime
from hub.storage.engine import sqlite_url
from routing.routing_settings import RoutingSettings

if TYPE_CHECKING:
    from channels.email.config import EmailSettings
    from channels.sms.config import SmsSettings


def default_data_dir() -> Path:
    """``$REXIAN_DATA_DIR`` or ``~/.local/share/rexian``."""
    return Path(os.environ.get("REXIAN_DATA_DIR") or Path.home() / ".local" / "share" / "rexian")


@dataclass(frozen=True)
class Settings:
    """Everything ``rexian serve`` is configured with."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str | None = None
    rasa_url: str | None = None  # None: the hub starts its own Rasa server
    start_rasa: bool = True
    nlu_timeout: float = 2.0
    demo: bool = False
    secure_cookies: bool = False
    deadline_scan_seconds: float = 60.0
    outbox_retry_base_s: float = 1.0  # first retry of a failed push delivery; doubles up to the max
    outbox_retry_max_s: float = 300.0
    telegram_token: str | None = None  # None: the Telegram channel is disabled
    telegram_secret: str | None = None  # X-Telegram-Bot-Api-Secret-Token expected on webhook calls
    telegram_base_url: str | None = None  # Bot API base (default https://api.telegram.org/bot)
    telegram_base_file_url: str | None = None
    telegram_polling: bool = False  # getUpdates instead of the webhook (development machines)
    sms: SmsSettings | None = None  # None: the SMS channel is disabled
    email: EmailSettings | None = None  # None: the email channel is disabled
    voice: VoiceSettings | None = None  # None: no SIP endpoint (rexian serve starts one on --sip-port)
    bot: BotSettings = field(default_factory=BotSettings)
    timezone: str = DEFAULT_TIMEZONE  # the city's IANA zone: pages, APIs, notices and exports show its local time
    prompt_check: bool = True  # the IVR editor checks the intelligibility of a saved flow's prompts (ADR 0027)
    emergency_sign_minutes: int = 30  # 抢险: an urgent order unsigned this long escalates (units may set their own)
    routing: RoutingSettings = field(
        default_factory=RoutingSettings
    )  # queues, capacity, break reasons (--routing-config)
    referral_directory: Path | None = None  # jurisdiction: the city's hotlines by topic (None: the packaged one)

    def __post_init__(self) -> None:
        CityTime.named(self.timezone)  # an unknown zone is refused here (UnknownTimezone, a ValueError)
        if not 1 <= self.emergency_sign_minutes <= 24 * 60:
            raise ValueError("--emergency-sign-minutes must be between 1 and 1440")
        if (
            self.telegram_token
            and not self.telegram_polling
            and not (self.telegram_secret and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", self.telegram_secret))
        ):
            raise ValueError("the Telegram channel needs --telegram-secret (1-256 of A-Z a-z 0-9 _ -)")

    @property
    def city(self) -> CityTime:
        """The city's time zone, for everything that shows or parses times."""
        return CityTime.named(self.timezone)

    @property
    def db_url(self) -> str:
        """The configured database, or the embedded SQLite store in the data dir."""
        return self.database_url or sqlite_url(self.data_dir)
