"""Long titles: cut the audio into chunks at silences, and stitch chunk transcripts back.

The title's length is split evenly (:func:`nominal_cuts_ms`); each cut then moves to the
quietest spot near it (:func:`choose_cut`), judged only from the audio within its search
span. The chunk tasks of the fleet can therefore run in parallel from the probe alone: each
decodes the short spans around its two borders and finds the same cuts as its neighbours.

Seams: a cut inside a silence needs no overlap (no word can straddle it). When no silence
is found near the target (wall-to-wall music and dialogue) the cut is forced and chunks
overlap by ``overlap_s``; every word then belongs to the chunk whose *owned* span holds
its midpoint, so words at a seam are neither duplicated nor lost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

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


SILENCE_BELOW_LOUD_DB = 30.0


class Cut(NamedTuple):
    time: float  # seconds
    forced: bool  # no silence near the ideal position: the chunks either side overlap


def nominal_cuts_ms(total_s: float, target_s: float) -> list[int]:
    """Ideal cut positions (whole milliseconds): ``total_s`` split evenly into parts of about
    ``target_s``; none when the title is at most a quarter longer than one part.

    Each cut is then moved to a silence near its ideal by :func:`choose_cut`, looking only
    at the audio within :func:`search_span` of it, so a cut is decided from the same audio
    by whoever decides it: the two parallel tasks either side of it agree.
    """
    total_ms = round(total_s * 1000)
    if total_s <= target_s * 1.25:
        return []
    n = max(2, round(total_s / target_s))
    return [k * total_ms // n for k in range(1, n)]


def search_span(
    ideal: float, total_s: float, target_s: float, search_s: float | None = None
) -> tuple[float, float]:
    """The stretch of audio (frame-aligned, seconds) searched for the cut near ``ideal``.

    ``search_s`` defaults to a quarter of ``target_s``, at most a minute; cuts are at least
    0.6 parts apart, so neighbouring spans never overlap.
    """
    search_s = search_s if search_s is not None else min(60.0, target_s / 4)
    lo = math.floor(max(0.0, ideal - search_s) / FRAME_S) * FRAME_S
    return lo, min(total_s, ideal + search_s)


def choose_cut(
    levels_db: np.ndarray,
    span_start: float,
    ideal: float,
    *,
    frame_s: float = FRAME_S,
    min_silence_s: float = 0.3,
    vad: VadOptions = VadOptions(),
) -> Cut:
    """The cut near ``ideal`` from the levels of its search span (starting at ``span_start``).

    The cut goes in the quietest stretch (``min_silence_s`` wide), preferring spots near
    the ideal; if even that stretch is audible, the cut is forced.
    """
    i0 = round(span_start / frame_s)
    if levels_db.size == 0:
        return Cut(ideal, True)
    quiet = _smooth(levels_db, max(1, round(min_silence_s / frame_s)))
    # Judged from the span alone, so a cut depends on nothing outside it. Silence is near
    # the span's floor *and* far below its loud part: in a span of quiet, close-miked speech
    # the floor is the pauses between words, and a cut there loses the words around it
    # (Whisper drops a sentence cut in half). Better a forced, overlapping cut.
    loud = float(np.percentile(levels_db, 90))
    threshold = min(audible_threshold(levels_db, vad), loud - SILENCE_BELOW_LOUD_DB)
    cut = _silent_cut(quiet, i0, frame_s, threshold, ideal)
    if cut is not None:
        return Cut(float(cut), False)
    # No silence: the quietest spot, preferring ones near the ideal (0.05 dB/s).
    distance = np.abs(np.arange(i0, i0 + quiet.size) * frame_s - ideal)
    spot = (i0 + int(np.argmin(quiet + 0.05 * distance))) * frame_s + frame_s / 2
    return Cut(float(spot), True)


def chunk_between(
    index: int, a: Cut | None, b: Cut | None, total_s: float, overlap_s: float = 2.0
) -> Chunk:
    """The chunk from cut ``a`` (None: the start) to cut ``b`` (None: the end)."""
    own_start = a.time if a else 0.0
    start = max(0.0, own_start - overlap_s) if a and a.forced else own_start
    end_at = b.time if b else total_s
    end = min(total_s, end_at + overlap_s) if b and b.forced else end_at
    # The last chunk owns a little past the end so rounding never drops a final word.
    own_end = end_at if b else total_s + 1.0
    return Chunk(index, float(start), float(end), float(own_start), float(own_end))


def chunks_from_cuts(cuts: list[Cut], total_s: float, overlap_s: float = 2.0) -> list[Chunk]:
    bounds: list[Cut | None] = [None, *cuts, None]
    return [
        chunk_between(i, bounds[i], bounds[i + 1], total_s, overlap_s)
        for i in range(len(bounds) - 1)
    ]


LevelsBetween = Callable[[float, float], np.ndarray]
"""Per-frame levels (dBFS, ``FRAME_S`` frames) of the audio from ``lo`` to ``hi`` seconds."""


def levels_in_memory(levels_db: np.ndarray) -> LevelsBetween:
    return lambda lo, hi: levels_db[round(lo / FRAME_S) : round(hi / FRAME_S)]


def cut_near(
    ideal_ms: int,
    total_s: float,
    target_s: float,
    levels_between: LevelsBetween,
    *,
    search_s: float | None = None,
    vad: VadOptions = VadOptions(),
) -> Cut:
    """The cut near ``ideal_ms``, from the levels of its search span only."""
    lo, hi = search_span(ideal_ms / 1000, total_s, target_s, search_s)
    return choose_cut(levels_between(lo, hi), lo, ideal_ms / 1000, vad=vad)


def plan_chunks(
    total_s: float,
    levels_between: LevelsBetween,
    *,
    target_s: float = 600.0,
    search_s: float | None = None,
    overlap_s: float = 2.0,
    vad: VadOptions = VadOptions(),
) -> list[Chunk]:
    """Chunks of about ``target_s``, every cut moved to a silence near its nominal place.

    A chunk task of the fleet finds its own two borders the same way (:func:`cut_near`).
    """
    cuts = [
        cut_near(ms, total_s, target_s, levels_between, search_s=search_s, vad=vad)
        for ms in nominal_cuts_ms(total_s, target_s)
    ]
    return chunks_from_cuts(cuts, total_s, overlap_s)


def _words_in(segment: Segment, keep: Callable[[float], bool]) -> Segment | None:
    """``segment`` cut down to the words whose midpoint ``keep`` accepts."""
    if not segment.words:
        return segment if keep((segment.start + segment.end) / 2) else None
    words = tuple(w for w in segment.words if keep((w.start + w.end) / 2))
    if not words:
        return None
    if len(words) == len(segment.words):
        return segment
    return replace(
        segment, words=words, text=words_text(words), start=words[0].start, end=words[-1].end
    )


def _owned(chunk: Chunk, segments: list[Segment]) -> list[Segment]:
    return [s for s in (_words_in(seg, chunk.owns) for seg in segments) if s is not None]


def _borrowed(chunk: Chunk, segments: list[Segment], lo: float, hi: float) -> list[Segment]:
    """Words of ``chunk`` in ``[lo, hi)`` away from its edges (where words come cut)."""
    lo, hi = max(lo, chunk.start + EDGE_S), min(hi, chunk.end - EDGE_S)
    if hi <= lo:
        return []
    kept = (_words_in(seg, lambda t: lo <= t < hi) for seg in segments)
    return [s for s in kept if s is not None]


def _same_word(a: Word, b: Word) -> bool:
    return normalise(a.text) == normalise(b.text) and b.start < a.end + 0.3


def _last_end(segments: list[Segment], default: float) -> float:
    return max((s.end for s in segments), default=default)


def _first_start(segments: list[Segment], default: float) -> float:
    return min((s.start for s in segments), default=default)


# Words closer than this to a chunk's decoded edge may be cut in half: never borrowed.
EDGE_S = 0.5
# A stretch without words longer than this, next to a seam, is a gap worth filling.
GAP_S = 1.0


def stitch(results: list[tuple[Chunk, list[Segment]]]) -> list[Segment]:
    """Join per-chunk segments (already in title time) into one ordered list.

    Each word belongs to the chunk owning its midpoint. At a forced (overlapping) seam a
    chunk may still have dropped words its neighbour heard: Whisper often leaves out a
    sentence cut off by the end of its audio. Words the neighbour heard in the overlap,
    where the owner has a gap, are taken from the neighbour.
    """
    ordered = sorted(results, key=lambda r: r[0].index)
    owned = [_owned(chunk, segs) for chunk, segs in ordered]
    for i in range(len(ordered) - 1):
        (a, a_segs), (b, b_segs) = ordered[i], ordered[i + 1]
        if b.start >= a.end:  # cut in a silence: no overlap, nothing to fill
            continue
        cut = a.own_end
        a_last = _last_end(owned[i], a.own_start)
        if cut - a_last > GAP_S:  # A went quiet before the cut: did B hear words there?
            owned[i] += _borrowed(b, b_segs, a_last + 0.3, cut)
        b_first = _first_start(owned[i + 1], b.own_end)
        if b_first - cut > GAP_S:  # and the other way round
            owned[i + 1][:0] = _borrowed(a, a_segs, cut, b_first - 0.3)
    out: list[Segment] = []
    for segs in owned:
        segs = sorted(segs, key=lambda s: s.start)
        if out and segs and out[-1].words and segs[0].words:
            # Timestamps can be off by a frame or two across a forced seam; a word both
            # sides saw at the same place is kept once.
            first = segs[0]
            if _same_word(out[-1].words[-1], first.words[0]):
                rest = first.words[1:]
                segs[0] = replace(first, words=rest, text=words_text(rest)) if rest else None  # type: ignore[call-overload]
                segs = [s for s in segs if s is not None]
        out.extend(segs)
    return sorted(out, key=lambda s: s.start)
