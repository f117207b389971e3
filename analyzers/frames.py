"""Fast, memory-bounded frame decoding through an ffmpeg pipe.

Frames are scaled down by ffmpeg before they reach Python, decoded with every core and with
decoder shortcuts that do not change what a small picture looks like (``-skip_loop_filter``
for H.264/HEVC, ``-flags2 fast``). Timestamps come from each frame's PTS (ffmpeg's
``showinfo``), so variable frame rate is handled; ffmpeg's autorotation is kept, and the
reported size is the displayed (rotated) one. Only one frame is held at a time.

Other stages (vision tagging) reuse :func:`read_frames` with their own size and pixel format.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from analyzers.errors import BadMediaError, StageNotApplicable
from analyzers.probe import MediaInfo, run_ffprobe

PixFmt = Literal["rgb24", "bgr24", "gray"]
_CHANNELS = {"rgb24": 3, "bgr24": 3, "gray": 1}
# Codecs whose in-loop deblocking filter can be skipped: it only smooths block edges, which a
# picture scaled down 10x does not show, and it is ~20-30% of their decode time.
_LOOP_FILTER_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
_SHOWINFO = re.compile(r"\[Parsed_showinfo_(\d+) @ [^\]]+\] \[info\] n:\s*(\d+) pts:\s*(-?\d+)")
# Filter numbers of the two showinfo instances in the split graph (see FrameReader._graph).
_SAMPLE_SHOWINFO = "7"
_PTS_TIME = re.compile(r"pts_time:\s*(-?[\d.e+-]+)")
_LEVEL = re.compile(r"\[(error|warning|fatal|panic)\] ?(.*)")
MAX_WARNINGS = 50


@dataclass(frozen=True)
class VideoInfo:
    """What the decoder needs to know about the primary video stream."""

    stream_index: int
    codec: str
    width: int  # displayed width, after rotation and sample aspect ratio
    height: int
    rotation: int  # degrees clockwise
    fps: float  # nominal (r_frame_rate), for frame<->time conversions only
    avg_fps: float
    start_time: float  # container start; PTS are reported relative to it
    duration_s: float
    variable_frame_rate: bool
    frame_count: int | None = None


@dataclass(frozen=True)
class Frame:
    index: int  # presentation-order index from the start of the file
    pts: float  # seconds from the start of the file
    image: np.ndarray  # HxWxC (or HxW for gray) uint8


@dataclass
class DecodeOptions:
    width: int | None = 160  # output width; None keeps the source width
    height: int | None = None  # None derives it from the aspect ratio (even)
    pix_fmt: PixFmt = "rgb24"
    fast: bool = True  # skip the loop filter and use fast decoder flags
    threads: int = 0  # 0 = every core
    scale_flags: str = "area"
    # A second, larger picture of every ``sample_every``-th frame (by timestamp, so ranged
    # decodes sample the same frames), from the same decode: keyframe candidates without a
    # second pass. Kept as I420 (see i420_to_rgb): a third of the bytes, and ffmpeg's RGB
    # conversion would cost more than the scaling. None: no samples.
    sample_width: int | None = None
    sample_every: int = 5


def video_info_of(media: MediaInfo) -> VideoInfo | None:
    """The decoder's view of the primary video stream, from the probe's media info (no
    second ffprobe). None when ``media`` predates the recorded container start time.
    Raises StageNotApplicable when there is no video stream."""
    s = media.primary_video
    if s is None:
        raise StageNotApplicable("no video stream")
    if media.start_time is None:
        return None
    if s.width <= 0 or s.height <= 0:
        raise BadMediaError("video stream has no picture size")
    w, h = s.width, s.height
    if s.sample_aspect_ratio != 1.0:
        w = round(w * s.sample_aspect_ratio)
    if s.rotation % 180 == 90:
        w, h = h, w
    return VideoInfo(
        stream_index=s.index,
        codec=s.codec,
        width=w,
        height=h,
        rotation=s.rotation,
        fps=s.fps or s.avg_fps or 25.0,
        avg_fps=s.avg_fps or s.fps or 25.0,
        start_time=media.start_time,
        duration_s=media.duration_s,
        variable_frame_rate=s.variable_frame_rate,
        frame_count=s.frame_count,
    )


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe the primary video stream. Raises StageNotApplicable when there is none."""
    info = video_info_of(run_ffprobe(path))
    assert info is not None  # a fresh probe records the start time
    return info


def output_size(info: VideoInfo, width: int | None, height: int | None) -> tuple[int, int]:
    """Output size keeping the displayed aspect ratio; even numbers for chroma subsampling."""
    if width is None and height is None:
        return info.width, info.height
    if width is None:
        assert height is not None
        width = max(2, round(info.width * height / info.height / 2) * 2)
    if height is None:
        height = max(2, round(info.height * width / info.width / 2) * 2)
    return width, height


