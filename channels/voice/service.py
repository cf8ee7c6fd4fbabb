"""The voice channel: the SIP endpoint (UDP + TCP), the registrar for agents' softphones, and every call.

``VoiceChannel.start()`` binds the SIP port, loads the speech model (or logs why speech input is off), warms the
prompt cache with the flow's prompts and starts taking calls. For each INVITE: capacity check (486 when full),
SDP answer (488 when no G.711), a conversation + call record (:mod:`.hub_port`), 180/200, and after the ACK a
:class:`~channels.voice.session.CallSession` runs the IVR. Agent legs are :mod:`.agents`; the queue is the hub's
:class:`~routing.switchboard.Switchboard`, where calls and chats compete for the same agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from channels.voice.sip_accounts import SipAccountStore
from hub.background import TaskSet
from hub.events import WorkOrderCreated
from hub.i18n import t
from hub.localtime import DEFAULT_ZONE
from routing.switchboard import Switchboard

from .agents import AgentDesk
from .asr import SpeechRecognizer
from .asr_results import SpeechEngine
from .asr_whisper import WhisperRecognizer
from .callback import CallbackDesk
from .config import VoiceSettings
from .hub_port import VoiceHub
from .ivr.runtime import IvrSession
from .ivr.store import IvrFlows
from .leg import MediaClock, MediaLeg, open_leg_socket
from .monitor import MonitorDesk, bridged_calls
from .outbound_store import OutboundStore
from .prompt_check import warm_texts
from .readout import OrderReadout
from .sdp import Direction, SdpParseError, SessionDescription, create_answer
from .session import CallSession
from .sip.digest import DigestChallenger
from .sip.errors import SipParseError
from .sip.headers import SipUri
from .sip.registrar import AgentRegistered, AgentUnregistered, Registrar
from .sip.uas import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    OutgoingAnswered,
    OutgoingFailed,
    ReinviteReceived,
    UserAgent,
)
from .speech_models import SpeechModelError, ensure_whisper_base
from .transfer import CallTransfers
from .transport import RtpSocket, SipEndpoint, start_sip_endpoint
from .transport_tcp import SipTcpServer, start_sip_tcp_server
from .tts import PromptSynthesizer

log = logging.getLogger(__name__)

CREDENTIALS_REFRESH_S = 10.0


@dataclass
class _Pending:
    """An INVITE being answered (before the ACK)."""

    call: IncomingCall
    socket: RtpSocket | None = None
    leg: MediaLeg | None = None
    session: CallSession | None = None
    confirmed: bool = False
    cancelled: bool = False
    answered: bool = False


class VoiceChannel:
    """Answers calls on the configured SIP port for as long as the hub runs."""

    def __init__(
        self,
        settings: VoiceSettings,
        *,
        hub: VoiceHub,
        flows: IvrFlows,
        accounts: SipAccountStore,
        switchboard: Switchboard,
        calendar: Any = None,
        zone: tzinfo = DEFAULT_ZONE,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.flows = flows
        self.accounts = accounts
        self.switchboard = switchboard  # the hub's one router: calls compete with chats for the same agents
        self.calendar = calendar  # () -> WorkingCalendar, for business hours
        self.zone = zone  # the city's zone: business hours of flows that name none
        self.clock = MediaClock()
        cache = settings.prompt_cache_dir or hub.voice_dir / "prompts"
        self.tts = PromptSynthesizer(
            cache, engine=settings.tts_engine, voice=settings.tts_voice, speed=settings.tts_speed
        )
        # Menus (grammar) and free speech (questions, the speech-first intake, voicemail) may use different engines:
        # both are set at start() by _load_speech (until then, and with --asr-engine off: unavailable).
        self.asr: SpeechEngine = SpeechRecognizer(None)
        self.free_asr: SpeechEngine = self.asr
        self.calls: dict[str, _Pending] = {}
        self._credentials: dict[str, tuple[int, str, str]] = {}
        self.endpoint: SipEndpoint | None = None
        self.tcp: SipTcpServer | None = None
        self.ua: UserAgent | None = None
        self.desk: AgentDesk | None = None
        self.callbacks: CallbackDesk | None = None
        self.monitors: MonitorDesk | None = None  # supervisors listening, whispering, barging
        self.transfers: CallTransfers | None = None  # blind and attended transfers of bridged calls (REFER too)
        self.readout = OrderReadout(self.tts, self._live_legs)
        self.port = settings.sip_port
        self._tasks = TaskSet("voice")
        self._refresher: asyncio.Task[None] | None = None
        self.accepting = False

    # -- lifetime ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the SIP port(s), load speech, warm the prompts."""
        s = self.settings
        self.port = s.sip_port or _free_port(s.sip_host)
        try:  # before the first new call: calls left open by a previous process
            await self.hub.recover_interrupted_calls()
        except Exception:
            log.exception("could not end the calls of the previous run; they stay open")
        try:
            await OutboundStore(self.hub.calls.engine).interrupted()  # their call records were ended just above
        except Exception:
            log.exception("could not mark the call-backs of the previous run as interrupted")
        await self._refresh_credentials()
        challenger = DigestChallenger(s.realm, secret=secrets.token_bytes(32), clock=time.time)
        registrar = Registrar(s.realm, challenger, lambda _user: None, ha1_lookup=self._ha1_of)
        self.ua = UserAgent(s.advertised_host, self.port, registrar=registrar, user_agent="Rexian 12319")
        self.endpoint = await start_sip_endpoint(self.ua, self._on_event, s.sip_host, self.port)
        if s.tcp:
            self.tcp = await start_sip_tcp_server(self.ua, self._on_event, s.sip_host, self.port, udp=self.endpoint)
        self.desk = AgentDesk(
            ua=self.ua,
            execute=self._execute,
            clock=self.clock,
            host=s.sip_host,
            advertised_host=s.advertised_host,
            switchboard=self.switchboard,
            bus=self.hub.bus,
            agent_of=self._agent_of,
            position_every_s=s.position_every_s,
        )
        self.desk.attach()
        self.callbacks = self._callback_desk(self.ua, self.desk)
        desk = self.desk
        self.monitors = MonitorDesk(
            ua=self.ua, execute=self._execute, clock=self.clock, host=s.sip_host, advertised_host=s.advertised_host,
            ring_s=s.agent_ring_s, binding_of=lambda user_id: desk.binding_of(user_id, registrar),
            bridged=lambda conversation_id: bridged_calls(self, conversation_id),
        )  # fmt: skip
        self.transfers = CallTransfers(
            ua=self.ua, execute=self._execute, clock=self.clock, settings=s, desk=self.desk, hub=self.hub,
            agent_of=self._agent_of,
        )  # fmt: skip
        self.hub.bus.subscribe(WorkOrderCreated, self.readout.on_created)
        await self._load_speech()  # never raises: logs "speech input disabled: ..." when there is no model
        self._refresher = asyncio.create_task(self._refresh_loop(), name="voice:credentials")
        self._tasks.spawn(self._warm())
        self.accepting = True
        log.info(
            "SIP endpoint on %s:%d (UDP%s), advertised as %s; speech input %s",
            s.sip_host,
            self.port,
            "+TCP" if self.tcp else "",
            s.advertised_host,
            "on" if self.asr.available or self.free_asr.available else "off",
        )

    def _callback_desk(self, ua: UserAgent, desk: AgentDesk) -> CallbackDesk:
        registrar = ua.registrar
        assert registrar is not None
        return CallbackDesk(
            ua=ua,
            execute=self._execute,
            clock=self.clock,
            settings=self.settings,
            hub=self.hub,
            store=OutboundStore(self.hub.calls.engine),
            tts=self.tts,
            binding_of=lambda agent_id: desk.binding_of(agent_id, registrar),
            occupy_agent=desk.pause_for_callback,
            release_agent=desk.resume_after_callback,
            agent_busy=desk.busy,
        )

    def _live_legs(self, conversation_id: str) -> list[tuple[MediaLeg, MediaLeg]]:
        """(caller, agent) legs of the bridged calls of a conversation: inbound calls and call-backs."""
        pairs = self.callbacks.live_legs(conversation_id) if self.callbacks is not None else []
        for pending in self.calls.values():
            session = pending.session
            if session is None or session.agent_leg is None or session.caller_gone:
                continue
            if session.ctx.conversation.id == conversation_id:
                pairs.append((session.leg, session.agent_leg))
        return pairs

    async def _load_speech(self) -> None:
        """Pick and load the menu and free-speech recognizers (``--asr-engine``, ADR 0027)."""
        s = self.settings
        if s.asr_engine == "off":
            self.asr.reason = "speech input is off (--asr-engine off): callers use keys"
            log.info("speech input disabled: %s", self.asr.reason)
            return
        vosk: SpeechEngine | None = None
        if s.asr_model_dir is not None and s.asr_engine in ("auto", "vosk"):
            vosk = SpeechRecognizer(s.asr_model_dir)
            await vosk.load()
        whisper: SpeechEngine | None = None
        if s.asr_engine in ("auto", "whisper"):
            try:
                model = await asyncio.to_thread(ensure_whisper_base, s.speech_models)
            except (SpeechModelError, OSError) as exc:
                log.warning("speech input disabled for free speech: %s", exc)
            else:
                whisper = WhisperRecognizer(model, workers=s.asr_workers)
                await whisper.load()
        menus = vosk if vosk is not None and vosk.available else whisper
        free = whisper if whisper is not None and whisper.available else vosk
        if menus is not None:
            self.asr = menus
        if free is not None:
            self.free_asr = free

    async def stop(self) -> None:
        """Hang up every call, close sockets, stop the workers."""
        self.accepting = False
        for call_id, pending in list(self.calls.items()):
            if pending.session is not None:
                if pending.session.task is not None:
                    pending.session.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending.session.task
            elif self.ua is not None:
                self._execute(self.ua.hangup(call_id, self._now()))
        if self.monitors is not None:
            self.monitors.close()
        if self.transfers is not None:
            self.transfers.close()
        if self.callbacks is not None:
            await self.callbacks.close()
        if self.desk is not None:
            self.desk.close()
        if self._refresher is not None:
            self._refresher.cancel()
        self._tasks.cancel()
        if self.tcp is not None:
            await self.tcp.close()
        if self.endpoint is not None:
            self.endpoint.close()
        await self.tts.close()
        await self.asr.close()
        if self.free_asr is not self.asr:
            await self.free_asr.close()

    async def health(self) -> dict[str, Any]:
        """For /healthz: SIP, calls, queue, speech."""
        menus = self.asr.status()
        asr = menus | {"menus": menus, "free_speech": self.free_asr.status()}
        asr["available"] = bool(self.asr.available or self.free_asr.available)
        return {
            "status": "ok" if self.accepting else "degraded",
            "enabled": True,
            "sip": {"host": self.settings.sip_host, "port": self.port, "tcp": self.tcp is not None},
            "active_calls": len(self.calls),
            "queue": self.desk.snapshot() if self.desk is not None else {},
            "endpoint": self.endpoint.stats() if self.endpoint is not None else {},
            "speech_input": asr,
            "tts": self.tts.status(),
            "media_late_ms_max": round(self.clock.late_ms_max, 1),
        }

    # -- credentials (hub accounts → registrar) ------------------------------------------------------------

    async def _refresh_credentials(self) -> None:
        self._credentials = await self.accounts.all_credentials(self.settings.realm)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(CREDENTIALS_REFRESH_S)
            try:
                await self._refresh_credentials()
            except Exception:
                log.exception("could not refresh the softphone accounts; keeping the previous ones")

    def _ha1_of(self, sip_user: str, algorithm: str) -> str | None:
        found = self._credentials.get(sip_user)
        if found is None:
            return None
        return found[1] if algorithm.upper() == "MD5" else found[2] if algorithm.upper() == "SHA-256" else None

    def _agent_of(self, sip_user: str) -> int | None:
        found = self._credentials.get(sip_user)
        return None if found is None else found[0]

    async def _warm(self) -> None:
        texts = warm_texts(self.flows.holder())
        if self.settings.trunk:  # what an agent hears when a call-back fails
            texts = [
                *texts,
                *(t(f"voice.callback.prompt.{c}", "zh-CN") for c in ("busy", "no_answer", "trunk_refused")),
            ]
        try:
            await self.tts.warm(texts)
        except Exception:
            log.exception("could not pre-render the IVR prompts; they will be synthesised on first use")

    # -- SIP events ----------------------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _execute(self, events: Iterable[Event]) -> None:
        if self.endpoint is not None:
            self.endpoint.execute(events)

    def _on_event(self, _endpoint: object, event: Event) -> None:
        desk = self.desk
        if self.transfers is not None and self.transfers.on_event(event):  # transfer legs, REFER (transfer.py)
            return
        if self._callback_event(event) or (self.monitors is not None and self.monitors.handle(event)):
            return
        if isinstance(event, IncomingCall):
            self._incoming(event)
        elif isinstance(event, CallConfirmed):
            self._confirmed(event.call_id)
        elif isinstance(event, CallCancelled):
            self._gone(event.call_id, cancelled=True)
        elif isinstance(event, CallEnded):
            if desk is not None and desk.owns(event.call_id):
                desk.ended(event.call_id)
            elif event.cause != "hangup":
                self._gone(event.call_id, cancelled=False)
        elif isinstance(event, ReinviteReceived):
            self._reinvite(event)
        elif isinstance(event, OutgoingAnswered) and desk is not None:
            desk.answered(event.call_id, event.sdp)
        elif isinstance(event, OutgoingFailed) and desk is not None:
            desk.failed(event.call_id, event.status)
        elif isinstance(event, (AgentRegistered, AgentUnregistered)) and desk is not None:
            desk.registration(event)

    def _callback_event(self, event: Event) -> bool:
        """Route an event of a call-back's leg to the call-back desk; whether it was one."""
        callbacks = self.callbacks
        if callbacks is None or not isinstance(event, (OutgoingAnswered, OutgoingFailed, CallEnded)):
            return False
        if not callbacks.owns(event.call_id):
            return False
        if isinstance(event, OutgoingAnswered):
            callbacks.answered(event.call_id, event.sdp)
        elif isinstance(event, OutgoingFailed):
            callbacks.failed(event.call_id, event.status)
        else:
            callbacks.ended(event.call_id)
        return True

    def _incoming(self, call: IncomingCall) -> None:
        assert self.ua is not None
        if not self.accepting or len(self.calls) >= self.settings.max_calls:
            log.warning("call refused: %d calls in progress (max %d)", len(self.calls), self.settings.max_calls)
            self._execute(self.ua.reject(call.call_id, 486, self._now()))
            return
        self.calls[call.call_id] = _Pending(call)
        self._tasks.spawn(self._answer(call))

    async def _answer(self, call: IncomingCall) -> None:
        assert self.ua is not None
        pending = self.calls[call.call_id]
        try:
            offer = SessionDescription.parse(call.request.body)
        except SdpParseError as exc:
            log.info("call refused: unusable SDP offer (%s)", exc)
            self._refuse(call.call_id, 488)
            return
        sock = await open_leg_socket(self.settings.sip_host)
        pending.socket = sock
        answer, negotiated = create_answer(
            offer, self.settings.advertised_host, sock.port, session_id=secrets.randbits(31)
        )
        if negotiated is None:
            log.info("call refused: no G.711 audio in the offer")
            sock.close()
            self._refuse(call.call_id, 488)
            return
        try:
            ctx = await self.hub.call_arrived(call.call_id, _user_of(call.request.from_.uri), _called(call))
        except Exception:
            log.exception("call refused: could not store it")
            sock.close()
            self._refuse(call.call_id, 503)
            return
        if pending.cancelled:
            sock.close()
            self.calls.pop(call.call_id, None)
            await self.hub.call_finished(ctx, cause="abandoned", ivr_path=[], recordings={}, talk=False)
            return
        pending.leg = MediaLeg("caller", sock, negotiated, self.clock)
        contact = ctx.contact
        ivr = IvrSession(
            self.flows.holder(),
            caller=ctx.caller,
            now=self.hub.now,
            vip=bool(contact and contact.vip),
            blacklisted=bool(contact and contact.blacklisted),
            calendar=self.calendar() if self.calendar is not None else None,
            zone=self.zone,
        )
        assert self.desk is not None
        pending.session = CallSession(
            ctx=ctx,
            ivr=ivr,
            leg=pending.leg,
            hub=self.hub,
            tts=self.tts,
            asr=self.asr,
            free_asr=self.free_asr,
            desk=self.desk,
            hangup=lambda: self._hangup(call.call_id),
            recordings_dir=self.hub.voice_dir / "recordings",
        )
        self._execute(self.ua.ringing(call.call_id, self._now()))
        if self.settings.ring_s > 0:
            await asyncio.sleep(self.settings.ring_s)
        if pending.cancelled:  # the caller gave up while it rang
            pending.leg.close()
            self.calls.pop(call.call_id, None)
            await self.hub.call_finished(ctx, cause="abandoned", ivr_path=[], recordings={}, talk=False)
            return
        pending.answered = True
        self._execute(self.ua.answer(call.call_id, bytes(answer), self._now()))
        if pending.confirmed:
            self._start_session(pending)

    def _confirmed(self, call_id: str) -> None:
        pending = self.calls.get(call_id)
        if pending is None:
            return
        pending.confirmed = True
        if pending.session is not None:
            self._start_session(pending)

    def _start_session(self, pending: _Pending) -> None:
        session = pending.session
        assert session is not None
        if session.task is not None:
            return
        task = session.start()
        task.add_done_callback(lambda _t: self.calls.pop(pending.call.call_id, None))

    def _gone(self, call_id: str, *, cancelled: bool) -> None:
        pending = self.calls.get(call_id)
        if pending is None:
            return
        if pending.session is not None and pending.session.task is not None:
            pending.session.caller_hung_up()
            return
        pending.cancelled = True
        if pending.session is not None and pending.answered:  # answered but never ACKed, or BYE before the ACK
            session = pending.session
            session.caller_gone = True
            self.calls.pop(call_id, None)
            self._tasks.spawn(
                session.hub.call_finished(session.ctx, cause="abandoned", ivr_path=[], recordings={}, talk=False)
            )
            session.leg.close()
        # otherwise _answer() is still working on it and sees ``cancelled``

    def _refuse(self, call_id: str, status: int) -> None:
        assert self.ua is not None
        self.calls.pop(call_id, None)
        self._execute(self.ua.reject(call_id, status, self._now()))

    def _hangup(self, call_id: str) -> None:
        if self.ua is not None:
            self._execute(self.ua.hangup(call_id, self._now()))

    def _reinvite(self, event: ReinviteReceived) -> None:
        """Hold/resume from either side: answer with our address and the mirrored direction."""
        assert self.ua is not None
        leg = self._leg_of(event.call_id)
        try:
            offer = SessionDescription.parse(event.request.body) if event.request.body else None
        except SdpParseError:
            offer = None
        if leg is None or offer is None:
            self._execute(self.ua.respond_reinvite(event.call_id, 488, self._now()))
            return
        local_port = leg.socket.port
        answer, negotiated = create_answer(
            offer,
            self.settings.advertised_host,
            local_port,
            session_id=secrets.randbits(31),
            session_version=1,
            direction=Direction.SENDRECV,
        )
        if negotiated is None:
            self._execute(self.ua.respond_reinvite(event.call_id, 488, self._now()))
            return
        leg.on_hold = negotiated.on_hold
        if not negotiated.on_hold:
            leg.remote = (negotiated.remote_address, negotiated.remote_port)
        self._execute(self.ua.respond_reinvite(event.call_id, 200, self._now(), bytes(answer)))

    def _leg_of(self, call_id: str) -> MediaLeg | None:
        pending = self.calls.get(call_id)
        if pending is not None:
            return pending.leg
        if self.desk is not None and call_id in self.desk.agent_calls:
            return self.desk.agent_calls[call_id].leg
        if self.monitors is not None and (supervisor := self.monitors.leg_of(call_id)) is not None:
            return supervisor
        if self.transfers is not None and (target := self.transfers.leg_of(call_id)) is not None:
            return target
        return self.callbacks.leg_of(call_id) if self.callbacks is not None else None


def _user_of(uri: str) -> str | None:
    try:
        return SipUri.parse(uri).user or None
    except SipParseError:
        return None


def _called(call: IncomingCall) -> str | None:
    return _user_of(call.request.uri)


def _free_port(host: str) -> int:
    """A port number free for both UDP and TCP on ``host`` (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise OSError("no port free for both UDP and TCP")
