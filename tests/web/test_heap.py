"""The cyclic collector: long-lived objects frozen out of its walks, pauses restored."""

from __future__ import annotations

import gc
import weakref

from web import heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_settle_frees_cycles_and_freezes_survivors() -> None:
    kept = [_Node() for _ in range(1000)]
    dead = _Node()
    gone = weakref.ref(dead)
    del dead
    try:
        heap.settle()
        assert gone() is None  # collected before the freeze
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()


def test_collector_paused_restores_its_state() -> None:
    assert gc.isenabled()
    with heap.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with heap.collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
