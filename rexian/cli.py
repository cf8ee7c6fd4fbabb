"""The ``rexian`` command."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import errno
import getpass
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from channels.email import cli as email_cli
from channels.sms.config import SmsSettings
from channels.telegram import cli as telegram_cli
from channels.voice import check_cli as voice_check_cli
from channels.voice import cli as voice_cli
from hub.dialogue.jurisdiction import Directory, DirectoryError
from hub.localtime import DEFAULT_TIMEZONE, UnknownTimezone, load_zone
from hub.logsafe import setup_logging
from hub.web.api_v1 import cli as api_token_cli
from rexian.settings import Settings, default_data_dir
from routing.routing_settings import RoutingConfigError, RoutingSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("rexian")


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (embedded SQLite store, recordings); default $REXIAN_DATA_DIR or "
        "~/.local/share/rexian; created and migrated automatically",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REXIAN_DATABASE_URL"),
        help="SQLAlchemy async URL, e.g. postgresql+asyncpg://user:pw@host/db (default: SQLite in the data dir; "
        "env REXIAN_DATABASE_URL)",
    )


def _sms_args(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--smpp-host", default=env("REXIAN_SMPP_HOST"), help="SMSC host: enables the SMS channel (env REXIAN_SMPP_HOST)"
    )
    parser.add_argument(
        "--smpp-port", type=int, default=int(env("REXIAN_SMPP_PORT") or 2775), help="SMSC port (default 2775)"
    )
    parser.add_argument("--smpp-system-id", default=env("REXIAN_SMPP_SYSTEM_ID") or "rexian", help="SMPP system_id")
    parser.add_argument(
        "--smpp-password", default=env("REXIAN_SMPP_PASSWORD") or "", help="SMPP password (env REXIAN_SMPP_PASSWORD)"
    )
    parser.add_argument(
        "--sms-source", default=env("REXIAN_SMS_SOURCE") or "12319", help="sender short code (default 12319)"
    )
    parser.add_argument(
        "--sms-rate",
        type=float,
        default=float(env("REXIAN_SMS_RATE") or 50),
        help="at most this many submit_sm per second (default 50; env REXIAN_SMS_RATE)",
    )


def _sms_settings(args: argparse.Namespace) -> SmsSettings | None:
    if not getattr(args, "smpp_host", None):
        return None
    return SmsSettings(
        host=args.smpp_host,
        port=args.smpp_port,
        system_id=args.smpp_system_id,
        password=args.smpp_password,
        source_addr=args.sms_source,
        rate_per_s=args.sms_rate,
    )


def _timezone(name: str) -> str:
    """``--timezone``: an IANA zone name known to this system (argparse reports anything else, exit 2)."""
    try:
        load_zone(name)
    except UnknownTimezone as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="rexian",
        description="Rexian (热线): omnichannel citizen service hotline hub (12319 / 12345).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub with every channel it can start")
    _store_args(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    serve.add_argument("--demo", action="store_true", help="load the demo data when the store is empty")
    serve.add_argument(
        "--rasa-url",
        default=os.environ.get("REXIAN_RASA_URL"),
        help="use a running Rasa server (env REXIAN_RASA_URL); default: start one from nlu/",
    )
    serve.add_argument("--no-rasa", action="store_true", help="do not start Rasa: every conversation goes to agents")
    serve.add_argument("--nlu-timeout", type=float, default=2.0, help="seconds to wait for Rasa (default 2)")
    serve.add_argument(
        "--timezone",
        type=_timezone,
        default=os.environ.get("REXIAN_TIMEZONE") or DEFAULT_TIMEZONE,
        metavar="ZONE",
        help=f"the city's IANA time zone: pages, APIs, notices and exports show its local time and typed times "
        f"are read in it (default {DEFAULT_TIMEZONE}; env REXIAN_TIMEZONE)",
    )
    serve.add_argument(
        "--emergency-sign-minutes",
        type=int,
        default=int(os.environ.get("REXIAN_EMERGENCY_SIGN_MINUTES") or 30),
        metavar="N",
        help="an urgent (抢险) order not signed for this many minutes after dispatch escalates, unless its unit "
        "sets its own limit at /admin/units (default 30; env REXIAN_EMERGENCY_SIGN_MINUTES)",
    )
    serve.add_argument(
        "--routing-config",
        type=Path,
        default=os.environ.get("REXIAN_ROUTING_CONFIG") or None,
        metavar="FILE",
        help="a TOML file with the queues, strategies, capacity and break reasons of agent routing "
        "(see docs/routing.md; default: one queue for every channel; env REXIAN_ROUTING_CONFIG)",
    )
    serve.add_argument(
        "--referral-directory",
        type=Path,
        default=os.environ.get("REXIAN_REFERRAL_DIRECTORY") or None,
        metavar="FILE",
        help="a YAML file with the hotlines and departments out-of-scope requests are referred to, by topic "
        "(format: hub/dialogue/referrals.yaml, the default; env REXIAN_REFERRAL_DIRECTORY)",
    )
    serve.add_argument(
        "--no-prompt-check",
        action="store_true",
        default=os.environ.get("REXIAN_PROMPT_CHECK", "on").lower() in ("off", "0", "no", "false"),
        help="do not check the intelligibility of a saved IVR flow's prompts (env REXIAN_PROMPT_CHECK=off)",
    )
    serve.add_argument(
        "--telegram-token",
        default=os.environ.get("REXIAN_TELEGRAM_TOKEN"),
        help="Telegram bot token: enables the Telegram channel (env REXIAN_TELEGRAM_TOKEN)",
    )
    serve.add_argument(
        "--telegram-secret",
        default=os.environ.get("REXIAN_TELEGRAM_SECRET"),
        help="secret token Telegram sends with each webhook call (env REXIAN_TELEGRAM_SECRET)",
    )
    serve.add_argument(
        "--telegram-polling",
        action="store_true",
        default=os.environ.get("REXIAN_TELEGRAM_POLLING", "") in ("1", "true", "yes"),
        help="fetch updates with getUpdates instead of the webhook (development; env REXIAN_TELEGRAM_POLLING=1)",
    )
    serve.add_argument(
        "--telegram-base-url",
        default=os.environ.get("REXIAN_TELEGRAM_BASE_URL"),
        help="Bot API base URL (env REXIAN_TELEGRAM_BASE_URL; default https://api.telegram.org/bot)",
    )
    _sms_args(serve)
    email_cli.add_arguments(serve)
    voice_cli.add_arguments(serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    _store_args(migrate)

    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    demo_load = demo_sub.add_parser("load", help="load the demo data into an empty store")
    _store_args(demo_load)

    user = sub.add_parser("user", help="staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_create = user_sub.add_parser("create", help="create an account (password read from stdin or prompted)")
    _store_args(user_create)
    user_create.add_argument("username")
    user_create.add_argument(
        "--role",
        required=True,
        choices=["agent", "supervisor", "leader", "department", "knowledge_manager", "admin"],
    )
    user_create.add_argument("--display-name", default=None)
    user_create.add_argument("--unit", default=None, help="unit code (departments: their unit)")
    sip_secret = user_sub.add_parser(
        "sip-secret", help="give an agent a new softphone (SIP) secret; prints it as the last line (shown once)"
    )
    _store_args(sip_secret)
    sip_secret.add_argument("username")
    sip_secret.add_argument("--realm", default=None, help="Digest realm (default: the voice channel's, 'rexian')")
    api_token_cli.add_parser(user_sub, _store_args)

    nlu = sub.add_parser("nlu", help="the Rasa NLU service")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True, metavar="ACTION")
    nlu_sub.add_parser("setup", help="create the Rasa venv (Python 3.10, pinned constraints) if missing")
    nlu_sub.add_parser("train", help="train the Rasa model if its training data changed (cached by hash)")
    from nlu import evaluate as nlu_evaluate

    nlu_evaluate.add_arguments(
        nlu_sub.add_parser("eval", help="score the NLU on a labelled JSONL file; one JSON report on stdout")
    )

    from knowledge_base import evaluate as kb_evaluate

    kb_evaluate.add_parser(sub)

    open311 = sub.add_parser("open311", help="the Open311 GeoReport v2 endpoint")
    open311_sub = open311.add_subparsers(dest="open311_command", required=True, metavar="ACTION")
    key = open311_sub.add_parser("key", help="API keys of Open311 clients")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    key_create = key_sub.add_parser("create", help="create an API key; prints it as the last line (shown once)")
    _store_args(key_create)
    key_create.add_argument("name", help="who the key is for (e.g. the app's name)")
    telegram_cli.add_parser(sub)
    voice_check_cli.add_parser(sub)
    return parser


def _routing_settings(path: Path | str | None) -> RoutingSettings:
    if path is None:
        return RoutingSettings()
    try:
        return RoutingSettings.load(Path(path))
    except RoutingConfigError as exc:
        raise SystemExit(f"rexian: --routing-config: {exc}") from exc


def _referral_directory(path: Path | str | None) -> Path | None:
    """The ``--referral-directory`` file, validated now so a bad file stops ``rexian serve`` with a clear error."""
    if path is None:
        return None
    try:
        Directory.load(Path(path))
    except DirectoryError as exc:
        raise SystemExit(f"rexian: --referral-directory: {exc}") from exc
    return Path(path)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        data_dir=(args.data_dir or default_data_dir()).expanduser(),
        database_url=args.database_url,
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8080),
        rasa_url=getattr(args, "rasa_url", None),
        start_rasa=not getattr(args, "no_rasa", False),
        nlu_timeout=getattr(args, "nlu_timeout", 2.0),
        timezone=getattr(args, "timezone", None) or DEFAULT_TIMEZONE,
        prompt_check=not getattr(args, "no_prompt_check", False),
        emergency_sign_minutes=getattr(args, "emergency_sign_minutes", 30),
        routing=_routing_settings(getattr(args, "routing_config", None)),
        referral_directory=_referral_directory(getattr(args, "referral_directory", None)),
        demo=getattr(args, "demo", False),
        telegram_token=getattr(args, "telegram_token", None),
        telegram_secret=getattr(args, "telegram_secret", None),
        telegram_base_url=getattr(args, "telegram_base_url", None),
        telegram_polling=getattr(args, "telegram_polling", False),
        sms=_sms_settings(args),
        email=email_cli.settings_from(args),
        voice=voice_cli.settings_from(args),
    )


class PortInUseError(Exception):
    """A port ``rexian serve`` must bind is taken; the message names it and the option that changes it."""


def _port_taken(host: str, port: int, kind: socket.SocketKind) -> bool:
    """Whether binding ``host:port`` (TCP or UDP) fails with EADDRINUSE, as the server's own bind would."""
    try:
        addresses = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # not a port question: the server's own bind reports it
    for family, _, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            if kind == socket.SOCK_STREAM:  # as asyncio's create_server: sockets in TIME_WAIT do not count
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def check_ports(settings: Settings) -> None:
    """Make sure the HTTP port and the SIP port (UDP and TCP) are free, before anything is started.

    Raises:
        PortInUseError: The first taken port, e.g. ``HTTP port 8080 on 127.0.0.1 is already in use; choose
            another with --port``.
    """
    wanted = [(settings.host, settings.port, socket.SOCK_STREAM, "HTTP port", "", "--port")]
    voice = settings.voice
    if voice is not None and voice.sip_port:  # 0: any free port
        wanted.append((voice.sip_host, voice.sip_port, socket.SOCK_DGRAM, "SIP port", " (UDP)", "--sip-port"))
        if voice.tcp:
            wanted.append((voice.sip_host, voice.sip_port, socket.SOCK_STREAM, "SIP port", " (TCP)", "--sip-port"))
    for host, port, kind, what, proto, flag in wanted:
        if port and _port_taken(host, port, kind):
            raise PortInUseError(f"{what} {port}{proto} on {host} is already in use; choose another with {flag}")


