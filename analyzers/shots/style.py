"""Per-shot style features from the per-frame table."""

from __future__ import annotations

import colorsys

import numpy as np

from analyzers.shots.features import HIST_BINS, FrameTable
from analyzers.shots.types import StyleFeatures


def shot_histogram(table: FrameTable, start: int, end: int) -> np.ndarray | None:
    """Mean sampled HSV histogram of frames [start, end); the nearest sample if none inside."""
    hs = [h.astype(np.float32) for i, h in table.hists.items() if start <= i < end]
    if not hs and table.hists:
        nearest = min(table.hists, key=lambda i: abs(i - (start + end) // 2))
        hs = [table.hists[nearest].astype(np.float32)]
    return np.mean(hs, axis=0) if hs else None


def dominant_colors(hist: np.ndarray | None, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` heaviest HSV bins as (#rrggbb of the bin centre, share)."""
    if hist is None or float(hist.sum()) <= 0:
        return []
    hist = hist / hist.sum()
    nh, ns, nv = HIST_BINS
    out = []
    for flat in np.argsort(hist)[::-1][:k]:
        share = float(hist[flat])
        if share <= 0:
            break
        h, s, v = np.unravel_index(int(flat), HIST_BINS)
        r, g, b = colorsys.hsv_to_rgb((h + 0.5) / nh, (s + 0.5) / ns, (v + 0.5) / nv)
        out.append(
            (f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}", round(share, 4))
        )
    return out


def shot_style(
    table: FrameTable, rows: slice, length_s: float, hist: np.ndarray | None
) -> StyleFeatures:
    """Style of the frames in ``rows`` (a slice of table rows)."""

    def mean(col: str) -> float:
        v = table.column(col)[rows]
        return float(v.mean()) if v.size else 0.0

    luma, spread = mean("luma_mean"), mean("luma_std")
    motion = table.column("motion")[rows][1:]  # the first frame's change is across the cut
    return StyleFeatures(
        length_s=round(length_s, 4),
        luma_mean=round(luma / 255.0, 4),
        luma_spread=round(spread / 255.0, 4),
        contrast=round(spread / luma, 4) if luma > 1e-6 else 0.0,
        saturation=round(mean("saturation") / 255.0, 4),
        colorfulness=round(mean("colorfulness"), 3),
        # Median: a flash or the frames of a transition do not make a still shot "moving".
        motion=round(float(np.median(motion)) / 255.0 if motion.size else 0.0, 5),
        dominant_colors=dominant_colors(hist),
    )
