"""Configuration of the voice channel (``rexian serve --sip-port ...``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
        asr_model_dir: a vosk model directory; None disables speech input (DTMF menus keep working).
        tts_voice: the espeak-ng voice for prompts (``sit/cmn`` is Mandarin; ``zh`` silently speaks English).
        tts_rate: speaking rate in words per minute.
        max_calls: concurrent calls before new INVITEs get 486 Busy Here.
        position_every_s: how often a waiting caller hears their queue position.
        max_wait_s: queue wait after which the caller is offered voicemail.
        agent_ring_s: how long an agent's softphone rings before the next agent is tried.
        ring_s: how long callers hear ringing before the IVR answers (0: at once).
        prompt_cache_dir: where synthesised prompts are cached as G.711 (default ``<data dir>/voice/prompts``).
    """

    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    public_host: str | None = None
    tcp: bool = True
    realm: str = "rexian"
    asr_model_dir: Path | None = None
    tts_voice: str = "sit/cmn"
    tts_rate: int = 190
    max_calls: int = 200
    position_every_s: float = 30.0
    max_wait_s: float = 300.0
    agent_ring_s: float = 20.0
    ring_s: float = 0.0
    prompt_cache_dir: Path | None = None

    @property
    def advertised_host(self) -> str:
        """The address peers must send to."""
        return self.public_host or self.sip_host
