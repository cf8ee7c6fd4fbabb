"""Command-line flags of the email channel (``rexian serve``); each has a ``REXIAN_IMAP_*``/``REXIAN_SMTP_*`` env."""

from __future__ import annotations

import argparse
import os

from channels.email.config import EmailSettings


def _port(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the email flags to ``parser``."""
    env = os.environ.get
    group = parser.add_argument_group("email channel (enabled by --imap-host)")
    group.add_argument("--imap-host", default=env("REXIAN_IMAP_HOST"), help="IMAP server (env REXIAN_IMAP_HOST)")
    group.add_argument(
        "--imap-port",
        type=int,
        default=_port("REXIAN_IMAP_PORT", 993),
        help="IMAP port (default 993, implicit TLS; other ports speak plain IMAP unless REXIAN_IMAP_SSL=1)",
    )
    group.add_argument("--imap-user", default=env("REXIAN_IMAP_USER"), help="IMAP login (env REXIAN_IMAP_USER)")
    group.add_argument(
        "--imap-password", default=env("REXIAN_IMAP_PASSWORD"), help="IMAP password (env REXIAN_IMAP_PASSWORD)"
    )
    group.add_argument("--smtp-host", default=env("REXIAN_SMTP_HOST"), help="SMTP server (env REXIAN_SMTP_HOST)")
    group.add_argument(
        "--smtp-port",
        type=int,
        default=_port("REXIAN_SMTP_PORT", 587),
        help="SMTP port (default 587; 465 is implicit TLS, else STARTTLS when offered)",
    )
    group.add_argument("--mail-from", default=env("REXIAN_MAIL_FROM"), help="our address (env REXIAN_MAIL_FROM)")


def settings_from(args: argparse.Namespace) -> EmailSettings | None:
    """The email settings, or None when ``--imap-host`` is not given (channel off).

    SMTP login (``REXIAN_SMTP_USER``/``REXIAN_SMTP_PASSWORD``; unset: the IMAP login; set but empty: no AUTH) and
    TLS overrides
    (``REXIAN_IMAP_SSL=0|1``, ``REXIAN_SMTP_TLS=auto|ssl|starttls|none``) come from the environment only.

    Raises:
        ValueError: the channel is enabled but incomplete (e.g. no ``--mail-from``).
    """
    host = getattr(args, "imap_host", None)
    if not host:
        return None
    env = os.environ.get
    imap_ssl = env("REXIAN_IMAP_SSL")
    smtp_user = env("REXIAN_SMTP_USER", args.imap_user) or None  # set but empty: no SMTP AUTH
    return EmailSettings(
        imap_host=host,
        imap_port=args.imap_port,
        imap_user=args.imap_user or "",
        imap_password=args.imap_password or "",
        imap_ssl=None if imap_ssl is None else imap_ssl == "1",
        smtp_host=args.smtp_host or host,
        smtp_port=args.smtp_port,
        smtp_user=smtp_user,
        smtp_password=env("REXIAN_SMTP_PASSWORD") or (args.imap_password if smtp_user == args.imap_user else None),
        smtp_tls=env("REXIAN_SMTP_TLS") or "auto",
        mail_from=args.mail_from or "",
    )