def count_frames_before(path: str | os.PathLike[str], info: VideoInfo, t: float) -> int:
    """Frames whose PTS lies before ``t`` (seconds from start), by demuxing without decoding.

    Used to give frames of a time-range decode the same index as in a full decode.
    """
    import av  # local: PyAV is only needed for ranged reads

    n = 0
    with av.open(str(path)) as container:
        stream = container.streams[info.stream_index]
        tb = stream.time_base
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            ts = float(packet.pts * tb) - info.start_time
            if ts < t - 1e-6:
                n += 1
            elif ts > t + 10:  # past any reordering delay
                break
    return n


@dataclass
class FrameReader:
    """Iterate frames of ``path`` (optionally only ``[start_s, end_s)``) as small arrays.

    Use as a context manager; ``warnings`` collects ffmpeg's decoder errors (corrupt data is
    skipped by ffmpeg, the rest is still decoded).
    """

    path: str | os.PathLike[str]
    options: DecodeOptions = field(default_factory=DecodeOptions)
    start_s: float | None = None
    end_s: float | None = None
    info: VideoInfo | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.info is None:
            self.info = video_info(self.path)
        self.size = output_size(self.info, self.options.width, self.options.height)
        sw = self.options.sample_width
        self.sample_size = output_size(self.info, sw, None) if sw else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pts: queue.Queue[float | None] = queue.Queue()
        self._stderr_thread: threading.Thread | None = None
        # Sampled pictures: their PTS (from the second showinfo) and the pictures themselves,
        # read from their own pipe by a thread so neither pipe can stall ffmpeg.
        self._sample_pts: queue.Queue[float | None] = queue.Queue()
        self._samples: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue()
        self._sample_fd: int | None = None
        self._sample_thread: threading.Thread | None = None

    # -- process management -------------------------------------------------------------
    def _command(self) -> list[str]:
        info, opt = self.info, self.options
        assert info is not None
        w, h = self.size
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "level+info"]
        cmd += ["-threads", str(opt.threads)]
        if opt.fast and info.codec in _LOOP_FILTER_CODECS:
            cmd += ["-skip_loop_filter", "all", "-flags2", "fast"]
        if self.start_s:
            # Input seeking is accurate (decodes from the previous keyframe and drops frames
            # before the target); -copyts keeps the original timestamps.
            # ffmpeg adds the container start time itself.
            cmd += ["-ss", f"{self.start_s:.6f}"]
        cmd += ["-copyts", "-i", str(self.path)]
        # showinfo runs last, on the small frame, so its per-frame checksum costs nothing.
        # showinfo only for the timestamps: no per-frame checksums.
        vf = f"scale={w}:{h}:flags={opt.scale_flags},format={opt.pix_fmt},showinfo=checksum=0"
        raw = ["-fps_mode", "passthrough", "-an", "-sn", "-dn", "-f", "rawvideo"]
        if self.sample_size is None:
            cmd += ["-map", f"0:{info.stream_index}", "-vf", vf]
            return cmd + raw + ["-pix_fmt", opt.pix_fmt, "pipe:1"]
        assert self._sample_fd is not None
        cmd += ["-filter_complex", self._graph(vf), "-map", "[small]"]
        cmd += [*raw, "-pix_fmt", opt.pix_fmt, "pipe:1", "-map", "[sample]"]
        return [*cmd, *raw, "-pix_fmt", "yuv420p", f"pipe:{self._sample_fd}"]

    def _graph(self, vf: str) -> str:
        """split -> (small analysis frames | every Nth frame, larger). Filter numbering:
        split 0, scale 1, format 2, showinfo 3 | select 4, scale 5, format 6, showinfo 7."""
        info, opt = self.info, self.options
        assert info is not None and self.sample_size is not None
        sw, sh = self.sample_size
        # Frame number from the timestamp, so every range samples the same frames.
        pick = (
            f"eq(mod(floor((t-{info.start_time:.6f})*{info.fps:.6f}+0.5)\\,{opt.sample_every})\\,0)"
        )
        return (
            f"[0:{info.stream_index}]split[a][b];[a]{vf}[small];"
            f"[b]select='{pick}',scale={sw}:{sh}:flags=area,format=yuv420p,showinfo=checksum=0[sample]"
        )

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        # A buffered reader over the same descriptor: readline on the unbuffered pipe would
        # read one byte per system call, and showinfo writes a long line for every frame.
        stderr = open(self._proc.stderr.fileno(), "rb", closefd=False)  # noqa: SIM115
        for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            m = _SHOWINFO.search(line)
            if m:
                t = _PTS_TIME.search(line)
                q = (
                    self._sample_pts
                    if self.sample_size and m.group(1) == _SAMPLE_SHOWINFO
                    else self._pts
                )
                q.put(float(t.group(1)) if t else float("nan"))
                continue
            lvl = _LEVEL.search(line)
            if lvl and len(self.warnings) < MAX_WARNINGS:
                msg = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\] ", "", line).replace(
                    f"[{lvl.group(1)}] ", ""
                )
                self.warnings.append(f"ffmpeg {lvl.group(1)}: {msg.strip()}")
        self._pts.put(None)
        self._sample_pts.put(None)

    def _read_samples(self, fd: int) -> None:
        assert self.sample_size is not None
        w, h = self.sample_size
        nbytes = w * h * 3 // 2
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while True:
                buf = _read_exact(pipe, nbytes)
                pts = self._sample_pts.get(timeout=60) if buf is not None else None
                if pts is None:
                    break
                self._samples.put((pts, np.frombuffer(buf, np.uint8).reshape(h * 3 // 2, w)))
        self._samples.put(None)

    def samples(self) -> list[tuple[float, np.ndarray]]:
        """Sampled pictures decoded so far, as (PTS in seconds from the start, I420 image).
        They may trail the small frames by a few frames; never blocks."""
        assert self.info is not None
        out = []
        while True:
            try:
                item = self._samples.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.append((item[0] - self.info.start_time, item[1]))

    def __enter__(self) -> FrameReader:
        read_fd = None
        if self.sample_size is not None:
            read_fd, self._sample_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                self._command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                pass_fds=(self._sample_fd,) if self._sample_fd is not None else (),
            )
        finally:
            if self._sample_fd is not None:
                os.close(self._sample_fd)  # the child holds its own copy
        if read_fd is not None:
            self._sample_thread = threading.Thread(
                target=self._read_samples, args=(read_fd,), daemon=True
            )
            self._sample_thread.start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if self._stderr_thread:
            self._stderr_thread.join(timeout=5)
        if self._sample_thread:
            self._sample_thread.join(timeout=5)
        if proc.stderr:
            proc.stderr.close()
        self._proc = None

    # -- iteration ----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        if self._proc is None:
            raise RuntimeError("use FrameReader as a context manager")
        assert self._proc.stdout is not None and self.info is not None
        w, h = self.size
        c = _CHANNELS[self.options.pix_fmt]
        nbytes = w * h * c
        shape = (h, w) if c == 1 else (h, w, c)
        start_time = self.info.start_time
        index0: int | None = None
        n, last = 0, -1
        cfr = not self.info.variable_frame_rate and self.info.fps > 0
        fps = self.info.fps
        stdout = self._proc.stdout
        while True:
            buf = _read_exact(stdout, nbytes)
            if buf is None:
                break
            pts_abs = self._pts.get(timeout=60)
            if pts_abs is None:
                break
            pts = pts_abs - start_time
            if self.start_s and pts < self.start_s - 1e-6:
                continue  # before the range (in case the seek was not frame-accurate)
            if self.end_s is not None and pts >= self.end_s - 1e-6:
                break
            if cfr:
                # Constant rate: the index follows from the PTS, so frames lost to corrupt
                # data leave a gap instead of shifting every later index.
                index = max(last + 1, round(pts * fps))
            else:
                if index0 is None:
                    index0 = count_frames_before(self.path, self.info, pts) if self.start_s else 0
                index = index0 + n
            last = index
            yield Frame(index, pts, np.frombuffer(buf, np.uint8).reshape(shape))
            n += 1
        if self.end_s is not None:
            return  # ffmpeg is still running past the range: close() stops it
        self._proc.wait()
        if self._stderr_thread:
            self._stderr_thread.join(timeout=5)
        if self._sample_thread:
            self._sample_thread.join(timeout=5)  # so samples() now has every last picture


def _read_exact(pipe: Any, nbytes: int) -> bytearray | None:
    """The next ``nbytes`` from a raw pipe; None at end of stream (or a short last read)."""
    buf = bytearray(nbytes)
    view = memoryview(buf)
    got = 0
    while got < nbytes:
        r = pipe.readinto(view[got:])
        if not r:
            return None
        got += r
    return buf


def i420_to_rgb(i420: np.ndarray) -> np.ndarray:
    """RGB picture of an I420 buffer of shape (height * 3 / 2, width), as sampled."""
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def read_frames(
    path: str | os.PathLike[str],
    options: DecodeOptions | None = None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    warnings: list[str] | None = None,
) -> Iterator[Frame]:
    """Generator over frames; ffmpeg warnings are appended to ``warnings`` when given."""
    reader = FrameReader(Path(path), options or DecodeOptions(), start_s, end_s)
    with reader:
        yield from reader
    if warnings is not None:
        warnings.extend(reader.warnings)
