"""What a phone call needs from the hub: its conversation, call record, lookups and the agent queue state.

Calls are conversations: the caller ID finds (or creates) the citizen's contact, every call opens a conversation
on the ``voice`` channel (``external_ref`` = the SIP Call-ID) with a call record (``call_store.py``). What the
caller says in free form is stored as citizen messages and labelled by the same NLU as text; knowledge-base answers
read to the caller are stored as bot messages; voicemail and recordings are audio attachments; waiting for an agent
puts the conversation in the shared inbox queue, answered calls are assigned to the agent who took them.

Everything written to the conversation goes through the conversation service (ADR 0022): the caller's words and
voicemail through :meth:`~hub.conversation_service.ConversationService.receive`, the queue, the agent and the end
of the call through its status methods, and spoken questions are answered by the dialogue engine's knowledge-base
step (its threshold), read out as the article's spoken answer.

A speech-first call (the ``speech_intake`` node) talks to the bot itself: each utterance goes through
:meth:`~hub.conversation_service.ConversationService.exchange` like a REST message, so the caller gets the same
answers, order statuses, work-order registration (with the caller ID as the phone, read back) and hand-off as a
citizen writing in.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.voice.call_store import CallStore
from hub.clock import Clock, utc_now
from hub.conversation_service import ConversationService
from hub.dialogue.engine import KNOWN_PHONE
from hub.events import CallFinished, EventBus
from hub.i18n import t
from hub.intake import ContactHints, Inbound
from hub.logsafe import mask
from hub.models import Contact, Conversation, ConversationStatus, Message, SenderKind, WorkOrder
from hub.nlu import NluResult, NluService, NluUnavailable
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy

from .ivr.events import Announcements, ConverseResult, KbResult, OrderStatusResult
from .recording import CallRecorder, safe_name

log = logging.getLogger(__name__)

CHANNEL_VOICE = "voice"
MAX_KEYS = 9  # quick replies offered as keys 1-9 (0 is the agent, * the keys menu)
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{9,11})$")


def caller_number(from_user: str | None) -> str | None:
    """The caller's phone number from the From URI's user part (None: withheld or not a phone number)."""
    if not from_user:
        return None
    digits = re.sub(r"[^\d+]", "", from_user)
    match = _PHONE.match(digits)
    return match.group(1) if match else None


@dataclass
class CallContext:
    """One call's place in the hub."""

    sip_call_id: str
    conversation: Conversation
    contact: Contact | None
    caller: str | None
    record_id: int
    locale: str = "zh-CN"
    turns: int = 0
    offered: list[dict[str, str]] = field(default_factory=list)  # quick replies of the bot's last turn


def _cause_key(cause: str) -> str:
    known = {"caller_bye", "agent_bye", "ivr_end", "abandoned", "rejected", "no_input", "overflow", "interrupted",
             "agent_no_answer", "agent_cancelled", "busy", "no_answer", "trunk_refused", "citizen_bye"}  # fmt: skip
    return f"voice.cause.{cause if cause in known else 'error'}"


