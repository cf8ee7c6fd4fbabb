"""Agents' softphones and the callers waiting for them, through the hub's one routing engine (ADR 0030).

Agents register their SIP softphone with the hub (Digest, the account from ``/agent/softphone``); a registration
tells the :class:`~routing.switchboard.Switchboard` the agent can take calls (and signs an offline agent in). Queue
membership and skills come from the agents' routing profiles. Calls and chats compete for the same agents in the
switchboard's router; this desk is its :class:`~routing.switchboard.VoicePort` and carries out its decisions for
calls:

- an offer rings the agent: an outgoing INVITE to the registered contact (the caller's masked number as display
  name) and a ``CallOffered`` event, so the agent's inbox opens the caller's conversation while the phone rings;
- an answer accepts the offer and bridges the caller's and the agent's media legs; a refusal (4xx/6xx) declines it,
  a missed offer; a withdrawn or timed-out offer CANCELs the ringing leg; an overflow sends the caller to voicemail;
- a caller who hangs up while waiting abandons the queue; the end of a bridged call (either side) finishes the item.

Waiting callers hear their position and estimated wait when the position changes and every ``position_every_s``,
driven by one timer for the whole desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hub.background import TaskSet
from hub.events import CallOffered, EventBus
from hub.logsafe import mask
from routing.engine import AgentStatus, RoutingError, Strategy
from routing.routing_settings import RoutingSettings
from routing.switchboard import Change, Switchboard, call_item_id
from routing.switchboard_log import ItemInfo

from .ivr.events import Enqueue
from .leg import MediaClock, MediaLeg, open_leg_socket
from .sdp import PCMA, PCMU, Direction, Negotiated, SdpParseError, SessionDescription, create_offer
from .session import CallSession
from .sip.registrar import AgentRegistered, AgentUnregistered, Binding, Registrar
from .sip.uas import Event, UserAgent
from .transport import RtpSocket

log = logging.getLogger(__name__)

RING_SLACK_S = 5.0
"""The softphone may ring this much longer than the offer: the engine's offer timeout decides, then CANCELs."""


@dataclass
class _AgentCall:
    """An outgoing call to an agent's softphone for a queued caller (one offer of the call's item)."""

    sip_call_id: str
    session: CallSession
    item_id: str
    agent_id: int
    socket: RtpSocket
    leg: MediaLeg | None = None
    answered: bool = False


@dataclass
class _Waiting:
    """A caller in a queue: the position they last heard and when they hear it again (loop time)."""

    queue: str
    announced: int | None = None
    due: float = 0.0


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


def required_skills(settings: RoutingSettings, action: Enqueue) -> dict[str, int]:
    """The skills a call needs: the IVR node's ``skill``, and its ``industry`` when the queue routes by skills.

    The industry is required only in queues with the ``skills`` strategy, so a default install (longest idle,
    agents without industry skills) never strands a caller.
    """
    skills = {action.skill: 1} if action.skill else {}
    if action.industry and settings.queue(action.queue).strategy is Strategy.SKILLS:
        skills[f"industry:{action.industry}"] = 1
    return skills


