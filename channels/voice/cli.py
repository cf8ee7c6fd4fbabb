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
    )
