"""Prompt checks of saved IVR flow versions, run in the background so the editor can show them after a save.

:class:`PromptChecks` runs one check at a time (a check is CPU work: synthesis and recognition), keeps each flow
version's result under ``<data dir>/voice/prompt_checks/v<id>.json`` and remembers scores by spoken text, so a
re-check after an edit only listens to the prompts that changed. The recogniser is the voice channel's own when it
runs (its bounded pool: callers are not starved, the check waits for a free slot), else one loaded on first use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .asr_whisper import WhisperRecognizer
from .config import VoiceSettings
from .ivr.flow import Flow
from .prompt_check import PromptScore, Transcriber, check_prompts
from .speech_models import ensure_whisper_base
from .tts import PromptSynthesizer

if TYPE_CHECKING:
    from .service import VoiceChannel

log = logging.getLogger(__name__)

MEMO_FILE = "scores.json"
MEMO_LIMIT = 2000


class PromptChecks:
    """Background prompt checks of flow versions.

    Args:
        directory: where results are kept.
        synthesizer: () → the :class:`~channels.voice.tts.PromptSynthesizer` to speak with (created on first use).
        transcriber: () → awaitable :data:`~channels.voice.prompt_check.Transcriber` (loads the recogniser).
        enabled: False turns checks off (``--no-prompt-check``): results say so.
        release: awaited by :meth:`close` (what ``synthesizer``/``transcriber`` created for themselves).
    """

    def __init__(
        self,
        directory: Path,
        *,
        synthesizer: Callable[[], Any],
        transcriber: Callable[[], Awaitable[Transcriber]],
        enabled: bool = True,
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._release = release
        self.enabled = enabled
        self._synthesizer = synthesizer
        self._transcriber = transcriber
        self._states: dict[int, str] = {}
        self._queue: asyncio.Queue[tuple[int, Flow]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._memo: dict[str, PromptScore] | None = None

    def schedule(self, version_id: int, flow: Flow) -> None:
        """Check ``flow`` (saved as ``version_id``) soon; a no-op when checks are off."""
        if not self.enabled:
            return
        self._states[version_id] = "queued"
        self._queue.put_nowait((version_id, flow))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="voice:prompt-checks")

    def result(self, version_id: int) -> dict[str, Any]:
        """``{"state": "off"|"none"|"queued"|"running"|"done"|"failed", "report": {...}?, "error": ...?}``."""
        if not self.enabled:
            return {"state": "off"}
        state = self._states.get(version_id)
        if state in ("queued", "running"):
            return {"state": state}
        path = self._path(version_id)
        try:
            stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"state": "none"}
        except (OSError, ValueError) as exc:
            return {"state": "failed", "error": f"unreadable result: {exc}"}
        return stored

    async def wait(self) -> None:
        """Until every scheduled check has finished (tests, shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        """Stop the worker (a running check is abandoned) and release what it loaded."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        if self._release is not None:
            await self._release()

    def _path(self, version_id: int) -> Path:
        return self.directory / f"v{int(version_id)}.json"

    async def _run(self) -> None:
        while True:
            version_id, flow = await self._queue.get()
            try:
                await self._check(version_id, flow)
            finally:
                self._queue.task_done()

    async def _check(self, version_id: int, flow: Flow) -> None:
        self._states[version_id] = "running"
        try:
            memo = await asyncio.to_thread(self._load_memo) if self._memo is None else self._memo
            self._memo = memo
            transcribe = await self._transcriber()
            report = await check_prompts(flow, self._synthesizer(), transcribe, memo=memo)
            body: dict[str, Any] = {"state": "done", "report": report.as_json()}
            log.info(
                "prompt check of IVR flow version %s: character error rate %.2f (target %.2f), %d hard prompt(s)",
                version_id,
                report.cer,
                report.target,
                sum(p.hard for p in report.prompts),
            )
        except asyncio.CancelledError:
            self._states.pop(version_id, None)
            raise
        except Exception as exc:
            log.exception("prompt check of IVR flow version %s failed", version_id)
            body = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
        await asyncio.to_thread(self._store, version_id, body)
        self._states.pop(version_id, None)

    def _load_memo(self) -> dict[str, PromptScore]:
        try:
            raw = json.loads((self.directory / MEMO_FILE).read_text(encoding="utf-8"))
            return {key: PromptScore(**value) for key, value in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring the prompt check memo (%s)", exc)
            return {}

    def _store(self, version_id: int, body: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_json(self._path(version_id), body)
        if self._memo is not None:
            kept = dict(list(self._memo.items())[-MEMO_LIMIT:])
            _write_json(self.directory / MEMO_FILE, {k: dataclasses.asdict(v) for k, v in kept.items()})


def _write_json(path: Path, body: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def for_hub(
    data_dir: Path, settings: VoiceSettings | None, channel: Callable[[], VoiceChannel | None], *, enabled: bool
) -> PromptChecks:
    """The hub's prompt checks: with the voice channel's synthesizer and free-speech recognizer when it runs,
    else with its own, created on the first check (the IVR can be edited with the phones off)."""
    own: dict[str, Any] = {}
    voice = settings or VoiceSettings()

    def synthesizer() -> Any:
        running = channel()
        if running is not None:
            return running.tts
        if "tts" not in own:
            cache = voice.prompt_cache_dir or data_dir / "voice" / "prompts"
            own["tts"] = PromptSynthesizer(cache, engine=voice.tts_engine, voice=voice.tts_voice, speed=voice.tts_speed)
        return own["tts"]

    async def transcriber() -> Transcriber:
        running = channel()
        if running is not None and isinstance(running.free_asr, WhisperRecognizer) and running.free_asr.available:
            return running.free_asr.transcribe_pcm
        if "asr" not in own:
            model = await asyncio.to_thread(ensure_whisper_base, voice.speech_models)
            loaded = WhisperRecognizer(model, workers=1)
            await loaded.load()
            if not loaded.available:
                raise RuntimeError(f"no recogniser for the prompt check: {loaded.reason}")
            own["asr"] = loaded
        recognizer: WhisperRecognizer = own["asr"]
        return recognizer.transcribe_pcm

    async def release() -> None:
        if "tts" in own:
            await own.pop("tts").close()
        if "asr" in own:
            await own.pop("asr").close()

    return PromptChecks(
        data_dir / "voice" / "prompt_checks",
        synthesizer=synthesizer,
        transcriber=transcriber,
        enabled=enabled,
        release=release,
    )
