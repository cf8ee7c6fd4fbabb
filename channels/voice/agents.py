"""Agents' softphones and the call queue: registration, ringing an agent, bridging, and the ACD's timers.

Agents register their SIP softphone with the hub (Digest, the account from ``/agent/softphone``); a registered
softphone signs the agent in to every queue of the active IVR flow. The sans-IO :class:`~routing.acd.Acd`
decides who is offered which caller; this desk carries its decisions out: ringing an agent is an outgoing INVITE
to the agent's registered contact (with the caller's masked number as display name, and a ``CallOffered`` event so
the agent's inbox opens the caller's conversation while the phone rings); an answer bridges the caller's and the
agent's media legs; a refusal or no answer rings the next agent; a caller who hangs up while waiting is abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from hub.events import CallOffered, EventBus
from hub.logsafe import mask
from routing.acd import Acd, AcdError, AcdEvent, Announce, Offer, OfferTimedOut, OfferWithdrawn, Overflow, QueueLeft

from .ivr.events import Enqueue
from .leg import MediaClock, MediaLeg, open_leg_socket
from .sdp import PCMA, PCMU, Direction, Negotiated, SdpParseError, SessionDescription, create_offer
from .session import CallSession
from .sip.registrar import AgentRegistered, AgentUnregistered, Binding, Registrar
from .sip.uas import Event, UserAgent
from .transport import RtpSocket

log = logging.getLogger(__name__)


@dataclass
class _AgentCall:
    """An outgoing call to an agent's softphone for a queued caller."""

    sip_call_id: str
    session: CallSession
    agent_id: int
    socket: RtpSocket
    leg: MediaLeg | None = None
    answered: bool = False


def negotiated_from_answer(answer: SessionDescription) -> Negotiated | None:
    """What the callee's SDP answer to our offer agreed (first audio stream with a port; None: rejected)."""
    for media in answer.media:
        if media.media != "audio" or media.port == 0:
            continue
        conn = answer.connection_of(media)
        if conn is None:
            return None
        rtpmap = media.rtpmap()
        codec = None
        dtmf = None
        for fmt in media.formats:
            if not (fmt.isascii() and fmt.isdigit()):
                continue
            pt = int(fmt)
            name, rate = rtpmap.get(pt, ({0: "PCMU", 8: "PCMA"}.get(pt, ""), 8000))
            if codec is None and name.upper() in ("PCMU", "PCMA") and rate == 8000:
                codec = PCMU if name.upper() == "PCMU" else PCMA
            elif name.lower() == "telephone-event" and dtmf is None:
                dtmf = pt
        if codec is None:
            return None
        return Negotiated(codec, dtmf, conn.address.split("/", 1)[0], media.port, answer.direction_of(media))
    return None


