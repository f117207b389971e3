"""The on-disk cache of label-embedding matrices, as worker processes use it: processes
computing the same key at once each get it, and the file on disk is whole."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np

from analyzers.encoders.cache import EmbeddingCache

VALUE = np.arange(384 * 64, dtype=np.float32).reshape(64, 384)


def _compute_at(directory: str, start: float) -> float:
    cache = EmbeddingCache(directory)

    def compute() -> np.ndarray:
        time.sleep(max(0.0, start - time.time()))  # every process writes at the same instant
        return VALUE

    return float(cache.get_or_compute("labels-v1", compute).sum())


def test_processes_writing_one_key_at_once_all_succeed(tmp_path: Path) -> None:
    start = time.time() + 1.0
    with multiprocessing.get_context("fork").Pool(8) as pool:
        sums = pool.starmap(_compute_at, [(str(tmp_path), start)] * 8)
    assert sums == [float(VALUE.sum())] * 8
    assert np.array_equal(np.load(tmp_path / "labels-v1.npy"), VALUE)
    assert [p.name for p in tmp_path.iterdir()] == ["labels-v1.npy"]  # no temporary left


def test_a_stored_matrix_is_read_not_recomputed(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path).get_or_compute("k", lambda: VALUE)

    def boom() -> np.ndarray:
        raise AssertionError("recomputed")

    assert np.array_equal(EmbeddingCache(tmp_path).get_or_compute("k", boom), VALUE)