class AgentDesk:
    """The switchboard's voice port: rings, cancels and bridges agents' softphones, announces positions.

    Args:
        ua: the user agent (registrar + UAC).
        execute: sends the UA's output events (the endpoint's ``execute``).
        clock: the shared media clock.
        host: address for the agents' RTP sockets.
        advertised_host: address written into our SDP.
        switchboard: the hub's one router of calls and conversations.
        bus: the hub's event bus (``CallOffered``).
        agent_of: SIP user name → hub user id (None: not a softphone account).
        position_every_s: how often a waiting caller hears their position again.
    """

    def __init__(
        self,
        *,
        ua: UserAgent,
        execute: Callable[[Iterable[Event]], None],
        clock: MediaClock,
        host: str,
        advertised_host: str,
        switchboard: Switchboard,
        bus: EventBus,
        agent_of: Callable[[str], int | None],
        position_every_s: float = 30.0,
    ) -> None:
        self.ua = ua
        self.execute = execute
        self.clock = clock
        self.host = host
        self.advertised_host = advertised_host
        self.switchboard = switchboard
        self.bus = bus
        self.agent_of = agent_of
        self.position_every_s = position_every_s
        self.sessions: dict[str, CallSession] = {}  # callers that joined a queue, by item id, until they hang up
        self.waiting: dict[str, _Waiting] = {}  # those waiting now (refreshed at every position check)
        self.agent_calls: dict[str, _AgentCall] = {}  # by the agent leg's SIP Call-ID
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = TaskSet("agent desk")
        self._unlisten: Callable[[], None] | None = None
        self._closed = False

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def attach(self) -> None:
        """Become the switchboard's voice port (the voice channel started)."""
        self.switchboard.voice = self
        self._unlisten = self.switchboard.listen(self._on_change)

    # -- registration --------------------------------------------------------------------------------------

    def registration(self, event: AgentRegistered | AgentUnregistered) -> None:
        """An agent's softphone registered or went away."""
        agent_id = self.agent_of(event.user)
        if agent_id is None or not self.switchboard.knows(agent_id):
            log.warning("registration of SIP user %s ignored: not an agent or supervisor", event.user)
            return
        registered = isinstance(event, AgentRegistered)
        log.info("agent %s softphone %s", agent_id, "registered" if registered else "unregistered")
        try:
            self.switchboard.set_registered(agent_id, registered)
        except RoutingError:
            log.exception("agent %s: the registration could not be routed", agent_id)

    def binding_of(self, agent_id: int, registrar: Registrar) -> Binding | None:
        """The agent's current softphone binding."""
        now = self._now()
        for binding in registrar.bindings(now):
            if self.agent_of(binding.user) == agent_id:
                return binding
        return None

    # -- call-backs ----------------------------------------------------------------------------------------

    def busy(self, agent_id: int) -> bool:
        """Whether the agent is being offered an item or is on a call (no call-back may start)."""
        agent = self.switchboard.router.agents.get(agent_id)
        return agent is not None and (agent.status is AgentStatus.OFFERED or bool(agent.voice_items))

    def pause_for_callback(self, agent_id: int, sip_call_id: str, conversation_id: str) -> bool:
        """The agent dials a citizen: busy in the router until :meth:`resume_after_callback`; whether it worked."""
        try:
            self.switchboard.occupy(agent_id, call_item_id(sip_call_id), conversation_id)
        except RoutingError as exc:
            log.warning("agent %s is not marked busy for the call-back: %s", agent_id, exc)
            return False
        return True

    def resume_after_callback(self, sip_call_id: str) -> None:
        """The call-back is over: the agent takes queued calls and chats again (after any wrap-up)."""
        self.switchboard.finish(call_item_id(sip_call_id))

    # -- callers -------------------------------------------------------------------------------------------

    def enqueue(self, session: CallSession, action: Enqueue) -> None:
        """A caller waits for an agent: the call joins the switchboard's queue (offers may follow at once)."""
        item_id = call_item_id(session.sip_call_id)
        self.sessions[item_id] = session
        self.waiting[item_id] = _Waiting(action.queue)
        try:
            self.switchboard.enqueue_call(
                session.sip_call_id,
                session.ctx.conversation.id,
                queue=action.queue,
                priority=action.priority,
                skills=required_skills(self.switchboard.settings, action) or None,
            )
        except RoutingError:
            log.exception("call %s could not join queue %s; voicemail instead", session.ctx.record_id, action.queue)
            self.waiting.pop(item_id, None)
            session.overflow()
            return
        self._arm(0.0)  # the caller hears their position at once (unless an agent's phone is already ringing)

    def leave(self, session: CallSession) -> None:
        """The caller's call is over: abandon the queue, or end the agent leg and finish the item."""
        item_id = call_item_id(session.sip_call_id)
        board = self.switchboard
        self.waiting.pop(item_id, None)
        if item_id in board.router.items:
            board.abandon(item_id)  # ringing agents are CANCELled through withdraw()
            self._tasks.spawn(session.hub.left_queue(session.ctx, agent_id=None))
        for out_id, agent_call in list(self.agent_calls.items()):
            if agent_call.session is session:
                self._hang_up(out_id)
        board.finish(item_id)  # only if an agent holds it
        self.sessions.pop(item_id, None)

    # -- the switchboard's voice port ----------------------------------------------------------------------

    def offer(self, item: ItemInfo, agent_id: int, deadline: float) -> None:
        """Ring the agent's softphone for the call (answer → accept; refusal → decline)."""
        self._tasks.spawn(self._ring(item.item_id, agent_id, deadline))

    def withdraw(self, item: ItemInfo, agent_id: int) -> None:
        """Stop ringing the agent (CANCEL): the offer timed out, another agent won, the caller left."""
        for out_id, agent_call in list(self.agent_calls.items()):
            if agent_call.item_id == item.item_id and agent_call.agent_id == agent_id and not agent_call.answered:
                self._hang_up(out_id)

    def overflow(self, item: ItemInfo) -> None:
        """The caller waited past the queue's maximum: out of the queue, to voicemail (the IVR decides)."""
        self.waiting.pop(item.item_id, None)
        session = self.sessions.get(item.item_id)
        if session is None:
            return
        session.overflow()
        self._tasks.spawn(session.hub.left_queue(session.ctx, agent_id=None))

    # -- SIP events of the agent legs ----------------------------------------------------------------------

    def owns(self, sip_call_id: str) -> bool:
        """Whether ``sip_call_id`` is one of our outgoing calls to an agent."""
        return sip_call_id in self.agent_calls

    def adopt(self, sip_call_id: str, session: CallSession, agent_id: int, socket: RtpSocket, leg: MediaLeg) -> None:
        """A transferred call's answered leg now carries it (:mod:`.transfer`): its end is any agent leg's end."""
        item_id = call_item_id(session.sip_call_id)
        self.agent_calls[sip_call_id] = _AgentCall(sip_call_id, session, item_id, agent_id, socket, leg, True)

    def answered(self, sip_call_id: str, sdp: bytes) -> None:
        """The agent picked up: accept the offer and bridge, or hang up if it is gone."""
        agent_call = self.agent_calls.get(sip_call_id)
        if agent_call is None:
            return
        try:
            negotiated = negotiated_from_answer(SessionDescription.parse(sdp))
        except SdpParseError:
            negotiated = None
        session = agent_call.session
        if session.caller_gone:
            log.info("agent %s answered after the caller left; hanging up", agent_call.agent_id)
            self._hang_up(sip_call_id)
            return
        if negotiated is None:
            log.warning("agent %s answered with unusable SDP; hanging up", agent_call.agent_id)
            self._hang_up(sip_call_id)
            self._decline(agent_call)
            return
        try:
            self.switchboard.accept(agent_call.item_id, agent_call.agent_id)
        except RoutingError:
            log.info("agent %s answered an offer that was withdrawn; hanging up", agent_call.agent_id)
            self._hang_up(sip_call_id)
            return
        self.waiting.pop(agent_call.item_id, None)
        leg = MediaLeg("agent", agent_call.socket, negotiated, self.clock)
        agent_call.leg, agent_call.answered = leg, True
        self._tasks.spawn(session.connect_agent(leg, agent_call.agent_id))

    def failed(self, sip_call_id: str, status: int) -> None:
        """The agent's phone refused (4xx/6xx, e.g. 486 Busy, 603 Decline), failed or did not answer: a miss."""
        agent_call = self.agent_calls.pop(sip_call_id, None)
        if agent_call is None:
            return
        log.info("agent %s did not take the call (%d)", agent_call.agent_id, status)
        self._close_leg(agent_call)
        self._decline(agent_call)

    def ended(self, sip_call_id: str) -> None:
        """The agent leg ended (the agent hung up): the item is finished; the caller may go back to the menu."""
        agent_call = self.agent_calls.pop(sip_call_id, None)
        if agent_call is None:
            return
        self._close_leg(agent_call)
        if not agent_call.answered:
            self._decline(agent_call)
            return
        self.switchboard.finish(agent_call.item_id)
        self._tasks.spawn(agent_call.session.agent_hung_up())

    def _decline(self, agent_call: _AgentCall) -> None:
        with contextlib.suppress(RoutingError):  # the offer timed out or was withdrawn meanwhile
            self.switchboard.decline(agent_call.item_id, agent_call.agent_id)

    def _hang_up(self, out_id: str) -> _AgentCall | None:
        """CANCEL (ringing) or BYE (answered) an agent leg and close its media; forgotten before the UA reports."""
        agent_call = self.agent_calls.pop(out_id, None)
        if agent_call is None:
            return None
        self.execute(self.ua.hangup(out_id, self._now()))
        self._close_leg(agent_call)
        return agent_call

    @staticmethod
    def _close_leg(agent_call: _AgentCall) -> None:
        if agent_call.leg is not None:
            agent_call.leg.close()
        else:
            agent_call.socket.close()

    def _still_offered(self, item_id: str, agent_id: int) -> bool:
        item = self.switchboard.router.items.get(item_id)
        return item is not None and agent_id in item.offers

    async def _ring(self, item_id: str, agent_id: int, deadline: float) -> None:
        session = self.sessions.get(item_id)
        if session is None:
            log.warning("offer of %s to agent %s: no such call here; the offer will time out", item_id, agent_id)
            return
        registrar = self.ua.registrar
        binding = self.binding_of(agent_id, registrar) if registrar is not None else None
        if binding is None:
            log.info("agent %s has no softphone binding left; calls are no longer offered to them", agent_id)
            self.switchboard.set_registered(agent_id, False)  # withdraws the offer (not a miss)
            return
        socket = await open_leg_socket(self.host)
        ringing = any(c.item_id == item_id and c.agent_id == agent_id for c in self.agent_calls.values())
        if session.caller_gone or ringing or not self._still_offered(item_id, agent_id):
            socket.close()  # withdrawn while the socket opened
            return
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
            ring_timeout=max(deadline - self.switchboard.clock(), 1.0) + RING_SLACK_S,
        )
        self.agent_calls[out_id] = _AgentCall(out_id, session, item_id, agent_id, socket)
        self.execute(events)
        await self.bus.publish(CallOffered(session.ctx.conversation, agent_id, session.ctx.caller))
        log.info("ringing agent %s for call %s", agent_id, session.ctx.record_id)

    # -- position announcements (one timer for the desk) ---------------------------------------------------

    def _on_change(self, change: Change) -> None:
        item = change.item
        if self._closed or item is None or not self.sessions:
            return
        if item.item_id in self.sessions or any(w.queue == item.queue for w in self.waiting.values()):
            self._arm(0.0)

    def _arm(self, delay: float | None = None) -> None:
        """Check the positions after ``delay`` (None: when the next periodic announcement is due)."""
        if self._closed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if delay is None:
            if not self.waiting:
                return
            delay = max(min(w.due for w in self.waiting.values()) - self._now(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._announce)

    def _announce(self) -> None:
        """Tell every waiting caller whose position changed, or whose periodic announcement is due, where they are.

        A caller whose call is being offered (an agent's phone rings) hears nothing until the offer ends.
        """
        self._timer = None
        now = self._now()
        board = self.switchboard
        for item_id, session in list(self.sessions.items()):
            item = board.router.items.get(item_id)
            if item is None:  # with an agent, overflowed, or gone
                self.waiting.pop(item_id, None)
                continue
            waiting = self.waiting.setdefault(item_id, _Waiting(item.queue))
            waiting.queue = item.queue  # a transfer may have moved it
            placed = board.position(item_id)
            if placed is None or item.offers or session.caller_gone:
                if waiting.due <= now:  # due while an agent's phone rings: the next one in a full period
                    waiting.due = now + self.position_every_s
                continue
            position, wait_s = placed
            if position == waiting.announced and waiting.due > now:
                continue
            waiting.announced, waiting.due = position, now + self.position_every_s
            session.spawn(session.say(session.position_text(position - 1, wait_s)))
        self._arm()

    # -- lifetime ------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """For /healthz and wallboards: waiting calls per queue, agents per shown status, phones ringing."""
        waiting: dict[str, int] = {}
        for item in self.switchboard.router.items.values():
            if item.is_voice:
                waiting[item.queue] = waiting.get(item.queue, 0) + 1
        agents: dict[str, int] = {}
        for agent in self.switchboard.router.agents.values():
            agents[agent.status.value] = agents.get(agent.status.value, 0) + 1
        ringing = len([c for c in self.agent_calls.values() if not c.answered])
        return {"waiting": waiting, "agents": agents, "ringing": ringing}

    def close(self) -> None:
        """Stop the timer, hang up every agent leg (finishing bridged items), leave the switchboard."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        for out_id in list(self.agent_calls):
            agent_call = self._hang_up(out_id)
            if agent_call is not None and agent_call.answered:
                self.switchboard.finish(agent_call.item_id)
        if self.switchboard.voice is self:
            self.switchboard.voice = None
        self._tasks.cancel()
