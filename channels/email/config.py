"""Settings of the email channel (``rexian serve --imap-host ... --smtp-host ... --mail-from ...``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")

MIB = 1024 * 1024


@dataclass(frozen=True)
class MailLimits:
    """What an inbound mail may be; see docs/adr/0013-email-channel.md for what happens above a limit."""

    max_message_bytes: int = 10 * MIB  # larger mails are not downloaded: a note with their headers is stored
    max_parts: int = 100  # MIME parts in the whole tree (a MIME bomb has thousands)
    max_depth: int = 8  # multipart nesting
    max_attachments: int = 10  # more are dropped (named in a note)
    max_attachment_bytes: int = 5 * MIB  # a larger attachment is dropped (named in a note)


@dataclass(frozen=True)
class EmailSettings:
    """IMAP mailbox to read, SMTP server to send through, and limits.

    ``imap_ssl=None`` means implicit TLS on port 993 and plain IMAP elsewhere; ``smtp_tls`` is ``"auto"``
    (implicit TLS on 465, STARTTLS when the server offers it elsewhere), ``"ssl"``, ``"starttls"`` or ``"none"``.
    """

    imap_host: str
    imap_user: str
    imap_password: str
    smtp_host: str
    mail_from: str
    imap_port: int = 993
    imap_ssl: bool | None = None
    mailbox: str = "INBOX"
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "auto"
    timeout_s: float = 30.0
    idle_s: float = 29 * 60.0  # RFC 2177: re-issue IDLE at least every 29 minutes
    reconnect_base_s: float = 1.0  # IMAP reconnect backoff: doubles up to the max
    reconnect_max_s: float = 300.0
    limits: MailLimits = MailLimits()

    def __post_init__(self) -> None:
        if not _ADDRESS.fullmatch(self.mail_from):
            raise ValueError(f"--mail-from must be an email address, got {self.mail_from!r}")
        if self.smtp_tls not in ("auto", "ssl", "starttls", "none"):
            raise ValueError("smtp_tls must be auto, ssl, starttls or none")
        for name in ("imap_host", "imap_user", "smtp_host"):
            if not getattr(self, name):
                raise ValueError(f"the email channel needs {name.replace('_', '-')}")
        if not 0 < self.imap_port < 65536 or not 0 < self.smtp_port < 65536:
            raise ValueError("IMAP and SMTP ports must be 1-65535")

    @property
    def use_imap_ssl(self) -> bool:
        """Whether to speak IMAP over implicit TLS."""
        return self.imap_port == 993 if self.imap_ssl is None else self.imap_ssl

    @property
    def domain(self) -> str:
        """The domain of our own Message-IDs (that of the From address)."""
        return self.mail_from.rsplit("@", 1)[1].lower()
