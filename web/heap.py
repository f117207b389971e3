"""Keeping long-lived objects out of the cyclic garbage collector's walks.

A full collection walks every tracked object. The catalogue index holds a few Python objects
per title (facts, ratings, label dicts): at 100k titles a full collection took about 150 ms,
and while the index loaded, its growing heap set off dozens of them (bench-api; measured with
``gc.callbacks`` in each uvicorn worker). What lives as long as the process is therefore
frozen out of the collector: once at start, and again whenever a new index is in place.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def settle() -> None:
    """Collect what is garbage now (frozen objects included), then freeze the survivors."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collections while a large structure is built (objects made here are
    meant to live); restores the collector's previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