def _serve(settings: Settings) -> None:
    """Run the hub until SIGINT/SIGTERM; no child process (its Rasa server) outlives it, whatever ends it.

    Raises:
        PortInUseError: A port is taken (checked before the store is opened and Rasa is spawned).
    """
    check_ports(settings)  # first: a taken port starts nothing, not even the imports that log

    from aiohttp import web

    from hub.heap import freeze_startup_heap
    from nlu import runtime
    from rexian.app import build_hub

    async def make_app() -> web.Application:
        hub = await build_hub(settings)
        log.info("serving on http://%s:%d (data dir %s)", settings.host, settings.port, settings.data_dir)

        async def freeze(_app: web.Application) -> None:  # after every other start-up hook (hub/heap.py)
            freeze_startup_heap()

        hub.app.on_startup.append(freeze)
        return hub.app

    # aiohttp does not run the cleanup hooks when start-up is cut short (a signal or an exception in a start-up
    # hook), so the Rasa server is also stopped here, at exit, and by the kernel if the hub dies (runtime.py).
    atexit.register(runtime.stop_all_servers)
    try:
        web.run_app(make_app(), host=settings.host, port=settings.port, print=None, access_log=None)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        check_ports(settings)  # taken between the check and the bind: name the port when it can be told
        raise PortInUseError(f"an address is already in use ({exc}); choose other ports") from None
    finally:
        runtime.stop_all_servers()


