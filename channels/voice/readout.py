"""Reads a newly registered order's number to a citizen who is still on the line with the agent.

When an agent registers a work order from a voice conversation whose call is live and bridged (an inbound call
answered by the agent, or a call-back), the citizen hears 您的工单已登记，工单号…… (the number in groups of four,
:func:`~channels.voice.spoken_text.speakable`). The prompt is queued on the citizen's leg and on the agent's leg:
a prompt on a leg takes precedence over the relayed audio of the other party (:mod:`.leg`), so for those seconds
both hear the number and neither hears the other; the bridge and the recording go on unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.events import Event, WorkOrderCreated
from hub.i18n import t

from .leg import MediaLeg
from .spoken_text import speakable
from .tts import PromptSynthesizer, TtsUnavailable

log = logging.getLogger(__name__)

LiveLegs = Callable[[str], list[tuple[MediaLeg, MediaLeg]]]


class OrderReadout:
    """Listens to :class:`WorkOrderCreated` and plays the number on the live legs of the order's conversation.

    Args:
        tts: the prompt synthesizer.
        live_legs: conversation id → (citizen leg, agent leg) pairs of its bridged calls.
    """

    def __init__(self, tts: PromptSynthesizer, live_legs: LiveLegs) -> None:
        self.tts = tts
        self.live_legs = live_legs
        self.played: list[tuple[str, str]] = []  # (conversation id, order number), for /healthz-style checks

    async def on_created(self, event: Event) -> None:
        """A work order was registered."""
        assert isinstance(event, WorkOrderCreated)
        order = event.work_order
        if order.conversation_id is None:
            return
        pairs = self.live_legs(order.conversation_id)
        if not pairs:
            return
        text = speakable(t("voice.order_readout", "zh-CN", number=order.number))
        for citizen, agent in pairs:
            try:
                frames = {codec: await self.tts.frames(text, codec) for codec in {citizen.codec, agent.codec}}
            except (TtsUnavailable, ValueError) as exc:
                log.error("order %s: number not read to the caller (%s)", order.number, exc)
                return
            for leg in (citizen, agent):
                if not leg.closed:
                    leg.stop_playback()
                    leg.play(frames[leg.codec])  # the future is not awaited: the call goes on meanwhile
            self.played.append((order.conversation_id, order.number))
            log.info("order %s: number read to the caller on the line", order.number)
