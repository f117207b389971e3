"""Nudity signal on NudeNet's real weights (the 320n ONNX model shipped in the package).

No photograph of nudity ships offline, so the positives are crude generated drawings (a
skin-toned torso with two breasts): the real detector reports them as exposed breasts, with
a high score for marked nipples and a score in the uncertain band for faint ones. The
clothed negatives are a frame of the shared "His Girl Friday" clip (faces detected, nothing
else) and a generated landscape with no person."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analyzers.signals.nudity import LABEL, NudeNetBackend, Options, analyze

pytest.importorskip("nudenet")


def _jpeg(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def _figure(nipple_radius: int) -> bytes:
    img = np.full((480, 480, 3), (200, 210, 220), np.uint8)
    skin = (140, 170, 225)  # BGR
    cv2.ellipse(img, (240, 300), (150, 200), 0, 0, 360, skin, -1)
    cv2.circle(img, (240, 80), 60, skin, -1)
    for x in (175, 305):
        cv2.circle(img, (x, 260), 55, (125, 155, 215), -1)
        cv2.circle(img, (x, 270), nipple_radius, (90, 100, 160), -1)
    return _jpeg(cv2.GaussianBlur(img, (15, 15), 0))


def _landscape() -> bytes:
    img = np.zeros((360, 640, 3), np.uint8)
    img[:200] = np.linspace(255, 150, 200)[:, None, None] * np.array([1.0, 0.8, 0.5])  # sky
    img[200:] = (40, 120, 50)  # grass
    cv2.rectangle(img, (400, 120), (520, 220), (60, 60, 140), -1)  # a barn
    cv2.circle(img, (100, 60), 30, (80, 220, 250), -1)  # the sun
    return _jpeg(img)


@pytest.fixture(scope="module")
def backend() -> NudeNetBackend:
    return NudeNetBackend()


@pytest.mark.shared_media
def test_no_person_and_clothed_people_give_no_nudity(
    backend: NudeNetBackend, shared_media: Path, tmp_path: Path
) -> None:
    still = tmp_path / "friday.jpg"
    video = shared_media / "video/friday.mp4"
    cv2.imwrite(str(still), _read_frame(video, 40))
    faces = backend.detect([cv2.imread(str(still))])[0]
    assert any(d["class"].startswith("FACE_") for d in faces)  # the model does see people
    frames = [
        {"time_s": 0.0, "image": _landscape()},
        {"time_s": 1.6, "image": str(still), "ref": {"shot": 1}},
    ]
    result = analyze(frames, backend=backend)
    assert result.present and result.marks == [] and result.uncertain == []
    assert [w.scores["nudity"] for w in result.windows] == [0.0, 0.0]
    assert result.windows[1].ref == {"time_s": 1.6, "shot": 1}


def _read_frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_exposed_drawing_is_strong_nudity_with_boxes(backend: NudeNetBackend) -> None:
    frames = [
        {"time_s": 12.0, "start_s": 10.0, "end_s": 14.0, "image": _figure(12), "ref": {"shot": 3}}
    ]
    result = analyze(frames, backend=backend)
    assert result.present and len(result.marks) == 2
    for mark in result.marks:
        assert (mark.label, mark.severity, mark.start_s, mark.end_s) == (LABEL, "strong", 10, 14)
        assert mark.detail["class"] == "FEMALE_BREAST_EXPOSED" and mark.detail["shot"] == 3
        x, y, w, h = mark.detail["box"]
        assert 100 <= x <= 330 and 150 <= y <= 320 and w > 50 and h > 50
        assert mark.score >= Options().certain
    (window,) = result.windows
    assert window.scores["exposed"] == window.scores["nudity"] >= 0.6
    assert result.uncertain == []


def test_faint_drawing_is_possible_nudity(backend: NudeNetBackend) -> None:
    result = analyze([{"time_s": 5.0, "image": _figure(4)}], backend=backend)
    assert result.marks == [] and result.uncertain == [LABEL]
    possible = result.extras["possible"]
    assert possible and all(0.25 <= p["score"] < 0.6 for p in possible)
    # The same detections are findings when the band is moved below them.
    strict = analyze([{"time_s": 5.0, "image": _figure(4)}], Options(certain=0.2), backend=backend)
    assert strict.marks and strict.uncertain == []


def test_bad_frames_warn_and_absent_paths(backend: NudeNetBackend, tmp_path: Path) -> None:
    frames = [
        {"time_s": 1.0, "image": b"not a jpeg", "ref": {"shot": 0}},
        {"time_s": 2.0, "image": str(tmp_path / "missing.jpg")},
        {"time_s": 3.0, "image": _landscape()},
    ]
    result = analyze(frames, backend=backend)
    assert result.present and len(result.windows) == 1
    assert len(result.extras["warnings"]) == 2 and "1.00 s" in result.extras["warnings"][0]
    broken = analyze(frames[:2], backend=backend)
    assert not broken.present and "decoded" in broken.absent.reason
    assert not analyze([], backend=backend).present
    missing = analyze([{"time_s": 0, "image": _landscape()}], Options(model_path="/nope.onnx"))
    assert not missing.present and "could not be loaded" in missing.absent.reason


def test_providers_and_rgb_arrays(backend: NudeNetBackend) -> None:
    assert backend.providers[-1] == "CPUExecutionProvider"
    bgr = cv2.imdecode(np.frombuffer(_figure(12), np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    from_array = analyze([{"time_s": 0.0, "image": rgb}], backend=backend)
    from_bytes = analyze([{"time_s": 0.0, "image": _figure(12)}], backend=backend)
    assert [m.score for m in from_array.marks] == pytest.approx(
        [m.score for m in from_bytes.marks], abs=1e-4
    )
