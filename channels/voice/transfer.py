"""Transferring a bridged call: blind or after a consultation, to an agent, a queue or an outside number.

Anchors: Asterisk's blind transfer (``REFER``, ``blindxfer``) and attended transfer (``atxfer``: the caller waits on
hold while the agent talks to the target; completing drops the agent, cancelling resumes the call).

- **Blind to a queue**: the agent leg is hung up, the caller hears hold music and waits again
  (``Switchboard.transfer(item, to_queue=...)``): offers ring agents through the voice port as for any waiting call.
  The conversation is queued again and goes to whoever answers.
- **Blind to an agent**: the agent leg is hung up, the caller hears hold music while the hub rings the target's
  softphone; on answer the caller and the target are bridged (``Switchboard.transfer(item, to_agent=...)``), the
  conversation is the target's; no answer within the ring time (or a refusal) sends the call back to its queue.
- **Blind to a number** (a department's phone, or a mainland number the agent types) through the SIP trunk
  (``--sip-trunk``); refused without one. On answer the caller talks to the outside party; the agent's work ends.
- **Attended** (agent or number): the caller is put on hold, the agent hears a ringback tone while the hub calls the
  target, then the agent and the target talk. *Complete* bridges the caller with the target and drops the agent (so
  does the agent hanging up); *cancel* (or the target hanging up, refusing, not answering) resumes caller ↔ agent.

A transfer from the agent's softphone (an in-dialog REFER, :mod:`.sip.refer`) is a blind transfer: the ``Refer-To``
user part names an agent's softphone account, a queue, or digits to dial through the trunk. The softphone hears the
outcome in the final NOTIFY (``SIP/2.0 200 OK``, or the refusal's status, its call kept), then the hub ends its leg.

The recording of the call goes on across the transfer: the caller's leg and whoever talks with them (the ``agent``
leg). Every transfer is in the switchboard's queue log (``transfer`` then ``connect``; a number: ``data.number``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from hub.background import TaskSet
from hub.events import CallOffered
from hub.i18n import t
from hub.logsafe import mask
from hub.work_orders.alerts import alert_target
from routing.engine import AgentStatus, QueueLeft, RoutingError
from routing.queue_log import LogEntry, QueueEvent
from routing.switchboard import Change, Switchboard, call_item_id
from routing.switchboard_log import at
from routing.transfer import HIDDEN_QUEUES, queue_label

from .agents import AgentDesk, negotiated_from_answer
from .callback import ringback_frames
from .config import VoiceSettings
from .hub_port import VoiceHub
from .ivr.events import AgentLegEnded
from .leg import MediaClock, MediaLeg, bridge, open_leg_socket, unbridge
from .media import hold_music_frames
from .sdp import Direction, SdpParseError, SessionDescription, create_offer
from .session import CallSession
from .sip.uas import CallCancelled, CallEnded, Event, OutgoingAnswered, OutgoingFailed, ReferReceived, UserAgent
from .transport import RtpSocket
from .trunk import Trunk, TrunkError, parse_trunk

log = logging.getLogger(__name__)

Mode = Literal["blind", "attended"]
Kind = Literal["agent", "queue", "number"]
State = Literal["ringing", "consulting", "connected", "queued", "ended"]
MODES = ("blind", "attended")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
#: What the REFER's softphone hears in the final NOTIFY when the transfer is refused.
SIP_STATUS = {
    "unknown_agent": 404,
    "unknown_queue": 404,
    "invalid_target": 404,
    "invalid_number": 484,
    "agent_offline": 480,
    "agent_no_phone": 480,
    "agent_busy": 486,
    "same_agent": 403,
    "not_holder": 403,
    "busy_transferring": 491,
    "no_trunk": 503,
}


class TransferError(Exception):
    """The call cannot be transferred so: ``code`` (``voice.transfer.error.<code>``), HTTP ``status``, ``params``."""

    def __init__(self, code: str, status: int = 409, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params

    def message(self, locale: str) -> str:
        """Why, in ``locale``."""
        return t(f"voice.transfer.error.{self.code}", locale, **self.params)

    @property
    def sip_status(self) -> int:
        """The status a REFER's NOTIFY reports for this refusal."""
        return SIP_STATUS.get(self.code, 403)


