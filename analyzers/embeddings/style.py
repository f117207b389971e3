"""The ``style`` space: how a title looks and sounds, standardised.

Per shot: the style signal's pace and look scores (``analyzers/signals/style.py``: cuts per
minute, lighting key, contrast, saturation, colourfulness, motion). Title: their
duration-weighted means, the spread of the lighting key, and the audio signal's window means
(loudness, energy, dynamics, onset rate, tempo, brightness, flatness, music share).

Every feature is standardised, ``(x - mean) / std``, with the reference statistics in
``STATS`` (scores are already on [0, 1]; the statistics centre them on typical footage). They
are part of the space's version. A missing feature (no audio, no video, no tempo) is 0 after
standardisation: the average, which pulls no title towards another. Two presence components
(+1 present, -1 absent, scaled by ``PRESENCE``) keep a title with no audio and no video a
valid vector, and tell such titles apart from ones that have them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit
from analyzers.signals.base import SignalResult
from taxonomy.model import STYLE_FEATURES

NAME = "style"
_VERSION = "1"
SHOT_FEATURES = STYLE_FEATURES  # the style signal's per-shot scores, as the taxonomy names them
AUDIO_FEATURES = (
    "loudness", "energy", "dynamics", "onset_rate",
    "tempo", "brightness", "flatness", "music_share",
)  # fmt: skip
# feature -> (mean, std) of the [0, 1] score on typical footage.
STATS: dict[str, tuple[float, float]] = {
    "cuts_per_minute": (0.3, 0.2),
    "lighting_key": (0.5, 0.2),
    "lighting_spread": (0.1, 0.08),
    "contrast": (0.5, 0.2),
    "saturation": (0.4, 0.2),
    "colourfulness": (0.35, 0.2),
    "motion": (0.3, 0.25),
    "loudness": (0.6, 0.15),
    "energy": (0.6, 0.15),
    "dynamics": (0.4, 0.2),
    "onset_rate": (0.3, 0.2),
    "tempo": (0.5, 0.25),
    "brightness": (0.4, 0.2),
    "flatness": (0.5, 0.2),
    "music_share": (0.3, 0.3),
}
PRESENCE = 0.5
TITLE_FEATURES = (*SHOT_FEATURES, "lighting_spread", *AUDIO_FEATURES, "has_video", "has_audio")


def spec() -> SpaceSpec:
    version = f"{_VERSION}-{digest(_VERSION, TITLE_FEATURES, STATS, PRESENCE)}"
    params = {"features": list(TITLE_FEATURES), "stats": STATS, "presence": PRESENCE}
    return SpaceSpec(NAME, version, len(TITLE_FEATURES), "style features", params)


def _z(name: str, value: float | None) -> float:
    if value is None or not np.isfinite(value):
        return 0.0
    mean, std = STATS[name]
    return (float(value) - mean) / std


def _means(result: SignalResult | None, names: Sequence[str]) -> dict[str, float]:
    """Duration-weighted mean of each score over the windows that have it."""
    out: dict[str, float] = {}
    if result is None or not result.present:
        return out
    for name in names:
        pairs = [
            (max(w.duration_s, 1e-3), w.scores[name]) for w in result.windows if name in w.scores
        ]
        if pairs:
            out[name] = sum(d * v for d, v in pairs) / sum(d for d, _ in pairs)
    return out


def embed(space: SpaceSpec, shots: SignalResult | None, audio: SignalResult | None) -> SpaceOutput:
    """Shot and title vectors from the style signal (per shot) and the audio signal."""
    video = shots is not None and shots.present and bool(shots.windows)
    has_audio = audio is not None and audio.present and bool(audio.windows)
    look = _means(shots, SHOT_FEATURES) if video else {}
    if video:
        keys = [w.scores["lighting_key"] for w in shots.windows if "lighting_key" in w.scores]
        if len(keys) > 1:
            look["lighting_spread"] = float(np.std(keys))
    sound = _means(audio, AUDIO_FEATURES) if has_audio else {}
    tail = [_z(n, sound.get(n)) for n in AUDIO_FEATURES]
    tail += [PRESENCE if video else -PRESENCE, PRESENCE if has_audio else -PRESENCE]
    values = [_z(n, look.get(n)) for n in (*SHOT_FEATURES, "lighting_spread")] + tail
    rows = [VectorOut("title", -1, unit(values))]
    if video:
        # A shot: its own look in the title's layout (the title's sound, no spread).
        for i, w in enumerate(shots.windows):
            own = [_z(n, w.scores.get(n)) for n in SHOT_FEATURES] + [0.0]
            rows.append(VectorOut("shot", int(w.ref.get("shot", i)), unit(own + tail)))
    absent = [p for p, ok in (("video", video), ("audio", has_audio)) if not ok]
    return SpaceOutput(space, rows, info={"absent_parts": absent})
