"""analyzers.probe on generated media with known properties, the shared clips, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.errors import BadMediaError
from analyzers.probe import parse_ffprobe, probe, validate
from tests.conftest import ffmpeg


def test_tiny_video(tiny_video: Path) -> None:
    info = probe(tiny_video)
    v = info.primary_video
    assert v is not None and (v.codec, v.width, v.height, v.fps) == ("h264", 320, 240, 25.0)
    assert not v.variable_frame_rate and v.rotation == 0 and v.bit_depth == 8
    assert info.audio[0].codec == "aac" and info.audio[0].sample_rate == 44100
    assert 2.9 < info.duration_s < 3.2
    assert json.loads(json.dumps(info.to_dict()))["video"][0]["width"] == 320


def test_variable_frame_rate_is_detected(tmp_path: Path) -> None:
    out = tmp_path / "vfr.mkv"
    # 1 s at 30 fps then 1 s at 10 fps in one stream.
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=1",
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=1",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
        "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(out),
    )  # fmt: skip
    v = probe(out).primary_video
    assert v is not None and v.variable_frame_rate


def test_rotation_metadata(tmp_path: Path, tiny_video: Path) -> None:
    out = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(tiny_video), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))
    v = probe(out).primary_video
    assert v is not None and v.rotation in (90, 270)
    assert v.display_size == (240, 320)


def test_several_audio_tracks_with_languages(tmp_path: Path) -> None:
    out = tmp_path / "multi.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1",
        "-f", "lavfi", "-i", "sine=f=300:d=1", "-f", "lavfi", "-i", "sine=f=600:d=1",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
        "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        "-disposition:a:1", "default", "-disposition:a:0", "0", str(out),
    )  # fmt: skip
    info = probe(out)
    assert [a.language for a in info.audio] == ["eng", "fra"]
    assert [a.is_default for a in info.audio] == [False, True]


def test_ten_bit_hevc(tmp_path: Path) -> None:
    out = tmp_path / "hevc10.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1", "-c:v", "libx265",
        "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error", "-tag:v", "hvc1", str(out),
    )  # fmt: skip
    v = probe(out).primary_video
    assert v is not None and v.codec == "hevc" and v.bit_depth == 10


def test_audio_only_and_video_only(tmp_path: Path) -> None:
    audio = tmp_path / "a.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(audio))
    info = probe(audio)
    assert info.has_audio and not info.has_video
    video = tmp_path / "v.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:d=1", "-c:v", "libx264", str(video))
    info = probe(video)
    assert info.has_video and not info.has_audio


def test_shared_counter_clip(shared_media: Path) -> None:
    info = probe(shared_media / "video" / "counter.mp4")
    v = info.primary_video
    assert v is not None and (v.width, v.height, v.fps) == (1920, 1080, 10.0)
    assert v.frame_count == 30


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty", "empty"),
        ("random", "unreadable"),
        ("truncated", "truncated"),
        ("still", "still_image"),
        ("notes", "unreadable"),
    ],
)
def test_bad_inputs_have_clear_reasons(bad_inputs: dict[str, Path], name: str, code: str) -> None:
    with pytest.raises(BadMediaError) as err:
        probe(bad_inputs[name])
    assert err.value.code == code
    assert "\n" not in str(err.value) and str(bad_inputs[name]) not in str(err.value)


def test_huge_claimed_dimensions_are_refused() -> None:
    data = {
        "format": {"format_name": "matroska,webm", "duration": "10"},
        "streams": [
            {
                "index": 0,
                "codec_type": "video",
                "codec_name": "h264",
                "width": 100000,
                "height": 100000,
                "r_frame_rate": "25/1",
                "avg_frame_rate": "25/1",
            }
        ],
    }
    with pytest.raises(BadMediaError, match="100000x100000") as err:
        validate(parse_ffprobe(data, 1000))
    assert err.value.code == "huge_dimensions"
