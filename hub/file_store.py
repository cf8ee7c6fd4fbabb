"""Content-addressed files on disk: citizens' attachments (email files, Telegram photos) by their SHA-256.

A file is written to a temporary name, fsynced and renamed, so a crash never leaves half a file under its final
name; the same content is stored once. Paths come only from a validated hex digest, never from a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

# ISO-BMFF ``ftyp`` brands of HEIF still images (phones' photos): HEIC (HEVC-coded) and generic HEIF.
_HEIF_BRANDS = {b"heic": "image/heic", b"heix": "image/heic", b"heim": "image/heic", b"heis": "image/heic",
                b"hevc": "image/heic", b"hevx": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif"}  # fmt: skip


def image_type(data: bytes, *, heif: bool = True) -> str | None:
    """The image MIME type by magic bytes (JPEG, PNG, WebP and, with ``heif``, HEIC/HEIF); None for anything else.

    Citizens' photos are checked by their content, never by a name or a declared type.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if heif and len(data) >= 12 and data[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(data[8:12])
    return None


class ContentStore:
    """Files under ``root/<first two hex digits>/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the file with this SHA-256 lives (``sha256`` must be 64 lower-case hex digits).

        Raises:
            ValueError: ``sha256`` is not a SHA-256 hex digest.
        """
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def write(self, data: bytes) -> str:
        """Store ``data`` (blocking) and return its SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if path.is_file() and path.stat().st_size == len(data):
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        return digest

    async def save_bytes(self, data: bytes) -> str:
        """:meth:`write` in an executor."""
        return await asyncio.get_running_loop().run_in_executor(None, self.write, data)
