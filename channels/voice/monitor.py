"""Listen, whisper and barge: the hub calls a supervisor's softphone into a bridged call (like Asterisk's ChanSpy).

A supervisor (or an administrator) with a registered softphone asks to monitor a conversation's live call. The hub
rings their softphone exactly as it rings an agent (the registrar binding, an outgoing INVITE), shown as
"监听 <agent>". When they answer, a :class:`~.mixer.Mixer` takes the caller's, the agent's and the supervisor's legs
over in the requested mode; the mode can change at any time without hanging up, from the floor page or from the
supervisor's keypad (1 listen, 2 whisper, 3 barge, like FreeSWITCH's eavesdrop). Stopping hangs the supervisor's
leg up and the caller and the agent relay directly again; so does the supervisor hanging up. When the call itself
ends (either party hangs up, the agent leg is replaced) the supervisor's leg is hung up too.

While the supervisor can be heard (whisper, barge) their voice is recorded with the call as the ``supervisor`` leg.
Every start, mode change and end is reported through the ``report`` callback the request gave (the queue log).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .agents import negotiated_from_answer
from .leg import MediaClock, MediaLeg, open_leg_socket
from .mixer import Mixer, Mode
from .recording import CallRecorder
from .sdp import Direction, SdpParseError, SessionDescription, create_offer
from .sip.registrar import Binding
from .sip.uas import CallEnded, Event, OutgoingAnswered, OutgoingFailed, UserAgent
from .transport import RtpSocket

if TYPE_CHECKING:
    from .callback import _Callback
    from .service import VoiceChannel
    from .session import CallSession

log = logging.getLogger(__name__)

DTMF_MODES: dict[str, Mode] = {"1": "listen", "2": "whisper", "3": "barge"}
State = Literal["ringing", "connected", "ended"]
Report = Callable[[str], None]  # the mode ("listen" / "whisper" / "barge" / "stop") → the queue log


@dataclass(frozen=True)
class BridgedCall:
    """A live call whose caller and agent legs are bridged.

    Attributes:
        sip_call_id: the caller's SIP Call-ID (a call-back: its agent leg's), for the queue item ``call:<id>``.
        conversation_id: the call's conversation.
        caller: the citizen's leg.
        agent: the agent's leg.
        agent_id: the agent talking.
        recorder: the call's recorder while it records (the supervisor's voice is added when it can be heard).
    """

    sip_call_id: str
    conversation_id: str
    caller: MediaLeg
    agent: MediaLeg
    agent_id: int | None
    recorder: Callable[[], CallRecorder | None]


def _recorder_of(owner: CallSession | _Callback) -> Callable[[], CallRecorder | None]:
    """The recorder of a call session or call-back while it records."""
    return lambda: None if getattr(owner, "finished", False) else owner.recorder


def bridged_calls(channel: VoiceChannel, conversation_id: str) -> list[BridgedCall]:
    """The bridged calls of a conversation: inbound calls answered by an agent, and connected call-backs."""
    found = []
    for pending in channel.calls.values():
        session = pending.session
        if session is None or session.caller_gone or session.ctx.conversation.id != conversation_id:
            continue
        agent = session.agent_leg
        if agent is not None and session.leg.peer is agent and not agent.closed:
            found.append(
                BridgedCall(
                    session.sip_call_id,
                    conversation_id,
                    session.leg,
                    agent,
                    session.agent_id,
                    _recorder_of(session),
                )
            )
    callbacks = channel.callbacks
    for callback in {id(c): c for c in callbacks.calls.values()}.values() if callbacks is not None else ():
        citizen, agent = callback.citizen_leg, callback.agent_leg
        if callback.finished or callback.ctx.conversation.id != conversation_id or citizen is None or agent is None:
            continue
        if citizen.peer is agent and not agent.closed:
            found.append(
                BridgedCall(
                    callback.ctx.sip_call_id,
                    conversation_id,
                    citizen,
                    agent,
                    callback.agent_id,
                    _recorder_of(callback),
                )
            )
    return found


class MonitorError(Exception):
    """Monitoring cannot start or change: ``code`` is the API's error code, ``status`` its HTTP status."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass
