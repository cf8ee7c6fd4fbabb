"""One answered call driven through the IVR: prompts, key presses, speech, lookups, voicemail, the agent queue.

The :class:`~channels.voice.ivr.runtime.IvrSession` decides (sans-IO); this module performs its actions on the
caller's :class:`~channels.voice.leg.MediaLeg` and feeds the results back as IVR events, one at a time, from a
single task per call:

- ``Play`` batches are synthesised (cached G.711) and played in order; ``PromptDone`` follows the last one unless
  the caller barged in. Input during a batch that listens stops the prompts (barge-in, type-ahead).
- ``Listen`` turns on digit delivery, in-band DTMF (when no telephone-event was negotiated), and ASR (the menu's
  grammar, or free-form) with an ``InputTimeout`` that starts when the prompts end and restarts on every key press
  and while the caller is speaking.
- Lookups (work-order status, knowledge base, notices) run against the hub and come back as events.
- ``RecordVoicemail`` beeps and records until ``#``, ``max_s`` or a long silence after speech; the recording and its
  transcript become a voicemail message in the agent inbox.
- ``Enqueue`` hands the caller to the :class:`AgentDesk` (hold music, position announcements, ringing an agent's
  softphone, bridging with recording of both legs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol

from hub.background import wait_event
from hub.i18n import t

from .asr_results import Busy, Partial, SpeechEngine, SpeechStream, Utterance
from .hub_port import CallContext, VoiceHub
from .ivr.events import (
    AgentAnswered,
    AgentLegEnded,
    AskKb,
    CallerHungUp,
    Converse,
    Dtmf,
    Enqueue,
    FetchAnnouncements,
    Hangup,
    InputTimeout,
    IvrAction,
    IvrEvent,
    Listen,
    LookupOrder,
    Play,
    PromptDone,
    QueueOverflow,
    RecordVoicemail,
    Speech,
    SpeechBusy,
    VoicemailDone,
)
from .ivr.runtime import IvrSession
from .leg import MediaLeg, bridge, unbridge
from .media import VoiceActivity, frames_from_pcm, hold_music_frames, tone_pcm
from .recording import CallRecorder
from .spoken_text import speakable
from .tts import PromptSynthesizer, TtsUnavailable, clauses

log = logging.getLogger(__name__)

MAX_TYPEAHEAD = 16
QUIET_GAP_S = 0.2  # no caller audio for this long while listening: the recogniser is fed that much silence
VOICEMAIL_SILENCE_S = 5.0  # end a voicemail after this much silence once the caller has spoken


class AgentDesk(Protocol):
    """The call queue as a call session sees it (implemented by :class:`channels.voice.agents.AgentDesk`)."""

    def enqueue(self, session: CallSession, action: Enqueue) -> None:
        """Put the caller in the queue."""

    def leave(self, session: CallSession) -> None:
        """The caller is gone (hung up while waiting or while talking)."""


class CallSession:
    """Runs one call from the answer to the hang-up.

    Args:
        ctx: the call's conversation and record.
        ivr: the interpreter, already configured with the caller's routing.
        leg: the caller's media leg (answered, confirmed).
        hub: the hub port (lookups, conversation, records).
        tts: prompt synthesis; asr: speech recognition of menus (may be unavailable).
        free_asr: recognition of free speech and voicemail (default: ``asr``).
        desk: the agent queue.
        hangup: ends the SIP dialog (sends BYE).
        recordings_dir: where this call's recordings go.
    """

    def __init__(
        self,
        *,
        ctx: CallContext,
        ivr: IvrSession,
        leg: MediaLeg,
        hub: VoiceHub,
        tts: PromptSynthesizer,
        asr: SpeechEngine,
        desk: AgentDesk,
        hangup: Callable[[], None],
        recordings_dir: Path,
        free_asr: SpeechEngine | None = None,
    ) -> None:
        self.ctx = ctx
        self.ivr = ivr
        self.leg = leg
        self.hub = hub
        self.tts = tts
        self.asr = asr
        self.free_asr = free_asr or asr
        self.desk = desk
        self._hangup_sip = hangup
        self.recordings_dir = recordings_dir
        self.events: asyncio.Queue[IvrEvent] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.caller_gone = False
        self.bridged = False
        self.agent_leg: MediaLeg | None = None
        self.agent_id: int | None = None
        self.recorder: CallRecorder | None = None
        self.recordings: dict[str, Path] = {}
        self._batch: asyncio.Task[None] | None = None
        self._generation = 0
        self._listening: Listen | None = None
        self._listen_barges = False
        self._timeout: asyncio.TimerHandle | None = None
        self._asr_stream: SpeechStream | None = None
        self._asr_task: asyncio.Task[None] | None = None
        self._asr_audio: asyncio.Queue[bytes | None] | None = None
        self._voicemail: _VoicemailTake | None = None
        self._saving = False  # a voicemail is being stored: the batch must finish even if the caller hangs up
        self._typeahead: list[str] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        leg.on_dtmf = self._on_dtmf
        leg.on_pcm = None
        leg.detect_inband(True)  # keys as tones when the caller's side negotiated no telephone-event

    @property
    def sip_call_id(self) -> str:
        """The caller's SIP Call-ID."""
        return self.ctx.sip_call_id

    @property
    def codec(self) -> str:
        """The caller leg's codec."""
        return self.leg.codec

    # -- the call's task -----------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the call in a task."""
        self.task = asyncio.create_task(self.run(), name=f"call:{self.ctx.record_id}")
        return self.task

    async def run(self) -> None:
        """Walk the caller through the flow until someone hangs up."""
        cause = "error"
        try:
            await self.hub.answered_by_ivr(self.ctx, self.ivr.routing)
            self._perform(self.ivr.start())
            while not self.ivr.done:
                event = await self.events.get()
                self._perform(self.ivr.handle(event))
            if self._batch is not None and (not self.caller_gone or self._saving):
                with contextlib.suppress(asyncio.CancelledError):
                    await self._batch  # the goodbye prompt (or a voicemail being stored)
            cause = self.ivr.hangup_cause or "error"
        except asyncio.CancelledError:
            cause = "error"
            raise
        except Exception:
            log.exception("call %s failed; hanging up", self.ctx.record_id)
        finally:
            await self._finish(cause)

    def post(self, event: IvrEvent) -> None:
        """Deliver an event to the IVR (from media callbacks, timers, the desk)."""
        self.events.put_nowait(event)

    def caller_hung_up(self) -> None:
        """The caller sent BYE/CANCEL."""
        if self.caller_gone:
            return
        self.caller_gone = True
        if self._voicemail is not None:
            self._voicemail.finish_soon()  # keep what was said so far
        self._stop_batch()
        self.post(CallerHungUp())

    async def _finish(self, cause: str) -> None:
        batch = self._batch
        if batch is not None and self._saving and not batch.done():
            with contextlib.suppress(asyncio.CancelledError):
                await batch  # a caller who hangs up mid-message still leaves it
        self._stop_batch()
        self._stop_listening()
        for task in list(self._side_tasks):
            task.cancel()
        self.desk.leave(self)
        await self.end_bridge()
        if not self.caller_gone:
            self._hangup_sip()
        self.leg.close()
        try:
            await self.hub.call_finished(
                self.ctx, cause=cause, ivr_path=self.ivr.path_json(), recordings=self.recordings, talk=self.bridged
            )
        except Exception:
            log.exception("call %s: could not store the end of the call", self.ctx.record_id)

    # -- performing actions --------------------------------------------------------------------------------

    def _perform(self, actions: list[IvrAction]) -> None:
        if not actions:
            return
        log.debug("call %s: %s", self.ctx.record_id, [type(a).__name__ for a in actions])
        self._stop_batch()
        self._stop_listening()
        self._generation += 1
        generation = self._generation
        plays = [a for a in actions if isinstance(a, Play)]
        listen = next((a for a in actions if isinstance(a, Listen)), None)
        rest = [a for a in actions if not isinstance(a, (Play, Listen))]
        if listen is not None:
            self._listen_barges = True
            self._listening = listen
            typed, self._typeahead = self._typeahead, []
            if typed:  # keys pressed during the previous prompts answer this menu at once
                self.leg.stop_playback()
                for digit in typed:
                    self.post(Dtmf(digit))
        self._batch = asyncio.create_task(self._run_batch(generation, plays, listen, rest))

    async def _run_batch(
        self, generation: int, plays: list[Play], listen: Listen | None, rest: Sequence[IvrAction]
    ) -> None:
        if listen is not None:
            self._start_asr(listen)  # during the prompts too: speaking over them is a barge-in
        completed = await self._play_all(plays)
        if generation != self._generation or self.caller_gone:
            return
        if plays and completed:
            self.post(PromptDone())
        if listen is not None:
            self._arm_timeout(listen.timeout_s)
        for action in rest:
            await self._do(action, generation)

    async def _play_all(self, plays: list[Play]) -> bool:
        for play in plays:
            if play.prompt_id is None and play.text != "beep":
                if not await self._play_streamed(play):
                    return False
                continue
            frames = await self._frames(play)
            if not frames:
                continue
            if not await self.leg.play(frames):
                return False
        return True

    async def _play_streamed(self, play: Play) -> bool:
        """Dynamic text (answers, order status, notices): clause by clause, the next rendered while one plays."""
        pieces = clauses(speakable(play.text))
        if not pieces:
            return True
        upcoming: asyncio.Task[list[bytes]] = asyncio.create_task(self._piece_frames(pieces[0]))
        try:
            for index in range(len(pieces)):
                frames = await upcoming
                if index + 1 < len(pieces):
                    upcoming = asyncio.create_task(self._piece_frames(pieces[index + 1]))
                if frames and not await self.leg.play(frames):
                    return False
            return True
        finally:
            if not upcoming.done():
                upcoming.cancel()  # the synthesis itself is shielded and still lands in the cache

    async def _piece_frames(self, text: str) -> list[bytes]:
        try:
            return await self.tts.frames(text, self.codec)
        except TtsUnavailable as exc:
            log.error("call %s: text not played, TTS unavailable: %s", self.ctx.record_id, exc)
            return []

    async def _frames(self, play: Play) -> list[bytes]:
        if play.prompt_id == "beep" or play.text == "beep":
            return frames_from_pcm(tone_pcm(1000, 400), self.codec)
        return await self._piece_frames(speakable(play.text))

    async def say(self, text: str) -> None:
        """Play one sentence over whatever is playing in the background (queue announcements)."""
        frames = await self._frames(Play(text))
        if frames and not self.caller_gone:
            await self.leg.play(frames)

    async def _do(self, action: IvrAction, generation: int) -> None:
        if isinstance(action, Hangup):
            log.info("call %s: IVR hangs up (%s)", self.ctx.record_id, action.cause)
            return  # the IVR is done; run() ends the call
        if isinstance(action, LookupOrder):
            self.post(await self.hub.order_status(self.ctx, action.number, action.by_caller))
        elif isinstance(action, AskKb):
            self.post(await self.hub.kb_answer(self.ctx, action.question, 1.0))
        elif isinstance(action, Converse):
            # shielded: a hang-up during the bot's turn still stores the turn (the result is then ignored)
            self.post(await asyncio.shield(self.hub.converse(self.ctx, action.text, action.confidence)))
        elif isinstance(action, FetchAnnouncements):
            self.post(await self.hub.announcements())
        elif isinstance(action, RecordVoicemail):
            await self._record_voicemail(action, generation)
        elif isinstance(action, Enqueue):
            self.leg.detect_inband(False)  # hold music and talk: no key detection needed (saves CPU)
            self.leg.set_background(hold_music_frames(self.codec))
            await self.hub.queued(self.ctx, action.queue, action.priority)
            self.desk.enqueue(self, action)

    def _stop_batch(self) -> None:
        self.leg.stop_playback()
        if self._saving:
            return  # the voicemail batch ends by itself
        if self._batch is not None and not self._batch.done() and self._batch is not asyncio.current_task():
            self._batch.cancel()
        self._batch = None

    # -- input ---------------------------------------------------------------------------------------------

    def _on_dtmf(self, digit: str) -> None:
        log.debug("call %s: key %s (listening: %s)", self.ctx.record_id, digit, self._listening is not None)
        if self._voicemail is not None:
            if digit == "#":
                self._voicemail.finish_soon()
            return
        if self._listening is None and not self._listen_barges:
            if len(self._typeahead) < MAX_TYPEAHEAD:
                self._typeahead.append(digit)  # pressed during a greeting: used by the next menu
            return
        if self._listen_barges:
            self.leg.stop_playback()
        if self._listening is not None:
            self._arm_timeout(self._listening.timeout_s)
        self.post(Dtmf(digit))

    def _arm_timeout(self, seconds: float) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
        generation = self._generation
        loop = asyncio.get_running_loop()

        def fire() -> None:
            if generation == self._generation and not self.caller_gone:
                self.post(InputTimeout())

        self._timeout = loop.call_later(seconds, fire)

    def _start_asr(self, listen: Listen) -> None:
        engine = self.asr if listen.grammar is not None else self.free_asr
        if not engine.available:
            return
        try:
            stream = engine.stream(listen.grammar)
        except ValueError as exc:  # no word of the menu's grammar is in the model: keys only for this menu
            log.debug("call %s: no speech for this menu (%s)", self.ctx.record_id, exc)
            return
        self._asr_stream = stream
        audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._asr_audio = audio
        self.leg.on_pcm = lambda pcm, _at: audio.put_nowait(pcm)
        self._asr_task = asyncio.create_task(self._recognise(stream, audio, self._generation))

    async def _recognise(self, stream: SpeechStream, audio: asyncio.Queue[bytes | None], generation: int) -> None:
        try:
            while True:
                try:
                    pcm = await asyncio.wait_for(audio.get(), QUIET_GAP_S)
                except TimeoutError:
                    # No audio: the caller's phone or carrier suppresses silence (DTX). The recogniser hears that
                    # silence, so the end of the caller's words is still detected and the result delivered.
                    pcm = bytes(int(2 * 8000 * QUIET_GAP_S))
                if pcm is None:
                    return
                chunks = [pcm]
                while not audio.empty():  # catch up after a slow recognition step
                    more = audio.get_nowait()
                    if more is None:
                        return
                    chunks.append(more)
                result = await stream.feed(b"".join(chunks))
                if generation != self._generation:
                    return
                if isinstance(result, Busy):
                    if self._listening is not None:  # every recogniser slot is taken: ask for keys, never wait
                        self.leg.stop_playback()
                        log.warning("call %s: speech recognition busy, caller asked for keys", self.ctx.record_id)
                        self.post(SpeechBusy())
                elif isinstance(result, Partial) and self._listening is not None:
                    self.leg.stop_playback()  # the caller talks over the prompt: barge-in
                    self._arm_timeout(self._listening.timeout_s)  # no timeout while the caller speaks
                elif isinstance(result, Utterance) and result.text.strip():
                    self.leg.stop_playback()
                    self.post(Speech(result.text, result.confidence))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: speech recognition failed; keys still work", self.ctx.record_id)
        finally:
            stream.close()

    def _stop_listening(self) -> None:
        self._listening = None
        self._listen_barges = False
        if self._voicemail is None:
            self.leg.on_pcm = None
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        if self._asr_audio is not None:
            self._asr_audio.put_nowait(None)
            self._asr_audio = None
        if self._asr_task is not None:
            self._asr_task.cancel()
            self._asr_task = None
        if self._asr_stream is not None:
            self._asr_stream.close()
            self._asr_stream = None

    # -- voicemail -----------------------------------------------------------------------------------------

    async def _record_voicemail(self, action: RecordVoicemail, generation: int) -> None:
        if action.beep:
            await self.leg.play(frames_from_pcm(tone_pcm(1000, 400), self.codec))
        take = _VoicemailTake(self, action.max_s)
        self._voicemail, self._saving = take, True
        try:
            path = await take.run()
            self._voicemail = None
            if path is not None:
                transcript = ""
                if self.free_asr.available:
                    try:
                        transcript = await self.free_asr.transcribe_wav(path)
                    except Exception:
                        log.exception("call %s: voicemail transcription failed", self.ctx.record_id)
                await self.hub.voicemail(self.ctx, path, take.duration_s, transcript)
        finally:
            self._voicemail, self._saving = None, False
        if generation == self._generation and not self.caller_gone:
            self.post(VoicemailDone(str(path) if path is not None else None))

    # -- the agent leg (driven by the desk) ----------------------------------------------------------------

    async def connect_agent(self, agent_leg: MediaLeg, agent_id: int) -> None:
        """The agent answered: bridge the legs, record both, tell the IVR."""
        self.leg.set_background(())
        self.leg.stop_playback()
        self.agent_leg, self.agent_id, self.bridged = agent_leg, agent_id, True
        recorder = self.recorder or CallRecorder(self.recordings_dir, self.ctx.sip_call_id)  # kept across a transfer
        self.recorder = recorder
        self.leg.on_pcm = lambda pcm, at: recorder.add("caller", pcm, at)
        agent_leg.on_pcm = lambda pcm, at: recorder.add("agent", pcm, at)
        bridge(self.leg, agent_leg)
        await self.hub.left_queue(self.ctx, agent_id=agent_id)
        self.post(AgentAnswered(agent_id))

    async def agent_hung_up(self) -> None:
        """The agent's leg ended first: the caller may go back to the menu (the IVR decides)."""
        await self.end_bridge()
        self.leg.detect_inband(True)
        if not self.caller_gone:
            self.post(AgentLegEnded())

    def overflow(self) -> None:
        """Nobody answered within the queue's maximum wait."""
        self.leg.set_background(())
        self.leg.detect_inband(True)
        self.post(QueueOverflow())

    async def end_bridge(self) -> None:
        """Stop relaying and close the recording (idempotent)."""
        agent_leg, self.agent_leg = self.agent_leg, None
        if agent_leg is not None:
            unbridge(self.leg, agent_leg)
            agent_leg.on_pcm = None
        if self.leg.on_pcm is not None and self._voicemail is None:
            self.leg.on_pcm = None
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recording = await recorder.close()
            if recording.mixed is not None:
                self.recordings["mixed"] = recording.mixed
            for name, path in recording.legs.items():
                self.recordings[name] = path

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a side task tied to this call (cancelled when the call ends)."""
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def position_text(self, ahead: int, wait_s: float | None = None) -> str:
        """The queue announcement for ``ahead`` callers in front and the estimated wait (None: unknown).

        The wait is said in whole minutes, rounded up (at least one): "您前面还有2位，预计等待约3分钟".
        """
        locale = self.ctx.locale
        if wait_s is None:
            if ahead <= 0:
                return t("voice.queue_next", locale)
            return t("voice.queue_position", locale, ahead=ahead)
        minutes = max(1, math.ceil(wait_s / 60))
        if ahead <= 0:
            return t("voice.queue_next_wait", locale, minutes=minutes)
        return t("voice.queue_position_wait", locale, ahead=ahead, minutes=minutes)


class _VoicemailTake:
    """Records the caller until ``#``, the maximum length, or a long silence after they spoke."""

    def __init__(self, session: CallSession, max_s: int) -> None:
        self.session = session
        self.max_s = max_s
        self.vad = VoiceActivity()
        self.recorder = CallRecorder(session.recordings_dir, f"{session.ctx.sip_call_id}-voicemail")
        self.done = asyncio.Event()
        self.duration_s = 0.0
        self._stopped = False
        self._path: Path | None = None

    def _on_pcm(self, pcm: bytes, at: float) -> None:
        if self._stopped:
            return
        self.recorder.add("caller", pcm, at)
        self.vad.feed(pcm)
        if self.vad.heard_speech and self.vad.silence_ms >= VOICEMAIL_SILENCE_S * 1000:
            self.done.set()

    def finish_soon(self) -> None:
        """The caller pressed ``#``."""
        self.done.set()

    async def run(self) -> Path | None:
        self.session.leg.on_pcm = self._on_pcm
        await wait_event(self.done, self.max_s)
        return await self.stop()

    async def stop(self) -> Path | None:
        """Close the recording; the WAV path (None: the caller said nothing)."""
        if self._stopped:
            return self._path
        self._stopped = True
        if self.session.leg.on_pcm == self._on_pcm:
            self.session.leg.on_pcm = None
        recording = await self.recorder.close()
        self.duration_s = recording.duration_s
        heard = self.vad.heard_speech and recording.legs.get("caller") is not None
        self._path = recording.legs.get("caller") if heard else None
        return self._path
