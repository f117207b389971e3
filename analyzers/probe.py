"""Media probe: ffprobe (through ffmpeg-python) into a typed :class:`MediaInfo`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import ffmpeg

from analyzers.errors import BadMediaError

# Containers ffprobe reports for single still images; such inputs are not titles.
_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "gif", "tiff_pipe"}
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "webp", "tiff", "gif", "jpegls", "jpeg2000"}
# Anything larger than 16K in either direction is a corrupt or hostile header, not a title.
MAX_DIMENSION = 16384


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int
    height: int
    fps: float
    avg_fps: float
    variable_frame_rate: bool
    rotation: int
    pix_fmt: str | None = None
    bit_depth: int | None = None
    profile: str | None = None
    frame_count: int | None = None
    duration_s: float | None = None
    is_default: bool = False
    sample_aspect_ratio: float = 1.0  # pixel shape: displayed width = width * this

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown to a viewer, after applying the rotation."""
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None
    title: str | None = None
    duration_s: float | None = None
    is_default: bool = False


@dataclass(frozen=True)
class SubtitleStream:
    index: int
    codec: str
    language: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration_s: float
    size_bytes: int
    bit_rate: int | None
    video: list[VideoStream] = field(default_factory=list)
    audio: list[AudioStream] = field(default_factory=list)
    subtitles: list[SubtitleStream] = field(default_factory=list)
    # Container start: decoders report PTS relative to it. None in media info stored before
    # it was recorded (readers then probe the file themselves).
    start_time: float | None = None

    @property
    def primary_video(self) -> VideoStream | None:
        defaults = [v for v in self.video if v.is_default]
        return (defaults or self.video or [None])[0]

    @property
    def has_video(self) -> bool:
        return bool(self.video)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(
            container=data["container"],
            duration_s=data["duration_s"],
            size_bytes=data["size_bytes"],
            bit_rate=data.get("bit_rate"),
            video=[VideoStream(**v) for v in data.get("video", [])],
            audio=[AudioStream(**a) for a in data.get("audio", [])],
            subtitles=[SubtitleStream(**s) for s in data.get("subtitles", [])],
            start_time=data.get("start_time"),
        )


def rate(value: str | None) -> float:
    """An ffprobe rational ("30000/1001") as a float; 0.0 when absent or undefined."""
    if not value or value in ("0/0", "0"):
        return 0.0
    try:
        return float(Fraction(value))
    except (ValueError, ZeroDivisionError):
        return 0.0


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rotation(stream: dict[str, Any]) -> int:
    """Rotation in degrees clockwise, from the display matrix side data or the old tag."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            # The display matrix gives counter-clockwise degrees; viewers rotate the other way.
            return int(-float(side["rotation"])) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(float(tag)) % 360 if tag else 0


def _bit_depth(stream: dict[str, Any]) -> int | None:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit():
        return int(raw)
    pix = stream.get("pix_fmt") or ""
    for depth in (16, 12, 10):
        if f"p{depth}" in pix:
            return depth
    return 8 if pix else None


def _is_vfr(stream: dict[str, Any]) -> bool:
    """ffprobe's r_frame_rate is the lowest common rate; a gap to the average means VFR."""
    r, avg = rate(stream.get("r_frame_rate")), rate(stream.get("avg_frame_rate"))
    if r <= 0 or avg <= 0:
        return False
    return abs(r - avg) / r > 0.01