async def _migrate(settings: Settings) -> None:
    from rexian.app import prepare_store

    engine = await prepare_store(settings)
    await engine.dispose()


async def _demo_load(settings: Settings) -> None:
    from hub.storage.users import UserStore
    from rexian.app import prepare_store
    from rexian.demo import load_demo

    engine = await prepare_store(settings)
    try:
        loaded = await load_demo(engine, UserStore(engine))
        print("demo data loaded" if loaded else "store not empty; nothing loaded")
    finally:
        await engine.dispose()


async def _user_create(settings: Settings, args: argparse.Namespace) -> None:
    from hub.models import Role
    from hub.storage.users import UserStore
    from rexian.app import prepare_store

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise SystemExit("password must have at least 8 characters")
    engine = await prepare_store(settings)
    try:
        user = await UserStore(engine).create(
            args.username, password, args.display_name or args.username, Role(args.role), args.unit
        )
        print(f"created user {user.username} ({user.role.value})")
    finally:
        await engine.dispose()


async def _user_sip_secret(settings: Settings, username: str, realm: str | None) -> None:
    import sqlalchemy as sa

    from channels.voice.config import VoiceSettings
    from channels.voice.sip_accounts import SipAccountStore
    from hub.storage.schema import users
    from rexian.app import prepare_store

    realm = realm or (settings.voice or VoiceSettings()).realm
    if len(realm) > 128 or not realm.isprintable() or '"' in realm:
        raise SystemExit("a realm is at most 128 printable characters without quotes")
    engine = await prepare_store(settings)
    try:
        async with engine.connect() as conn:
            user_id = await conn.scalar(sa.select(users.c.id).where(users.c.username == username, users.c.active))
        if user_id is None:
            raise SystemExit(f"no active user {username!r}")
        account, secret = await SipAccountStore(engine).reset(int(user_id), realm)
        print(f"new softphone secret for SIP user {account.sip_user} (realm {account.realm}); only its digests are")
        print("stored, so give it to the agent now:")
        print(secret)
    finally:
        await engine.dispose()


