"""Giving freed memory back to the operating system.

glibc keeps what a process frees on its heap for reuse, and raises its mmap threshold after
large blocks are freed, so the activations of one model run (hundreds of MB for a batch of
keyframes) stay in the process's resident set after the run: a worker holding several models
then sits far above what it uses. ``malloc_trim`` returns those free pages; it takes well
under a millisecond, so it runs after each model load and batch of inference. A full
``gc.collect`` (0.3 s once torch is imported) is only for the ends of stages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # musl has none
    except OSError:
        return None


def release_freed(collect: bool = False) -> bool:
    """Return the heap's free pages to the OS (after ``gc.collect`` when ``collect``).
    True when there was a ``malloc_trim`` to call."""
    if collect:
        gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