def parse_ffprobe(data: dict[str, Any], size_bytes: int) -> MediaInfo:
    """Turn ffprobe's JSON (``-show_format -show_streams``) into :class:`MediaInfo`."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video: list[VideoStream] = []
    audio: list[AudioStream] = []
    subs: list[SubtitleStream] = []
    for s in streams:
        kind = s.get("codec_type")
        tags = s.get("tags") or {}
        default = bool((s.get("disposition") or {}).get("default"))
        if kind == "video":
            if (s.get("disposition") or {}).get("attached_pic"):
                continue  # cover art, not picture content
            frames = s.get("nb_frames")
            video.append(
                VideoStream(
                    index=int(s["index"]),
                    codec=s.get("codec_name", "unknown"),
                    width=int(s.get("width") or 0),
                    height=int(s.get("height") or 0),
                    fps=rate(s.get("r_frame_rate")),
                    avg_fps=rate(s.get("avg_frame_rate")),
                    variable_frame_rate=_is_vfr(s),
                    rotation=rotation(s),
                    pix_fmt=s.get("pix_fmt"),
                    bit_depth=_bit_depth(s),
                    profile=s.get("profile"),
                    frame_count=int(frames) if frames and str(frames).isdigit() else None,
                    duration_s=_float(s.get("duration")),
                    is_default=default,
                    sample_aspect_ratio=rate(s.get("sample_aspect_ratio")) or 1.0,
                )
            )
        elif kind == "audio":
            audio.append(
                AudioStream(
                    index=int(s["index"]),
                    codec=s.get("codec_name", "unknown"),
                    sample_rate=int(s.get("sample_rate") or 0),
                    channels=int(s.get("channels") or 0),
                    language=tags.get("language"),
                    title=tags.get("title"),
                    duration_s=_float(s.get("duration")),
                    is_default=default,
                )
            )
        elif kind == "subtitle":
            subs.append(
                SubtitleStream(
                    index=int(s["index"]),
                    codec=s.get("codec_name", "unknown"),
                    language=tags.get("language"),
                    title=tags.get("title"),
                )
            )
    durations = [_float(fmt.get("duration"))] + [v.duration_s for v in video + audio]  # type: ignore[operator]
    duration = max((d for d in durations if d), default=0.0)
    bit_rate = fmt.get("bit_rate")
    return MediaInfo(
        container=fmt.get("format_name", "unknown"),
        duration_s=float(duration),
        size_bytes=size_bytes,
        bit_rate=int(bit_rate) if bit_rate and str(bit_rate).isdigit() else None,
        video=video,
        audio=audio,
        subtitles=subs,
        start_time=_float(fmt.get("start_time")) or 0.0,
    )


def validate(info: MediaInfo) -> None:
    """Reject inputs that are not titles, with a reason a person understands."""
    if not info.video and not info.audio:
        raise BadMediaError("no audio or video stream found", code="no_streams")
    if info.container in _IMAGE_FORMATS or (
        info.video
        and not info.audio
        and all(v.codec in _IMAGE_CODECS for v in info.video)
        and info.duration_s <= 0.1
    ):
        raise BadMediaError("a still image, not a video title", code="still_image")
    for v in info.video:
        if v.width <= 0 or v.height <= 0:
            raise BadMediaError(f"video stream {v.index} has no picture size", code="bad_video")
        if v.width > MAX_DIMENSION or v.height > MAX_DIMENSION:
            raise BadMediaError(
                f"video stream {v.index} claims {v.width}x{v.height}, over the "
                f"{MAX_DIMENSION}px limit",
                code="huge_dimensions",
            )
    if info.duration_s <= 0:
        raise BadMediaError("the file has no playable duration", code="zero_duration")


def run_ffprobe(path: str | os.PathLike[str]) -> MediaInfo:
    """ffprobe ``path`` into :class:`MediaInfo`, unvalidated (the one ffprobe parser)."""
    p = Path(path)
    try:
        data = ffmpeg.probe(str(p))
    except ffmpeg.Error as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        last = detail[-1] if detail else "unreadable"
        # ffprobe prefixes messages with the path; keep only the reason.
        reason = last.split(": ", 1)[-1] if str(p) in last else last
        raise BadMediaError(f"not a readable media file ({reason})", code="unreadable") from err
    return parse_ffprobe(data, p.stat().st_size if p.exists() else 0)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe ``path`` and validate it as a title. Raises :class:`BadMediaError` on bad input."""
    p = Path(path)
    if not p.exists():
        raise BadMediaError(f"file not found: {p}", code="missing")
    size = p.stat().st_size
    if size == 0:
        raise BadMediaError("empty file (0 bytes)", code="empty")
    if _looks_like_mp4(p):
        check_mp4_complete(p)
    info = run_ffprobe(p)
    validate(info)
    return _with_sampled_vfr(p, info)


def _with_sampled_vfr(path: Path, info: MediaInfo) -> MediaInfo:
    """Where the container gives no average rate (Matroska/WebM), look at real timestamps."""
    video = []
    for v in info.video:
        if v.avg_fps <= 0:
            v = replace(v, variable_frame_rate=_packets_vary(path, v.index))
        video.append(v)
    return replace(info, video=video)


def _packets_vary(path: Path, stream_index: int, packets: int = 300) -> bool:
    try:
        data = ffmpeg.probe(
            str(path),
            select_streams=str(stream_index),
            show_entries="packet=pts_time",
            read_intervals=f"%+#{packets}",
        )
    except ffmpeg.Error:
        return False
    times = sorted(float(p["pts_time"]) for p in data.get("packets", []) if "pts_time" in p)
    deltas = [b - a for a, b in pairwise(times) if b > a]
    if len(deltas) < 3:
        return False
    deltas.sort()
    low, high = deltas[len(deltas) // 10], deltas[-(len(deltas) // 10) - 1]
    # Millisecond timestamp rounding (Matroska) makes 1/30 s alternate 33/34 ms; allow it.
    return high - low > 0.002 and high / low > 1.2


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    return len(head) == 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")


def check_mp4_complete(path: Path) -> None:
    """Walk the top-level ISO-BMFF boxes: a box running past the end means a truncated upload.

    ffprobe happily reads a "faststart" MP4 whose media data was cut off, because the index
    comes first; decoding would then fail partway through. Catch it up front.
    """
    size = path.stat().st_size
    offset = 0
    with path.open("rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                raise BadMediaError("truncated MP4: incomplete box header", code="truncated")
            box_size = int.from_bytes(header[:4], "big")
            if box_size == 1:  # 64-bit size follows the type
                if len(header) < 16:
                    raise BadMediaError("truncated MP4: incomplete box header", code="truncated")
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # box runs to the end of the file
                return
            if box_size < 8:
                raise BadMediaError("corrupt MP4: invalid box size", code="corrupt")
            if offset + box_size > size:
                kind = header[4:8].decode("latin-1")
                missing = offset + box_size - size
                raise BadMediaError(
                    f"truncated MP4: '{kind}' box is missing {missing} bytes (incomplete upload?)",
                    code="truncated",
                )
            offset += box_size


def probe_json(path: str | os.PathLike[str]) -> str:
    return json.dumps(probe(path).to_dict(), indent=2)
