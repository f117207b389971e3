"""Shot analysis on generated clips with exact ground truth (lavfi sources, xfade)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from analyzers.shots import (
    ShotOptions,
    analyze_chunk,
    analyze_shots,
    keyframes,
    merge_chunks,
    plan_chunks,
)
from analyzers.shots.synthetic import XFADE_KINDS, Join, Segment, build

FAST = ShotOptions(detector="fast")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("shots") / "synthetic.mp4"
    truth = build(path, [
        Segment("testsrc2", 50, flashes=[20]),
        Join(),
        Segment("mandelbrot", 50),
        Join("fade", 12),
        Segment("smptebars", 50, flashes=[25]),
        Join("fadeblack", 16),
        Segment("testsrc2", 50),
        Join("dissolve", 14),
        Segment("mandelbrot", 60),
        Join("fadewhite", 20),
        Segment("smptebars", 40),
        Join(),
        Segment("life=s=80x45:mold=10:ratio=0.5", 40),
    ])  # fmt: skip
    return path, truth


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def test_hard_cuts_exact_and_flashes_are_not_cuts(clip) -> None:
    path, truth = clip
    r = analyze_shots(path, FAST)
    assert r.frame_count == truth.frames
    assert r.cuts == truth.cuts
    for a, b in truth.flashes:
        assert not [c for c in r.cuts if a - 1 <= c <= b + 1]
        assert not [t for t in r.transitions if _overlaps(t.start_frame, t.end_frame, a, b)]


def test_gradual_transitions_found_with_kinds(clip) -> None:
    path, truth = clip
    r = analyze_shots(path, FAST)
    for kind, a, b in truth.gradual:
        found = [t for t in r.transitions if _overlaps(t.start_frame, t.end_frame, a, b)]
        assert found, (kind, a, b, r.transitions)
        want = XFADE_KINDS[kind]
        if want == "dissolve":
            assert [t.kind for t in found] == ["dissolve"]
        else:  # through a field: a fade out to it and/or a fade in from it
            color = want.split("_")[1]
            assert all(t.kind.endswith(color) for t in found), found
    # Every detected transition is a real one.
    for t in r.transitions:
        assert any(_overlaps(t.start_frame, t.end_frame, a, b) for _, a, b in truth.gradual)
    # One shot per segment; each gradual boundary lies inside its transition.
    assert len(r.shots) == len(truth.cuts) + len(truth.gradual) + 1
    starts = [s.start_frame for s in r.shots[1:] if s.start_kind != "cut"]
    for (_, a, b), s in zip(truth.gradual, starts, strict=True):
        assert a <= s <= b


def test_keyframes_style_scenes(clip, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = clip

    def no_seeking(*args: object) -> None:
        raise AssertionError("every shot here is long enough for a sampled keyframe")

    # Keyframe pictures come from the detection decode; seeking is only a fallback.
    monkeypatch.setattr(keyframes, "extract_frames", no_seeking)
    r = analyze_shots(path, FAST)
    assert len(r.keyframes) == len(r.shots)
    inside = {j for t in r.transitions for j in range(t.start_frame, t.end_frame)}
    for k, s in zip(r.keyframes, r.shots, strict=True):
        assert s.start_frame <= k.frame < s.end_frame and k.frame not in inside
        assert (k.width, k.height) == (640, 360) and k.jpeg and k.thumb_jpeg
    for s in r.shots:
        st = s.style
        assert st is not None and st.length_s > 0 and 0 <= st.luma_mean <= 1
        assert st.dominant_colors and abs(sum(x for _, x in st.dominant_colors)) <= 1.0001
    # testsrc2 moves, smptebars is a still picture.
    motions = {s.index: s.style.motion for s in r.shots}
    assert motions[0] > motions[2]
    assert r.shots[1].style.colorfulness != r.shots[2].style.colorfulness
    assert r.scenes[0].start_frame == 0 and r.scenes[-1].end_frame == r.frame_count
    assert r.filmstrip_jpeg[:2] == b"\xff\xd8"


def test_chunked_equals_unchunked(clip) -> None:
    path, _ = clip
    whole = analyze_shots(path, FAST)
    # Borders right at the first cut (frame 50 = 2.0 s) and inside the fade transition.
    for borders in ([0.0, 2.0, 7.0], [0.0, 3.6, 5.0, 8.1]):
        ranges = [(a, b) for a, b in zip(borders, [*borders[1:], None], strict=True)]
        parts = [analyze_chunk(path, a, b, FAST) for a, b in ranges]
        merged = merge_chunks(path, parts, FAST)
        assert merged.cuts == whole.cuts
        assert asdict(merged) == asdict(whole)


def test_plan_chunks_covers_everything() -> None:
    assert plan_chunks(25.0, 10.0) == [(0.0, 8.333), (8.333, 16.667), (16.667, None)]
    assert plan_chunks(5.0, 10.0) == [(0.0, None)]