class Monitor:
    """One supervisor monitoring one call."""

    call: BridgedCall
    supervisor_id: int
    mode: Mode
    out_id: str  # the supervisor leg's SIP Call-ID
    socket: RtpSocket
    report: Report
    leg: MediaLeg | None = None
    mixer: Mixer | None = None
    state: State = "ringing"


class MonitorDesk:
    """Rings supervisors into bridged calls and runs their mixers.

    Args:
        ua: the user agent (UAC for the supervisor's leg).
        execute: sends the UA's output events.
        clock: the shared media clock.
        host: address for the supervisors' RTP sockets; advertised_host: the address in our SDP.
        ring_s: how long the supervisor's softphone may ring.
        binding_of: the softphone binding of a hub user (None: not registered).
        bridged: a conversation's bridged calls.
    """

    def __init__(
        self,
        *,
        ua: UserAgent,
        execute: Callable[[Iterable[Event]], None],
        clock: MediaClock,
        host: str,
        advertised_host: str,
        ring_s: float,
        binding_of: Callable[[int], Binding | None],
        bridged: Callable[[str], list[BridgedCall]],
    ) -> None:
        self.ua, self.execute, self.clock = ua, execute, clock
        self.host, self.advertised_host, self.ring_s = host, advertised_host, ring_s
        self.binding_of = binding_of
        self.bridged = bridged
        self.monitors: dict[str, Monitor] = {}  # by the supervisor leg's SIP Call-ID

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- requests (the floor page, the staff API) --------------------------------------------------------------

    def call_of(self, conversation_id: str) -> BridgedCall:
        """The conversation's bridged call (raises ``MonitorError("no_call", 404)``)."""
        calls = self.bridged(conversation_id)
        if not calls:
            raise MonitorError("no_call", 404)
        return calls[0]

    def _on(self, call: BridgedCall) -> Monitor | None:
        return next((m for m in self.monitors.values() if m.call.caller is call.caller), None)

    def _by(self, supervisor_id: int) -> Monitor | None:
        return next((m for m in self.monitors.values() if m.supervisor_id == supervisor_id), None)

    async def start(
        self, conversation_id: str, supervisor_id: int, mode: Mode, *, display: str, report: Report
    ) -> Monitor:
        """Monitor the conversation's call in ``mode``: ring the supervisor, or change the mode if already on it.

        Args:
            conversation_id: the conversation whose bridged call is monitored.
            supervisor_id: the hub user monitoring.
            mode: listen, whisper or barge.
            display: the display name of the supervisor's incoming call ("监听 张敏").
            report: told every mode the monitor takes, then ``"stop"`` (once, whatever ends it).

        Raises:
            MonitorError: ``no_call`` (404); ``monitored`` (another supervisor is on the call), ``busy`` (this
                supervisor monitors another call), ``not_registered`` (no softphone) (409).
        """
        call = self.call_of(conversation_id)
        current = self._on(call)
        if current is not None and current.supervisor_id != supervisor_id:
            raise MonitorError("monitored", 409)
        if current is not None:
            self.set_mode(current, mode)
            return current
        if self._by(supervisor_id) is not None:
            raise MonitorError("busy", 409)
        binding = self.binding_of(supervisor_id)
        if binding is None:
            raise MonitorError("not_registered", 409)
        socket = await open_leg_socket(self.host)
        if self._on(call) is not None or self._by(supervisor_id) is not None or call.caller.closed:
            socket.close()  # something changed while the socket opened
            raise MonitorError("monitored", 409)
        offer = create_offer(
            self.advertised_host, socket.port, session_id=secrets.randbits(31), direction=Direction.SENDRECV
        )
        out_id, events = self.ua.invite(
            binding,
            bytes(offer),
            self._now(),
            from_display=display,
            caller_id="monitor",
            headers=[("X-Rexian-Conversation", conversation_id), ("X-Rexian-Monitor", mode)],
            ring_timeout=self.ring_s,
        )
        monitor = Monitor(call, supervisor_id, mode, out_id, socket, report)
        self.monitors[out_id] = monitor
        self.execute(events)
        report(mode)
        log.info("supervisor %s: ringing to %s call %s", supervisor_id, mode, call.sip_call_id)
        return monitor

    def set_mode(self, monitor: Monitor, mode: Mode) -> None:
        """Switch the monitor's mode (no hang-up); reported when it changes."""
        if monitor.state == "ended" or monitor.mode == mode:
            return
        monitor.mode = mode
        if monitor.mixer is not None:
            monitor.mixer.set_mode(mode)
        self._record_supervisor(monitor)
        monitor.report(mode)
        log.info("supervisor %s: %s on call %s", monitor.supervisor_id, mode, monitor.call.sip_call_id)

    def stop(self, conversation_id: str, supervisor_id: int) -> Monitor:
        """End the supervisor's monitoring of the conversation's call (hangs their leg up).

        Raises:
            MonitorError: ``no_call`` (404), ``not_monitoring`` (409).
        """
        call = self.call_of(conversation_id)
        monitor = self._on(call)
        if monitor is None or monitor.supervisor_id != supervisor_id:
            raise MonitorError("not_monitoring", 409)
        self._end(monitor, "stopped")
        return monitor

    # -- SIP events of the supervisors' legs -------------------------------------------------------------------

    def handle(self, event: Event) -> bool:
        """Take an event of a supervisor's leg; whether it was one."""
        if not isinstance(event, (OutgoingAnswered, OutgoingFailed, CallEnded)):
            return False
        monitor = self.monitors.get(event.call_id)
        if monitor is None:
            return False
        if isinstance(event, OutgoingAnswered):
            self._answered(monitor, event.sdp)
        elif isinstance(event, OutgoingFailed):
            self._end(monitor, f"not answered ({event.status})", hang_up=False)
        else:
            self._end(monitor, "supervisor hung up", hang_up=False)
        return True

    def leg_of(self, sip_call_id: str) -> MediaLeg | None:
        """The supervisor's media leg of ``sip_call_id`` (re-INVITEs: hold)."""
        monitor = self.monitors.get(sip_call_id)
        return monitor.leg if monitor is not None else None

    def _answered(self, monitor: Monitor, sdp: bytes) -> None:
        try:
            negotiated = negotiated_from_answer(SessionDescription.parse(sdp))
        except SdpParseError:
            negotiated = None
        call = monitor.call
        if negotiated is None or call.caller.closed or call.agent.closed or call.caller.peer is not call.agent:
            self._end(monitor, "unusable answer or the call is over")
            return
        leg = MediaLeg("supervisor", monitor.socket, negotiated, self.clock)
        leg.on_dtmf = lambda digit: self._dtmf(monitor, digit)
        leg.detect_inband(True)  # keys as tones when the softphone negotiated no telephone-event
        mixer = Mixer(call.caller, call.agent, leg, monitor.mode, on_ended=lambda: self._end(monitor, "call ended"))
        monitor.leg, monitor.mixer, monitor.state = leg, mixer, "connected"
        mixer.attach(self._now())
        self._record_supervisor(monitor)
        log.info("supervisor %s: %s on call %s", monitor.supervisor_id, monitor.mode, call.sip_call_id)

    def _dtmf(self, monitor: Monitor, digit: str) -> None:
        mode = DTMF_MODES.get(digit)
        if mode is not None:
            self.set_mode(monitor, mode)

    def _record_supervisor(self, monitor: Monitor) -> None:
        leg = monitor.leg
        if leg is None:
            return
        if monitor.mode == "listen":
            leg.on_pcm = None
            return
        recorder = monitor.call.recorder

        def record(pcm: bytes, at: float) -> None:
            current = recorder()
            if current is not None:
                current.add("supervisor", pcm, at)

        leg.on_pcm = record

    def _end(self, monitor: Monitor, why: str, *, hang_up: bool = True) -> None:
        """Stop mixing, hang the supervisor's leg up, report ``stop`` (once)."""
        if monitor.state == "ended":
            return
        monitor.state = "ended"
        self.monitors.pop(monitor.out_id, None)
        if monitor.mixer is not None:
            monitor.mixer.detach()
        if hang_up:
            self.execute(self.ua.hangup(monitor.out_id, self._now()))  # BYE, or CANCEL while it rings
        if monitor.leg is not None:
            monitor.leg.close()
        else:
            monitor.socket.close()
        monitor.report("stop")
        log.info(
            "supervisor %s: monitoring of call %s ended (%s)", monitor.supervisor_id, monitor.call.sip_call_id, why
        )

    def close(self) -> None:
        """Hang every supervisor leg up (hub shutdown)."""
        for monitor in list(self.monitors.values()):
            self._end(monitor, "shutdown")
