"""Scenes: consecutive shots grouped by visual similarity and temporal adjacency.

Shot ``i`` is linked to an earlier shot ``j`` (at most ``lookback`` shots and ``lookback_s``
seconds back) when their colour histograms are similar; every shot between two linked shots
belongs to the same scene (so A-B-A cross-cutting stays one scene). A fade through black or
white always starts a new scene.
"""

from __future__ import annotations

import numpy as np

from analyzers.shots.types import Scene, Shot


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Histogram intersection of two normalised histograms (1 = same colours)."""
    if a is None or b is None:
        return 0.0
    return float(np.minimum(a / max(a.sum(), 1e-9), b / max(b.sum(), 1e-9)).sum())


def group_scenes(
    shots: list[Shot],
    hists: list[np.ndarray | None],
    *,
    threshold: float = 0.55,
    lookback: int = 4,
    lookback_s: float = 60.0,
) -> list[Scene]:
    if not shots:
        return []
    # reach[i]: the furthest later shot linked to shot i or to a shot before it.
    link_to = list(range(len(shots)))
    for i in range(1, len(shots)):
        if shots[i].start_kind.startswith("fade_"):
            continue
        for j in range(i - 1, max(-1, i - 1 - lookback), -1):
            if shots[i].start_s - shots[j].end_s > lookback_s:
                break
            if any(s.start_kind.startswith("fade_") for s in shots[j + 1 : i + 1]):
                break
            if similarity(hists[i], hists[j]) >= threshold:
                link_to[j] = max(link_to[j], i)
    scenes: list[Scene] = []
    first, reach = 0, 0
    for i in range(len(shots)):
        reach = max(reach, link_to[i])
        if reach == i:
            a, b = shots[first], shots[i]
            scenes.append(
                Scene(len(scenes), first, i, a.start_frame, b.end_frame, a.start_s, b.end_s)
            )
            first = i + 1
            reach = i + 1
    for sc in scenes:
        for k in range(sc.first_shot, sc.last_shot + 1):
            shots[k].scene_index = sc.index
    return scenes