async def _open311_key_create(settings: Settings, name: str) -> None:
    from channels.open311.store import Open311Store
    from rexian.app import prepare_store

    engine = await prepare_store(settings)
    try:
        try:
            key, secret = await Open311Store(engine).create_key(name)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        print(f"created Open311 API key {key.id} for {key.name!r}; only its hash is stored, so keep it now:")
        print(secret)
    finally:
        await engine.dispose()


async def _open_store(data_dir: Path | None, database_url: str | None) -> AsyncEngine:
    """A migrated store of ``data_dir`` (for commands of channel packages, which may not import rexian/)."""
    from rexian.app import prepare_store

    settings = Settings(data_dir=(data_dir or default_data_dir()).expanduser(), database_url=database_url)
    return await prepare_store(settings)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rexian`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    if args.command == "serve":
        try:
            settings = _settings(args)
        except ValueError as exc:
            parser.error(str(exc))
        try:
            _serve(settings)
        except PortInUseError as exc:
            print(f"rexian: {exc}", file=sys.stderr)
            return 1
    elif args.command == "migrate":
        asyncio.run(_migrate(_settings(args)))
    elif args.command == "demo":
        asyncio.run(_demo_load(_settings(args)))
    elif args.command == "user" and args.user_command == "token":
        return api_token_cli.run(args, _open_store)
    elif args.command == "user" and args.user_command == "sip-secret":
        asyncio.run(_user_sip_secret(_settings(args), args.username, args.realm))
    elif args.command == "user":
        asyncio.run(_user_create(_settings(args), args))
    elif args.command == "open311":
        asyncio.run(_open311_key_create(_settings(args), args.name))
    elif args.command == "telegram":
        return telegram_cli.run(args)
    elif args.command == "voice":
        return voice_check_cli.run(args, _open_store)
    elif args.command == "kb":
        from knowledge_base import evaluate as kb_evaluate
        from rexian.demo import prepare_taxonomy_store

        return kb_evaluate.run(args, prepare_taxonomy_store)
    elif args.command == "nlu":
        from nlu import runtime

        if args.nlu_command == "setup":
            print(runtime.ensure_venv())
        elif args.nlu_command == "eval":
            from nlu import evaluate as nlu_evaluate

            return nlu_evaluate.run(args)
        else:
            print(runtime.ensure_model())
    return 0


if __name__ == "__main__":
    sys.exit(main())
