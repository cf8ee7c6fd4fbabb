"""``rexian voice check-prompts``: how well callers understand a flow's prompts, as JSON (see prompt_check.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .config import default_model_root
from .prompt_check import TARGET_CER, PromptReport, check_prompts
from .tts_engine import ENGINE_NAMES

EXIT_ABOVE_TARGET = 3


def add_parser(sub: Any) -> None:
    """Add ``voice check-prompts`` to the ``rexian`` command."""
    env = os.environ.get
    voice = sub.add_parser("voice", help="the phone channel")
    voice_sub = voice.add_subparsers(dest="voice_command", required=True, metavar="ACTION")
    check = voice_sub.add_parser(
        "check-prompts",
        help="synthesise a flow's prompts, pass them through G.711 and a recogniser; JSON character error rates",
    )
    check.add_argument(
        "--flow",
        default="default",
        help="'default' (the shipped 12319 flow), a YAML file, or 'active' (the active flow in --data-dir)",
    )
    check.add_argument("--data-dir", type=Path, default=None, help="hub data directory (for --flow active)")
    check.add_argument("--database-url", default=env("REXIAN_DATABASE_URL"), help="database (for --flow active)")
    check.add_argument("--locale", default="zh-CN", choices=("zh-CN", "en"), help="prompt language")
    check.add_argument("--tts-engine", choices=ENGINE_NAMES, default=env("REXIAN_TTS_ENGINE", "auto"))
    check.add_argument("--tts-voice", default=env("REXIAN_TTS_VOICE"))
    check.add_argument("--tts-speed", type=float, default=float(env("REXIAN_TTS_SPEED", "1.0")))
    check.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="speech model folder (default: env REXIAN_MODEL_DIR, else ~/.cache/rexian/models)",
    )
    check.add_argument(
        "--max-cer",
        type=float,
        default=None,
        help=f"exit {EXIT_ABOVE_TARGET} when the overall rate is above this (the default flow's target: {TARGET_CER})",
    )


def file_flow(spec: str) -> Any:
    """The flow of ``--flow`` when it names the shipped default or a YAML file; None for ``active``."""
    from .ivr.loader import load_flow
    from .ivr.store import DEFAULT_FLOW_PATH

    if spec == "active":
        return None
    path = DEFAULT_FLOW_PATH if spec == "default" else Path(spec)
    if not path.is_file():
        raise SystemExit(f"rexian: --flow {spec!r} is neither 'default', 'active' nor a file")
    return load_flow(path.read_text(encoding="utf-8"))


OpenStore = Callable[[Path | None, str | None], Awaitable[Any]]
"""(data dir, database URL) → a migrated AsyncEngine (given by the composition root, rexian/cli.py)."""


async def active_flow(open_store: OpenStore, data_dir: Path | None, database_url: str | None) -> Any:
    """The active flow stored in the hub's database."""
    from .ivr.store import IvrFlows

    engine = await open_store(data_dir, database_url)
    try:
        flows = await IvrFlows.open(engine)
        return flows.holder()
    finally:
        await engine.dispose()


async def run_check(args: argparse.Namespace, flow: Any = None, open_store: OpenStore | None = None) -> PromptReport:
    """Build the engine and the recogniser, check the flow's prompts (``flow`` None: the active one)."""
    from .asr_whisper import WhisperRecognizer
    from .speech_models import ensure_whisper_base
    from .tts import PromptSynthesizer

    if flow is None:
        if open_store is None:
            raise SystemExit("rexian: --flow active needs the hub's store")
        flow = await active_flow(open_store, args.data_dir, args.database_url)
    root = (args.model_dir or default_model_root()).expanduser()
    model = await asyncio.to_thread(ensure_whisper_base, root)
    recognizer = WhisperRecognizer(model)
    await recognizer.load()
    if not recognizer.available:
        raise SystemExit(f"rexian: no recogniser: {recognizer.reason}")
    with tempfile.TemporaryDirectory(prefix="rexian-prompts-") as cache:
        synthesizer = PromptSynthesizer(Path(cache), engine=args.tts_engine, voice=args.tts_voice, speed=args.tts_speed)
        try:
            return await check_prompts(flow, synthesizer, recognizer.transcribe_pcm, locale=args.locale)
        finally:
            await synthesizer.close()
            await recognizer.close()


def run(args: argparse.Namespace, open_store: OpenStore | None = None) -> int:
    """``rexian voice check-prompts``: print the JSON report; exit 3 above ``--max-cer``."""
    report = asyncio.run(run_check(args, file_flow(args.flow), open_store))
    json.dump(report.as_json(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if args.max_cer is not None and report.cer > args.max_cer:
        return EXIT_ABOVE_TARGET
    return 0
