"""Voice-activity filtering tuned for film audio.

Stock Silero VAD answers "is this speech?" and says no to sung lyrics and often to dialogue
under a score, so Whisper never sees them. For films the useful question is "is anything
audible?": only silence is removed (it costs time and is where Whisper invents text); music
and singing reach the model, and the guards (``guards.py``) reject text the model does not
actually hear. Silero stays available (``mode="silero"``) for clean speech content.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Literal

import numpy as np

from analyzers.audio import rms_db
from analyzers.speech.base import SAMPLE_RATE

VadMode = Literal["energy", "silero", "none"]

FRAME_S = 0.02


@dataclass(frozen=True)
class VadOptions:
    mode: VadMode = "energy"
    # Audible = louder than the track's floor plus a margin, never below ``min_level_db``
    # (dither) and never above ``max_threshold_db`` (anything that loud is always sound).
    # Levels are relative: FLEURS-style recordings peak near -55 dBFS and are still speech.
    min_level_db: float = -80.0
    max_threshold_db: float = -45.0
    floor_margin_db: float = 10.0
    pad_s: float = 0.4
    merge_gap_s: float = 0.8
    min_region_s: float = 0.15
    silero_threshold: float = 0.5


def audible_threshold(levels_db: np.ndarray, options: VadOptions = VadOptions()) -> float:
    """Level (dBFS) above which a frame counts as sound rather than silence or room tone."""
    if levels_db.size == 0:
        return options.min_level_db
    # The 5th percentile is the track's floor (hiss, room tone); a margin above it is sound.
    floor = float(np.percentile(levels_db, 5))
    return min(options.max_threshold_db, max(options.min_level_db, floor + options.floor_margin_db))


def energy_regions(
    levels_db: np.ndarray, options: VadOptions = VadOptions(), frame_s: float = FRAME_S
) -> list[tuple[float, float]]:
    """Audible regions (seconds) from per-frame levels, padded and merged."""
    if levels_db.size == 0:
        return []
    active = levels_db > audible_threshold(levels_db, options)
    regions: list[tuple[float, float]] = []
    idx = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    for start, end in zip(idx[::2], idx[1::2], strict=True):
        regions.append((float(start * frame_s), float(end * frame_s)))
    total = levels_db.size * frame_s
    return tidy_regions(regions, total, options)


def tidy_regions(
    regions: list[tuple[float, float]], total_s: float, options: VadOptions
) -> list[tuple[float, float]]:
    """Drop blips, pad, and merge regions closer than ``merge_gap_s``."""
    out: list[tuple[float, float]] = []
    for start, end in regions:
        if end - start < options.min_region_s:
            continue
        start, end = max(0.0, start - options.pad_s), min(total_s, end + options.pad_s)
        if out and start - out[-1][1] <= options.merge_gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def silero_regions(
    audio: np.ndarray, options: VadOptions = VadOptions()
) -> list[tuple[float, float]]:
    """Speech regions from the Silero VAD that ships with faster-whisper (stock behaviour)."""
    from faster_whisper.vad import VadOptions as SileroOptions
    from faster_whisper.vad import get_speech_timestamps

    stamps = get_speech_timestamps(
        audio, SileroOptions(threshold=options.silero_threshold, speech_pad_ms=400)
    )
    regions = [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
    return tidy_regions(regions, audio.size / SAMPLE_RATE, VadOptions(pad_s=0.0, min_region_s=0.0))


def audio_levels(audio: np.ndarray, frame_s: float = FRAME_S) -> np.ndarray:
    frame = int(SAMPLE_RATE * frame_s)
    n = audio.size // frame
    levels = rms_db(audio[: n * frame].reshape(n, frame)) if n else np.zeros(0, np.float32)
    if audio.size > n * frame:
        levels = np.concatenate([levels, rms_db(audio[n * frame :].reshape(1, -1))])
    return levels


def active_regions(
    audio: np.ndarray, options: VadOptions = VadOptions()
) -> list[tuple[float, float]]:
    """Regions of ``audio`` to transcribe, per ``options.mode``."""
    if audio.size == 0:
        return []
    if options.mode == "none":
        return [(0.0, audio.size / SAMPLE_RATE)]
    if options.mode == "silero":
        return silero_regions(audio, options)
    return energy_regions(audio_levels(audio), options)


class TimeMap:
    """Maps times in the concatenation of kept regions back to times in the source audio."""

    def __init__(self, regions: list[tuple[float, float]]) -> None:
        self.regions = regions
        self.offsets: list[float] = []  # start of each region in concatenated time
        acc = 0.0
        for start, end in regions:
            self.offsets.append(acc)
            acc += end - start
        self.total = acc

    def to_source(self, t: float, *, is_end: bool = False) -> float:
        if not self.regions:
            return t
        # An end time exactly on a join belongs to the region before it.
        i = (bisect.bisect_left if is_end else bisect.bisect_right)(self.offsets, t) - 1
        i = min(max(i, 0), len(self.regions) - 1)
        start, end = self.regions[i]
        return min(start + (t - self.offsets[i]), end)


def level_regions(
    pieces: list[np.ndarray], target_db: float = -20.0, max_gain_db: float = 30.0
) -> list[np.ndarray]:
    """Bring each region to a common loudness.

    Whisper normalises its log-mel input to the loudest sound in each 30 s window, so a
    quiet line next to a loud one (a whisper after a shout, a quiet recording between
    loud ones) falls below its floor and is skipped. Levelling regions first keeps it.
    """
    out = []
    for piece in pieces:
        if piece.size == 0:
            out.append(piece)
            continue
        rms_db = 10 * np.log10(max(float(np.mean(np.square(piece, dtype=np.float64))), 1e-10))
        gain_db = min(max_gain_db, target_db - rms_db)
        leveled = piece * np.float32(10 ** (gain_db / 20))
        out.append(np.clip(leveled, -1.0, 1.0))
    return out


def collect(
    audio: np.ndarray, regions: list[tuple[float, float]], *, level: bool = True
) -> tuple[np.ndarray, TimeMap]:
    """Concatenate the kept regions of ``audio`` (levelled); returns it and its time map."""
    pieces = [audio[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in regions]
    if level:
        pieces = level_regions(pieces)
    # Snap regions to whole samples so the map matches the audio exactly.
    snapped = [
        (int(s * SAMPLE_RATE) / SAMPLE_RATE, int(e * SAMPLE_RATE) / SAMPLE_RATE) for s, e in regions
    ]
    joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return joined.astype(np.float32, copy=False), TimeMap(snapped)
