"""Shot analysis on the shared fixture clips, against truth.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.frames import DecodeOptions, read_frames
from analyzers.shots import ShotOptions, analyze_shots

pytestmark = pytest.mark.shared_media
FAST = ShotOptions(detector="fast")


def _truth(shared_media: Path, name: str) -> dict:
    return json.loads((shared_media / "truth.json").read_text())["video"][name]


def _near(found: list[int], expected: list[int], tol: int = 1) -> bool:
    return len(found) == len(expected) and all(
        abs(f - e) <= tol for f, e in zip(sorted(found), sorted(expected), strict=True)
    )


def test_big_buck_bunny_cuts_and_fade_in(shared_media: Path) -> None:
    name = "video/big_buck_bunny_0_30.webm"
    truth = _truth(shared_media, name)
    r = analyze_shots(shared_media / name, FAST)
    assert r.frame_count == truth["frames"]
    assert _near(r.cuts, truth["cuts"]), r.cuts
    fade = truth["gradual"][0]
    fades = [t for t in r.transitions if t.kind == fade["kind"]]
    assert fades, r.transitions
    assert any(t.start_frame < fade["end"] and fade["start"] < t.end_frame for t in fades)
    # The black lead-in is part of the first shot, not a shot of its own.
    assert [s.start_frame for s in r.shots] == [0, *r.cuts]
    assert len(r.keyframes) == len(r.shots)
    for k, s in zip(r.keyframes, r.shots, strict=True):
        assert s.start_frame <= k.frame < s.end_frame
        assert k.jpeg[:2] == b"\xff\xd8" and k.thumb_jpeg[:2] == b"\xff\xd8"
        assert k.sharpness > 0
    assert r.filmstrip_jpeg[:2] == b"\xff\xd8"
    assert r.scenes and r.scenes[0].first_shot == 0 and r.scenes[-1].last_shot == len(r.shots) - 1


def test_counter_has_no_cut_and_exact_timestamps(shared_media: Path) -> None:
    path = shared_media / "video/counter.mp4"
    frames = list(read_frames(path, DecodeOptions(width=64)))
    assert [f.index for f in frames] == list(range(30))
    assert all(abs(f.pts - 0.1 * f.index) < 1e-6 for f in frames)
    r = analyze_shots(path, FAST)
    assert r.cuts == [] and r.transitions == []
    assert r.frame_count == 30 and (r.width, r.height) == (1920, 1080)
    assert len(r.shots) == 1 and r.shots[0].end_frame == 30
    assert abs(r.shots[0].end_s - 3.0) < 1e-6


def test_friday_is_one_shot(shared_media: Path) -> None:
    r = analyze_shots(shared_media / "video/friday.mp4", FAST)
    assert r.cuts == [] and r.frame_count == 185
