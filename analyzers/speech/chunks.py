"""Long titles: cut the audio into chunks at silences, and stitch chunk transcripts back.

``plan_chunks`` works on per-frame levels (streamed, see ``analyzers.audio.frame_levels``),
so a two-hour film is planned without holding its audio. Each chunk is then decoded and
transcribed on its own (one Celery task each) and ``stitch`` joins the results.

Seams: a cut inside a silence needs no overlap (no word can straddle it). When no silence
is found near the target (wall-to-wall music and dialogue) the cut is forced and chunks
overlap by ``overlap_s``; every word then belongs to the chunk whose *owned* span holds
its midpoint, so words at a seam are neither duplicated nor lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from analyzers.speech.base import Segment, Word, words_text
from analyzers.speech.guards import normalise
from analyzers.speech.vad import FRAME_S, VadOptions, audible_threshold


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float  # decode from here (title time, s)
    end: float  # decode to here
    own_start: float  # words whose midpoint is in [own_start, own_end) belong to this chunk
    own_end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def owns(self, t: float) -> bool:
        return self.own_start <= t < self.own_end

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**data)


def _smooth(levels: np.ndarray, width: int) -> np.ndarray:
    """Moving maximum over ``width`` frames: low only where a whole window is quiet."""
    if width <= 1 or levels.size == 0:
        return levels
    from numpy.lib.stride_tricks import sliding_window_view

    pad = np.pad(levels, (width // 2, width - 1 - width // 2), mode="edge")
    return sliding_window_view(pad, width).max(axis=1)


def _silent_cut(
    window: np.ndarray, i0: int, frame_s: float, threshold: float, ideal: float
) -> float | None:
    """Middle of the best silent run in ``window``: long (up to 2 s counts) and near ideal."""
    quiet = np.concatenate([[0], (window <= threshold).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(quiet))
    best, best_score = None, -np.inf
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        mid = (i0 + (a + b) / 2) * frame_s
        score = min((b - a) * frame_s, 2.0) - 0.02 * abs(mid - ideal)
        if score > best_score:
            best, best_score = mid, score
    return best


def plan_chunks(
    levels_db: np.ndarray,
    *,
    frame_s: float = FRAME_S,
    target_s: float = 600.0,
    search_s: float | None = None,
    min_silence_s: float = 0.3,
    overlap_s: float = 2.0,
    vad: VadOptions = VadOptions(),
) -> list[Chunk]:
    """Plan chunks of about ``target_s`` from per-frame levels.

    Each cut goes in the quietest stretch (``min_silence_s`` wide) within ``search_s`` of
    the ideal position, preferring spots near it; if even that stretch is audible, the cut
    is forced and its chunks overlap by ``overlap_s``. ``search_s`` defaults to a quarter
    of ``target_s``, at most a minute.
    """
    search_s = search_s if search_s is not None else min(60.0, target_s / 4)
    total = float(levels_db.size * frame_s)
    if total <= target_s * 1.25:
        return [Chunk(0, 0.0, total, 0.0, total + 1.0)]
    quiet = _smooth(levels_db, max(1, round(min_silence_s / frame_s)))
    threshold = audible_threshold(levels_db, vad)
    cuts: list[tuple[float, bool]] = []  # (time, forced)
    cursor = 0.0
    while total - cursor > target_s * 1.25:
        ideal = cursor + target_s
        lo = max(cursor + target_s / 2, ideal - search_s)
        hi = min(total - target_s / 4, ideal + search_s)
        i0, i1 = int(lo / frame_s), max(int(lo / frame_s) + 1, int(hi / frame_s))
        window = quiet[i0:i1]
        cut = _silent_cut(window, i0, frame_s, threshold, ideal)
        if cut is None:
            # No silence: the quietest spot, preferring ones near the ideal (0.05 dB/s).
            distance = np.abs(np.arange(i0, i0 + window.size) * frame_s - ideal)
            cut = (i0 + int(np.argmin(window + 0.05 * distance))) * frame_s + frame_s / 2
            cuts.append((float(cut), True))
        else:
            cuts.append((float(cut), False))
        cursor = cut
    chunks: list[Chunk] = []
    bounds = [(0.0, False), *cuts, (total, False)]
    for i in range(len(bounds) - 1):
        (a, forced_a), (b, forced_b) = bounds[i], bounds[i + 1]
        start = max(0.0, a - overlap_s) if forced_a else a
        end = min(total, b + overlap_s) if forced_b else b
        # The last chunk owns a little past the end so rounding never drops a final word.
        own_end = b if i < len(bounds) - 2 else b + 1.0
        chunks.append(Chunk(i, float(start), float(end), float(a), float(own_end)))
    return chunks


def _own_words(chunk: Chunk, segment: Segment) -> Segment | None:
    if not segment.words:
        mid = (segment.start + segment.end) / 2
        return segment if chunk.owns(mid) else None
    words = tuple(w for w in segment.words if chunk.owns((w.start + w.end) / 2))
    if not words:
        return None
    if len(words) == len(segment.words):
        return segment
    return replace(
        segment, words=words, text=words_text(words), start=words[0].start, end=words[-1].end
    )


def _same_word(a: Word, b: Word) -> bool:
    return normalise(a.text) == normalise(b.text) and b.start < a.end + 0.3


def stitch(results: list[tuple[Chunk, list[Segment]]]) -> list[Segment]:
    """Join per-chunk segments (already in title time) into one ordered list."""
    out: list[Segment] = []
    for chunk, segments in sorted(results, key=lambda r: r[0].index):
        owned = [s for s in (_own_words(chunk, seg) for seg in segments) if s is not None]
        if out and owned and out[-1].words and owned[0].words:
            # Timestamps can be off by a frame or two across a forced seam; a word both
            # sides saw at the same place is kept once.
            first = owned[0]
            if _same_word(out[-1].words[-1], first.words[0]):
                rest = first.words[1:]
                owned[0] = replace(first, words=rest, text=words_text(rest)) if rest else None  # type: ignore[assignment]
                owned = [s for s in owned if s is not None]
        out.extend(owned)
    return sorted(out, key=lambda s: s.start)
