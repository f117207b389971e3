"""Synthetic videos with exact shot ground truth, built with ffmpeg's lavfi sources.

Used by the tests and ``benchmarks/bench_scenes.py``: segments of ``testsrc2``,
``smptebars``, ``mandelbrot``, ``life``, ``color``... joined by hard cuts or ``xfade``
transitions of a known length, with optional flashes (a few bright frames inside a shot).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# xfade transition name -> the kind(s) the analyzer reports for it.
XFADE_KINDS = {
    "fade": "dissolve",
    "dissolve": "dissolve",
    "fadeblack": "fade_black",
    "fadewhite": "fade_white",
}


@dataclass
class Segment:
    source: str  # lavfi source with options, without size/rate, e.g. "testsrc2" or "color=c=red"
    frames: int
    flashes: list[int] = field(default_factory=list)  # first frames (in segment) of flashes
    flash_len: int = 3


@dataclass
class Join:
    kind: str = "cut"  # "cut" or an xfade transition name
    frames: int = 0  # transition length for xfade


@dataclass
class Truth:
    frames: int
    cuts: list[int]
    gradual: list[tuple[str, int, int]]  # (xfade kind, first frame, first frame after)
    flashes: list[tuple[int, int]]  # (first frame, first frame after)


def build(
    path: str | os.PathLike[str],
    parts: list[Segment | Join],
    *,
    size: str = "320x180",
    fps: int = 25,
    codec: list[str] | None = None,
    extra: list[str] | None = None,
    scale: str | None = None,
) -> Truth:
    """Render ``parts`` (Segment, Join, Segment, ...) into ``path``; return the ground truth.

    Sources render at ``size``; ``scale`` (e.g. "1920:1080") upscales them, which is much
    cheaper than rendering fractals at full size.
    """
    segs = [p for p in parts if isinstance(p, Segment)]
    joins = [p for p in parts if isinstance(p, Join)]
    assert len(joins) == len(segs) - 1, "segments and joins must alternate"
    inputs: list[str] = []
    chains: list[str] = []
    for k, s in enumerate(segs):
        src = s.source if "=" in s.source else s.source + "="
        sep = "" if src.endswith("=") else ":"
        inputs += ["-f", "lavfi", "-i", f"{src}{sep}s={size}:r={fps}"]
        f = f"[{k}:v]trim=end_frame={s.frames},setpts=PTS-STARTPTS,format=yuv420p"
        for a in s.flashes:
            f += f",lutyuv=y='min(val+150,235)':enable='between(n,{a},{a + s.flash_len - 1})'"
        if scale:
            f += f",scale={scale}"
        chains.append(f + f",settb=1/{fps}[s{k}]")
    cur, length = "[s0]", segs[0].frames
    cuts: list[int] = []
    gradual: list[tuple[str, int, int]] = []
    flashes = [(a, a + segs[0].flash_len) for a in segs[0].flashes]
    for k, (j, s) in enumerate(zip(joins, segs[1:], strict=True), start=1):
        out = f"[j{k}]"
        if j.kind == "cut":
            chains.append(f"{cur}[s{k}]concat=n=2:v=1:a=0,settb=1/{fps}{out}")
            cuts.append(length)
            offset = length
            length += s.frames
        else:
            offset = length - j.frames
            chains.append(
                f"{cur}[s{k}]xfade=transition={j.kind}:duration={j.frames / fps}"
                f":offset={offset / fps}{out}"
            )
            gradual.append((j.kind, offset, offset + j.frames))
            length += s.frames - j.frames
        flashes += [(offset + a, offset + a + s.flash_len) for a in s.flashes]
        cur = out
    cmd = ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", ";".join(chains)]
    cmd += ["-map", cur, "-frames:v", str(length)]
    cmd += codec or ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    cmd += [*(extra or []), str(Path(path))]
    subprocess.run(cmd, check=True)
    return Truth(length, cuts, gradual, flashes)
