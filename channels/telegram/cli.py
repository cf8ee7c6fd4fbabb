"""``rexian telegram webhook set|info|delete``: register the hub's webhook with the Bot API.

``set`` tells Telegram to deliver updates to ``<public URL>/webhooks/telegram/<path>`` (the path derived from the
token, :func:`channels.telegram.webhook.webhook_path`) with the secret token the webhook checks. Telegram only
calls HTTPS URLs, so ``--public-url`` must be ``https://`` unless ``--telegram-base-url`` points at a self-hosted
Bot API server. Token, secret and base URL come from the same flags and environment variables as ``rexian serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from urllib.parse import urlsplit

from telegram import Bot
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from channels.telegram.ingest import ALLOWED_UPDATES
from channels.telegram.webhook import webhook_path

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rexian telegram ...``."""
    env = os.environ.get
    telegram = sub.add_parser("telegram", help="the Telegram channel's webhook registration")
    actions = telegram.add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    webhook = actions.add_parser("webhook", help="register, show or remove the hub's webhook at the Bot API")
    which = webhook.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    for name, text in (
        ("set", "register <public URL>/webhooks/telegram/<path> with the secret token"),
        ("info", "show what the Bot API has registered (URL, pending updates, last error)"),
        ("delete", "remove the webhook (e.g. before --telegram-polling)"),
    ):
        action = which.add_parser(name, help=text)
        action.add_argument("--telegram-token", default=env("REXIAN_TELEGRAM_TOKEN"), help="bot token")
        action.add_argument("--telegram-base-url", default=env("REXIAN_TELEGRAM_BASE_URL"), help="Bot API base URL")
        if name == "set":
            action.add_argument("--telegram-secret", default=env("REXIAN_TELEGRAM_SECRET"), help="secret token")
            action.add_argument(
                "--public-url",
                required=True,
                help="how Telegram reaches the hub, e.g. https://rexian.example.gov.cn (no path)",
            )


def webhook_url(public_url: str, token: str, *, allow_http: bool = False) -> str:
    """The webhook URL for ``public_url``.

    Raises:
        ValueError: not an absolute http(s) URL without query, or plain http where Telegram requires https.
    """
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("--public-url must be an absolute https:// URL without query, e.g. https://host.example")
    if parts.scheme != "https" and not allow_http:
        raise ValueError("Telegram only delivers webhooks over https://")
    return f"{public_url.strip().rstrip('/')}/webhooks/telegram/{webhook_path(token)}"


async def _run(args: argparse.Namespace) -> str:
    token = args.telegram_token
    if not token:
        raise ValueError("no bot token: --telegram-token or REXIAN_TELEGRAM_TOKEN")
    kwargs = {"base_url": args.telegram_base_url} if args.telegram_base_url else {}
    request = HTTPXRequest(connect_timeout=5.0, read_timeout=15.0)
    bot = Bot(token, request=request, **kwargs)
    try:
        if args.webhook_command == "set":
            secret = args.telegram_secret or ""
            if not _SECRET.fullmatch(secret):
                raise ValueError("--telegram-secret (or REXIAN_TELEGRAM_SECRET) must be 1-256 of A-Z a-z 0-9 _ -")
            url = webhook_url(args.public_url, token, allow_http=bool(args.telegram_base_url))
            await bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
            return f"webhook set: {url}"
        if args.webhook_command == "delete":
            await bot.delete_webhook()
            return "webhook deleted"
        info = await bot.get_webhook_info()
        lines = [f"url: {info.url or '(none)'}", f"pending updates: {info.pending_update_count}"]
        if info.last_error_message:
            lines.append(f"last error: {info.last_error_message} ({info.last_error_date})")
        return "\n".join(lines)
    finally:
        await request.shutdown()


def run(args: argparse.Namespace) -> int:
    """Run ``rexian telegram webhook <action>``; prints the outcome, returns the exit status."""
    try:
        print(asyncio.run(_run(args)))
    except ValueError as exc:
        raise SystemExit(f"rexian telegram: {exc}") from None
    except TelegramError as exc:
        message = str(exc).replace(args.telegram_token or "\0", "<token>")
        raise SystemExit(f"rexian telegram: the Bot API refused: {message}") from None
    return 0
