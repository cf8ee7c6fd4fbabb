"""Click-to-call: the hub rings the agent's softphone, then calls the citizen through the outbound trunk, and
bridges them (ADR 0028).

The agent leg is an INVITE to the agent's registered softphone (as queue offers are). When the agent answers they hear
a ringback tone while the hub dials ``sip:<number>@<trunk>`` with the hotline's caller ID (answering one Digest
challenge with the trunk credentials). When the citizen answers both legs are bridged and recorded like an inbound
bridged call. Every outcome ends both legs and lands in the call record (direction ``outbound``), the
``voice_callbacks`` audit row and the conversation (a system line and :class:`~hub.events.CallFinished`): busy, no
answer, a trunk refusal or the agent not answering. The agent is busy in the hub's router for the call-back's
duration (an outbound item assigned to them), so neither a caller nor a chat is offered to them meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.background import TaskSet
from hub.clock import utc_now
from hub.i18n import t
from hub.intake import ContactHints
from hub.logsafe import mask
from hub.models import Conversation, User

from .agents import negotiated_from_answer
from .call_store import HangupCause
from .config import VoiceSettings
from .hub_port import CHANNEL_VOICE, CallContext, VoiceHub
from .leg import MediaClock, MediaLeg, bridge, open_leg_socket, unbridge
from .media import silence_frames, tone_frames
from .outbound_store import CallbackRow, OutboundStore
from .recording import CallRecorder
from .sdp import Direction, SdpParseError, SessionDescription, create_offer
from .sip.registrar import Binding
from .sip.uas import Event, UserAgent
from .spoken_text import speakable
from .transport import RtpSocket
from .trunk import Trunk, TrunkError, parse_trunk
from .tts import PromptSynthesizer, TtsUnavailable

log = logging.getLogger(__name__)

FAILURE_PROMPT_S = 8.0  # at most this long to tell the agent why the citizen was not reached


class CallbackError(Exception):
    """A call-back cannot start: ``code`` is the API's error code."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def failure_cause(status: int) -> str:
    """Why the trunk leg failed, from its final SIP status."""
    if status in (486, 600):
        return HangupCause.BUSY.value
    if status in (408, 480, 487, 603):
        return HangupCause.NO_ANSWER.value
    return HangupCause.TRUNK_REFUSED.value


def ringback_frames(codec: str) -> list[bytes]:
    """The Chinese ringback tone (450 Hz, 1 s on, 4 s off) the agent hears while the citizen's phone rings."""
    return tone_frames(450, 1000, codec) + silence_frames(4000, codec)


@dataclass
class _Callback:
    """One click-to-call in progress."""

    row: CallbackRow
    ctx: CallContext
    agent_id: int
    number: str
    agent_call_id: str
    agent_socket: RtpSocket
    agent_leg: MediaLeg | None = None
    trunk_call_id: str | None = None
    trunk_socket: RtpSocket | None = None
    citizen_leg: MediaLeg | None = None
    recorder: CallRecorder | None = None
    paused: bool = False
    finished: bool = False


