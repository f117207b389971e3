"""Adaptive content detector for hard cuts (HSV + edge change against its neighbours).

A frame is a cut when its change from the previous frame is ``threshold`` times the mean
change of the ``window`` frames on either side and above an absolute floor. Comparing with
neighbours rather than a fixed threshold keeps fast motion (every frame changes a lot) from
reading as a string of cuts. A change of colour or brightness alone, where the picture's
luma pattern stays the same (a background changing colour, lights switched on), is not a
cut either.
"""

from __future__ import annotations

from collections import deque

from analyzers.shots.features import FrameFeatures


class AdaptiveContentDetector:
    name = "adaptive"

    def __init__(
        self,
        threshold: float = 3.0,
        min_content: float = 24.0,
        window: int = 2,
        max_structure: float = 0.9,
    ):
        self.threshold = threshold
        self.max_structure = max_structure
        self.min_content = min_content
        self.window = window
        self._buf: deque[tuple[int, float]] = deque(maxlen=2 * window + 1)
        self._structure: dict[int, float] = {}
        self._evaluated = -1

    def _decide(self, pos: int) -> list[int]:
        idx, score = self._buf[pos]
        self._evaluated = idx
        if score < self.min_content or self._structure.pop(idx, 0.0) > self.max_structure:
            return []
        others = [s for k, (_, s) in enumerate(self._buf) if k != pos]
        mean = sum(others) / len(others) if others else 0.0
        return [idx] if score >= self.threshold * mean else []

    def process(self, feat: FrameFeatures) -> list[int]:
        """Feed one frame; returns cut frames decided now (``window`` frames behind)."""
        self._buf.append((feat.index, feat.score))
        if feat.score >= self.min_content:
            self._structure[feat.index] = feat.structure
        if len(self._buf) == self._buf.maxlen:
            return self._decide(self.window)
        if len(self._buf) > self.window:
            # Start of the stream: judge with the neighbours there are.
            return self._decide(len(self._buf) - 1 - self.window)
        return []

    def flush(self) -> list[int]:
        out: list[int] = []
        for pos, (idx, _) in enumerate(self._buf):
            if idx > self._evaluated:
                out += self._decide(pos)
        return out


class MinShotFilter:
    """Drops a cut closer than ``min_frames`` to the previous kept cut (or the file start)."""

    def __init__(self, min_frames: int, first_index: int = 0):
        self.min_frames = max(1, min_frames)
        # Only the file start counts as a boundary; a range decode starts mid-shot.
        self._last = 0 if first_index == 0 else -(10**9)

    def process(self, cuts: list[int]) -> list[int]:
        kept = []
        for c in cuts:
            if c - self._last >= self.min_frames:
                kept.append(c)
                self._last = c
        return kept
