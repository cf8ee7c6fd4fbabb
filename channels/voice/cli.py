"""``rexian serve`` options of the voice channel (``--sip-port`` ...) and the settings they make."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .config import ASR_ENGINES, VoiceSettings
from .tts_engine import ENGINE_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the voice options to ``rexian serve``."""
    env = os.environ.get
    group = parser.add_argument_group("voice (SIP)")
    group.add_argument(
        "--sip-port",
        type=int,
        default=int(env("REXIAN_SIP_PORT", "5060")),
        help="SIP port for UDP and TCP (default 5060; env REXIAN_SIP_PORT)",
    )
    group.add_argument(
        "--sip-host",
        default=env("REXIAN_SIP_HOST", "127.0.0.1"),
        help="address to bind SIP and RTP (env REXIAN_SIP_HOST)",
    )
    group.add_argument(
        "--sip-public-host",
        default=env("REXIAN_SIP_PUBLIC_HOST"),
        help="address written into SIP/SDP for peers (default: --sip-host; env REXIAN_SIP_PUBLIC_HOST)",
    )
    group.add_argument("--sip-realm", default=env("REXIAN_SIP_REALM", "rexian"), help="Digest realm of softphones")
    group.add_argument(
        "--asr-model",
        type=Path,
        default=Path(model) if (model := env("REXIAN_ASR_MODEL")) else None,
        help="vosk model directory for streaming menu recognition, e.g. vosk-model-cn (env REXIAN_ASR_MODEL)",
    )
    group.add_argument(
        "--asr-engine",
        choices=ASR_ENGINES,
        default=env("REXIAN_ASR_ENGINE", "auto"),
        help="speech input: auto (vosk menus with --asr-model, Whisper for free speech), whisper, vosk or off "
        "(env REXIAN_ASR_ENGINE)",
    )
    group.add_argument(
        "--asr-workers",
        type=int,
        default=int(workers) if (workers := env("REXIAN_ASR_WORKERS")) else None,
        help="concurrent Whisper recognitions; when all are busy callers are asked for keys (env REXIAN_ASR_WORKERS)",
    )
    group.add_argument(
        "--tts-engine",
        choices=ENGINE_NAMES,
        default=env("REXIAN_TTS_ENGINE", "auto"),
        help="prompt voice: auto (neural Kokoro, else espeak-ng 1.52), kokoro or espeak (env REXIAN_TTS_ENGINE)",
    )
    group.add_argument("--tts-voice", default=env("REXIAN_TTS_VOICE"), help="the engine's voice (env REXIAN_TTS_VOICE)")
    group.add_argument(
        "--tts-speed",
        type=float,
        default=float(env("REXIAN_TTS_SPEED", "1.0")),
        help="speaking speed, 0.5-2.5 (default 1.0; env REXIAN_TTS_SPEED)",
    )
    group.add_argument(
        "--sip-trunk",
        default=env("REXIAN_SIP_TRUNK"),
        help="outbound SIP trunk for agents' call-backs, host:port or sip:host:port (env REXIAN_SIP_TRUNK; "
        "default: none, call-backs are off)",
    )
    group.add_argument(
        "--sip-trunk-caller-id",
        default=env("REXIAN_SIP_TRUNK_CALLER_ID", "12319"),
        help="caller ID of call-backs, the hotline number (default 12319; env REXIAN_SIP_TRUNK_CALLER_ID)",
    )
    group.add_argument(
        "--sip-trunk-user",
        default=env("REXIAN_SIP_TRUNK_USER"),
        help="Digest user for the trunk (env REXIAN_SIP_TRUNK_USER)",
    )
    group.add_argument(
        "--sip-trunk-password",
        default=env("REXIAN_SIP_TRUNK_PASSWORD"),
        help="Digest password for the trunk (env REXIAN_SIP_TRUNK_PASSWORD)",
    )
    group.add_argument(
        "--callback-hourly-cap",
        type=int,
        default=int(env("REXIAN_CALLBACK_HOURLY_CAP", "20")),
        help="call-backs one agent may start per hour (default 20; env REXIAN_CALLBACK_HOURLY_CAP)",
    )
    group.add_argument("--no-voice", action="store_true", help="do not start the SIP endpoint")


def settings_from(args: argparse.Namespace) -> VoiceSettings | None:
    """The voice settings of ``rexian serve`` (None with ``--no-voice`` or for other commands)."""
    if not hasattr(args, "sip_port") or getattr(args, "no_voice", False):
        return None
    if not 0 <= args.sip_port <= 65535:
        raise SystemExit(f"rexian: --sip-port must be 0-65535, not {args.sip_port}")
    if args.asr_workers is not None and not 1 <= args.asr_workers <= 64:
        raise SystemExit(f"rexian: --asr-workers must be 1-64, not {args.asr_workers}")
    if not 0.5 <= args.tts_speed <= 2.5:
        raise SystemExit(f"rexian: --tts-speed must be between 0.5 and 2.5, not {args.tts_speed}")
    if not 1 <= args.callback_hourly_cap <= 10000:
        raise SystemExit(f"rexian: --callback-hourly-cap must be 1-10000, not {args.callback_hourly_cap}")
    if args.sip_trunk:
        from .trunk import TrunkError, parse_trunk

        try:
            parse_trunk(args.sip_trunk)
        except TrunkError as exc:
            raise SystemExit(f"rexian: --sip-trunk: {exc}") from None
    return VoiceSettings(
        sip_host=args.sip_host,
        sip_port=args.sip_port,
        public_host=args.sip_public_host,
        realm=args.sip_realm,
        asr_model_dir=args.asr_model,
        asr_engine=args.asr_engine,
        asr_workers=args.asr_workers,
        tts_engine=args.tts_engine,
        tts_voice=args.tts_voice,
        tts_speed=args.tts_speed,
        trunk=args.sip_trunk or None,
        trunk_caller_id=args.sip_trunk_caller_id,
        trunk_user=args.sip_trunk_user or None,
        trunk_password=args.sip_trunk_password,
        callback_hourly_cap=args.callback_hourly_cap,
    )
