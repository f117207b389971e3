"""WebVTT and SRT renderers (UTF-8 bytes, ready for the object store)."""

from __future__ import annotations

from collections.abc import Iterable

from analyzers.speech.base import Segment

# Subtitle readers cope badly with very long cues; split at word boundaries past this.
MAX_CUE_CHARS = 84
MAX_CUE_S = 7.0


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def cues(segments: Iterable[Segment]) -> list[tuple[float, float, str]]:
    """(start, end, text) cues: one per segment, long segments split on word timings."""
    out: list[tuple[float, float, str]] = []
    for seg in segments:
        text = " ".join(seg.text.split())
        if not text:
            continue
        if not seg.words or (len(text) <= MAX_CUE_CHARS and seg.end - seg.start <= MAX_CUE_S):
            out.append((seg.start, max(seg.end, seg.start + 0.001), text))
            continue
        current: list = []
        for w in seg.words:
            candidate = "".join(x.text for x in [*current, w]).strip()
            too_long = len(candidate) > MAX_CUE_CHARS or (
                current and w.end - current[0].start > MAX_CUE_S
            )
            if current and too_long:
                out.append(
                    (current[0].start, current[-1].end, "".join(x.text for x in current).strip())
                )
                current = []
            current.append(w)
        if current:
            out.append(
                (current[0].start, current[-1].end, "".join(x.text for x in current).strip())
            )
    # Players expect cues in order and not overlapping.
    out.sort(key=lambda c: c[0])
    fixed: list[tuple[float, float, str]] = []
    for start, end, text in out:
        if fixed and start < fixed[-1][1]:
            prev = fixed[-1]
            fixed[-1] = (prev[0], max(prev[0] + 0.001, start), prev[2])
        fixed.append((start, max(end, start + 0.001), text))
    return fixed


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "->")


def to_vtt(segments: Iterable[Segment]) -> bytes:
    lines = ["WEBVTT", ""]
    for start, end, text in cues(segments):
        lines += [f"{_stamp(start, '.')} --> {_stamp(end, '.')}", _escape_vtt(text), ""]
    return "\n".join(lines).encode("utf-8")


def to_srt(segments: Iterable[Segment]) -> bytes:
    lines: list[str] = []
    for n, (start, end, text) in enumerate(cues(segments), 1):
        lines += [
            str(n),
            f"{_stamp(start, ',')} --> {_stamp(end, ',')}",
            text.replace("-->", "->"),
            "",
        ]
    return "\n".join(lines).encode("utf-8")
