"""Keeping the garbage collector's pauses short in a long-running hub.

The hub holds a large, long-lived heap from start-up on (jieba's dictionary and the knowledge-base index, the
taxonomy, templates, the modules themselves). CPython's full (generation 2) collection traverses all of it, which
measured 67–113 ms per collection on the bench machine during 150 bridged calls (``bench/voice_calls.py``), long
enough to delay every RTP packet of every call by as much. ``gc.freeze()`` moves what exists once start-up is
done into a permanent generation that collections skip; objects created later are collected as usual.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect once, then exempt every surviving object from future collections; returns how many were frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d start-up objects out of the garbage collector (%.0f ms)", frozen,
             (time.perf_counter() - started) * 1000)  # fmt: skip
    return frozen
