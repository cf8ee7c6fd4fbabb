"""Configuration of the voice channel (``rexian serve --sip-port ...``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ASR_ENGINES = ("auto", "whisper", "vosk", "off")


def default_model_root() -> Path:
    """Where speech models are assembled and voices fetched: ``REXIAN_MODEL_DIR``, else the user's cache
    (``$XDG_CACHE_HOME/rexian/models``, ``~/.cache/rexian/models``); ``scripts/setup.sh`` prepares it."""
    if env := os.environ.get("REXIAN_MODEL_DIR"):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "rexian" / "models"


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """Where the SIP endpoint listens and how calls are handled.

    Attributes:
        sip_host: address the SIP (UDP and TCP) and RTP sockets bind to.
        sip_port: SIP port (0: any free port, for tests).
        public_host: address written into Via/Contact/SDP (default: ``sip_host``); the carrier's SBC and the agents'
            softphones must reach it.
        tcp: also accept SIP over TCP on the same port.
        realm: Digest realm of the agents' softphone accounts (REGISTER).
        asr_model_dir: a vosk model directory (e.g. vosk-model-cn): streaming recognition of menu phrases.
        asr_engine: ``auto`` (menus by vosk when ``asr_model_dir`` is set, else Whisper; free speech and voicemail
            by Whisper), ``whisper``, ``vosk`` or ``off`` (keys only).
        asr_workers: concurrent Whisper recognitions (the bounded pool; default: half the cores).
        model_root: where speech models are assembled (default :func:`default_model_root`).
        tts_engine: ``auto`` (Kokoro's neural Mandarin voice, falling back to espeak-ng 1.52), ``kokoro`` or
            ``espeak`` (ADR 0027).
        tts_voice: the engine's voice (None: its Mandarin default).
        tts_speed: speaking speed (1.0 = the engine's normal pace).
        max_calls: concurrent calls before new INVITEs get 486 Busy Here.
        position_every_s: how often a waiting caller hears their queue position.
        max_wait_s: queue wait after which the caller is offered voicemail.
        agent_ring_s: how long an agent's softphone rings before the next agent is tried.
        ring_s: how long callers hear ringing before the IVR answers (0: at once).
        prompt_cache_dir: where synthesised prompts are cached as G.711 (default ``<data dir>/voice/prompts``).
        trunk: the outbound SIP trunk for call-backs, ``host:port`` or ``sip:host:port`` (None: no call-backs).
        trunk_caller_id: the number citizens see when the centre calls back (the hotline).
        trunk_user: Digest user name for the trunk (None: the trunk does not challenge).
        trunk_password: Digest password for the trunk.
        callback_hourly_cap: call-backs one agent may start per hour.
        callback_ring_s: how long a citizen's phone rings before a call-back gives up.
    """

    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    public_host: str | None = None
    tcp: bool = True
    realm: str = "rexian"
    asr_model_dir: Path | None = None
    asr_engine: str = "auto"
    asr_workers: int | None = None
    model_root: Path | None = None
    tts_engine: str = "auto"
    tts_voice: str | None = None
    tts_speed: float = 1.0
    max_calls: int = 200
    position_every_s: float = 30.0
    max_wait_s: float = 300.0
    agent_ring_s: float = 20.0
    ring_s: float = 0.0
    prompt_cache_dir: Path | None = None
    trunk: str | None = None
    trunk_caller_id: str = "12319"
    trunk_user: str | None = None
    trunk_password: str | None = field(default=None, repr=False)  # never in logs
    callback_hourly_cap: int = 20
    callback_ring_s: float = 45.0

    @property
    def speech_models(self) -> Path:
        """The folder of the speech models."""
        return self.model_root or default_model_root()

    @property
    def advertised_host(self) -> str:
        """The address peers must send to."""
        return self.public_host or self.sip_host