class VoiceHub:
    """The hub side of the voice channel (stores, lookups, events)."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        work_orders: WorkOrderStore,
        calls: CallStore,
        nlu: NluService,
        taxonomy: Any,
        notices: Any,
        data_dir: Path,
        clock: Clock = utc_now,
    ) -> None:
        self.conversations = conversations
        self.work_orders = work_orders
        self.calls = calls
        self.nlu = nlu
        self._taxonomy = taxonomy  # () -> Taxonomy
        self.notices = notices  # AnnouncementBoard
        self.data_dir = data_dir
        self._clock = clock

    @property
    def bus(self) -> EventBus:
        """The hub's event bus (call events)."""
        return self.conversations.bus

    def taxonomy(self) -> Taxonomy:
        """The current taxonomy."""
        result: Taxonomy = self._taxonomy()
        return result

    @property
    def voice_dir(self) -> Path:
        """Where recordings and voicemail are written (served by ``/voice/audio``)."""
        return self.data_dir / "voice"

    # -- call lifecycle ------------------------------------------------------------------------------------

    async def call_arrived(self, sip_call_id: str, from_user: str | None, called: str | None) -> CallContext:
        """Find the contact by caller ID, open the conversation, start the call record."""
        caller = caller_number(from_user)
        conversation = await self.conversations.open(CHANNEL_VOICE, ref=sip_call_id, hints=ContactHints(phone=caller))
        contact = await self.conversations.reads.contact(conversation.contact_id) if conversation.contact_id else None
        record = await self.calls.start_call(
            sip_call_id=sip_call_id,
            caller=caller or from_user,
            called=called,
            conversation_id=conversation.id,
            contact_id=contact.id if contact else None,
        )
        text = t("voice.call_arrived", conversation.locale, caller=caller or t("voice.withheld", conversation.locale))
        await self._system(conversation, text)
        log.info("call %s from %s: conversation %s", record.id, mask(caller or "withheld"), conversation.id)
        return CallContext(sip_call_id, conversation, contact, caller, record.id)

    async def answered_by_ivr(self, ctx: CallContext, routing: str) -> None:
        """The IVR picked up."""
        await self.calls.update(ctx.record_id, answered_at=self._clock(), routing=routing)

    async def call_finished(
        self,
        ctx: CallContext,
        *,
        cause: str,
        ivr_path: list[dict[str, Any]],
        recordings: dict[str, Path],
        talk: bool,
        ended_at: datetime | None = None,
    ) -> None:
        """Close the record, attach the recordings to the conversation, tell listeners."""
        attachments = [self._audio_attachment(path, label) for label, path in recordings.items() if path is not None]
        if attachments:
            await self.conversations.post(ctx.conversation, t("voice.recording", ctx.locale), attachments=attachments)
        for attachment in attachments:
            await self.calls.add_recording(ctx.record_id, attachment["file"])
        await self._system(ctx.conversation, t("voice.ended", ctx.locale, cause=t(_cause_key(cause), ctx.locale)))
        # the IVR alone served the caller: nothing left to do
        conversation = await self.conversations.close_if_with_bot(ctx.conversation.id)
        await self.calls.finish(ctx.record_id, cause=cause, ivr_path=ivr_path, ended_at=ended_at)  # last: "done"
        await self.bus.publish(CallFinished(conversation, ctx.record_id, cause))
        log.info("call %s ended: %s", ctx.record_id, cause)

    async def recover_interrupted_calls(self) -> int:
        """At start-up: end the calls a previous process was serving when it stopped; returns how many.

        Each gets the cause ``interrupted``, the recordings its raw files still hold (:meth:`CallRecorder.recover`)
        and, for its end, the time those files were last written (else the last time the record knew of).
        """
        open_calls = await self.calls.open_calls()
        directory = self.voice_dir / "recordings"

        def last_write(call_id: str) -> datetime | None:
            stems = (safe_name(call_id), safe_name(f"{call_id}-voicemail"))
            times = [raw.stat().st_mtime for stem in stems for raw in directory.glob(f".{stem}-*.raw")]
            return datetime.fromtimestamp(max(times), UTC) if times else None

        for record in open_calls:
            recordings: dict[str, Path] = {}
            written = await asyncio.to_thread(last_write, record.sip_call_id)
            bridged = await CallRecorder.recover(directory, record.sip_call_id)
            if bridged is not None and bridged.mixed is not None:
                recordings = {"mixed": bridged.mixed, **bridged.legs}
            voicemail = await CallRecorder.recover(directory, f"{record.sip_call_id}-voicemail")
            if voicemail is not None and "caller" in voicemail.legs:
                recordings["voicemail"] = voicemail.legs["caller"]
            known = [t for t in (record.arrived_at, record.answered_at, record.queue_entered_at,
                                 record.agent_answered_at, written) if t is not None]  # fmt: skip
            ended_at = max(known)
            if record.conversation_id is None:
                await self.calls.finish(record.id, cause="interrupted", ended_at=ended_at)
                continue
            conversation = await self.conversations.reads.get(record.conversation_id)
            contact = await self.conversations.reads.contact(record.contact_id) if record.contact_id else None
            ctx = CallContext(record.sip_call_id, conversation, contact, record.caller, record.id, conversation.locale)
            await self.call_finished(
                ctx, cause="interrupted", ivr_path=record.ivr_path, recordings=recordings,
                talk=record.agent_answered_at is not None, ended_at=ended_at,
            )  # fmt: skip
            log.warning(
                "call %s was interrupted by a restart: ended, %d recording(s) recovered", record.id, len(recordings)
            )
        return len(open_calls)

    # -- lookups for the IVR -------------------------------------------------------------------------------

    async def order_status(self, ctx: CallContext, number: str | None, by_caller: bool) -> OrderStatusResult:
        """Status of work order ``number``, or of the latest order of the caller (``number`` = caller ID)."""
        order = None
        if by_caller:
            contact = ctx.contact or (await self.conversations.reads.contact_by_phone(number) if number else None)
            order = await self.work_orders.latest_for_contact(contact.id) if contact is not None else None
        elif number:
            order = await self.work_orders.get_by_number(number)
        if order is None:
            await self._system(ctx.conversation, t("voice.self_service_none", ctx.locale))
            return OrderStatusResult(found=False, number=None if by_caller else number)
        taxonomy = self.taxonomy()
        unit = taxonomy.units.get(order.unit or "")
        state = t(f"state.{order.state}", ctx.locale)
        detail = t(
            "voice.order_detail",
            ctx.locale,
            unit=unit.name(ctx.locale) if unit else t("centre", ctx.locale),
            result=order.result or "",
        )
        await self._system(ctx.conversation, t("voice.self_service", ctx.locale, number=order.number, state=state))
        return OrderStatusResult(found=True, number=order.number, status=state, detail=detail)

    async def kb_answer(self, ctx: CallContext, question: str, confidence: float) -> KbResult:
        """Label the caller's question with the NLU, answer it from the knowledge base, keep both in the transcript.

        The answer step is the bot's (:meth:`~hub.dialogue.engine.DialogueEngine.kb_answer`, its threshold); the
        caller hears the article's spoken answer where it has one.
        """
        ctx.turns += 1
        message = await self._receive(ctx, question, f"voice:{ctx.sip_call_id}:{ctx.turns}")
        nlu: NluResult | None = None
        try:
            nlu = await self.nlu.parse(question)
        except NluUnavailable as exc:
            log.warning("call %s: NLU unavailable (%s); answering from the KB alone", ctx.record_id, exc)
        else:
            nlu_json = nlu.to_json()
            nlu_json["asr_confidence"] = round(confidence, 3)
            ctx.conversation = await self.conversations.label(
                message,
                nlu_json,
                request_type=nlu.type.name if nlu.type else None,
                industry=nlu.industry.name if nlu.industry else None,
            )
        bot = self.conversations.engine
        best = bot.kb_answer(bot.kb_candidates(question, nlu))
        if best is None:
            return KbResult(None)
        answer = best.spoken_answer or best.answer
        await self.conversations.post(ctx.conversation, answer, sender=SenderKind.BOT)
        return KbResult(answer)

    async def converse(self, ctx: CallContext, text: str, confidence: float) -> ConverseResult:
        """One turn of the caller with the hub's bot: the text channels' dialogue answers what the caller said.

        The words go through the conversation service's ``exchange`` (``for_bot``), the bot's replies come back as
        texts to speak and the conversation's state after the turn says what became of it (see
        :class:`~channels.voice.ivr.events.ConverseResult`). Before the first turn the caller ID is given to the
        bot as the citizen's known phone, so a work order registered by phone does not ask for one. For speaking:
        a knowledge-base answer is the article's spoken answer, without the chat's "did this help?"; a registered
        order is read back (number, problem and address as recorded); the bot's hand-off sentence is left to the
        agent node's prompt. A failure (the NLU, the store) gives ``unavailable``: never an exception into the call.
        """
        try:
            ctx.offered = []
            return self._with_keys(ctx, await self._converse(ctx, text, confidence))
        except Exception:
            log.exception("call %s: the bot could not answer; the caller goes to an agent", ctx.record_id)
            return ConverseResult((), "unavailable")

    def _with_keys(self, ctx: CallContext, result: ConverseResult) -> ConverseResult:
        """The bot's quick replies as keys: "确认登记请按1，修改地址请按2。" ends the replies (keys 1-9; speech too)."""
        if result.outcome in ("handoff", "unavailable") or not ctx.offered:
            return result
        labels, values = [], []
        for choice in ctx.offered[:MAX_KEYS]:
            value = str(choice.get("value") or choice.get("label") or "").strip()
            if value:
                labels.append(str(choice.get("label") or value).strip())
                values.append(value)
        if not values:
            return result
        locale = ctx.conversation.locale
        keys = t("voice.choice_separator", locale).join(
            t("voice.choice_key", locale, label=label, number=i) for i, label in enumerate(labels, start=1)
        )
        return replace(
            result, replies=(*result.replies, t("voice.choice_keys", locale, keys=keys)), choices=tuple(values)
        )

    async def _converse(self, ctx: CallContext, text: str, confidence: float) -> ConverseResult:
        service = self.conversations
        before = await service.reads.get(ctx.conversation.id)
        if (
            ctx.caller
            and before.status is ConversationStatus.BOT
            and before.dialogue_state.get(KNOWN_PHONE) != ctx.caller
        ):  # the bot keeps the state it is given; registering an order (or a reset) drops the key: give it again
            before = await service.resume_bot(before.id, {**before.dialogue_state, KNOWN_PHONE: ctx.caller})
        ctx.turns += 1
        inbound = Inbound(
            CHANNEL_VOICE,
            text[: service.limits.max_chars],
            conversation_id=before.id,
            external_id=f"voice:{ctx.sip_call_id}:{ctx.turns}",
            hints=ContactHints(phone=ctx.caller),
            locale=ctx.locale,
            for_bot=True,
        )
        stored, outbound = await service.exchange(inbound)
        after = await service.reads.get(before.id)
        ctx.conversation = after
        await self._keep_asr_confidence(stored.message, confidence)
        replies = [m.text for m in outbound if m.sender_kind is SenderKind.BOT and m.id > stored.message.id]
        ctx.offered = next((m.choices for m in reversed(outbound) if m.id > stored.message.id and m.choices), [])
        old, new = before.dialogue_state or {}, after.dialogue_state or {}
        if after.status is not ConversationStatus.BOT:
            if before.status is not ConversationStatus.BOT or after.handoff_reason == "nlu_unavailable":
                log.warning(
                    "call %s: the bot cannot answer (conversation %s, %s); the caller goes to an agent",
                    ctx.record_id, after.status.value, after.handoff_reason,
                )  # fmt: skip
                return ConverseResult(tuple(self._spoken(after.locale, replies, new)), "unavailable")
            return ConverseResult(tuple(self._spoken(after.locale, replies, new)), "handoff")
        number = new.get("last_work_order")
        if number and number != old.get("last_work_order"):
            order = await self.work_orders.get_by_number(str(number))
            spoken = self._spoken(after.locale, replies, new)
            if order is not None:  # the chat's "registered, number ..." sentence becomes the read-back
                readback = self._readback(after.locale, order)
                at = next((i for i, reply in enumerate(spoken) if order.number in reply), None)
                spoken = [*spoken[:at], readback, *spoken[at + 1 :]] if at is not None else [*spoken, readback]
            return ConverseResult(tuple(spoken), "registered", str(number))
        misunderstood = int(new.get("misunderstood") or 0) > int(old.get("misunderstood") or 0)
        if new.get("pending") or new.get("offered") or misunderstood:
            return ConverseResult(tuple(self._spoken(after.locale, replies, new)), "asking")
        spoken = self._spoken(after.locale, replies, new)
        if not spoken:
            log.warning("call %s: the bot gave no answer; the caller goes to an agent", ctx.record_id)
            return ConverseResult((), "unavailable")
        return ConverseResult(tuple(spoken), "answered")

    def _spoken(self, locale: str, replies: list[str], state: dict[str, Any]) -> list[str]:
        """The bot's replies (in the conversation's ``locale``) as the caller hears them (see :meth:`converse`)."""
        silent = {t("bot.kb_answer_suffix", locale), t("bot.handoff", locale), t("bot.handoff_degraded", locale)}
        article = self.conversations.engine.kb.get(str(state["last_article"])) if state.get("last_article") else None
        spoken = []
        for reply in replies:
            if reply in silent:
                continue
            if article is not None and reply == article.answer and article.spoken_answer:
                reply = article.spoken_answer
            spoken.append(reply)
        return spoken

    def _readback(self, locale: str, order: WorkOrder) -> str:
        """What was registered, to be heard: the order's number, the problem and the address as recorded."""
        description = order.description.strip().rstrip("。.！!？? ")
        parts = [t("voice.readback", locale, number=order.number, description=description)]
        if order.address:
            parts.append(t("voice.readback_address", locale, address=order.address.strip().rstrip("。. ")))
        unit = self.taxonomy().units.get(order.unit or "")
        if unit is not None:
            parts.append(t("voice.readback_dispatched", locale, unit=unit.name(locale)))
        else:
            parts.append(t("voice.readback_centre", locale))
        return ("" if locale.startswith("zh") else " ").join(parts)

    async def _keep_asr_confidence(self, message: Message, confidence: float) -> None:
        """Keep the recogniser's confidence with the NLU labels of the bot's turn (as for spoken questions)."""
        stored = await self.conversations.reads.message(message.id)
        if stored is not None and stored.nlu is not None:
            await self.conversations.label(stored, {**stored.nlu, "asr_confidence": round(confidence, 3)})

    async def announcements(self) -> Announcements:
        """The knowledge base's current notices, as texts to read."""
        return Announcements(tuple(self.notices.current_texts()))

    # -- voicemail and the agent queue ---------------------------------------------------------------------

    async def voicemail(self, ctx: CallContext, path: Path, duration_s: float, transcript: str) -> None:
        """Store the voicemail as a citizen message (audio + transcript) and put the conversation in the queue."""
        attachment = self._audio_attachment(path, "voicemail", duration_s)
        text = transcript.strip() or t("voice.voicemail_placeholder", ctx.locale)
        message = await self._receive(ctx, text, f"voicemail:{ctx.sip_call_id}", attachment)
        if transcript.strip():
            try:
                result = await self.nlu.parse(transcript)
                await self.conversations.label(message, result.to_json())
            except NluUnavailable:
                log.warning("call %s: voicemail stored without NLU labels (NLU unavailable)", ctx.record_id)
        await self.calls.update(ctx.record_id, voicemail_path=attachment["file"], transcript=transcript or None)
        await self._queue(ctx, "voicemail")

    async def queued(self, ctx: CallContext, queue: str, priority: int) -> None:
        """The caller waits for an agent: the conversation joins the inbox queue."""
        await self.calls.update(ctx.record_id, queue=queue, priority=priority, queue_entered_at=self._clock())
        await self._queue(ctx, "phone")

    async def left_queue(self, ctx: CallContext, *, agent_id: int | None) -> None:
        """The caller left the queue (answered by ``agent_id``, or gone)."""
        now = self._clock()
        record = await self.calls.get(ctx.record_id)
        wait = (now - record.queue_entered_at).total_seconds() if record.queue_entered_at else None
        values: dict[str, Any] = {"queue_left_at": now, "wait_s": wait}
        if agent_id is not None:
            values.update(agent_id=agent_id, agent_answered_at=now)
        await self.calls.update(ctx.record_id, **values)
        if agent_id is None:
            return
        assigned = await self.conversations.assign(ctx.conversation.id, agent_id)
        if assigned is not None:
            ctx.conversation = assigned

    async def _queue(self, ctx: CallContext, reason: str) -> None:
        queued = await self.conversations.queue(ctx.conversation.id, reason)
        if queued is not None:
            ctx.conversation = queued

    async def _receive(self, ctx: CallContext, text: str, external_id: str, *attachments: dict[str, Any]) -> Message:
        """Store what the caller said; the IVR, not the bot, answers it (at most ``Limits.max_chars`` kept)."""
        inbound = Inbound(
            CHANNEL_VOICE,
            text[: self.conversations.limits.max_chars],
            conversation_id=ctx.conversation.id,
            external_id=external_id,
            attachments=attachments,
            for_bot=False,
        )
        stored = await self.conversations.receive(inbound)
        ctx.conversation = stored.conversation
        return stored.message

    # -- helpers -------------------------------------------------------------------------------------------

    def _audio_attachment(self, path: Path, label: str, duration_s: float | None = None) -> dict[str, Any]:
        relative = path.resolve().relative_to(self.data_dir.resolve())
        if duration_s is None:
            duration_s = max(0.0, (path.stat().st_size - 44) / 16000) if path.exists() else 0.0
        return {
            "kind": "audio",
            "source": "voice",
            "file": relative.as_posix(),
            "mime": "audio/wav",
            "duration_s": round(duration_s, 2),
            "label": label,
        }

    async def _system(self, conversation: Conversation, text: str) -> None:
        await self.conversations.post(conversation, text)

    def now(self) -> datetime:
        """The hub clock (for the IVR's business hours)."""
        return self._clock()