class AgentDesk:
    """Carries out the ACD's decisions with SIP and RTP.

    Args:
        ua: the user agent (registrar + UAC).
        execute: sends the UA's output events (the endpoint's ``execute``).
        clock: the shared media clock.
        host: address for the agents' RTP sockets and SDP.
        acd: the queue.
        bus: the hub's event bus (``CallOffered``).
        agent_of: SIP user name → hub user id (None: not an agent account).
        queues: the queue names the agents serve (from the active flow).
    """

    def __init__(
        self,
        *,
        ua: UserAgent,
        execute: Callable[[Iterable[Event]], None],
        clock: MediaClock,
        host: str,
        advertised_host: str,
        acd: Acd,
        bus: EventBus,
        agent_of: Callable[[str], int | None],
        queues: Callable[[], Iterable[str]],
    ) -> None:
        self.ua = ua
        self.execute = execute
        self.clock = clock
        self.host = host
        self.advertised_host = advertised_host
        self.acd = acd
        self.bus = bus
        self.agent_of = agent_of
        self.queues = queues
        self.sessions: dict[str, CallSession] = {}  # queued or bridged callers by their SIP Call-ID
        self.agent_calls: dict[str, _AgentCall] = {}  # by the agent leg's SIP Call-ID
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- registration --------------------------------------------------------------------------------------

    def registration(self, event: AgentRegistered | AgentUnregistered) -> None:
        """An agent's softphone registered or went away."""
        agent_id = self.agent_of(event.user)
        if agent_id is None:
            log.warning("registration of unknown SIP user %s ignored", event.user)
            return
        now = self._now()
        if isinstance(event, AgentRegistered):
            log.info("agent %s softphone registered", agent_id)
            self._apply(self.acd.sign_in(agent_id, now=now, queues=self.queues()))
            self._apply(self.acd.set_registered(agent_id, True, now=now))
        else:
            log.info("agent %s softphone unregistered", agent_id)
            if agent_id in self.acd.agents:
                self._apply(self.acd.set_registered(agent_id, False, now=now))

    def binding_of(self, agent_id: int, registrar: Registrar) -> Binding | None:
        """The agent's current softphone binding."""
        now = self._now()
        for binding in registrar.bindings(now):
            if self.agent_of(binding.user) == agent_id:
                return binding
        return None

    def pause_for_callback(self, agent_id: int) -> bool:
        """Take an available agent out of the queue while they call a citizen back; whether they were paused."""
        agent = self.acd.agents.get(agent_id)
        if agent is None or agent.state.value != "available":
            return False
        with contextlib.suppress(AcdError):
            self._apply(self.acd.pause(agent_id, now=self._now()))
            return True
        return False

    def resume_after_callback(self, agent_id: int) -> None:
        """The call-back is over: the agent takes queued calls again."""
        with contextlib.suppress(AcdError, KeyError):
            self._apply(self.acd.agent_available(agent_id, now=self._now()))

    # -- callers -------------------------------------------------------------------------------------------

    def enqueue(self, session: CallSession, action: Enqueue) -> None:
        """A caller waits for an agent."""
        self.sessions[session.sip_call_id] = session
        events = self.acd.enqueue(
            session.sip_call_id, queue=action.queue, now=self._now(), priority=action.priority, skill=action.skill
        )
        self._apply(events)

    def leave(self, session: CallSession) -> None:
        """The caller's call is over: abandon the queue, hang up the agent leg."""
        call_id = session.sip_call_id
        if call_id in self.acd.calls:
            self._apply(self.acd.abandon(call_id, now=self._now()))
        for out_id, agent_call in list(self.agent_calls.items()):
            if agent_call.session is session:
                self.execute(self.ua.hangup(out_id, self._now()))
                self._end_agent_call(out_id)
        self.sessions.pop(call_id, None)

    # -- SIP events of the agent legs ----------------------------------------------------------------------

    def owns(self, sip_call_id: str) -> bool:
        """Whether ``sip_call_id`` is one of our outgoing calls to an agent."""
        return sip_call_id in self.agent_calls

    def answered(self, sip_call_id: str, sdp: bytes) -> None:
        """The agent picked up."""
        agent_call = self.agent_calls.get(sip_call_id)
        if agent_call is None:
            return
        try:
            negotiated = negotiated_from_answer(SessionDescription.parse(sdp))
        except SdpParseError:
            negotiated = None
        session = agent_call.session
        if negotiated is None or session.caller_gone:
            log.warning("agent %s answered with unusable SDP (or the caller left); hanging up", agent_call.agent_id)
            self.execute(self.ua.hangup(sip_call_id, self._now()))
            self._refused(agent_call)
            return
        try:
            self._apply(self.acd.accept(session.sip_call_id, agent_call.agent_id, now=self._now()))
        except AcdError:
            log.info("agent %s answered an offer that was withdrawn; hanging up", agent_call.agent_id)
            self.execute(self.ua.hangup(sip_call_id, self._now()))
            self._end_agent_call(sip_call_id)
            return
        leg = MediaLeg("agent", agent_call.socket, negotiated, self.clock)
        agent_call.leg, agent_call.answered = leg, True
        self._spawn(session.connect_agent(leg, agent_call.agent_id))

    def failed(self, sip_call_id: str, status: int) -> None:
        """The agent's phone refused, was busy or did not answer."""
        agent_call = self.agent_calls.get(sip_call_id)
        if agent_call is None:
            return
        log.info("agent %s did not take the call (%d)", agent_call.agent_id, status)
        self._refused(agent_call)

    def ended(self, sip_call_id: str) -> None:
        """The agent leg ended (the agent hung up, or we did)."""
        agent_call = self.agent_calls.get(sip_call_id)
        if agent_call is None:
            return
        self._end_agent_call(sip_call_id)
        if agent_call.answered:
            self._spawn(agent_call.session.agent_hung_up())

    def _refused(self, agent_call: _AgentCall) -> None:
        self._end_agent_call(agent_call.sip_call_id)
        session = agent_call.session
        if session.sip_call_id in self.acd.calls:
            with contextlib.suppress(AcdError):  # the offer may have timed out or been withdrawn already
                self._apply(self.acd.reject(session.sip_call_id, agent_call.agent_id, now=self._now()))

    def _end_agent_call(self, sip_call_id: str) -> None:
        agent_call = self.agent_calls.pop(sip_call_id, None)
        if agent_call is None:
            return
        if agent_call.leg is not None:
            agent_call.leg.close()
        else:
            agent_call.socket.close()
        if agent_call.answered and agent_call.agent_id in self.acd.agents:
            with contextlib.suppress(AcdError):
                self._apply(self.acd.call_ended(agent_call.agent_id, now=self._now()))

    # -- ACD events ----------------------------------------------------------------------------------------

    def _apply(self, events: list[AcdEvent]) -> None:
        for event in events:
            if isinstance(event, Announce):
                session = self.sessions.get(event.call_id)
                if session is not None:
                    session.spawn(session.say(session.position_text(event.ahead)))
            elif isinstance(event, Offer):
                self._spawn(self._ring(event.call_id, event.agent_id))
            elif isinstance(event, (OfferWithdrawn, OfferTimedOut)):
                for out_id, agent_call in list(self.agent_calls.items()):
                    if agent_call.session.sip_call_id == event.call_id and agent_call.agent_id == event.agent_id:
                        if not agent_call.answered:
                            self.execute(self.ua.hangup(out_id, self._now()))  # CANCEL
                        self._end_agent_call(out_id)
            elif isinstance(event, Overflow):
                session = self.sessions.get(event.call_id)
                if session is not None:
                    session.overflow()
            elif isinstance(event, QueueLeft) and event.outcome != "answered":
                session = self.sessions.get(event.call_id)
                if session is not None:
                    self._spawn(session.hub.left_queue(session.ctx, agent_id=None))
        self._rearm()

    async def _ring(self, caller_call_id: str, agent_id: int) -> None:
        session = self.sessions.get(caller_call_id)
        registrar = self.ua.registrar
        binding = self.binding_of(agent_id, registrar) if registrar is not None else None
        if session is None or binding is None:
            if session is not None and caller_call_id in self.acd.calls:
                self._apply(self.acd.reject(caller_call_id, agent_id, now=self._now()))
            return
        socket = await open_leg_socket(self.host)
        offer = create_offer(
            self.advertised_host, socket.port, session_id=secrets.randbits(31), direction=Direction.SENDRECV
        )
        display = mask(session.ctx.caller) if session.ctx.caller else None
        out_id, events = self.ua.invite(
            binding,
            bytes(offer),
            self._now(),
            from_display=display,
            caller_id=session.ctx.caller or "anonymous",
            headers=[("X-Rexian-Conversation", session.ctx.conversation.id)],
        )
        self.agent_calls[out_id] = _AgentCall(out_id, session, agent_id, socket)
        self.execute(events)
        await self.bus.publish(CallOffered(session.ctx.conversation, agent_id, session.ctx.caller))
        log.info("ringing agent %s for call %s", agent_id, session.ctx.record_id)

    # -- timers --------------------------------------------------------------------------------------------

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.acd.next_deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._apply(self.acd.handle_timeout(self._now()))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent desk task failed", exc_info=task.exception())

    def snapshot(self) -> dict[str, object]:
        """Queues and agents for /healthz and wallboards."""
        return {**self.acd.snapshot(), "ringing": len([c for c in self.agent_calls.values() if not c.answered])}

    def close(self) -> None:
        """Stop timers and hang up every agent leg."""
        if self._timer is not None:
            self._timer.cancel()
        for out_id in list(self.agent_calls):
            self.execute(self.ua.hangup(out_id, self._now()))
            self._end_agent_call(out_id)
        for task in list(self._tasks):
            task.cancel()
