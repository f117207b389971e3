"""Per-frame features, computed once per decoded frame and shared by every detector.

Scalars go into a :class:`FrameTable` (a few dozen bytes per frame, so hours fit easily);
small images are kept only in a bounded :class:`FrameWindow` of recent frames.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from analyzers.frames import Frame

TINY_SIZE = (32, 18)  # (w, h) for flash and dissolve comparisons
HIST_BINS = (8, 4, 4)  # HSV bins for scene similarity and dominant colours
HIST_EVERY = 4  # a histogram every Nth frame (by index, so chunked runs sample alike)
_HSV_RANGES = [0, 180, 0, 256, 0, 256]


@dataclass(slots=True)
class FrameFeatures:
    index: int
    pts: float
    tiny: np.ndarray  # float32 (18, 32, 3) RGB
    score: float  # content change from the previous frame, 0-255
    luma_mean: float  # 0-255
    luma_std: float
    saturation: float  # 0-255
    colorfulness: float
    sharpness: float
    motion: float  # mean abs luma change from the previous frame, 0-255
    structure: float  # correlation of the (normalised) luma pattern with the previous frame
    hist: np.ndarray | None  # normalised HSV histogram, every HIST_EVERY frames
    solid: str | None = None  # "black"/"white" for a uniform field (see is_solid)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two same-sized images."""
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


def is_solid(tiny: np.ndarray) -> str | None:
    """'black' or 'white' when the frame is a near-uniform dark or bright field."""
    return _solid_of(tiny.mean(axis=2))


_MEDIAN_HIST = [256]


def _median_u8(value: np.ndarray) -> float:
    """np.median of a uint8 image, from its 256-bin histogram (no sort of every pixel)."""
    counts = np.cumsum(cv2.calcHist([value], [0], None, _MEDIAN_HIST, [0, 256]).ravel())
    n = int(counts[-1])
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(counts, n // 2, side="right"))
    return (lo + hi) / 2.0


def _edges(value: np.ndarray) -> np.ndarray:
    # Canny thresholds from the median, as PySceneDetect does, then dilated so that small
    # motion does not count as an edge change.
    med = _median_u8(value)
    low, high = int(max(0, 0.67 * med)), int(min(255, 1.33 * med))
    edges = cv2.Canny(value, low, max(high, low + 1))
    return cv2.dilate(edges, _DILATE)


_DILATE = np.ones((3, 3), np.uint8)
# Opponent channels of Hasler & Suesstrunk: rg = R - G, yb = (R + G) / 2 - B.
_OPPONENT = np.array([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]], np.float32)


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M of an RGB image on a 0-255 scale."""
    # One pass of OpenCV for both opponent channels and their moments (numpy's per-channel
    # casts and reductions cost more than the rest of a frame's features together).
    opp = cv2.transform(rgb.astype(np.float32, copy=False), _OPPONENT)
    mean, std = cv2.meanStdDev(opp)
    return float(np.hypot(std[0, 0], std[1, 0]) + 0.3 * np.hypot(mean[0, 0], mean[1, 0]))


def _pattern(gray: np.ndarray) -> np.ndarray | None:
    """Zero-mean, unit-norm luma pattern of a channel-mean image; None for a flat field (no
    pattern to compare)."""
    g = gray.ravel()
    g = g - g.mean()
    n = float(np.linalg.norm(g))
    return g / n if n > 1.0 * np.sqrt(g.size) else None


def _solid_of(gray: np.ndarray) -> str | None:
    if float(gray.std()) > 12.0:
        return None
    m = float(gray.mean())
    if m < 40.0:
        return "black"
    if m > 215.0:
        return "white"
    return None


class FeatureExtractor:
    """Turns RGB analysis frames into :class:`FrameFeatures`, remembering the previous one.

    Reductions go through OpenCV (``cv2.mean``, ``cv2.meanStdDev``), which on these small
    frames is several times cheaper per call than numpy's."""

    def __init__(self) -> None:
        self._prev_hsv: np.ndarray | None = None
        self._prev_edges: np.ndarray | None = None
        self._prev_gray: np.ndarray | None = None
        self._prev_pattern: np.ndarray | None = None

    def process(self, frame: Frame) -> FrameFeatures:
        rgb = frame.image
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        edges = _edges(hsv[..., 2])
        if self._prev_hsv is None:
            score, motion = 0.0, 0.0
        else:
            dh, ds, dv, _ = cv2.mean(cv2.absdiff(hsv, self._prev_hsv))
            de = cv2.mean(cv2.absdiff(edges, self._prev_edges))[0]
            score = (dh + ds + dv + de) / 4.0  # equal weights: hue, saturation, value, edges
            motion = cv2.mean(cv2.absdiff(gray, self._prev_gray))[0]
        self._prev_hsv, self._prev_edges, self._prev_gray = hsv, edges, gray
        tiny = cv2.resize(rgb, TINY_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        tiny_gray = tiny.mean(axis=2)
        pattern = _pattern(tiny_gray)
        structure = 1.0
        if self._prev_pattern is not None and pattern is not None:
            structure = float(pattern @ self._prev_pattern)
        elif (self._prev_pattern is None) != (pattern is None) and self._prev_hsv is not None:
            structure = 0.0  # a flat field against a picture
        self._prev_pattern = pattern
        hist = None
        if frame.index % HIST_EVERY == 0:
            h = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), _HSV_RANGES).ravel()
            hist = (h / max(1.0, float(h.sum()))).astype(np.float32)
        mean, std = cv2.meanStdDev(gray)
        _, lap_std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_32F))
        return FrameFeatures(
            index=frame.index,
            pts=frame.pts,
            tiny=tiny,
            score=score,
            luma_mean=float(mean[0, 0]),
            luma_std=float(std[0, 0]),
            saturation=cv2.mean(hsv)[1],
            colorfulness=colorfulness(rgb),
            sharpness=float(lap_std[0, 0]) ** 2,
            motion=motion,
            structure=structure,
            hist=hist,
            solid=_solid_of(tiny_gray),
        )


