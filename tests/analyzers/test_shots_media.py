"""Decoder and bad-input behaviour: VFR, rotation, ranges, no video, corrupt data."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analyzers.errors import StageNotApplicable
from analyzers.frames import DecodeOptions, FrameReader, read_frames, video_info
from analyzers.shots import ShotOptions, analyze_shots
from analyzers.shots.keyframes import extract_frames

FAST = ShotOptions(detector="fast")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def test_variable_frame_rate_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    # 10 frames at 10 fps, then 25 fps.
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x90:r=25:d=2",
        "-vf",
        "settb=1/1000,setpts='if(lt(N,10),N*0.1,1+(N-10)*0.04)/TB'",
        "-fps_mode",
        "vfr",
        "-enc_time_base",
        "1/1000",
        "-c:v",
        "libx264",
        str(path),
    )
    frames = list(read_frames(path, DecodeOptions(width=32)))
    assert len(frames) == 50
    expected = [0.1 * i if i < 10 else 1 + 0.04 * (i - 10) for i in range(50)]
    assert np.allclose([f.pts for f in frames], expected, atol=1e-3)
    r = analyze_shots(path, FAST)
    assert r.frame_count == 50 and abs(r.shots[-1].end_s - 2.6) < 0.05


def test_rotated_clip_reports_display_size(tmp_path: Path) -> None:
    src, rot = tmp_path / "src.mp4", tmp_path / "rot.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=25:d=1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(src),
    )
    ffmpeg("-i", str(src), "-c", "copy", "-metadata:s:v", "rotate=90", str(rot))
    info = video_info(rot)
    assert (info.width, info.height) == (180, 320) and info.rotation in (90, 270)
    frames = list(read_frames(rot, DecodeOptions(width=90)))
    assert frames[0].image.shape == (160, 90, 3)
    r = analyze_shots(rot, FAST)
    assert (r.width, r.height) == (180, 320)
    assert r.keyframes[0].height > r.keyframes[0].width
    # Keyframes (PyAV, rotated by us) face the same way as ffmpeg's autorotated frames.
    k = r.keyframes[0]
    img = extract_frames(rot, info, [k.time_s], 90)[k.time_s].astype(np.float32)
    ref = frames[k.frame].image.astype(np.float32)
    assert img.shape == ref.shape
    assert np.abs(img - ref).mean() < 12, np.abs(img - ref).mean()


def test_time_range_keeps_file_indices(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=4", "-c:v", "libx264", "-g", "30", str(path)
    )
    with FrameReader(path, DecodeOptions(width=32), start_s=1.5, end_s=2.0) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(38, 50))  # first PTS >= 1.5 s is 1.52 s
    assert np.allclose([f.pts for f in frames], [i / 25 for i in range(38, 50)])


def test_no_video_stream_is_not_applicable(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(path))
    with pytest.raises(StageNotApplicable, match="no video stream"):
        analyze_shots(path, FAST)


def test_corrupt_frames_warn_and_rest_is_analysed(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.ts", tmp_path / "bad.ts"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=25:d=2",
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=s=320x180:r=25",
        "-filter_complex",
        "[1:v]trim=end_frame=50[m];[0:v][m]concat=n=2:v=1:a=0,format=yuv420p",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-f",
        "mpegts",
        str(good),
    )
    data = bytearray(good.read_bytes())
    rng = random.Random(7)
    mid = len(data) // 4  # inside the first shot, well before the cut at frame 50
    for i in range(mid, mid + 12000):
        data[i] = rng.randrange(256)
    bad.write_bytes(bytes(data))
    r = analyze_shots(bad, FAST)
    assert r.warnings, "ffmpeg's decoder errors must be recorded"
    assert 60 <= r.frame_count <= 100
    # Frames lost to the damage leave a gap in the indices; the cut keeps its number.
    assert [c for c in r.cuts if abs(c - 50) <= 1], r.cuts
