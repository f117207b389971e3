"""The ``profile`` space: what the tagging stage found, as a fixed-order vector per taxonomy
version: every mood and tone label's score (the mood arc, duration-weighted over scenes) and
every maturity descriptor's severity level (rank / highest rank).

Each component is centred on 0.5 (mood/tone) or 0 (severity), so "unknown" (no score, absent
descriptor) is 0 and pulls no title towards another. One constant component (``BIAS``) keeps
a title with nothing known a valid, if uninformative, vector. Scene scope: the arc's scenes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit
from taxonomy.model import SEVERITY_LEVELS, Taxonomy, severity_rank

NAME = "profile"
_VERSION = "1"
BIAS = 0.05
FACETS = ("mood", "tone")


def label_order(tax: Taxonomy) -> list[str]:
    """``facet:label`` for every mood and tone label, then ``maturity:descriptor``."""
    return [f"{f}:{label.id}" for f in (*FACETS, "maturity") for label in tax.labels(f)]


def spec(tax: Taxonomy) -> SpaceSpec:
    order = label_order(tax)
    version = f"{_VERSION}-{digest(_VERSION, tax.fingerprint, order, BIAS)}"
    return SpaceSpec(
        NAME, version, len(order) + 1, f"taxonomy {tax.version}", {"order": order, "bias": BIAS}
    )


def _severity(entry: Mapping[str, Any] | None) -> float:
    level = (entry or {}).get("severity")
    if not level or level not in SEVERITY_LEVELS or (entry or {}).get("absent"):
        return 0.0
    return severity_rank(level) / (len(SEVERITY_LEVELS) - 1)


def _vector(
    order: Sequence[str], mood_tone: Mapping[str, float | None], severities: Mapping[str, float]
) -> np.ndarray:
    out = []
    for key in order:
        facet, label = key.split(":", 1)
        if facet == "maturity":
            out.append(severities.get(label, 0.0))
        else:
            v = mood_tone.get(key)
            out.append(0.0 if v is None else float(v) - 0.5)
    return np.asarray([*out, BIAS], dtype=np.float32)


def embed(
    space: SpaceSpec, arc: Mapping[str, Any] | None, descriptors: Mapping[str, Any] | None
) -> SpaceOutput:
    """Scene and title vectors from the tagging stage's arc and descriptor assessments."""
    if arc is None:
        return SpaceOutput.absent_because(space, "not tagged")
    order = space.params["order"]
    scenes = list(arc.get("scenes") or [])
    durations = np.array([max(s["end_s"] - s["start_s"], 1e-3) for s in scenes] or [1.0])
    severities = {k: _severity(v) for k, v in (descriptors or {}).items()}
    title: dict[str, float | None] = {}
    per_scene: list[dict[str, float | None]] = [{} for _ in scenes]
    for facet in FACETS:
        for label, values in (arc.get(facet) or {}).items():
            key = f"{facet}:{label}"
            known = [(d, v) for d, v in zip(durations, values, strict=False) if v is not None]
            title[key] = sum(d * v for d, v in known) / sum(d for d, _ in known) if known else None
            for i, v in enumerate(values[: len(scenes)]):
                per_scene[i][key] = v
    rows = [VectorOut("title", -1, unit(_vector(order, title, severities)))]
    for scene, values in zip(scenes, per_scene, strict=True):
        rows.append(
            VectorOut("scene", int(scene["index"]), unit(_vector(order, values, severities)))
        )
    known = sum(v is not None for v in title.values())
    return SpaceOutput(space, rows, info={"labels_known": known, "scenes": len(scenes)})