class FrameWindow:
    """The last ``size`` frames' features, addressable by frame index."""

    def __init__(self, size: int) -> None:
        self._frames: deque[FrameFeatures] = deque(maxlen=size)

    def push(self, feat: FrameFeatures) -> None:
        self._frames.append(feat)

    def get(self, index: int) -> FrameFeatures | None:
        if not self._frames:
            return None
        pos = index - self._frames[0].index
        if 0 <= pos < len(self._frames):
            f = self._frames[pos]
            return f if f.index == index else None
        return None

    @property
    def first(self) -> int:
        return self._frames[0].index if self._frames else 0

    @property
    def last(self) -> int:
        return self._frames[-1].index if self._frames else -1


_COLUMNS = (
    "pts",
    "score",
    "luma_mean",
    "luma_std",
    "saturation",
    "colorfulness",
    "sharpness",
    "motion",
    "structure",
)


class FrameTable:
    """Per-frame scalars of a decoded range (columns of doubles) plus sampled histograms."""

    def __init__(self) -> None:
        self.index = array("q")
        self.cols: dict[str, array[float]] = {c: array("d") for c in _COLUMNS}
        self.hists: dict[int, np.ndarray] = {}
        self.solid: dict[int, str] = {}  # frames that are uniform black/white fields

    def append(self, f: FrameFeatures) -> None:
        self.index.append(f.index)
        for c in _COLUMNS:
            self.cols[c].append(getattr(f, c))
        if f.hist is not None:
            self.hists[f.index] = f.hist.astype(np.float16)
        if f.solid:
            self.solid[f.index] = f.solid

    def __len__(self) -> int:
        return len(self.index)

    def column(self, name: str) -> np.ndarray:
        return np.frombuffer(self.cols[name], dtype=np.float64) if len(self) else np.zeros(0)

    def indices(self) -> np.ndarray:
        return np.frombuffer(self.index, dtype=np.int64) if len(self) else np.zeros(0, np.int64)

    def clip(self, start_s: float | None, end_s: float | None) -> FrameTable:
        """Rows whose PTS lies in ``[start_s, end_s)``."""
        out = FrameTable()
        lo = -np.inf if start_s is None else start_s - 1e-6
        hi = np.inf if end_s is None else end_s - 1e-6
        pts = self.column("pts")
        keep = np.nonzero((pts >= lo) & (pts < hi))[0]
        for k in keep:
            out.index.append(self.index[k])
            for c in _COLUMNS:
                out.cols[c].append(self.cols[c][k])
        kept = set(out.index)
        out.hists = {i: h for i, h in self.hists.items() if i in kept}
        out.solid = {i: s for i, s in self.solid.items() if i in kept}
        return out

    @staticmethod
    def concat(tables: list[FrameTable]) -> FrameTable:
        out = FrameTable()
        seen = -1
        for t in sorted(tables, key=lambda t: t.index[0] if len(t) else 0):
            for k in range(len(t)):
                if t.index[k] <= seen:
                    continue  # ranges should not overlap; be safe if they do
                seen = t.index[k]
                out.index.append(t.index[k])
                for c in _COLUMNS:
                    out.cols[c].append(t.cols[c][k])
            out.hists.update(t.hists)
            out.solid.update(t.solid)
        return out
