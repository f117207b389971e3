"""Audio extraction: choose the audio track and stream it as 16 kHz mono through ffmpeg.

Decoding goes through a pipe in fixed-size blocks so a two-hour film never sits in memory
as decoded PCM more than one block (or one chunk, for the speech stage) at a time.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from analyzers.errors import BadMediaError, StageNotApplicable
from analyzers.probe import AudioStream, MediaInfo

SAMPLE_RATE = 16000
# 30 s blocks: large enough that pipe overhead is negligible, small enough to stay bounded.
BLOCK_SAMPLES = SAMPLE_RATE * 30
# A decode that yields less than this share of the probed duration, with decoder errors,
# is a truncated or corrupt file rather than a short one.
MIN_DECODED_SHARE = 0.9

# ISO 639-1 codes Whisper uses -> the ISO 639-2 tags containers carry. Small on purpose:
# anything else is compared as given.
_ISO1_TO_2 = {
    "en": ("eng",),
    "fr": ("fra", "fre"),
    "de": ("deu", "ger"),
    "es": ("spa",),
    "it": ("ita",),
    "pt": ("por",),
    "nl": ("nld", "dut"),
    "ja": ("jpn",),
    "zh": ("zho", "chi"),
    "ko": ("kor",),
    "ru": ("rus",),
    "pl": ("pol",),
    "sv": ("swe",),
    "tr": ("tur",),
    "ar": ("ara",),
    "hi": ("hin",),
    "da": ("dan",),
    "fi": ("fin",),
    "no": ("nor", "nob"),
    "cs": ("ces", "cze"),
    "el": ("ell", "gre"),
    "he": ("heb",),
    "uk": ("ukr",),
}


def language_matches(tag: str | None, wanted: str) -> bool:
    """Whether a container language tag (``eng``, ``en``, ``en-US``) means ``wanted``."""
    if not tag:
        return False
    tag = tag.lower().split("-")[0].split("_")[0]
    wanted = wanted.lower().split("-")[0]
    if tag == wanted:
        return True
    return tag in _ISO1_TO_2.get(wanted, ()) or wanted in _ISO1_TO_2.get(tag, ())


def select_audio_stream(
    info: MediaInfo, *, track: int | None = None, language: str | None = None
) -> AudioStream:
    """Pick the audio track to transcribe.

    ``track`` is an ffprobe stream index; ``language`` picks the first track tagged with it.
    Otherwise the default-flagged track wins, then the first one. An explicit request that
    cannot be met is an error, not a silent fallback to another language.
    """
    if not info.audio:
        raise StageNotApplicable("no audio stream", code="no_audio")
    if track is not None:
        for stream in info.audio:
            if stream.index == track:
                return stream
        indexes = ", ".join(str(a.index) for a in info.audio)
        raise StageNotApplicable(
            f"audio stream {track} not found (audio streams: {indexes})", code="no_audio_track"
        )
    if language:
        matching = [a for a in info.audio if language_matches(a.language, language)]
        if not matching:
            tags = ", ".join(f"{a.index}:{a.language or 'und'}" for a in info.audio)
            raise StageNotApplicable(
                f"no audio stream in language {language!r} (streams: {tags})",
                code="no_audio_language",
            )
        defaults = [a for a in matching if a.is_default]
        return (defaults or matching)[0]
    defaults = [a for a in info.audio if a.is_default]
    return (defaults or info.audio)[0]


@dataclass
class DecodeReport:
    """What ffmpeg said while decoding; filled in when the stream is exhausted."""

    samples: int = 0
    returncode: int | None = None
    errors: list[str] | None = None

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def _ffmpeg_cmd(
    path: str,
    stream_index: int | None,
    start: float | None,
    duration: float | None,
    filters: str | None = None,
) -> list[str]:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
    if start:
        cmd += ["-ss", f"{start:.3f}"]  # input seeking: fast, sample-accurate for audio
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]  # an input limit, so filters may pad past it
    cmd += ["-i", path]
    cmd += ["-map", f"0:{stream_index}" if stream_index is not None else "0:a:0"]
    cmd += ["-vn", "-sn", "-dn"]
    if filters:
        cmd += ["-af", filters]
    cmd += ["-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    return cmd


def stream_audio(
    path: str | os.PathLike[str],
    stream_index: int | None = None,
    *,
    start: float | None = None,
    duration: float | None = None,
    block_samples: int = BLOCK_SAMPLES,
    report: DecodeReport | None = None,
    filters: str | None = None,
) -> Iterator[np.ndarray]:
    """Yield float32 blocks of 16 kHz mono audio from one stream of ``path``.

    Raises :class:`BadMediaError` when ffmpeg cannot decode anything. Partial decodes are
    described in ``report`` so the caller, who knows the expected length, can judge them.
    """
    report = report if report is not None else DecodeReport()
    proc = subprocess.Popen(
        _ffmpeg_cmd(os.fspath(path), stream_index, start, duration, filters),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Only the last lines matter and a corrupt file can print millions of them.
    tail: deque[str] = deque(maxlen=20)

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert proc.stdout is not None
    nbytes = block_samples * 2
    try:
        while True:
            data = proc.stdout.read(nbytes)
            if not data:
                break
            if len(data) % 2:  # a pipe read can split a sample; keep the odd byte for later
                data += proc.stdout.read(1)
            block = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            report.samples += block.size
            yield block
    finally:
        proc.stdout.close()
        returncode = proc.wait()
        reader.join(timeout=5)
        report.returncode = returncode
        report.errors = list(tail)
    if returncode != 0 and report.samples == 0:
        reason = tail[-1] if tail else f"ffmpeg exited with {returncode}"
        raise BadMediaError(f"audio could not be decoded ({reason})", code="bad_audio")


def load_audio(
    path: str | os.PathLike[str],
    stream_index: int | None = None,
    *,
    start: float | None = None,
    duration: float | None = None,
    expected_s: float | None = None,
    filters: str | None = None,
    report: DecodeReport | None = None,
) -> np.ndarray:
    """Decode (a span of) one stream into one array. Meant for spans, i.e. chunks.

    With ``expected_s`` a decode that stops early amid decoder errors raises
    :class:`BadMediaError` (truncated or corrupt file).
    """
    report = report if report is not None else DecodeReport()
    blocks = list(
        stream_audio(
            path, stream_index, start=start, duration=duration, report=report, filters=filters
        )
    )
    audio = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    check_decode(report, expected_s)
    return audio


def check_decode(report: DecodeReport, expected_s: float | None) -> None:
    """Raise :class:`BadMediaError` for a decode that ended early with errors."""
    if expected_s is None or expected_s <= 0:
        return
    short = report.duration_s < expected_s * MIN_DECODED_SHARE
    if short and (report.errors or report.returncode):
        reason = report.errors[-1] if report.errors else f"ffmpeg exited {report.returncode}"
        raise BadMediaError(
            f"audio is truncated or corrupt: decoded {report.duration_s:.1f} s of "
            f"{expected_s:.1f} s ({reason})",
            code="truncated_audio",
        )


def expected_duration(info: MediaInfo, stream: AudioStream) -> float:
    """The length the audio should decode to (stream duration, else the container's)."""
    return float(stream.duration_s or info.duration_s or 0.0)


def frame_levels(
    path: str | os.PathLike[str],
    stream_index: int | None = None,
    *,
    frame_s: float = 0.02,
    start: float | None = None,
    duration: float | None = None,
    report: DecodeReport | None = None,
) -> np.ndarray:
    """Per-frame RMS level in dBFS over the stream (or a span of it), computed while
    streaming: a film of two hours gives 360,000 floats, never its full PCM."""
    frame = int(SAMPLE_RATE * frame_s)
    levels: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    for block in stream_audio(path, stream_index, start=start, duration=duration, report=report):
        block = np.concatenate([carry, block]) if carry.size else block
        n = block.size // frame
        carry = block[n * frame :]
        if n:
            levels.append(rms_db(block[: n * frame].reshape(n, frame)))
    if carry.size:
        levels.append(rms_db(carry.reshape(1, -1)))
    return np.concatenate(levels) if levels else np.zeros(0, dtype=np.float32)


def rms_db(frames: np.ndarray) -> np.ndarray:
    """RMS in dBFS per row of ``frames`` (floor at -100 dB for digital silence)."""
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return (10.0 * np.log10(np.maximum(power, 1e-10))).astype(np.float32)
