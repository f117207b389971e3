"""Gradual transitions: dissolves and fades to/from black or white.

A dissolve from picture A to picture B makes every frame in between a blend
``(1 - a) * A + a * B``. For windows of a few lengths, the detector takes the frames at both
ends (A, B) and checks that the middle and quarter frames are the matching blends, which a
hard cut or motion inside one shot does not give. The frames of a passing window whose blend
factor lies strictly between A and B are the transition. A fade is the same blend with a
black or white field on one side; the side that is a uniform field names the kind.
"""

from __future__ import annotations

import cv2
import numpy as np

from analyzers.shots.features import HIST_BINS, FrameWindow, is_solid, mad

_MID_TOLERANCE = 0.2  # residual / |A - B| allowed at the middle frame
_QUARTER_TOLERANCE = 0.25
_ALPHA_EDGE = 0.08  # blend factors this close to 0 or 1 count as A or B themselves
# Two pictures of one shot (slow motion, a light change) also blend smoothly; a dissolve
# joins pictures whose colours differ.
_MAX_SIDE_SIMILARITY = 0.6


def _colour_similarity(a: np.ndarray, b: np.ndarray) -> float:
    hists = []
    for img in (a, b):
        hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2HSV)
        h = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256])
        hists.append(h.ravel() / max(1.0, float(h.sum())))
    return float(np.minimum(*hists).sum())


class GradualDetector:
    name = "gradual"

    def __init__(self, window: FrameWindow, fps: float, min_change: float = 18.0):
        self.window = window
        scale = max(0.5, fps / 25.0)
        self.halves = sorted({max(3, round(h * scale)) for h in (4, 8, 16)})
        self.lag = 4 * max(self.halves) + 2  # a range is final once no window can extend it
        self.min_change = min_change
        self._ranges: list[list[int]] = []  # open [start, end) ranges, sorted

    @property
    def history(self) -> int:
        """Frames the window must keep for this detector."""
        return 2 * self.lag + 8

    def _tiny(self, index: int) -> np.ndarray | None:
        f = self.window.get(index)
        return None if f is None else f.tiny

    def _test(self, a: int, b: int) -> tuple[int, int] | None:
        """Blend test on the window [a, b]; returns the transition frames or None."""
        A, B = self._tiny(a), self._tiny(b)
        if A is None or B is None:
            return None
        d_ab = mad(A, B)
        if d_ab < self.min_change:
            return None
        c, q = (a + b) // 2, max(1, (b - a) // 4)
        for idx, tol in (
            (c, _MID_TOLERANCE),
            (c - q, _QUARTER_TOLERANCE),
            (c + q, _QUARTER_TOLERANCE),
        ):
            M = self._tiny(idx)
            if M is None:
                return None
            alpha = (idx - a) / (b - a)
            if mad(M, (1 - alpha) * A + alpha * B) / d_ab > tol:
                return None
        if not (is_solid(A) or is_solid(B)) and _colour_similarity(A, B) > _MAX_SIDE_SIMILARITY:
            return None
        # Blend factor of every frame in the window, by projection on B - A.
        diff = (B - A).ravel()
        denom = float(diff @ diff)
        inside = []
        for j in range(a + 1, b):
            F = self._tiny(j)
            if F is None:
                return None
            alpha = float((F - A).ravel() @ diff) / denom
            if _ALPHA_EDGE < alpha < 1 - _ALPHA_EDGE:
                inside.append(j)
        if len(inside) < 2:
            return None
        return inside[0], inside[-1] + 1

    def process(self, latest: int) -> list[tuple[str, int, int]]:
        """Feed the index of the newest frame; returns transitions that are final now."""
        for h in self.halves:
            found = self._test(latest - 2 * h, latest)
            if found:
                self._add(*found)
        return self._finish(lambda end: end + self.lag <= latest)

    def flush(self) -> list[tuple[str, int, int]]:
        return self._finish(lambda end: True)

    def _add(self, start: int, end: int) -> None:
        for r in self._ranges:
            if start <= r[1] and end >= r[0]:
                r[0], r[1] = min(r[0], start), max(r[1], end)
                break
        else:
            self._ranges.append([start, end])
        self._ranges.sort()

    def _finish(self, done) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        keep: list[list[int]] = []
        for r in self._ranges:
            if done(r[1]):
                out += self._classify(r[0], r[1])
            else:
                keep.append(r)
        self._ranges = keep
        return out

    def _solid(self, index: int) -> str | None:
        t = self._tiny(index)
        return None if t is None else is_solid(t)

    def _classify(self, start: int, end: int) -> list[tuple[str, int, int]]:
        before, after = self._solid(start - 1), self._solid(end)
        if before:
            return [(f"fade_in_from_{before}", start, end)]
        if after:
            return [(f"fade_out_to_{after}", start, end)]
        solid = [j for j in range(start, end) if self._solid(j)]
        if solid:
            # Picture -> field -> picture: a fade out and a fade in.
            color = self._solid(solid[0])
            out = []
            if solid[0] > start:
                out.append((f"fade_out_to_{color}", start, solid[0]))
            if solid[-1] + 1 < end:
                out.append((f"fade_in_from_{color}", solid[-1] + 1, end))
            return out
        return [("dissolve", start, end)]


def detect_fades(
    indices: np.ndarray,
    luma_mean: np.ndarray,
    luma_std: np.ndarray,
    *,
    flat_std: float = 2.0,
    rel_step: float = 0.01,
    min_frames: int = 2,
    min_change: float = 8.0,
) -> list[tuple[str, int, int]]:
    """Fades into and out of uniform black or white fields, from per-frame luma statistics.

    Fading scales a picture's distance from the field colour (its mean offset and its spread)
    by a factor going to zero, so a fade out is the run of frames whose distance falls
    steadily (by more than ``rel_step`` a frame) into a flat field, and a fade in the run
    rising steadily out of one, ending where the distance levels off. This also catches
    fades too fast or too eased for the blend test (ffmpeg's ``fadeblack`` reaches black in
    a few frames).
    """
    n = len(indices)
    flat = (luma_std < flat_std) & ((luma_mean < 40) | (luma_mean > 215))
    out: list[tuple[str, int, int]] = []
    r = 0
    while r < n:
        if not flat[r]:
            r += 1
            continue
        r0 = r
        while r + 1 < n and flat[r + 1] and indices[r + 1] == indices[r] + 1:
            r += 1
        r1 = r
        color = "black" if luma_mean[r0] < 128 else "white"
        field = 0.0 if color == "black" else 255.0
        q = np.abs(luma_mean - field) + luma_std  # distance from the field

        def rising(a: int, b: int, q: np.ndarray = q) -> bool:  # q[b] a steady step above q[a]
            return bool(q[b] > q[a] * (1 + rel_step) + 0.2 and abs(indices[b] - indices[a]) == 1)

        j = r0
        while j - 1 >= 0 and not flat[j - 1] and rising(j, j - 1):
            j -= 1
        # Frames j..r0-1 fade out; j-1 is the last frame of the picture.
        if r0 - j >= min_frames and q[j] - q[r0] >= min_change:
            out.append((f"fade_out_to_{color}", int(indices[j]), int(indices[r0])))
        k = r1
        while k + 1 < n and not flat[k + 1] and rising(k, k + 1):
            k += 1
        # Frames r1+1..k fade in; k+1 is the first frame of the picture.
        if k - r1 >= min_frames and q[k] - q[r1] >= min_change:
            out.append((f"fade_in_from_{color}", int(indices[r1 + 1]), int(indices[k]) + 1))
        r = r1 + 1
    return out
