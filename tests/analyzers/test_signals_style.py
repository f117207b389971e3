"""Visual style signal on synthetic per-shot features shaped like the shots stage stores them,
and on features computed from real generated frames by the shots analyzer's own code."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from analyzers.frames import Frame
from analyzers.shots.features import FeatureExtractor, FrameTable
from analyzers.shots.style import shot_style
from analyzers.signals.style import Options, analyze


def _shots(lengths: list[float], features: dict, t0: float = 0.0, first: int = 0) -> list[dict]:
    out, t = [], t0
    for i, length in enumerate(lengths, start=first):
        out.append(
            dict(idx=i, start_s=t, end_s=t + length, features={"start_kind": "cut", **features})
        )
        t += length
    return out


CALM = dict(luma_mean=0.7, luma_spread=0.08, saturation=0.2, colorfulness=20.0, motion=0.003)
DARK = dict(luma_mean=0.12, luma_spread=0.22, saturation=0.5, colorfulness=70.0, motion=0.05)


def test_fast_dark_cutting_orders_against_slow_bright() -> None:
    slow = analyze(_shots([20.0] * 6, CALM))
    fast = analyze(_shots([1.5] * 80, DARK))
    assert slow.present and fast.present
    s, f = slow.windows[2].scores, fast.windows[40].scores
    assert f["cuts_per_minute"] > s["cuts_per_minute"]
    assert fast.windows[40].ref["cuts_per_minute"] == pytest.approx(40.0, abs=3)
    assert slow.windows[2].ref["cuts_per_minute"] == pytest.approx(4.0, abs=2)
    assert s["lighting_key"] > f["lighting_key"]
    for name in ("contrast", "saturation", "colourfulness", "motion"):
        assert f[name] > s[name], name
    assert all(0.0 <= v <= 1.0 for w in fast.windows + slow.windows for v in w.scores.values())


def test_pace_is_local() -> None:
    # A slow first minute, then rapid cutting: the pace follows the shots, not the title.
    shots = _shots([15.0] * 4, CALM) + _shots([1.0] * 60, CALM, t0=60.0, first=4)
    result = analyze(shots, Options(pace_window_s=20.0))
    early, late = result.windows[1], result.windows[-10]
    assert early.scores["cuts_per_minute"] < 0.3 < late.scores["cuts_per_minute"]
    assert late.ref["shot"] == len(shots) - 10


def test_features_from_real_frames_reach_the_scores() -> None:
    """Bright flat frames against dark noisy moving frames, through the shots stage's own
    feature extractor and ``shot_style``, stored the way the shots stage stores them."""
    rng = np.random.default_rng(1)

    def style(frames: list[np.ndarray]) -> dict:
        table, extractor = FrameTable(), FeatureExtractor()
        for i, image in enumerate(frames):
            table.append(extractor.process(Frame(index=i, pts=i / 25, image=image)))
        return asdict(shot_style(table, slice(0, len(frames)), len(frames) / 25, None))

    bright = [np.full((72, 128, 3), (230, 220, 210), np.uint8) for _ in range(10)]
    dark = [
        (rng.integers(0, 90, (72, 128, 3)) * np.array([1.0, 0.3, 0.2])).astype(np.uint8)
        for _ in range(10)
    ]
    shots = [
        dict(start_s=0.0, end_s=4.0, features=style(bright)),
        dict(start_s=4.0, end_s=8.0, features=style(dark)),
    ]
    a, b = (w.scores for w in analyze(shots).windows)
    assert a["lighting_key"] > b["lighting_key"]
    assert b["motion"] > a["motion"] and b["contrast"] > a["contrast"]
    assert b["saturation"] > a["saturation"]


def test_missing_features_and_absent() -> None:
    result = analyze([dict(start_s=0.0, end_s=3.0, features={"start_kind": "start"})])
    assert result.present and set(result.windows[0].scores) == {"cuts_per_minute"}
    assert "without style features" in result.extras["warnings"][0]
    assert not analyze([]).present and "no video" in analyze(None).absent.reason
    assert Options().version() != Options(pace_window_s=60.0).version()
