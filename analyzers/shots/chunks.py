"""Splitting long titles into time ranges for parallel workers, and merging the results.

Each range decodes ``chunk_overlap_s`` before its start and after its end so detectors see
the same context as in a whole-file run, but reports only frames whose PTS lies in
``[start, end)``. A cut at a border is therefore found exactly once, and merging gives the
same result as an unsplit run.
"""

from __future__ import annotations

import math
import os

from analyzers.shots.analyze import Progress, RangeResult, detect_range, finalize
from analyzers.shots.types import ShotAnalysis, ShotOptions


def plan_chunks(duration_s: float, chunk_s: float = 600.0) -> list[tuple[float, float | None]]:
    """Time ranges covering ``duration_s``; the last is open-ended so no frame is lost."""
    if duration_s <= 0 or chunk_s <= 0:
        return [(0.0, None)]
    n = max(1, math.ceil(duration_s / chunk_s - 1e-9))
    step = duration_s / n
    return [
        (round(k * step, 3), None if k == n - 1 else round((k + 1) * step, 3)) for k in range(n)
    ]


def analyze_chunk(
    path: str | os.PathLike[str],
    start_s: float,
    end_s: float | None,
    options: ShotOptions | None = None,
    progress: Progress | None = None,
) -> RangeResult:
    return detect_range(path, options, start_s=start_s or None, end_s=end_s, progress=progress)


def merge_chunks(
    path: str | os.PathLike[str],
    parts: list[RangeResult],
    options: ShotOptions | None = None,
) -> ShotAnalysis:
    """One analysis from the chunks' results (each shot's keyframe is the best candidate any
    chunk captured inside it)."""
    return finalize(path, parts, options)
