"""Keyframes: the sharpest frame of each shot that is not blank and not in a transition, as
JPEG plus a thumbnail JPEG. The pictures normally come from the detection decode
(:mod:`analyzers.shots.candidates`); :func:`extract_frames` (seeking with PyAV) is the
fallback for shots too short to hold a sampled frame."""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from analyzers.frames import VideoInfo
from analyzers.shots.features import FrameTable

BLANK_STD = 10.0  # luma std (0-255) below which a frame is a blank field
EDGE = 2  # frames next to a boundary may hold compression smear of the other shot


def pick_frame(table: FrameTable, rows: slice, excluded: set[int]) -> tuple[int, float] | None:
    """(frame index, sharpness) of the best keyframe among ``rows``. Scores depend on the
    frame alone, so a shot split over chunks picks the same frame as the whole shot."""
    idx = table.indices()[rows]
    if idx.size == 0:
        return None
    sharp = table.column("sharpness")[rows]
    std = table.column("luma_std")[rows]
    score = sharp.copy()
    bad = np.array([i in excluded for i in idx]) | (std < BLANK_STD)
    if idx.size > 2 * EDGE + 1:
        bad[:EDGE] = True
        bad[-EDGE:] = True
    if bad.all():
        bad = std < BLANK_STD if not (std < BLANK_STD).all() else np.zeros_like(bad)
    score[bad] = -1.0
    k = int(np.argmax(score))
    return int(idx[k]), float(sharp[k])


def _rotate(img: np.ndarray, rotation: int) -> np.ndarray:
    # ``rotation`` is degrees clockwise needed for display.
    if rotation == 90:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if rotation == 180:
        return cv2.rotate(img, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


def extract_frames(
    path: str | os.PathLike[str],
    info: VideoInfo,
    times: Sequence[float],
    width: int,
) -> dict[float, np.ndarray]:
    """RGB images (displayed orientation, ``width`` wide) of the frames at ``times`` (s from
    the start, as reported by the decoder). Seeks only when the next target is far ahead."""
    import av

    out: dict[float, np.ndarray] = {}
    targets = sorted(set(times))
    if not targets:
        return out
    w = width
    h = max(2, round(info.height * width / info.width / 2) * 2)
    # PyAV does not autorotate: scale the stored picture to the pre-rotation size.
    sw, sh = (h, w) if info.rotation % 180 == 90 else (w, h)
    with av.open(str(path)) as container:
        stream = container.streams[info.stream_index]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        pos = None  # time of the last decoded frame
        it = None
        for t in targets:
            if pos is None or t < pos or t - pos > 3.0:
                container.seek(int((t + info.start_time) / tb), stream=stream, backward=True)
                it = container.decode(stream)
                pos = None
            assert it is not None
            best = None
            for frame in it:
                if frame.pts is None:
                    continue
                ft = frame.pts * tb - info.start_time
                pos = ft
                if ft >= t - 1e-3:
                    best = frame
                    break
            if best is None:
                break
            img = best.reformat(width=sw, height=sh, format="rgb24").to_ndarray()
            out[t] = _rotate(img, info.rotation)
    return out


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def thumbnail(rgb: np.ndarray, width: int) -> np.ndarray:
    h = max(2, round(rgb.shape[0] * width / rgb.shape[1]))
    return cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)


def sharpness(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())