def mainland_number(text: object) -> str | None:
    """``text`` as a dialable mainland number (mobile, or a landline with its area code), else None."""
    if not isinstance(text, str):
        return None
    digits = re.sub(r"[\s()\-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits if _MOBILE.match(digits) or _LANDLINE.match(digits) else None


@dataclass(frozen=True, slots=True)
class Target:
    """Where the call goes."""

    kind: Kind
    label: str
    agent_id: int | None = None
    queue: str | None = None
    number: str | None = None


@dataclass
class _Transfer:
    """One transfer in progress."""

    session: CallSession
    item_id: str
    mode: Mode
    target: Target
    from_agent: int
    first_out_id: str | None  # the transferring agent's leg while it is up (attended), owned by the desk
    first_leg: MediaLeg | None
    refer_call_id: str | None = None
    reserved: str | None = None  # the router item keeping the target agent busy while it rings and consults
    out_id: str | None = None  # the target's leg
    socket: RtpSocket | None = None
    leg: MediaLeg | None = None
    state: State = "ringing"

    @property
    def conversation_id(self) -> str:
        return self.session.ctx.conversation.id


class CallTransfers:
    """Transfers of the bridged calls of the voice channel.

    Args:
        ua: the user agent (UAC for the target legs, the REFER NOTIFYs).
        execute: sends the UA's output events.
        clock: the shared media clock.
        settings: the voice settings (addresses, ring times, trunk).
        desk: the agents' desk (its bridged agent legs, softphone bindings, the switchboard).
        hub: the hub port (conversations, call records, taxonomy).
        agent_of: SIP user name → hub user id (a REFER's target).
    """

    def __init__(
        self,
        *,
        ua: UserAgent,
        execute: Callable[[Iterable[Event]], None],
        clock: MediaClock,
        settings: VoiceSettings,
        desk: AgentDesk,
        hub: VoiceHub,
        agent_of: Callable[[str], int | None],
    ) -> None:
        self.ua, self.execute, self.clock, self.settings = ua, execute, clock, settings
        self.desk, self.hub, self.agent_of = desk, hub, agent_of
        self.switchboard: Switchboard = desk.switchboard
        self.trunk: Trunk | None = parse_trunk(settings.trunk) if settings.trunk else None
        self.active: dict[str, _Transfer] = {}  # by conversation id
        self.legs: dict[str, _Transfer] = {}  # by the target leg's SIP Call-ID
        self.requeued: set[str] = set()  # items sent back to a queue: an overflow returns the caller to the menu
        self._tasks = TaskSet("call transfer")
        self._unlisten = self.switchboard.listen(self._on_change)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- what the inbox sees -------------------------------------------------------------------------------

    def bridged(self, conversation_id: str) -> tuple[str, CallSession, int] | None:
        """The conversation's call bridged to an agent: (the agent leg's SIP Call-ID, the caller's session, agent)."""
        for out_id, agent_call in self.desk.agent_calls.items():
            session = agent_call.session
            if not agent_call.answered or session.caller_gone or session.ctx.conversation.id != conversation_id:
                continue
            if agent_call.leg is not None and session.agent_leg is agent_call.leg:
                return out_id, session, agent_call.agent_id
        return None

    def info(self, conversation_id: str) -> dict[str, Any] | None:
        """The conversation's live call as the inbox's transfer button needs it (None: no live call)."""
        transfer = self.active.get(conversation_id)
        if transfer is not None:  # attended: the agent may complete or cancel, ringing or talking to the target
            return {
                "state": "consulting" if transfer.mode == "attended" else "transferring",
                "ringing": transfer.state == "ringing",
                "mode": transfer.mode,
                "target": transfer.target.label,
                "trunk": self.trunk is not None,
            }
        if self.bridged(conversation_id) is None:
            return None
        return {"state": "bridged", "ringing": False, "mode": None, "target": None, "trunk": self.trunk is not None}

    def leg_of(self, sip_call_id: str) -> MediaLeg | None:
        """A target leg's media (re-INVITEs: hold)."""
        transfer = self.legs.get(sip_call_id)
        return transfer.leg if transfer is not None else None

    # -- choosing the target --------------------------------------------------------------------------------

    def queues(self) -> list[str]:
        """The queues a call may be transferred to."""
        board = self.switchboard
        names = dict.fromkeys([*board.router.queues, *board.settings.queues])
        return [name for name in names if name not in HIDDEN_QUEUES]

    def target(self, to: object, value: object, *, holder: int | None, locale: str = "zh-CN") -> Target:
        """Check a target (``to``: agent, queue, unit or number; ``value``: its id, name, code or number)."""
        if to == "agent":
            return self._agent_target(value, holder)
        if to == "queue":
            if not isinstance(value, str) or value not in self.queues():
                raise TransferError("unknown_queue", 400)
            return Target("queue", queue_label(value, locale), queue=value)
        if to in ("unit", "number"):
            if to == "unit":
                tax = self.hub.taxonomy()
                unit = tax.units.get(value) if isinstance(value, str) else None
                if unit is None:
                    raise TransferError("unknown_unit", 400)
                found = alert_target(tax, unit.code)
                number = mainland_number(found.address) if found is not None and found.channel == "sms" else None
                if number is None:
                    raise TransferError("unit_no_phone", name=unit.name(locale))
                label = f"{unit.name(locale)} {mask(number)}"
            else:
                number = mainland_number(value)
                if number is None:
                    raise TransferError("invalid_number", 400)
                label = mask(number)
            if self.trunk is None:
                raise TransferError("no_trunk")
            return Target("number", label, number=number)
        raise TransferError("invalid_target", 400)

    def _agent_target(self, value: object, holder: int | None) -> Target:
        if not isinstance(value, int) or isinstance(value, bool) or value not in self.switchboard.router.agents:
            raise TransferError("unknown_agent", 400)
        agent = self.switchboard.router.agents[value]
        name = self.switchboard.names.get(value, str(value))
        if value == holder:
            raise TransferError("same_agent")
        if agent.presence is AgentStatus.OFFLINE:
            raise TransferError("agent_offline", name=name)
        registrar = self.ua.registrar
        if not agent.registered or registrar is None or self.desk.binding_of(value, registrar) is None:
            raise TransferError("agent_no_phone", name=name)
        if agent.voice_items or agent.offered:
            raise TransferError("agent_busy", name=name)
        return Target("agent", name, agent_id=value)

    # -- starting ------------------------------------------------------------------------------------------

    async def start(
        self,
        conversation_id: str,
        actor: int,
        mode: object,
        to: object,
        value: object,
        *,
        manager: bool = False,
        refer_call_id: str | None = None,
        locale: str = "zh-CN",
    ) -> _Transfer:
        """Transfer the conversation's bridged call (``actor``: the agent on it, or a supervisor: ``manager``).

        Raises:
            TransferError: no bridged call (404), not the actor's call (403), a transfer already in progress, an
                unusable target or mode.
        """
        if mode not in MODES:
            raise TransferError("invalid_mode", 400)
        if conversation_id in self.active:
            raise TransferError("busy_transferring")
        found = self.bridged(conversation_id)
        if found is None:
            raise TransferError("no_live_call", 404)
        out_id, session, holder = found
        if holder != actor and not manager:
            raise TransferError("not_holder", 403)
        target = self.target(to, value, holder=holder, locale=locale)
        if target.kind == "queue" and mode == "attended":
            raise TransferError("attended_queue", 400)
        first = self.desk.agent_calls[out_id]
        transfer = _Transfer(
            session,
            call_item_id(session.sip_call_id),
            "blind" if mode == "blind" else "attended",
            target,
            holder,
            out_id,
            first.leg,
            refer_call_id,
        )
        self.active[conversation_id] = transfer
        log.info(
            "call %s: %s transfer by %s to %s %s",
            session.ctx.record_id,
            transfer.mode,
            actor,
            target.kind,
            target.agent_id or target.queue or mask(target.number or ""),
        )
        self._hold_caller(session)
        if transfer.mode == "blind":
            self._drop_first(transfer)
            if target.kind == "queue":
                assert target.queue is not None
                await self._to_queue(transfer, target.queue)
                return transfer
        elif transfer.first_leg is not None:
            transfer.first_leg.set_background(ringback_frames(transfer.first_leg.codec))
        try:
            await self._dial(transfer)
        except TransferError:
            await self._failed(transfer, 503)
            raise
        return transfer

    def _hold_caller(self, session: CallSession) -> None:
        """Unbridge the caller from the agent; the caller hears hold music (the recording goes on)."""
        agent_leg = session.agent_leg
        if agent_leg is not None:
            unbridge(session.leg, agent_leg)
            agent_leg.on_pcm = None
        session.agent_leg = None
        session.leg.stop_playback()
        session.leg.set_background(hold_music_frames(session.codec))

    def _drop_first(self, transfer: _Transfer) -> None:
        """Hang up the transferring agent's leg (a REFER first hears that the transfer is under way)."""
        out_id, transfer.first_out_id = transfer.first_out_id, None
        leg, transfer.first_leg = transfer.first_leg, None
        if out_id is None:
            return
        self.desk.agent_calls.pop(out_id, None)  # no longer the desk's: its end is not the call's end
        now = self._now()
        if transfer.refer_call_id == out_id:
            self.execute(self.ua.notify_refer(out_id, 200, now))
        self.execute(self.ua.hangup(out_id, now))
        if leg is not None:
            leg.on_pcm = None
            leg.close()

    async def _dial(self, transfer: _Transfer) -> None:
        """Ring the target: the agent's softphone, or the number through the trunk."""
        target, session = transfer.target, transfer.session
        socket = await open_leg_socket(self.settings.sip_host)
        transfer.socket = socket
        offer = create_offer(
            self.settings.advertised_host, socket.port, session_id=secrets.randbits(31), direction=Direction.SENDRECV
        )
        now = self._now()
        if target.kind == "agent":
            assert target.agent_id is not None and self.ua.registrar is not None
            binding = self.desk.binding_of(target.agent_id, self.ua.registrar)
            if binding is None:
                raise TransferError("agent_no_phone", name=target.label)
            display: str | None
            if transfer.mode == "attended":
                display = t("voice.transfer.consult_display", session.ctx.locale, agent=self._name(transfer.from_agent))
            else:
                display = mask(session.ctx.caller) if session.ctx.caller else None
            out_id, events = self.ua.invite(
                binding,
                bytes(offer),
                now,
                from_display=display,
                caller_id=session.ctx.caller or "anonymous",
                headers=[("X-Rexian-Conversation", transfer.conversation_id)],
                ring_timeout=self.settings.agent_ring_s,
            )
        else:
            assert self.trunk is not None and target.number is not None
            try:
                address = await self.trunk.address()
                uri = self.trunk.request_uri(target.number)
            except (OSError, TrunkError) as exc:
                log.error("call %s: trunk unusable for a transfer (%s)", session.ctx.record_id, exc)
                socket.close()
                transfer.socket = None
                raise TransferError("no_trunk") from None
            s = self.settings
            credentials = (s.trunk_user, s.trunk_password or "") if s.trunk_user else None
            out_id, events = self.ua.invite(
                (uri, address),
                bytes(offer),
                now,
                caller_id=s.trunk_caller_id,
                ring_timeout=s.callback_ring_s,
                credentials=credentials,
            )
        transfer.out_id = out_id
        self.legs[out_id] = transfer
        self.execute(events)
        if target.kind == "agent" and target.agent_id is not None:
            self._reserve(transfer, target.agent_id, call_item_id(out_id))
            await self.hub.bus.publish(CallOffered(session.ctx.conversation, target.agent_id, session.ctx.caller))

    def _reserve(self, transfer: _Transfer, agent_id: int, item_id: str) -> None:
        """Keep the target agent busy in the router while their phone rings and they consult (offered nothing)."""
        try:
            self.switchboard.occupy(agent_id, item_id, transfer.conversation_id)
        except RoutingError as exc:
            log.warning("call %s: agent %s not reserved for the transfer (%s)", transfer.item_id, agent_id, exc)
            return
        transfer.reserved = item_id

    def _release(self, transfer: _Transfer) -> None:
        """The target agent's reservation ends (they take the call, or the transfer did not happen)."""
        reserved, transfer.reserved = transfer.reserved, None
        if reserved is not None:
            self.switchboard.finish(reserved)

    async def _to_queue(self, transfer: _Transfer, queue: str, *, back: bool = False) -> None:
        """The caller waits in ``queue`` again (hold music, position announcements, offers to agents).

        ``back``: the target did not take the call (the conversation says so).
        """
        session = transfer.session
        transfer.state = "queued"
        conversation = await self.hub.conversations.requeue(transfer.conversation_id, "phone")
        if conversation is not None:
            session.ctx.conversation = conversation
        await self.hub.calls.update(session.ctx.record_id, queue=queue, queue_entered_at=self.hub.now())
        board = self.switchboard
        self.requeued.add(transfer.item_id)
        try:
            if board.holder(transfer.item_id) is not None:
                board.transfer(transfer.item_id, to_queue=queue)
            else:
                board.enqueue_call(session.sip_call_id, transfer.conversation_id, queue=queue)
        except RoutingError:
            log.exception("call %s could not go back to queue %s", session.ctx.record_id, queue)
        locale, label = session.ctx.locale, queue_label(queue, session.ctx.locale)
        if back:
            text = t("voice.transfer.system.back", locale, queue=label)
        else:
            text = t("voice.transfer.system.queue", locale, agent=self._name(transfer.from_agent), queue=label)
        await self.hub.conversations.post(session.ctx.conversation, text)
        self._forget(transfer)

    # -- completing and cancelling (attended) --------------------------------------------------------------

    async def complete(self, conversation_id: str) -> _Transfer:
        """Caller ↔ target, the transferring agent dropped (while the target rings: it becomes blind)."""
        transfer = self.active.get(conversation_id)
        if transfer is None or transfer.mode != "attended":
            raise TransferError("not_consulting")
        if transfer.first_leg is not None and transfer.leg is not None:
            unbridge(transfer.first_leg, transfer.leg)
        self._drop_first(transfer)
        transfer.mode = "blind"
        if transfer.leg is not None:
            await self._connect(transfer)
        return transfer

    async def cancel(self, conversation_id: str) -> _Transfer:
        """Hang up the target; the caller and the transferring agent talk again."""
        transfer = self.active.get(conversation_id)
        if transfer is None or transfer.mode != "attended":
            raise TransferError("not_consulting")
        self._hang_up_target(transfer)
        self._resume(transfer)
        return transfer

    def _resume(self, transfer: _Transfer) -> None:
        """Caller ↔ the transferring agent again (an attended transfer that did not happen)."""
        session, leg = transfer.session, transfer.first_leg
        self._forget(transfer)
        if leg is None or leg.closed or session.caller_gone:
            return
        leg.set_background(())
        leg.stop_playback()
        self._bridge_caller(session, leg, transfer.from_agent)
        log.info("call %s: transfer cancelled, back with agent %s", session.ctx.record_id, transfer.from_agent)

    def _hang_up_target(self, transfer: _Transfer) -> None:
        self._release(transfer)
        out_id, transfer.out_id = transfer.out_id, None
        if out_id is not None:
            self.legs.pop(out_id, None)
            self.execute(self.ua.hangup(out_id, self._now()))
        if transfer.leg is not None:
            if transfer.first_leg is not None:
                unbridge(transfer.first_leg, transfer.leg)
            transfer.leg.close()
            transfer.leg = None
        elif transfer.socket is not None:
            transfer.socket.close()
        transfer.socket = None

    # -- the target's leg ----------------------------------------------------------------------------------

    def on_event(self, event: Event) -> bool:
        """Handle a SIP event of a transfer (True: it was one and is handled; the caller's end is only watched)."""
        if isinstance(event, ReferReceived):
            self._on_refer(event)
            return True
        if isinstance(event, (CallEnded, CallCancelled)):
            for active in list(self.active.values()):
                if event.call_id == active.session.sip_call_id:
                    self._caller_gone(active)  # the session ends the rest as usual
                    return False
                if isinstance(event, CallEnded) and event.call_id == active.first_out_id:
                    self._tasks.spawn(self._first_hung_up(active))
                    return True
        if not isinstance(event, (OutgoingAnswered, OutgoingFailed, CallEnded)):
            return False
        transfer = self.legs.get(event.call_id)
        if transfer is None:
            return False
        if isinstance(event, OutgoingAnswered):
            self._answered(transfer, event.sdp)
        elif isinstance(event, OutgoingFailed):
            self.legs.pop(event.call_id, None)
            self._tasks.spawn(self._failed(transfer, event.status))
        else:
            self.legs.pop(event.call_id, None)
            transfer.out_id = None
            self._tasks.spawn(self._target_hung_up(transfer))
        return True

    def _answered(self, transfer: _Transfer, sdp: bytes) -> None:
        try:
            negotiated = negotiated_from_answer(SessionDescription.parse(sdp))
        except SdpParseError:
            negotiated = None
        if negotiated is None or transfer.socket is None or transfer.session.caller_gone:
            log.warning("call %s: the transfer target answered unusably (or the caller left)", transfer.item_id)
            self._hang_up_target(transfer)
            self._tasks.spawn(self._failed(transfer, 488))
            return
        name = "agent" if transfer.target.kind == "agent" else "outside"
        transfer.leg = MediaLeg(name, transfer.socket, negotiated, self.clock)
        if transfer.mode == "blind":
            self._tasks.spawn(self._connect(transfer))
            return
        first = transfer.first_leg
        if first is None or first.closed:  # the agent left while it rang: the transfer completes
            self._tasks.spawn(self._connect(transfer))
            return
        first.set_background(())
        first.stop_playback()
        bridge(first, transfer.leg)
        transfer.state = "consulting"
        log.info("call %s: consulting %s", transfer.session.ctx.record_id, transfer.target.kind)

    async def _connect(self, transfer: _Transfer) -> None:
        """Caller ↔ target: the router, the conversation and the call record follow; the desk owns the new leg."""
        session, target, leg = transfer.session, transfer.target, transfer.leg
        out_id, socket = transfer.out_id, transfer.socket
        assert leg is not None and out_id is not None and socket is not None
        board = self.switchboard
        self._release(transfer)
        if target.kind == "agent":
            assert target.agent_id is not None
            try:
                board.transfer(transfer.item_id, to_agent=target.agent_id)
            except RoutingError as exc:
                log.info("call %s: agent %s cannot take it now (%s)", session.ctx.record_id, target.agent_id, exc)
                self._hang_up_target(transfer)
                await self._to_queue(transfer, self._queue_of(transfer), back=True)
                return
        else:
            self._log_number(transfer)
            board.finish(transfer.item_id)  # the agent's work on the call is over
        self.legs.pop(out_id, None)
        self._forget(transfer)
        transfer.state = "connected"
        leg.set_background(())
        self._bridge_caller(session, leg, target.agent_id)
        self.desk.adopt(out_id, session, target.agent_id or transfer.from_agent, socket, leg)
        locale = session.ctx.locale
        if target.kind == "agent":
            assert target.agent_id is not None
            moved = await self.hub.conversations.reassign(
                transfer.conversation_id, target.agent_id, announce_as=target.label
            )
            if moved is not None:
                session.ctx.conversation = moved
            await self.hub.calls.update(session.ctx.record_id, agent_id=target.agent_id)
            text = t("voice.transfer.system.agent", locale, agent=self._name(transfer.from_agent), to=target.label)
        else:
            text = t("voice.transfer.system.number", locale, agent=self._name(transfer.from_agent), to=target.label)
        await self.hub.conversations.post(session.ctx.conversation, text)
        log.info("call %s: transferred to %s", session.ctx.record_id, target.kind)

    def _bridge_caller(self, session: CallSession, leg: MediaLeg, agent_id: int | None) -> None:
        session.leg.set_background(())
        session.leg.stop_playback()
        recorder = session.recorder
        if recorder is not None:
            leg.on_pcm = lambda pcm, at: recorder.add("agent", pcm, at)
        session.agent_leg, session.agent_id = leg, agent_id
        bridge(session.leg, leg)

    async def _failed(self, transfer: _Transfer, status: int) -> None:
        """The target did not answer (or refused): attended → back with the agent; blind → back to the queue."""
        self._release(transfer)
        transfer.out_id = None
        if transfer.leg is not None:
            transfer.leg.close()
            transfer.leg = None
        elif transfer.socket is not None:
            transfer.socket.close()
        transfer.socket = None
        log.info("call %s: transfer target did not answer (%d)", transfer.session.ctx.record_id, status)
        if transfer.session.caller_gone:
            self._forget(transfer)
        elif transfer.mode == "attended" and transfer.first_leg is not None and not transfer.first_leg.closed:
            self._resume(transfer)
        else:
            await self._to_queue(transfer, self._queue_of(transfer), back=True)

    async def _target_hung_up(self, transfer: _Transfer) -> None:
        """The target hung up during the consultation: the caller and the agent talk again."""
        self._release(transfer)
        if transfer.leg is not None:
            if transfer.first_leg is not None:
                unbridge(transfer.first_leg, transfer.leg)
            transfer.leg.close()
            transfer.leg = None
        transfer.socket = None
        if transfer.first_leg is not None and not transfer.first_leg.closed:
            self._resume(transfer)
        else:
            await self._to_queue(transfer, self._queue_of(transfer), back=True)

    async def _first_hung_up(self, transfer: _Transfer) -> None:
        """The transferring agent hung up during an attended transfer: it completes (Asterisk's atxfer)."""
        out_id, transfer.first_out_id = transfer.first_out_id, None  # the UA has ended that leg
        if out_id is not None:
            self.desk.agent_calls.pop(out_id, None)
        if transfer.first_leg is not None:
            if transfer.leg is not None:
                unbridge(transfer.first_leg, transfer.leg)
            transfer.first_leg.close()
            transfer.first_leg = None
        transfer.mode = "blind"
        if transfer.leg is not None:
            await self._connect(transfer)

    def _caller_gone(self, transfer: _Transfer) -> None:
        self._hang_up_target(transfer)
        if transfer.first_leg is not None:
            transfer.first_leg.set_background(())
        self._forget(transfer)

    def _forget(self, transfer: _Transfer) -> None:
        if self.active.get(transfer.conversation_id) is transfer:
            del self.active[transfer.conversation_id]
        transfer.state = "ended" if transfer.state not in ("connected", "queued") else transfer.state

    def _queue_of(self, transfer: _Transfer) -> str:
        item = self.switchboard.items.get(transfer.item_id)
        return item.queue if item is not None else self.switchboard.settings.text_queue

    def _name(self, agent_id: int | None) -> str:
        return self.switchboard.names.get(agent_id, str(agent_id)) if agent_id is not None else "-"

    def _log_number(self, transfer: _Transfer) -> None:
        board = self.switchboard
        item = board.items.get(transfer.item_id)
        board.log.append(
            LogEntry(
                at(board.clock()),
                QueueEvent.TRANSFER,
                item.queue if item else None,
                transfer.item_id,
                transfer.conversation_id,
                "voice",
                transfer.from_agent,
                reason=transfer.mode,
                data={"number": mask(transfer.target.number or "")},
            )
        )

    # -- REFER from the agent's softphone ------------------------------------------------------------------

    def _on_refer(self, event: ReferReceived) -> None:
        agent_call = self.desk.agent_calls.get(event.call_id)
        if agent_call is None or not agent_call.answered:
            self.execute(self.ua.notify_refer(event.call_id, 481, self._now()))
            return
        user = event.user or ""
        board = self.switchboard
        account = self.agent_of(user)
        value: object
        if account is not None:
            to, value = "agent", account
        elif user in board.router.queues:
            to, value = "queue", user
        elif user.lstrip("+").isdigit():
            to, value = "number", user
        else:
            log.info("REFER from agent %s to an unknown target", agent_call.agent_id)
            self.execute(self.ua.notify_refer(event.call_id, 404, self._now()))
            return
        conversation_id = agent_call.session.ctx.conversation.id
        self._tasks.spawn(self._refer(event.call_id, conversation_id, agent_call.agent_id, to, value))

    async def _refer(self, call_id: str, conversation_id: str, agent_id: int, to: str, value: object) -> None:
        try:
            await self.start(conversation_id, agent_id, "blind", to, value, refer_call_id=call_id)
        except TransferError as refused:
            log.info("REFER from agent %s refused: %s", agent_id, refused.code)
            self.execute(self.ua.notify_refer(call_id, refused.sip_status, self._now()))

    # -- the switchboard -----------------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        """A call sent back to a queue that overflows goes back to the IVR (its session is "with an agent")."""
        item = change.item
        if item is None or item.item_id not in self.requeued:
            return
        event = change.event
        if isinstance(event, QueueLeft):
            self.requeued.discard(item.item_id)
            session = self.desk.sessions.get(item.item_id)
            if event.outcome == "overflow" and session is not None and not session.caller_gone:
                session.post(AgentLegEnded())
        elif item.item_id in self.switchboard.router.held:
            self.requeued.discard(item.item_id)

    # -- lifetime ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Hang up every target leg (the hub stops)."""
        self._unlisten()
        for transfer in list(self.active.values()):
            self._hang_up_target(transfer)
            self._forget(transfer)
        self._tasks.cancel()
