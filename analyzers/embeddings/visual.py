"""The ``visual`` space: CLIP/SigLIP image embeddings of the keyframes (as the vision stage
stored them, one renormalised vector per shot). Title = duration-weighted mean of the shots,
renormalised. Only where a vision model ran: without one the space is absent, never faked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit, weighted_mean

NAME = "visual"
_VERSION = "1"


def spec(model: str, dim: int = 0) -> SpaceSpec:
    """``model``: the vision signal's version (backend, model id): it decides the dimension,
    which is known once a model has embedded something (0 before)."""
    return SpaceSpec(NAME, f"{_VERSION}-{digest(_VERSION, model)}", dim, model)


def embed(
    space: SpaceSpec,
    shot_indices: Sequence[int],
    vectors: np.ndarray | None,
    spans: Mapping[int, tuple[float, float]],
) -> SpaceOutput:
    """Shot and title vectors from per-shot embeddings; ``spans``: shot -> (start, end)."""
    if vectors is None or len(shot_indices) == 0:
        return SpaceOutput.absent_because(space, "no keyframe embeddings")
    rows: list[VectorOut] = []
    weights: list[float] = []
    kept: list[np.ndarray] = []
    for shot, vec in zip(shot_indices, np.asarray(vectors), strict=True):
        v = unit(vec)
        if v is None:
            continue
        rows.append(VectorOut("shot", int(shot), v))
        start, end = spans.get(int(shot), (0.0, 0.0))
        weights.append(end - start)
        kept.append(v)
    title = weighted_mean(np.stack(kept), weights) if kept else None
    if title is None:
        return SpaceOutput.absent_because(space, "keyframe embeddings are all zero")
    return SpaceOutput(space, [VectorOut("title", -1, title), *rows], info={"shots": len(kept)})
