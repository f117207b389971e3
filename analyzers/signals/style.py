"""Visual style per shot: pace and look, from the features the shots stage already stored.

Input is the title's shots as plain dicts (``start_s``, ``end_s``, ``features``), where
``features`` is what ``workers/stages/shots.py`` stores: ``StyleFeatures``
(``analyzers/shots/style.py``) flattened, plus ``start_kind``. Nothing is decoded here.

Scores per shot, each a raw value mapped linearly onto [0, 1] and clipped (raw in ``ref``):

| score            | raw value                                                  | 0 -> 1      |
|------------------|------------------------------------------------------------|-------------|
| cuts_per_minute  | shot boundaries (cuts and transitions) within a window of  | 0 -> 40     |
|                  | ``Options.pace_window_s`` centred on the shot, per minute  |             |
| lighting_key     | mean luma (0-1): low-key (dark) -> high-key (bright)       | 0.05 -> 0.75|
| contrast         | luma standard deviation (0-1 of full scale)                | 0 -> 0.3    |
| saturation       | mean HSV saturation (0-1)                                  | 0 -> 0.6    |
| colourfulness    | Hasler & Süsstrunk M (about 33 "moderately colourful")     | 0 -> 100    |
| motion           | median mean-absolute luma change between frames (0-1)      | 0 -> 0.08   |

The ranges span what film and TV footage shows in practice (about 15 cuts a minute for
drama, 30+ for action; M above 82 is "highly colourful"). A shot without style features gets
only ``cuts_per_minute`` and a warning in ``extras``. No shots means no video: absent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from analyzers.signals.base import SignalResult, Window

SIGNAL = "style"
_VERSION = "1"

# score -> (stored feature, (low, high)) for the look scores.
LOOK: dict[str, tuple[str, tuple[float, float]]] = {
    "lighting_key": ("luma_mean", (0.05, 0.75)),
    "contrast": ("luma_spread", (0.0, 0.3)),
    "saturation": ("saturation", (0.0, 0.6)),
    "colourfulness": ("colorfulness", (0.0, 100.0)),
    "motion": ("motion", (0.0, 0.08)),
}
CUTS_RANGE = (0.0, 40.0)


@dataclass(frozen=True)
class Options:
    pace_window_s: float = 30.0

    def version(self) -> str:
        data = json.dumps([_VERSION, asdict(self), LOOK, CUTS_RANGE], sort_keys=True)
        return f"{_VERSION}-{hashlib.sha256(data.encode()).hexdigest()[:12]}"


def _norm(value: float, low: float, high: float) -> float:
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def _cuts_per_minute(
    centres: np.ndarray, boundaries: np.ndarray, title: tuple[float, float], window_s: float
) -> np.ndarray:
    """Boundaries per minute in a window of ``window_s`` around each centre, for every shot
    at once (``boundaries`` sorted). The window is clipped to the title, so the first and
    last shots are not diluted."""
    lo = np.maximum(title[0], centres - window_s / 2)
    hi = np.minimum(title[1], centres + window_s / 2)
    n = np.searchsorted(boundaries, hi, side="right") - np.searchsorted(boundaries, lo, side="left")
    span = hi - lo
    return np.where(span > 0, n / np.maximum(span / 60.0, 1e-12), 0.0)


def analyze(
    shots: Sequence[Mapping[str, Any]] | None, options: Options | None = None
) -> SignalResult:
    """One window per shot with pace and look scores."""
    options = options or Options()
    version = options.version()
    if not shots:
        return SignalResult.absent_because(SIGNAL, version, "no video (no shots)")
    ordered = sorted(shots, key=lambda s: float(s["start_s"]))
    title = (float(ordered[0]["start_s"]), float(ordered[-1]["end_s"]))
    # Every shot start but the title's first is an editing event.
    starts = np.array([float(s["start_s"]) for s in ordered])
    ends = np.array([float(s["end_s"]) for s in ordered])
    pace = _cuts_per_minute((starts + ends) / 2, starts[1:], title, options.pace_window_s)
    result = SignalResult(signal=SIGNAL, version=version)
    missing: list[int] = []
    for i, shot in enumerate(ordered):
        start, end = float(starts[i]), float(ends[i])
        features = shot.get("features") or {}
        idx = shot.get("idx", shot.get("index", i))
        cpm = float(pace[i])
        scores = {"cuts_per_minute": _norm(cpm, *CUTS_RANGE)}
        ref: dict[str, Any] = {"shot": idx, "cuts_per_minute": round(cpm, 3)}
        if all(f in features for f, _ in LOOK.values()):
            for name, (feature, (low, high)) in LOOK.items():
                value = float(features[feature])
                scores[name] = _norm(value, low, high)
                ref[feature] = value
        else:
            missing.append(idx)
        result.windows.append(Window(start, end, scores, ref=ref))
    if missing:
        result.extras["warnings"] = [f"shots without style features: {missing}"]
    result.extras["ranges"] = {
        "cuts_per_minute": list(CUTS_RANGE),
        **{name: list(r) for name, (_, r) in LOOK.items()},
    }
    return result