class CallbackDesk:
    """Runs click-to-calls over the voice channel's user agent.

    Args:
        ua: the user agent (UAC for both legs).
        execute: sends the UA's output events.
        clock: the shared media clock.
        settings: the voice settings (trunk, caller ID, credentials, ring times).
        hub: the hub port (conversation, call record).
        store: the call-back audit.
        tts: prompts for the agent (why the citizen was not reached) and the order number read-out.
        binding_of: the agent's softphone binding (None: not registered).
        occupy_agent: make the agent busy in the router for the call-back: (agent id, the agent leg's SIP Call-ID,
            conversation id) → whether it did.
        release_agent: the call-back (by the agent leg's SIP Call-ID) is over: the agent is free again.
        agent_busy: whether the agent is being offered an item or is on a call.
    """

    def __init__(
        self,
        *,
        ua: UserAgent,
        execute: Callable[[Iterable[Event]], None],
        clock: MediaClock,
        settings: VoiceSettings,
        hub: VoiceHub,
        store: OutboundStore,
        tts: PromptSynthesizer,
        binding_of: Callable[[int], Binding | None],
        occupy_agent: Callable[[int, str, str], bool],
        release_agent: Callable[[str], None],
        agent_busy: Callable[[int], bool] = lambda _agent_id: False,
    ) -> None:
        self.ua, self.execute, self.clock, self.settings = ua, execute, clock, settings
        self.hub, self.store, self.tts = hub, store, tts
        self.binding_of, self.occupy_agent, self.release_agent = binding_of, occupy_agent, release_agent
        self.agent_busy = agent_busy
        self.trunk: Trunk | None = parse_trunk(settings.trunk) if settings.trunk else None
        self.calls: dict[str, _Callback] = {}  # by the SIP Call-ID of either leg
        self._tasks = TaskSet("call-back")

    @property
    def recordings_dir(self) -> Path:
        """Where the bridged call-backs are recorded."""
        return self.hub.voice_dir / "recordings"

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- starting --------------------------------------------------------------------------------------------

    def check(self, agent_id: int) -> Binding:
        """The agent's softphone binding if a call-back can start now.

        Raises:
            CallbackError: ``no_trunk`` (503), ``agent_not_registered`` or ``agent_busy`` (409).
        """
        if self.trunk is None:
            raise CallbackError("no_trunk", 503)
        binding = self.binding_of(agent_id)
        if binding is None:
            raise CallbackError("agent_not_registered", 409)
        if self.agent_busy(agent_id) or any(c.agent_id == agent_id and not c.finished for c in self.calls.values()):
            raise CallbackError("agent_busy", 409)
        return binding

    async def start(
        self, agent: User, number: str, conversation: Conversation | None, order_number: str | None
    ) -> CallbackRow:
        """Ring ``agent``'s softphone; when they answer, call ``number`` (already checked against the case).

        ``conversation``: where the call is recorded (None for an order without one: a new ``voice`` conversation
        with the citizen's contact is opened).
        """
        binding = self.check(agent.id)
        service = self.hub.conversations
        if conversation is None:
            conversation = await service.open(CHANNEL_VOICE, hints=ContactHints(phone=number))
        contact = await service.reads.contact(conversation.contact_id) if conversation.contact_id else None
        row = await self.store.start(
            agent_id=agent.id, number=number, conversation_id=conversation.id, work_order_number=order_number
        )
        socket = await open_leg_socket(self.settings.sip_host)
        offer = create_offer(
            self.settings.advertised_host, socket.port, session_id=secrets.randbits(31), direction=Direction.SENDRECV
        )
        call_id, events = self.ua.invite(
            binding,
            bytes(offer),
            self._now(),
            from_display=t("voice.callback.display", conversation.locale, number=number),
            caller_id=number,
            headers=[("X-Rexian-Conversation", conversation.id), ("X-Rexian-Callback", str(row.id))],
            ring_timeout=self.settings.agent_ring_s,
        )
        record = await self.hub.calls.start_call(
            sip_call_id=call_id,
            caller=self.settings.trunk_caller_id,
            called=number,
            conversation_id=conversation.id,
            contact_id=contact.id if contact else None,
            direction="outbound",
        )
        await self.hub.calls.update(record.id, agent_id=agent.id)
        await self.store.update(row.id, call_id=record.id)
        ctx = CallContext(call_id, conversation, contact, number, record.id, conversation.locale)
        text = t("voice.callback.started", ctx.locale, agent=agent.display_name, number=number)
        await self.hub.conversations.post(conversation, text)
        callback = _Callback(await self.store.get(row.id), ctx, agent.id, number, call_id, socket)
        callback.paused = self.occupy_agent(agent.id, call_id, conversation.id)
        self.calls[call_id] = callback
        self.execute(events)
        log.info("call-back %s: ringing agent %s for %s", row.id, agent.id, mask(number))
        return callback.row

    # -- SIP events --------------------------------------------------------------------------------------------

    def owns(self, sip_call_id: str) -> bool:
        """Whether ``sip_call_id`` is a leg of a call-back."""
        return sip_call_id in self.calls

    def leg_of(self, sip_call_id: str) -> MediaLeg | None:
        """The media leg of ``sip_call_id`` (re-INVITEs: hold)."""
        callback = self.calls.get(sip_call_id)
        if callback is None:
            return None
        return callback.agent_leg if sip_call_id == callback.agent_call_id else callback.citizen_leg

    def answered(self, sip_call_id: str, sdp: bytes) -> None:
        """The agent or the citizen picked up."""
        callback = self.calls.get(sip_call_id)
        if callback is None or callback.finished:
            return
        try:
            negotiated = negotiated_from_answer(SessionDescription.parse(sdp))
        except SdpParseError:
            negotiated = None
        if negotiated is None:
            log.warning("call-back %s: unusable SDP answer; hanging up", callback.row.id)
            self._tasks.spawn(self._end(callback, HangupCause.ERROR.value, None))
            return
        if sip_call_id == callback.agent_call_id:
            leg = MediaLeg("agent", callback.agent_socket, negotiated, self.clock)
            leg.set_background(ringback_frames(leg.codec))
            callback.agent_leg = leg
            self._tasks.spawn(self._dial(callback))
        else:
            assert callback.trunk_socket is not None
            callback.citizen_leg = MediaLeg("citizen", callback.trunk_socket, negotiated, self.clock)
            self._tasks.spawn(self._connected(callback))

    def failed(self, sip_call_id: str, status: int) -> None:
        """A leg was refused, busy, not answered or cancelled."""
        callback = self.calls.get(sip_call_id)
        if callback is None or callback.finished:
            return
        if sip_call_id == callback.agent_call_id:
            self._tasks.spawn(self._end(callback, HangupCause.AGENT_NO_ANSWER.value, status))
        else:
            self._tasks.spawn(self._citizen_not_reached(callback, status))

    def ended(self, sip_call_id: str) -> None:
        """A leg hung up (BYE)."""
        callback = self.calls.get(sip_call_id)
        if callback is None or callback.finished:
            return
        if sip_call_id == callback.agent_call_id:
            cause = HangupCause.AGENT_BYE if callback.citizen_leg is not None else HangupCause.AGENT_CANCELLED
            self._tasks.spawn(self._end(callback, cause.value, None))
        else:
            self._tasks.spawn(self._end(callback, HangupCause.CITIZEN_BYE.value, None))

    # -- steps -------------------------------------------------------------------------------------------------

    async def _dial(self, callback: _Callback) -> None:
        assert self.trunk is not None
        try:
            address = await self.trunk.address()
            uri = self.trunk.request_uri(callback.number)
        except (OSError, TrunkError) as exc:
            log.error("call-back %s: trunk unusable (%s)", callback.row.id, exc)
            await self._citizen_not_reached(callback, 503)
            return
        if callback.finished:
            return
        socket = await open_leg_socket(self.settings.sip_host)
        offer = create_offer(self.settings.advertised_host, socket.port, session_id=secrets.randbits(31))
        s = self.settings
        credentials = (s.trunk_user, s.trunk_password or "") if s.trunk_user else None
        trunk_id, events = self.ua.invite(
            (uri, address),
            bytes(offer),
            self._now(),
            caller_id=s.trunk_caller_id,
            ring_timeout=s.callback_ring_s,
            credentials=credentials,
        )
        callback.trunk_call_id, callback.trunk_socket = trunk_id, socket
        self.calls[trunk_id] = callback
        self.execute(events)
        await self.store.update(callback.row.id, state="calling")
        log.info("call-back %s: agent answered, calling %s", callback.row.id, mask(callback.number))

    async def _connected(self, callback: _Callback) -> None:
        agent, citizen = callback.agent_leg, callback.citizen_leg
        assert agent is not None and citizen is not None
        agent.set_background(())
        agent.stop_playback()
        recorder = CallRecorder(self.recordings_dir, callback.ctx.sip_call_id)
        callback.recorder = recorder
        citizen.on_pcm = lambda pcm, at: recorder.add("caller", pcm, at)
        agent.on_pcm = lambda pcm, at: recorder.add("agent", pcm, at)
        bridge(citizen, agent)
        await self.store.update(callback.row.id, state="connected")
        await self.hub.calls.update(callback.ctx.record_id, agent_answered_at=utc_now())
        await self.hub.conversations.post(callback.ctx.conversation, t("voice.callback.connected", callback.ctx.locale))
        log.info("call-back %s: connected", callback.row.id)

    async def _citizen_not_reached(self, callback: _Callback, status: int) -> None:
        """Tell the agent why (a short prompt), then end the agent's leg."""
        cause = failure_cause(status)
        agent = callback.agent_leg
        if agent is not None and not callback.finished:
            agent.set_background(())
            try:
                frames = await asyncio.wait_for(
                    self.tts.frames(speakable(t(f"voice.callback.prompt.{cause}", callback.ctx.locale)), agent.codec),
                    FAILURE_PROMPT_S,
                )
                await asyncio.wait_for(agent.play(frames), FAILURE_PROMPT_S)
            except (TimeoutError, TtsUnavailable, ValueError):
                log.warning("call-back %s: the agent is not told why (no prompt)", callback.row.id)
        await self._end(callback, cause, status)

    async def _end(self, callback: _Callback, cause: str, status: int | None) -> None:
        """Hang up what is still up, store the recordings and the outcome (once)."""
        if callback.finished:
            return
        callback.finished = True
        now = self._now()
        for call_id in (callback.agent_call_id, callback.trunk_call_id):
            if call_id is not None:
                self.execute(self.ua.hangup(call_id, now))  # no-op for a leg already gone
                self.calls.pop(call_id, None)
        if callback.agent_leg is not None and callback.citizen_leg is not None:
            unbridge(callback.agent_leg, callback.citizen_leg)
        for leg, socket in ((callback.agent_leg, callback.agent_socket), (callback.citizen_leg, callback.trunk_socket)):
            if leg is not None:
                leg.close()
            elif socket is not None:
                socket.close()
        recordings: dict[str, Path] = {}
        if callback.recorder is not None:
            recording = await callback.recorder.close()
            if recording.mixed is not None:
                recordings["mixed"] = recording.mixed
            recordings.update(recording.legs)
        talked = callback.citizen_leg is not None
        if callback.paused:
            self.release_agent(callback.agent_call_id)
        await self.store.finish(callback.row.id, state="ended" if talked else "failed", cause=cause, sip_status=status)
        await self.hub.call_finished(callback.ctx, cause=cause, ivr_path=[], recordings=recordings, talk=talked)
        log.info("call-back %s ended: %s%s", callback.row.id, cause, f" ({status})" if status else "")

    # -- the order number read-out -------------------------------------------------------------------------

    def live_legs(self, conversation_id: str) -> list[tuple[MediaLeg, MediaLeg]]:
        """(citizen, agent) legs of connected call-backs of a conversation."""
        out = []
        for callback in {id(c): c for c in self.calls.values()}.values():
            if callback.finished or callback.ctx.conversation.id != conversation_id:
                continue
            if callback.citizen_leg is not None and callback.agent_leg is not None:
                out.append((callback.citizen_leg, callback.agent_leg))
        return out

    # -- lifetime ----------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """End every call-back (hub shutdown)."""
        for callback in {id(c): c for c in self.calls.values()}.values():
            await self._end(callback, HangupCause.ERROR.value, None)
        self._tasks.cancel()
