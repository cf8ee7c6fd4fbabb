"""``rexian serve`` options of the voice channel (``--sip-port`` ...) and the settings they make."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .config import VoiceSettings


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
        help="vosk model directory for speech input (env REXIAN_ASR_MODEL; without it callers use keys only)",
    )
    group.add_argument("--no-voice", action="store_true", help="do not start the SIP endpoint")


def settings_from(args: argparse.Namespace) -> VoiceSettings | None:
    """The voice settings of ``rexian serve`` (None with ``--no-voice`` or for other commands)."""
    if not hasattr(args, "sip_port") or getattr(args, "no_voice", False):
        return None
    if not 0 <= args.sip_port <= 65535:
        raise SystemExit(f"rexian: --sip-port must be 0-65535, not {args.sip_port}")
    return VoiceSettings(
        sip_host=args.sip_host,
        sip_port=args.sip_port,
        public_host=args.sip_public_host,
        realm=args.sip_realm,
        asr_model_dir=args.asr_model,
    )
