"""Keyframe candidates captured during the detection decode (no second pass, no seeking).

The decoder hands over a larger picture of every Nth frame. Which shot a frame belongs to is
only final a little later (cuts are confirmed after a flash check, transitions once no test
window can extend them), so candidates stay unpruned for ``lag`` frames. After that each
stretch between possible boundaries (cut candidates, transition edges) keeps its ``keep``
best candidates; stretches that have ended are sealed as JPEG. Memory: a lag's worth of
pictures plus ``keep`` per open stretch, whatever the length of the title.
"""

from __future__ import annotations

import base64
import bisect
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzers.frames import i420_to_rgb
from analyzers.shots.keyframes import BLANK_STD, EDGE, encode_jpeg


@dataclass
class Candidate:
    frame: int
    time_s: float
    sharpness: float  # variance of the Laplacian on the analysis-size frame
    luma_std: float
    image: np.ndarray | None = None  # I420 (as sampled) while its stretch is open
    jpeg: bytes = b""  # once sealed

    @property
    def blank(self) -> bool:
        return self.luma_std < BLANK_STD

    def rgb(self) -> np.ndarray:
        if self.image is not None:
            return i420_to_rgb(self.image)
        bgr = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def to_json(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "time_s": self.time_s,
            "sharpness": self.sharpness,
            "luma_std": self.luma_std,
            "jpeg": base64.b64encode(self.jpeg).decode("ascii"),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Candidate:
        jpeg = base64.b64decode(d["jpeg"])
        return cls(d["frame"], d["time_s"], d["sharpness"], d["luma_std"], None, jpeg)


class CandidatePool:
    def __init__(self, lag: int, keep: int = 2, quality: int = 85):
        self.lag = lag
        self.keep = keep
        self.quality = quality
        self.open: list[Candidate] = []
        self.sealed: list[Candidate] = []
        self.marks: list[int] = []  # sorted possible shot starts
        self.spans: list[tuple[int, int]] = []  # transition ranges seen so far

    def add(self, c: Candidate) -> None:
        self.open.append(c)

    def mark(self, cuts: list[int], transitions: list[tuple[str, int, int]]) -> None:
        for c in cuts:
            bisect.insort(self.marks, c)
        for _, a, b in transitions:
            bisect.insort(self.marks, a)
            bisect.insort(self.marks, b)
            self.spans.append((a, b))

    def _rank(self, c: Candidate) -> tuple[bool, float]:
        k = bisect.bisect_left(self.marks, c.frame - EDGE + 1)
        near = k < len(self.marks) and self.marks[k] < c.frame + EDGE + 1
        inside = any(a <= c.frame < b for a, b in self.spans)
        return (not (c.blank or near or inside), c.sharpness)

    def settle(self, latest: float) -> None:
        """Prune candidates older than the lag; seal the stretches that have ended."""
        horizon = latest - self.lag
        groups: dict[int, list[Candidate]] = {}
        young = []
        for c in self.open:
            if c.frame < horizon:
                groups.setdefault(bisect.bisect_right(self.marks, c.frame), []).append(c)
            else:
                young.append(c)
        kept: list[Candidate] = []
        for seg, group in groups.items():
            best = sorted(group, key=self._rank, reverse=True)[: self.keep]
            if seg < len(self.marks) and self.marks[seg] < horizon:
                for c in best:
                    c.jpeg = encode_jpeg(c.rgb(), self.quality) if c.image is not None else c.jpeg
                    c.image = None
                self.sealed += best
            else:
                kept += best
        self.open = kept + young
        if self.open:  # transitions before every open candidate no longer matter
            oldest = min(c.frame for c in self.open)
            self.spans = [sp for sp in self.spans if sp[1] > oldest]

    def finish(self) -> list[Candidate]:
        """Every kept candidate, sealed, in frame order."""
        self.marks.append(2**62)  # everything has ended
        self.settle(2.0**63)
        self.marks.pop()
        return sorted(self.sealed, key=lambda c: c.frame)


def choose(
    cands: list[Candidate], frames: list[int], start: int, end: int, excluded: set[int]
) -> Candidate | None:
    """Sharpest candidate of shot ``[start, end)`` that keeps the keyframe rules (the same as
    :func:`analyzers.shots.keyframes.pick_frame`); ``frames`` are the candidates' frames,
    sorted. None when no candidate qualifies."""
    lo, hi = bisect.bisect_left(frames, start), bisect.bisect_left(frames, end)
    if end - start > 2 * EDGE + 1:
        lo, hi = bisect.bisect_left(frames, start + EDGE), bisect.bisect_left(frames, end - EDGE)
    ok = [c for c in cands[lo:hi] if not c.blank and c.frame not in excluded]
    return max(ok, key=lambda c: c.sharpness, default=None)
