"""Flash suppression: a few bright frames inside a shot (camera flash, lightning, explosion)
after which the picture returns to what it was are not a cut."""

from __future__ import annotations

from analyzers.shots.features import FrameWindow, mad


class FlashFilter:
    """Holds candidate cuts until ``max_frames`` later frames are seen, then drops flashes.

    A candidate at ``c`` is a flash when the luminance jumps up at ``c`` and a frame within
    ``max_frames`` after it looks like the frame before ``c`` again (or, for the end of a
    flash, the luminance drops at ``c`` and ``c`` looks like a frame shortly before the rise).
    """

    name = "flash"

    def __init__(self, window: FrameWindow, max_frames: int, min_luma_jump: float = 12.0):
        self.window = window
        self.max_frames = max(2, max_frames)
        self.min_luma_jump = min_luma_jump
        self._pending: list[int] = []
        self._suppress_until = -1
        self.suppressed: list[int] = []

    def _returns(self, ref_index: int, cut_index: int, candidates: range) -> bool:
        ref, cut = self.window.get(ref_index), self.window.get(cut_index)
        if ref is None or cut is None:
            return False
        limit = max(6.0, 0.35 * mad(ref.tiny, cut.tiny))
        for j in candidates:
            f = self.window.get(j)
            if f is not None and mad(ref.tiny, f.tiny) < limit:
                return True
        return False

    def _is_flash(self, c: int) -> bool:
        prev, cur = self.window.get(c - 1), self.window.get(c)
        if prev is None or cur is None:
            return False
        jump = cur.luma_mean - prev.luma_mean
        if jump >= self.min_luma_jump:
            hit = None
            for j in range(c + 1, c + self.max_frames + 1):
                if self._returns(c - 1, c, range(j, j + 1)):
                    hit = j
                    break
            if hit is not None:
                self._suppress_until = max(self._suppress_until, hit)
                return True
        elif -jump >= self.min_luma_jump:
            # The end of a flash whose start was gradual: c looks like a frame before it.
            back = range(max(self.window.first, c - self.max_frames - 1), c - 1)
            if self._returns(c, c - 1, back):
                return True
        return False

    def _decide(self, c: int) -> list[int]:
        if c <= self._suppress_until or self._is_flash(c):
            self.suppressed.append(c)
            return []
        return [c]

    def process(self, latest: int, candidates: list[int]) -> list[int]:
        """Add ``candidates``; return the ones confirmed now that ``latest`` was decoded."""
        self._pending += candidates
        out: list[int] = []
        while self._pending and self._pending[0] + self.max_frames <= latest:
            out += self._decide(self._pending.pop(0))
        return out

    def flush(self) -> list[int]:
        out: list[int] = []
        while self._pending:
            out += self._decide(self._pending.pop(0))
        return out
