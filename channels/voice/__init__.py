"""The voice channel: phone calls over SIP into the IVR, the agent queue and the inbox (see README.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.i18n import register_domain
from hub.web.context import CTX

from .config import VoiceSettings

if TYPE_CHECKING:
    from channels.voice.sip_accounts import SipAccountStore
    from routing.switchboard import Switchboard

    from .hub_port import VoiceHub
    from .ivr.store import IvrFlows
    from .service import VoiceChannel

__all__ = ["CHANNEL_VOICE", "VoiceSettings", "setup"]

log = logging.getLogger(__name__)
register_domain("voice", Path(__file__).parent / "locale")  # this package's strings (locale/*/LC_MESSAGES)

CHANNEL_VOICE = "voice"


def setup(
    app: web.Application,
    settings: VoiceSettings | None,
    *,
    hub: VoiceHub,
    flows: IvrFlows,
    accounts: SipAccountStore,
    switchboard: Switchboard,
    calendar: Any = None,
) -> VoiceChannel | None:
    """Start the SIP endpoint with the app (when configured); report its health either way.

    Calls wait in ``switchboard``'s queues (the hub's one router), competing with chats for the same agents.
    """
    ctx = app[CTX]
    if settings is None:

        async def disabled() -> dict[str, Any]:
            return {"status": "ok", "enabled": False}

        ctx.channel_health[CHANNEL_VOICE] = disabled
        return None
    from .service import VoiceChannel

    channel = VoiceChannel(
        settings,
        hub=hub,
        flows=flows,
        accounts=accounts,
        switchboard=switchboard,
        calendar=calendar,
        zone=ctx.city.zone,
    )
    ctx.channel_health[CHANNEL_VOICE] = channel.health
    from .callback_web import CALLBACKS

    app[CALLBACKS] = lambda: channel.callbacks  # started with the app; call-backs need a trunk (else 503)
    from .monitor_web import MONITORS

    app[MONITORS] = lambda: channel.monitors  # listen / whisper / barge (POST /api/floor/monitor)

    async def start(_app: web.Application) -> None:
        await channel.start()

    async def stop(_app: web.Application) -> None:
        await channel.stop()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # before the hub closes its stores
    return channel
